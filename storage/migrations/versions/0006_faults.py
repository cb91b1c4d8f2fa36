"""audit log: append-only, except erasing a reporter's identity (retention)

`meld retention --apply` erases the reporter's identity everywhere, the audit log included.
The append-only triggers now let exactly one UPDATE through: setting `actor_id` to NULL
on an event whose actor was a reporter, with every other column unchanged. Any other
UPDATE, and every DELETE, is still refused by the database.

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-23
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG_ERASABLE = """
CREATE OR REPLACE FUNCTION meld_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.actor_id IS NULL AND OLD.actor_role = 'reporter'
     AND NEW.id = OLD.id AND NEW.at = OLD.at AND NEW.actor_role = OLD.actor_role
     AND NEW.action = OLD.action AND NEW.report_id IS NOT DISTINCT FROM OLD.report_id
     AND NEW.details::text = OLD.details::text THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit_events is append-only';
END $$
"""

_PG_STRICT = (
    "CREATE OR REPLACE FUNCTION meld_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$"
)

_SQLITE_ERASABLE = """
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
WHEN NOT (NEW.actor_id IS NULL AND OLD.actor_role = 'reporter' AND NEW.id = OLD.id
          AND NEW.at IS OLD.at AND NEW.actor_role = OLD.actor_role
          AND NEW.action = OLD.action AND NEW.report_id IS OLD.report_id
          AND NEW.details IS OLD.details)
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END
"""

_SQLITE_STRICT = (
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE "
    "ON audit_events BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_ERASABLE)
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute(_SQLITE_ERASABLE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_STRICT)
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute(_SQLITE_STRICT)

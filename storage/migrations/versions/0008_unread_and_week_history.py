"""a reporter's unread message, and indexes for the digest of a past week

- `reports.reporter_unread_since`: when the first of the reporter's messages the group has
  not read yet came in (NULL: none unread). Set by the reporter's message, cleared when the
  group opens the report or writes to the reporter (intake.services). The partial index
  `ix_reports_unread` holds just the reports that have one, oldest first.
- `ix_reports_status_changed_at`: the reports whose status changed after a week ended (the
  digest reads their status at the end of the week from the audit log).
- `ix_reports_in_progress_feedback`: reports in progress by their first feedback (those
  that had none yet at the end of a week).
- `ix_plus_ones_created_at`: +1s given after a week ended (left out of its ranking).
- `ix_audit_events_unread_cleared`: when the group read a reporter's message (audit action
  `reporter_message_read`), for the unread marks as they stood at the end of a week.
- `ix_audit_events_status_changes`: each report's status changes in time order (audit
  action `status_changed`): its status at the end of a week.

Existing reports are filled in: a reporter's message with no message from the group and
no read of the report by the group after it is unread, since the first such message.

Columns are added with plain ADD COLUMN (no batch rebuild on SQLite, which would drop the
count triggers on `reports`); the rest is CREATE INDEX, the same on both databases.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNREAD = "reporter_unread_since IS NOT NULL"
IN_PROGRESS = "status = 'in_progress'"
CLEARED = "action = 'reporter_message_read'"
STATUS_CHANGES = "action = 'status_changed'"

# the first reporter's message after which the group neither wrote to the reporter nor
# read the report (a read by the group is an audit event `read` by a triager or admin)
FILL_UNREAD = """
UPDATE reports SET reporter_unread_since = (
    SELECT min(mine.created_at) FROM messages mine
    WHERE mine.report_id = reports.id AND mine.direction = 'reporter'
      AND NOT EXISTS (SELECT 1 FROM messages g WHERE g.report_id = reports.id
                      AND g.direction = 'group' AND g.created_at >= mine.created_at)
      AND NOT EXISTS (SELECT 1 FROM audit_events a WHERE a.report_id = reports.id
                      AND a.action = 'read' AND a.actor_role IN ('triager', 'admin')
                      AND a.at >= mine.created_at))
WHERE EXISTS (SELECT 1 FROM messages x WHERE x.report_id = reports.id
              AND x.direction = 'reporter')
"""


def upgrade() -> None:
    op.add_column('reports', sa.Column('reporter_unread_since',
                                       storage.models.UTCDateTime(timezone=True),
                                       nullable=True))
    op.execute(FILL_UNREAD)
    op.create_index('ix_reports_unread', 'reports', ['reporter_unread_since', 'id'],
                    unique=False, sqlite_where=sa.text(UNREAD),
                    postgresql_where=sa.text(UNREAD))
    op.create_index('ix_reports_status_changed_at', 'reports', ['status_changed_at'],
                    unique=False)
    op.create_index('ix_reports_in_progress_feedback', 'reports', ['first_feedback_at'],
                    unique=False, sqlite_where=sa.text(IN_PROGRESS),
                    postgresql_where=sa.text(IN_PROGRESS))
    op.create_index('ix_plus_ones_created_at', 'plus_ones', ['created_at'], unique=False)
    op.create_index('ix_audit_events_unread_cleared', 'audit_events', ['at'], unique=False,
                    sqlite_where=sa.text(CLEARED), postgresql_where=sa.text(CLEARED))
    op.create_index('ix_audit_events_status_changes', 'audit_events',
                    ['report_id', 'at', 'id'], unique=False,
                    sqlite_where=sa.text(STATUS_CHANGES),
                    postgresql_where=sa.text(STATUS_CHANGES))


def downgrade() -> None:
    op.drop_index('ix_audit_events_status_changes', table_name='audit_events')
    op.drop_index('ix_audit_events_unread_cleared', table_name='audit_events')
    op.drop_index('ix_plus_ones_created_at', table_name='plus_ones')
    op.drop_index('ix_reports_in_progress_feedback', table_name='reports')
    op.drop_index('ix_reports_status_changed_at', table_name='reports')
    op.drop_index('ix_reports_unread', table_name='reports')
    # plain DROP COLUMN (SQLite 3.35+): a batch rebuild would drop the triggers on reports
    op.drop_column('reports', 'reporter_unread_since')

"""report_counts: the committee report's counts per month, kept current by triggers;
a partial index of the reports waiting for the group (the weekly digest)

One row per (month of occurred_on, dimension, key) with the number of reports and, of
those, how many got feedback, are deviations and are deviations with a breached
guideline. Dimensions: class (kind, category, subcategory), severity (reported,
assessed), direction, place, and feedback (hours from reported to first feedback, for
the median). NULL keys are stored as '' so the primary key can hold them.

Triggers on reports (insert, delete, and updates of the counted columns) add and subtract
in the same transaction as the change, so the counts cannot drift from the reports
whatever code path writes them. Existing reports are counted by the upgrade.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.report_counts import recount_sql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTED = ("kind", "category_id", "subcategory_id", "reported_severity", "assessed_severity",
           "direction", "place_id", "occurred_on", "reported_at", "first_feedback_at",
           "guideline_breached")
WAITING = ("status IN ('received', 'triage') "
           "OR (status = 'in_progress' AND first_feedback_at IS NULL)")
UPSERT = ("ON CONFLICT (month, dim, k1, k2, k3) DO UPDATE SET n = {t}.n + excluded.n, "
          "fb = {t}.fb + excluded.fb, dev = {t}.dev + excluded.dev, "
          "breach = {t}.breach + excluded.breach")


def _sqlite_add(r: str, d: str) -> str:
    """The statements adding the report row `r` (NEW or OLD) with sign `d` (1 or -1)."""
    month = f"date({r}.occurred_on, 'start of month')"
    flags = (f"{d} * ({r}.first_feedback_at IS NOT NULL), {d} * ({r}.kind = 'deviation'), "
             f"{d} * ({r}.kind = 'deviation' AND coalesce({r}.guideline_breached, 0) = 1)")
    hours = (f"printf('%06d', max(0, (CAST(strftime('%s', {r}.first_feedback_at) AS INTEGER)"
             f" - CAST(strftime('%s', {r}.reported_at) AS INTEGER)) / 3600))")
    upsert = UPSERT.format(t="report_counts")
    cols = "INSERT INTO report_counts (month, dim, k1, k2, k3, n, fb, dev, breach)"
    return (
        f"{cols} VALUES "
        f"({month}, 'class', {r}.kind, coalesce({r}.category_id, ''), "
        f"coalesce({r}.subcategory_id, ''), {d}, {flags}), "
        f"({month}, 'severity', coalesce({r}.reported_severity, ''), "
        f"coalesce({r}.assessed_severity, ''), '', {d}, {flags}), "
        f"({month}, 'direction', coalesce({r}.direction, ''), '', '', {d}, {flags}), "
        f"({month}, 'place', coalesce({r}.place_id, ''), '', '', {d}, {flags}) {upsert}; "
        f"{cols} SELECT {month}, 'feedback', {hours}, '', '', {d}, {flags} "
        f"WHERE {r}.first_feedback_at IS NOT NULL {upsert};"
    )


PG_FUNCTIONS = f"""
CREATE FUNCTION meld_report_counts_add(r reports, d integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_month date := date_trunc('month', r.occurred_on)::date;
    v_fb integer := CASE WHEN r.first_feedback_at IS NULL THEN 0 ELSE d END;
    v_dev integer := CASE WHEN r.kind = 'deviation' THEN d ELSE 0 END;
    v_breach integer := CASE WHEN r.kind = 'deviation' AND r.guideline_breached
                             THEN d ELSE 0 END;
BEGIN
    INSERT INTO report_counts AS c (month, dim, k1, k2, k3, n, fb, dev, breach) VALUES
        (v_month, 'class', r.kind, coalesce(r.category_id, ''),
         coalesce(r.subcategory_id, ''), d, v_fb, v_dev, v_breach),
        (v_month, 'severity', coalesce(r.reported_severity, ''),
         coalesce(r.assessed_severity, ''), '', d, v_fb, v_dev, v_breach),
        (v_month, 'direction', coalesce(r.direction, ''), '', '', d, v_fb, v_dev, v_breach),
        (v_month, 'place', coalesce(r.place_id, ''), '', '', d, v_fb, v_dev, v_breach)
    {UPSERT.format(t="c")};
    IF r.first_feedback_at IS NOT NULL THEN
        INSERT INTO report_counts AS c (month, dim, k1, k2, k3, n, fb, dev, breach) VALUES
            (v_month, 'feedback',
             lpad(greatest(0, floor(extract(epoch FROM r.first_feedback_at - r.reported_at)
                                    / 3600))::bigint::text, 6, '0'),
             '', '', d, v_fb, v_dev, v_breach)
        {UPSERT.format(t="c")};
    END IF;
END $$;

CREATE FUNCTION meld_report_counts_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN PERFORM meld_report_counts_add(OLD, -1); END IF;
    IF TG_OP <> 'DELETE' THEN PERFORM meld_report_counts_add(NEW, 1); END IF;
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.create_table('report_counts',
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('dim', sa.String(length=12), nullable=False),
    sa.Column('k1', sa.String(length=100), nullable=False),
    sa.Column('k2', sa.String(length=100), nullable=False),
    sa.Column('k3', sa.String(length=100), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('fb', sa.Integer(), nullable=False),
    sa.Column('dev', sa.Integer(), nullable=False),
    sa.Column('breach', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('month', 'dim', 'k1', 'k2', 'k3', name=op.f('pk_report_counts'))
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index('ix_reports_waiting', ['reported_at', 'id'], unique=False,
                              sqlite_where=sa.text(WAITING), postgresql_where=sa.text(WAITING))
    dialect = op.get_bind().dialect.name
    op.execute(recount_sql(dialect))
    if dialect == "postgresql":
        op.execute(PG_FUNCTIONS)
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in COUNTED)
        op.execute("CREATE TRIGGER report_counts_insert_delete AFTER INSERT OR DELETE ON "
                   "reports FOR EACH ROW EXECUTE FUNCTION meld_report_counts_trigger()")
        op.execute(f"CREATE TRIGGER report_counts_update AFTER UPDATE ON reports FOR EACH ROW "
                   f"WHEN ({changed}) EXECUTE FUNCTION meld_report_counts_trigger()")
    else:
        changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in COUNTED)
        op.execute("CREATE TRIGGER report_counts_insert AFTER INSERT ON reports BEGIN "
                   f"{_sqlite_add('NEW', '1')} END")
        op.execute("CREATE TRIGGER report_counts_delete AFTER DELETE ON reports BEGIN "
                   f"{_sqlite_add('OLD', '-1')} END")
        op.execute(f"CREATE TRIGGER report_counts_update AFTER UPDATE OF {', '.join(COUNTED)} "
                   f"ON reports WHEN {changed} BEGIN "
                   f"{_sqlite_add('OLD', '-1')} {_sqlite_add('NEW', '1')} END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS report_counts_update ON reports")
        op.execute("DROP TRIGGER IF EXISTS report_counts_insert_delete ON reports")
        op.execute("DROP FUNCTION IF EXISTS meld_report_counts_trigger()")
        op.execute("DROP FUNCTION IF EXISTS meld_report_counts_add(reports, integer)")
    else:
        for name in ("report_counts_update", "report_counts_delete", "report_counts_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table('report_counts')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reports_waiting')

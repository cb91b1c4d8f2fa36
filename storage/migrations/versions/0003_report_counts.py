"""report_counts: the committee report's counts per month, kept current by triggers;
for the weekly digest, a partial index of the reports waiting for the group, and
reports.plus_one_count (kept by triggers on plus_ones) with a partial index of the open
suggestions that have +1s

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
BACKED = ("kind = 'suggestion' AND plus_one_count > 0 "
          "AND status IN ('received', 'triage', 'needs_info', 'in_progress')")
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


# PostgreSQL: one upsert per change, its rows in one global order (month, dim, keys), so
# that concurrent writers take the row locks of report_counts in the same order and cannot
# deadlock (an update subtracts the old keys and adds the new ones in that one statement;
# keys it leaves as they were sum to zero and are not touched).
PG_FUNCTIONS = f"""
CREATE FUNCTION meld_report_count_rows(r reports, d integer)
RETURNS TABLE (month date, dim varchar, k1 varchar, k2 varchar, k3 varchar,
               n integer, fb integer, dev integer, breach integer)
LANGUAGE sql IMMUTABLE AS $$
    SELECT f.m, v.dim, v.k1, v.k2, v.k3, d, f.fb, f.dev, f.br
    FROM (SELECT date_trunc('month', r.occurred_on)::date AS m,
                 CASE WHEN r.first_feedback_at IS NULL THEN 0 ELSE d END AS fb,
                 CASE WHEN r.kind = 'deviation' THEN d ELSE 0 END AS dev,
                 CASE WHEN r.kind = 'deviation' AND r.guideline_breached
                      THEN d ELSE 0 END AS br) AS f,
         (VALUES ('class'::varchar, r.kind::varchar, coalesce(r.category_id, ''),
                  coalesce(r.subcategory_id, '')),
                 ('severity', coalesce(r.reported_severity, ''),
                  coalesce(r.assessed_severity, ''), ''),
                 ('direction', coalesce(r.direction, ''), '', ''),
                 ('place', coalesce(r.place_id, ''), '', ''),
                 ('feedback', CASE WHEN r.first_feedback_at IS NOT NULL THEN
                      lpad(greatest(0, floor(extract(epoch FROM r.first_feedback_at
                                                     - r.reported_at) / 3600))::bigint::text,
                           6, '0') END, '', '')) AS v (dim, k1, k2, k3)
    WHERE v.k1 IS NOT NULL
$$;

CREATE FUNCTION meld_report_counts_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO report_counts AS c (month, dim, k1, k2, k3, n, fb, dev, breach)
        SELECT * FROM meld_report_count_rows(NEW, 1) ORDER BY 1, 2, 3, 4, 5
        {UPSERT.format(t="c")};
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO report_counts AS c (month, dim, k1, k2, k3, n, fb, dev, breach)
        SELECT * FROM meld_report_count_rows(OLD, -1) ORDER BY 1, 2, 3, 4, 5
        {UPSERT.format(t="c")};
    ELSE
        INSERT INTO report_counts AS c (month, dim, k1, k2, k3, n, fb, dev, breach)
        SELECT v.month, v.dim, v.k1, v.k2, v.k3,
               sum(v.n), sum(v.fb), sum(v.dev), sum(v.breach)
        FROM (SELECT * FROM meld_report_count_rows(OLD, -1)
              UNION ALL SELECT * FROM meld_report_count_rows(NEW, 1)) AS v
        GROUP BY 1, 2, 3, 4, 5
        HAVING sum(v.n) <> 0 OR sum(v.fb) <> 0 OR sum(v.dev) <> 0 OR sum(v.breach) <> 0
        ORDER BY 1, 2, 3, 4, 5
        {UPSERT.format(t="c")};
    END IF;
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
    # ADD COLUMN (no table rebuild on SQLite) before any trigger on reports exists
    op.add_column('reports', sa.Column('plus_one_count', sa.Integer(), server_default='0',
                                       nullable=False))
    op.execute("UPDATE reports SET plus_one_count = (SELECT count(*) FROM plus_ones "
               "WHERE plus_ones.report_id = reports.id) "
               "WHERE id IN (SELECT report_id FROM plus_ones)")
    op.create_index('ix_reports_waiting', 'reports', ['reported_at', 'id'], unique=False,
                    sqlite_where=sa.text(WAITING), postgresql_where=sa.text(WAITING))
    op.create_index('ix_reports_backed', 'reports',
                    ['plus_one_count', 'reported_at', 'id'], unique=False,
                    sqlite_where=sa.text(BACKED), postgresql_where=sa.text(BACKED))
    dialect = op.get_bind().dialect.name
    op.execute(recount_sql(dialect))
    for action, sign, row in (("INSERT", "+", "NEW"), ("DELETE", "-", "OLD")):
        bump = (f"UPDATE reports SET plus_one_count = plus_one_count {sign} 1 "
                f"WHERE id = {row}.report_id")
        if dialect == "postgresql":
            op.execute(f"CREATE FUNCTION meld_plus_one_count_{action.lower()}() "
                       f"RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {bump}; "
                       "RETURN NULL; END $$")
            op.execute(f"CREATE TRIGGER plus_ones_count_{action.lower()} AFTER {action} ON "
                       "plus_ones FOR EACH ROW EXECUTE FUNCTION "
                       f"meld_plus_one_count_{action.lower()}()")
        else:
            op.execute(f"CREATE TRIGGER plus_ones_count_{action.lower()} AFTER {action} ON "
                       f"plus_ones BEGIN {bump}; END")
    if dialect == "postgresql":
        op.execute(PG_FUNCTIONS)
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in COUNTED)
        # constraint triggers deferred to COMMIT: the shared rows of report_counts are
        # locked only for the commit itself, not for the rest of the submit's transaction
        op.execute("CREATE CONSTRAINT TRIGGER report_counts_insert_delete AFTER INSERT OR "
                   "DELETE ON reports DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                   "EXECUTE FUNCTION meld_report_counts_trigger()")
        op.execute(f"CREATE CONSTRAINT TRIGGER report_counts_update AFTER UPDATE ON reports "
                   f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN ({changed}) "
                   f"EXECUTE FUNCTION meld_report_counts_trigger()")
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
        for action in ("insert", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS plus_ones_count_{action} ON plus_ones")
            op.execute(f"DROP FUNCTION IF EXISTS meld_plus_one_count_{action}()")
        op.execute("DROP TRIGGER IF EXISTS report_counts_update ON reports")
        op.execute("DROP TRIGGER IF EXISTS report_counts_insert_delete ON reports")
        op.execute("DROP FUNCTION IF EXISTS meld_report_counts_trigger()")
        op.execute("DROP FUNCTION IF EXISTS meld_report_count_rows(reports, integer)")
    else:
        for name in ("report_counts_update", "report_counts_delete", "report_counts_insert",
                     "plus_ones_count_insert", "plus_ones_count_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table('report_counts')
    op.drop_index('ix_reports_backed', table_name='reports')
    op.drop_index('ix_reports_waiting', table_name='reports')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_column('plus_one_count')

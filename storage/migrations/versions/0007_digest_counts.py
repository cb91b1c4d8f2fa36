"""the weekly digest without reading the week's reports: report_week_counts and
report_open_weeks kept by triggers, reports.reported_on and reports.status_changed_at, and
indexes for its lists

- `reports.reported_on`: the local date (MELD_TIMEZONE) the report came in, written by the
  application with reported_at. ISO weeks are local, and SQLite cannot convert time zones,
  so the triggers key on this date.
- `report_week_counts`: reports per ISO week of reported_on (the Monday), kind, category and
  reported severity, kept by triggers on reports in the same transaction as the change,
  like report_counts (on PostgreSQL deferred to COMMIT, one ordered upsert).
- `report_open_weeks`: how many reports of each week (of reported_on) wait now, for the
  group (received or triage, or in progress without feedback) and for the reporter's
  answer (needs_info), kept by the same triggers on reports, so the digest counts them
  from a row per week.
- `reports.status_changed_at`: when the status last changed (the application writes it with
  the status); the digest lists needs-info reports by how long the group has waited for an
  answer, from the partial index `ix_reports_needs_info`.
- `ix_reports_waiting` also holds status and first_feedback_at, so the digest counts the
  waiting reports from the index alone (SQLite re-checks the predicate's columns).
- `ix_reports_backed` is rebuilt with plus_one_count descending, the order the digest reads
  it in (ascending, SQLite sorted every open suggestion with a +1 to find the top five).

Existing rows are filled in: reported_on from reported_at in the configured time zone,
status_changed_at from the last status change in the audit log (else reported_at), and the
two week tables are counted.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

import storage.models
from storage.report_counts import OPEN_WEEK_UPSERT, WEEK_UPSERT, week_recount_sql

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WEEK_COUNTED = ("reported_on", "kind", "category_id", "reported_severity", "status",
                "first_feedback_at")
NEEDS_INFO = "status = 'needs_info'"
WAITING = ("status IN ('received', 'triage') "
           "OR (status = 'in_progress' AND first_feedback_at IS NULL)")
BACKED = ("kind = 'suggestion' AND plus_one_count > 0 "
          "AND status IN ('received', 'triage', 'needs_info', 'in_progress')")


def _waiting(r: str) -> str:
    return (f"({r}.status IN ('received', 'triage') "
            f"OR ({r}.status = 'in_progress' AND {r}.first_feedback_at IS NULL))")


def _asked(r: str) -> str:
    return f"({r}.status = 'needs_info')"


def _sqlite_add(r: str, d: str) -> str:
    """The upserts adding the report row `r` (NEW or OLD) with sign `d` to its week."""
    week = f"date({r}.reported_on, 'weekday 0', '-6 days')"
    return (
        "INSERT INTO report_week_counts (week, kind, category_id, severity, n) "
        f"SELECT {week}, {r}.kind, "
        f"coalesce({r}.category_id, ''), coalesce({r}.reported_severity, ''), {d} "
        f"WHERE {r}.reported_on IS NOT NULL {WEEK_UPSERT.format(t='report_week_counts')}; "
        f"INSERT INTO report_open_weeks (week, waiting, asked) SELECT {week}, "
        f"{d} * {_waiting(r)}, {d} * {_asked(r)} "
        f"WHERE {r}.reported_on IS NOT NULL AND ({_waiting(r)} OR {_asked(r)}) "
        f"{OPEN_WEEK_UPSERT.format(t='report_open_weeks')};"
    )


# PostgreSQL: one upsert per change, its rows in one order (the keys), as for report_counts
PG_FUNCTIONS = f"""
CREATE FUNCTION meld_report_week_row(r reports, d integer)
RETURNS TABLE (week date, kind varchar, category_id varchar, severity varchar, n integer)
LANGUAGE sql IMMUTABLE AS $$
    SELECT date_trunc('week', r.reported_on)::date, r.kind::varchar,
           coalesce(r.category_id, '')::varchar, coalesce(r.reported_severity, '')::varchar, d
    WHERE r.reported_on IS NOT NULL
$$;

CREATE FUNCTION meld_report_open_row(r reports, d integer)
RETURNS TABLE (week date, waiting integer, asked integer)
LANGUAGE sql IMMUTABLE AS $$
    SELECT date_trunc('week', r.reported_on)::date,
           CASE WHEN {_waiting("r")} THEN d ELSE 0 END, CASE WHEN {_asked("r")} THEN d ELSE 0 END
    WHERE r.reported_on IS NOT NULL AND ({_waiting("r")} OR {_asked("r")})
$$;

CREATE FUNCTION meld_report_week_counts_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO report_week_counts AS c (week, kind, category_id, severity, n)
        SELECT * FROM meld_report_week_row(NEW, 1) {WEEK_UPSERT.format(t="c")};
        INSERT INTO report_open_weeks AS c (week, waiting, asked)
        SELECT * FROM meld_report_open_row(NEW, 1) {OPEN_WEEK_UPSERT.format(t="c")};
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO report_week_counts AS c (week, kind, category_id, severity, n)
        SELECT * FROM meld_report_week_row(OLD, -1) {WEEK_UPSERT.format(t="c")};
        INSERT INTO report_open_weeks AS c (week, waiting, asked)
        SELECT * FROM meld_report_open_row(OLD, -1) {OPEN_WEEK_UPSERT.format(t="c")};
    ELSE
        INSERT INTO report_week_counts AS c (week, kind, category_id, severity, n)
        SELECT v.week, v.kind, v.category_id, v.severity, sum(v.n)
        FROM (SELECT * FROM meld_report_week_row(OLD, -1)
              UNION ALL SELECT * FROM meld_report_week_row(NEW, 1)) AS v
        GROUP BY 1, 2, 3, 4 HAVING sum(v.n) <> 0 ORDER BY 1, 2, 3, 4
        {WEEK_UPSERT.format(t="c")};
        INSERT INTO report_open_weeks AS c (week, waiting, asked)
        SELECT v.week, sum(v.waiting), sum(v.asked)
        FROM (SELECT * FROM meld_report_open_row(OLD, -1)
              UNION ALL SELECT * FROM meld_report_open_row(NEW, 1)) AS v
        GROUP BY 1 HAVING sum(v.waiting) <> 0 OR sum(v.asked) <> 0 ORDER BY 1
        {OPEN_WEEK_UPSERT.format(t="c")};
    END IF;
    RETURN NULL;
END $$;
"""


def _timezone() -> str:
    """The zone reported_on is counted in: what `meld migrate` hands over (its settings),
    else MELD_TIMEZONE, else the default."""
    return (op.get_context().config.attributes.get("timezone")
            or os.environ.get("MELD_TIMEZONE") or "Europe/Oslo")


def _fill_reported_on_sqlite(tz: str) -> None:
    """SQLite has no time zones: convert in Python, a batch at a time."""
    zone = ZoneInfo(tz)
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(sa.text(
            "SELECT id, reported_at FROM reports WHERE id > :last AND reported_on IS NULL "
            "ORDER BY id LIMIT 5000"), {"last": last}).all()
        if not rows:
            return
        conn.execute(sa.text("UPDATE reports SET reported_on = :d WHERE id = :id"), [
            {"id": rid, "d": datetime.fromisoformat(str(at)).replace(tzinfo=UTC)
             .astimezone(zone).date().isoformat()}
            for rid, at in rows])
        last = rows[-1][0]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    tz = _timezone()
    op.create_table('report_week_counts',
    sa.Column('week', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('category_id', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=20), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('week', 'kind', 'category_id', 'severity',
                            name=op.f('pk_report_week_counts'))
    )
    op.create_table('report_open_weeks',
    sa.Column('week', sa.Date(), nullable=False),
    sa.Column('waiting', sa.Integer(), nullable=False),
    sa.Column('asked', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('week', name=op.f('pk_report_open_weeks'))
    )
    # ADD COLUMN: no table rebuild on SQLite (which would drop the triggers on reports)
    op.add_column('reports', sa.Column('reported_on', sa.Date(), nullable=True))
    op.add_column('reports', sa.Column('status_changed_at',
                                       storage.models.UTCDateTime(timezone=True), nullable=True))
    if dialect == "postgresql":
        op.execute(sa.text("UPDATE reports SET reported_on = "
                           "(reported_at AT TIME ZONE :tz)::date").bindparams(tz=tz))
    else:
        _fill_reported_on_sqlite(tz)
    op.execute("UPDATE reports SET status_changed_at = coalesce((SELECT max(a.at) "
               "FROM audit_events a WHERE a.report_id = reports.id "
               "AND a.action = 'status_changed'), reported_at)")
    op.create_index('ix_reports_needs_info', 'reports', ['status_changed_at', 'id'],
                    unique=False, sqlite_where=sa.text(NEEDS_INFO),
                    postgresql_where=sa.text(NEEDS_INFO))
    op.drop_index('ix_reports_waiting', table_name='reports')
    op.create_index('ix_reports_waiting', 'reports',
                    ['reported_at', 'id', 'status', 'first_feedback_at'], unique=False,
                    sqlite_where=sa.text(WAITING), postgresql_where=sa.text(WAITING))
    op.drop_index('ix_reports_backed', table_name='reports')
    op.create_index('ix_reports_backed', 'reports',
                    [sa.text('plus_one_count DESC'), 'reported_at', 'id'], unique=False,
                    sqlite_where=sa.text(BACKED), postgresql_where=sa.text(BACKED))
    for statement in week_recount_sql(dialect):
        op.execute(statement)
    if dialect == "postgresql":
        op.execute(PG_FUNCTIONS)
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in WEEK_COUNTED)
        op.execute("CREATE CONSTRAINT TRIGGER report_week_counts_insert_delete AFTER INSERT "
                   "OR DELETE ON reports DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                   "EXECUTE FUNCTION meld_report_week_counts_trigger()")
        op.execute(f"CREATE CONSTRAINT TRIGGER report_week_counts_update AFTER UPDATE ON "
                   f"reports DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN ({changed}) "
                   f"EXECUTE FUNCTION meld_report_week_counts_trigger()")
    else:
        changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in WEEK_COUNTED)
        op.execute("CREATE TRIGGER report_week_counts_insert AFTER INSERT ON reports BEGIN "
                   f"{_sqlite_add('NEW', '1')} END")
        op.execute("CREATE TRIGGER report_week_counts_delete AFTER DELETE ON reports BEGIN "
                   f"{_sqlite_add('OLD', '-1')} END")
        op.execute(f"CREATE TRIGGER report_week_counts_update AFTER UPDATE OF "
                   f"{', '.join(WEEK_COUNTED)} ON reports WHEN {changed} BEGIN "
                   f"{_sqlite_add('OLD', '-1')} {_sqlite_add('NEW', '1')} END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS report_week_counts_update ON reports")
        op.execute("DROP TRIGGER IF EXISTS report_week_counts_insert_delete ON reports")
        op.execute("DROP FUNCTION IF EXISTS meld_report_week_counts_trigger()")
        op.execute("DROP FUNCTION IF EXISTS meld_report_week_row(reports, integer)")
        op.execute("DROP FUNCTION IF EXISTS meld_report_open_row(reports, integer)")
    else:
        for name in ("report_week_counts_update", "report_week_counts_delete",
                     "report_week_counts_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index('ix_reports_backed', table_name='reports')
    op.create_index('ix_reports_backed', 'reports', ['plus_one_count', 'reported_at', 'id'],
                    unique=False, sqlite_where=sa.text(BACKED),
                    postgresql_where=sa.text(BACKED))
    op.drop_index('ix_reports_waiting', table_name='reports')
    op.create_index('ix_reports_waiting', 'reports', ['reported_at', 'id'], unique=False,
                    sqlite_where=sa.text(WAITING), postgresql_where=sa.text(WAITING))
    op.drop_index('ix_reports_needs_info', table_name='reports')
    op.drop_table('report_open_weeks')
    op.drop_table('report_week_counts')
    # plain DROP COLUMN (SQLite 3.35+): a batch rebuild would drop the other triggers
    op.drop_column('reports', 'status_changed_at')
    op.drop_column('reports', 'reported_on')

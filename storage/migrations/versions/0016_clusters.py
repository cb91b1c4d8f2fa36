"""cluster alerts: daily report counts kept by triggers, and the alerts raised

- `report_day_counts`: the deviations and inputs per local received day (reports.reported_on),
  kind and cluster key: dim 'place' (place, category, subcategory) and dim 'direction'
  (category, direction). A report without the keys of a dimension, or without
  reported_on, is not counted there; suggestions and good collaboration never are. Kept by
  triggers on reports (insert, delete, and updates of the counted columns) in the same
  transaction as the change, like report_counts (0003) and report_week_counts (0007): on
  PostgreSQL deferred to COMMIT, one upsert per change with its rows in key order.
- `cluster_alerts`: the alerts raised, UNIQUE(dim, k1, k2, k3, window_end), so that two
  replicas checking at the same moment raise one (intake.services.clusters).

Existing reports are counted by the upgrade.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models
from storage.report_counts import DAY_UPSERT, day_recount_sql, day_row_selects

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAY_COUNTED = ("reported_on", "kind", "place_id", "category_id", "subcategory_id",
               "direction")
COLUMNS = "(day, dim, k1, k2, k3, kind, n)"


def _sqlite_add(r: str, d: str) -> str:
    """The upsert adding the report row `r` (NEW or OLD) with sign `d` to its days."""
    return (f"INSERT INTO report_day_counts {COLUMNS} "
            + " UNION ALL ".join(day_row_selects(f"{r}.", d))
            + f" {DAY_UPSERT.format(t='report_day_counts')};")


# PostgreSQL: one upsert per change, its rows in one order (the keys), as for report_counts
PG_FUNCTIONS = f"""
CREATE FUNCTION meld_report_day_rows(r reports, d integer)
RETURNS TABLE (day date, dim varchar, k1 varchar, k2 varchar, k3 varchar, kind varchar,
               n integer)
LANGUAGE sql IMMUTABLE AS $$
    SELECT v.day, v.dim::varchar, v.k1::varchar, v.k2::varchar, v.k3::varchar,
           v.kind::varchar, v.n
    FROM ({" UNION ALL ".join(day_row_selects("r.", "d"))}) AS v (day, dim, k1, k2, k3, kind, n)
$$;

CREATE FUNCTION meld_report_day_counts_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO report_day_counts AS c {COLUMNS}
        SELECT * FROM meld_report_day_rows(NEW, 1) ORDER BY 1, 2, 3, 4, 5, 6
        {DAY_UPSERT.format(t="c")};
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO report_day_counts AS c {COLUMNS}
        SELECT * FROM meld_report_day_rows(OLD, -1) ORDER BY 1, 2, 3, 4, 5, 6
        {DAY_UPSERT.format(t="c")};
    ELSE
        INSERT INTO report_day_counts AS c {COLUMNS}
        SELECT v.day, v.dim, v.k1, v.k2, v.k3, v.kind, sum(v.n)
        FROM (SELECT * FROM meld_report_day_rows(OLD, -1)
              UNION ALL SELECT * FROM meld_report_day_rows(NEW, 1)) AS v
        GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(v.n) <> 0 ORDER BY 1, 2, 3, 4, 5, 6
        {DAY_UPSERT.format(t="c")};
    END IF;
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.create_table('report_day_counts',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('dim', sa.String(length=12), nullable=False),
    sa.Column('k1', sa.String(length=64), nullable=False),
    sa.Column('k2', sa.String(length=64), nullable=False),
    sa.Column('k3', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'dim', 'k1', 'k2', 'k3', 'kind',
                            name=op.f('pk_report_day_counts'))
    )
    op.create_table('cluster_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dim', sa.String(length=12), nullable=False),
    sa.Column('k1', sa.String(length=64), nullable=False),
    sa.Column('k2', sa.String(length=64), nullable=False),
    sa.Column('k3', sa.String(length=64), nullable=False),
    sa.Column('window_start', sa.Date(), nullable=False),
    sa.Column('window_end', sa.Date(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('previous_count', sa.Integer(), nullable=False),
    sa.Column('report_refs', sa.JSON(), nullable=False),
    sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cluster_alerts')),
    sa.UniqueConstraint('dim', 'k1', 'k2', 'k3', 'window_end',
                        name=op.f('uq_cluster_alerts_dim'))
    )
    op.execute(day_recount_sql())
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTIONS)
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in DAY_COUNTED)
        op.execute("CREATE CONSTRAINT TRIGGER report_day_counts_insert_delete AFTER INSERT "
                   "OR DELETE ON reports DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                   "EXECUTE FUNCTION meld_report_day_counts_trigger()")
        op.execute(f"CREATE CONSTRAINT TRIGGER report_day_counts_update AFTER UPDATE ON "
                   f"reports DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN ({changed}) "
                   f"EXECUTE FUNCTION meld_report_day_counts_trigger()")
    else:
        changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in DAY_COUNTED)
        op.execute("CREATE TRIGGER report_day_counts_insert AFTER INSERT ON reports BEGIN "
                   f"{_sqlite_add('NEW', '1')} END")
        op.execute("CREATE TRIGGER report_day_counts_delete AFTER DELETE ON reports BEGIN "
                   f"{_sqlite_add('OLD', '-1')} END")
        op.execute(f"CREATE TRIGGER report_day_counts_update AFTER UPDATE OF "
                   f"{', '.join(DAY_COUNTED)} ON reports WHEN {changed} BEGIN "
                   f"{_sqlite_add('OLD', '-1')} {_sqlite_add('NEW', '1')} END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS report_day_counts_update ON reports")
        op.execute("DROP TRIGGER IF EXISTS report_day_counts_insert_delete ON reports")
        op.execute("DROP FUNCTION IF EXISTS meld_report_day_counts_trigger()")
        op.execute("DROP FUNCTION IF EXISTS meld_report_day_rows(reports, integer)")
    else:
        for name in ("report_day_counts_update", "report_day_counts_delete",
                     "report_day_counts_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table('cluster_alerts')
    op.drop_table('report_day_counts')

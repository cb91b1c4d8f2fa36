"""full-text search over reports, kept current by the database; the group's public title

Both fold ø, æ and å as intake.domain.textmatch.fold folds them, so that "soknad" finds
"søknad". PostgreSQL: a stored generated tsvector of the folded title and text (Norwegian
configuration; the title weighs more) with a GIN index, and pg_trgm's trigram index on
the text for misspellings. SQLite: a contentless FTS5 table (unicode61, other diacritics
removed by it, prefix index) filled by triggers with the folded title and text.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fold(text: str) -> str:
    for letter, plain in (("ø", "o"), ("Ø", "o"), ("æ", "ae"), ("Æ", "ae")):
        text = f"replace({text}, '{letter}', '{plain}')"
    return text


def _folded(row: str) -> str:
    return _fold(f"coalesce({row}.public_title, '') || ' ' || coalesce({row}.description, '')")


def _pg_vector(column: str, weight: str) -> str:
    # å and the other marks folded too (PostgreSQL's Norwegian configuration keeps them)
    folded = _fold(f"coalesce({column}, '')")
    for letter, plain in (("å", "a"), ("Å", "a")):
        folded = f"replace({folded}, '{letter}', '{plain}')"
    return f"setweight(to_tsvector('norwegian'::regconfig, {folded}), '{weight}')"


SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER reports_fts_insert AFTER INSERT ON reports BEGIN
        INSERT INTO reports_fts (rowid, body) VALUES (new.id, {_folded('new')});
    END""",
    f"""CREATE TRIGGER reports_fts_delete AFTER DELETE ON reports BEGIN
        INSERT INTO reports_fts (reports_fts, rowid, body)
        VALUES ('delete', old.id, {_folded('old')});
    END""",
    f"""CREATE TRIGGER reports_fts_update AFTER UPDATE OF description, public_title
        ON reports BEGIN
        INSERT INTO reports_fts (reports_fts, rowid, body)
        VALUES ('delete', old.id, {_folded('old')});
        INSERT INTO reports_fts (rowid, body) VALUES (new.id, {_folded('new')});
    END""",
)


def upgrade() -> None:
    with op.batch_alter_table('reports') as batch:
        batch.add_column(sa.Column('public_title', sa.String(length=200), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "ALTER TABLE reports ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
            f"{_pg_vector('public_title', 'A')} || {_pg_vector('description', 'B')}) STORED")
        op.execute("CREATE INDEX ix_reports_search ON reports USING gin (search_vector)")
        op.execute("CREATE INDEX ix_reports_description_trgm ON reports "
                   "USING gin (description gin_trgm_ops)")
        return
    op.execute("CREATE VIRTUAL TABLE reports_fts USING fts5(body, content='', "
               "tokenize='unicode61 remove_diacritics 2', prefix='3')")
    for trigger in SQLITE_TRIGGERS:
        op.execute(trigger)
    op.execute(f"INSERT INTO reports_fts (rowid, body) SELECT id, {_folded('reports')} "
               "FROM reports")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_reports_description_trgm")
        op.execute("DROP INDEX IF EXISTS ix_reports_search")
        op.execute("ALTER TABLE reports DROP COLUMN IF EXISTS search_vector")
    else:
        for name in ("reports_fts_update", "reports_fts_delete", "reports_fts_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS reports_fts")
    with op.batch_alter_table('reports') as batch:
        batch.drop_column('public_title')

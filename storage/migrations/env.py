"""Alembic environment: uses the connection or URL handed in by storage.migrate."""

from __future__ import annotations

from alembic import context

from storage.db import make_engine
from storage.models import Base
from storage.search_schema import SEARCH_COLUMNS, SEARCH_INDEXES, SEARCH_TABLE_PREFIX

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


# SQLite's reflection drops an index column's DESC, so `alembic check` would always see
# these as changed there; PostgreSQL reflects them in full and still compares them.
DESCENDING_INDEXES = frozenset({"ix_reports_backed"})


def _run(connection) -> None:
    def include_object(obj, name, type_, reflected, compare_to) -> bool:
        if type_ == "table" and name.startswith(SEARCH_TABLE_PREFIX):
            return False  # SQLite's FTS5 table and its shadow tables (migration 0014)
        if (type_ == "column" and name in SEARCH_COLUMNS) or (
                type_ == "index" and name in SEARCH_INDEXES):
            return False  # PostgreSQL's generated tsvector and the search indexes
        return not (type_ == "index" and name in DESCENDING_INDEXES
                    and connection.dialect.name == "sqlite")

    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

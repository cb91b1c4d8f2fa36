"""Schema, migrations and database guarantees on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DBAPIError

import storage.db
from intake import services
from intake.domain.model import Actor, Role
from intake.services import storing
from storage.db import open_database
from storage.migrate import check, current_head, upgrade
from storage.models import Base
from tests.integration.helpers import draft

REPORTER = Actor("web:tester", Role.REPORTER)


def test_models_and_migrations_agree(db_url: str) -> None:
    """`alembic check`: the migration history produces exactly the models' schema."""
    check(db_url)
    engine = create_engine(db_url)
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        tables = set(inspect(conn).get_table_names())
    engine.dispose()
    assert version == current_head()
    assert {t.name for t in Base.metadata.sorted_tables} <= tables


def test_empty_sqlite_file_upgrades_to_head(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "fresh.db"
    upgrade(f"sqlite:///{path}")
    upgrade(f"sqlite:///{path}")  # idempotent
    check(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == (
            current_head()
        )


@pytest.mark.postgres
def test_empty_postgres_database_upgrades_to_head(pg_database_url: str) -> None:
    """The session database was created empty and upgraded by the fixture; do it again."""
    upgrade(pg_database_url)
    check(pg_database_url)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_url: str) -> None:
    db = open_database(sqlite_url)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        # each kept connection's page cache is bounded (in KiB, hence negative)
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -storage.db.SQLITE_CACHE_KB
    with pytest.raises(DBAPIError), db.transaction() as session:
        session.execute(text(
            "INSERT INTO messages (report_id, direction, purpose, created_at) "
            "VALUES (999999, 'group', 'reply', '2026-01-01 00:00:00')"
        ))
    db.dispose()


def test_audit_events_are_append_only(ctx: services.Context) -> None:
    services.submit_report(ctx=ctx, actor=REPORTER, draft=draft())
    for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), ctx.db.transaction() as s:
            s.execute(text(statement))
    with ctx.db.reading() as s:
        assert s.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == 1


@pytest.mark.postgres
def test_references_are_unique_under_concurrent_submits_on_postgres(
    pg_database_url: str, clock
) -> None:
    """Many threads submitting at once get distinct, well-formed references."""
    from intake.domain.taxonomy import load_taxonomy
    from intake.settings import Settings
    from tests.conftest import _truncate_all

    _truncate_all(pg_database_url)
    db = open_database(pg_database_url)
    ctx = services.Context(db=db, settings=Settings(database_url=pg_database_url,
                                                    secret_key="test-secret" * 3),
                           taxonomy=load_taxonomy(), secret_key=b"test-secret" * 3, clock=clock)

    def submit(i: int) -> str:
        return services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference

    with ThreadPoolExecutor(max_workers=16) as pool:
        refs = list(pool.map(submit, range(120)))
    db.dispose()
    assert len(set(refs)) == 120
    numbers = sorted(int(r.rsplit("-", 1)[1]) for r in refs)
    assert numbers == list(range(1, 121))
    assert all(r.startswith("MELD-2026-") for r in refs)


@pytest.mark.postgres
def test_a_new_years_sequence_created_by_many_at_once(pg_database_url: str) -> None:
    """The first submits of a year race to create its sequence (CREATE SEQUENCE IF NOT
    EXISTS is not safe against a concurrent one): every racer carries on."""
    import threading

    from intake.domain.taxonomy import load_taxonomy
    from intake.settings import Settings

    racers = 16
    dbs = [open_database(pg_database_url) for _ in range(racers)]
    settings = Settings(database_url=pg_database_url, secret_key="test-secret" * 3)
    contexts = [services.Context(db=db, settings=settings, taxonomy=load_taxonomy(),
                                 secret_key=b"test-secret" * 3) for db in dbs]
    for db in dbs:  # every racer holds an open connection: nobody waits to connect
        db.engine.connect().close()
    failures: list[BaseException] = []
    try:
        for year in range(2041, 2061):
            barrier = threading.Barrier(racers)

            def race(ctx: services.Context, year: int = year,
                     barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                try:
                    storing.ensure_reference_sequence(ctx, year)
                except BaseException as exc:  # collected, asserted below
                    failures.append(exc)

            threads = [threading.Thread(target=race, args=(ctx,)) for ctx in contexts]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert all(year in db.known_sequences for db in dbs)
        assert failures == []
    finally:
        for db in dbs:
            db.dispose()

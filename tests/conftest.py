"""Shared fixtures: migrated databases on SQLite and PostgreSQL, a service context, a clock.

PostgreSQL tests use MELD_TEST_POSTGRES_URL (a server URL; each test session creates its
own database there and drops it afterwards). In CI (CI=true) a missing server is an error,
elsewhere those tests are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError

from intake.domain.taxonomy import load_taxonomy
from intake.services import Context
from intake.settings import Settings
from storage.db import Database, open_database
from storage.migrate import upgrade
from storage.models import Base
from tests.fakes import FakeClock

PG_ENV = "MELD_TEST_POSTGRES_URL"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_server_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url and IN_CI:
        pytest.exit(f"CI=true but {PG_ENV} is not set: PostgreSQL tests must run in CI", 3)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it (no migrations run), on each backend: for the tests
    that migrate an old schema with rows in it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    server = _pg_server_url()
    if not server:
        pytest.skip(f"no PostgreSQL server given ({PG_ENV} is not set)")
    base = make_url(server).set(drivername="postgresql+psycopg")
    name = f"meld_empty_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    server = _pg_server_url()
    if not server:
        pytest.skip(f"no PostgreSQL server given ({PG_ENV} is not set)")
    base = make_url(server)
    if base.drivername == "postgresql":
        base = base.set(drivername="postgresql+psycopg")
    name = f"meld_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        if IN_CI:
            pytest.exit(f"CI=true but PostgreSQL at {base.host}:{base.port} failed: {exc}", 3)
        pytest.skip(f"PostgreSQL at {base.host}:{base.port} is not reachable: {exc}")
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        cleaner = _CLEANERS.pop(url, None)
        if cleaner is not None:
            cleaner.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating every time)."""
    path = tmp_path_factory.mktemp("template") / "meld.db"
    upgrade(f"sqlite:///{path}")
    return path


def _truncate_all(url: str) -> None:
    """Empty every table and restart every sequence (the references' are dropped).

    DELETE with triggers off (session_replication_role, a superuser's right) takes a third
    of TRUNCATE's time on these small tables, and this runs before every PostgreSQL test;
    without the right, TRUNCATE does it. Triggers off also lets the append-only audit log
    be emptied."""
    engine = _CLEANERS.get(url) or _CLEANERS.setdefault(url, create_engine(url))
    with engine.begin() as conn:
        try:
            with conn.begin_nested():
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(text(f'DELETE FROM "{table.name}"'))
        except DBAPIError:
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} CASCADE"))
        sequences = conn.execute(text(
            "SELECT sequence_name FROM information_schema.sequences")).scalars().all()
        for name in sequences:
            if name.startswith("meld_reference_"):
                conn.execute(text(f'DROP SEQUENCE "{name}"'))
            else:
                conn.execute(text(f'ALTER SEQUENCE "{name}" RESTART'))


# one engine per test database for _truncate_all (a connection kept: connecting is half
# the cost); disposed before the database is dropped
_CLEANERS: dict[str, Engine] = {}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty database URL on each backend."""
    if request.param == "sqlite":
        target = tmp_path / "meld.db"
        shutil.copy(sqlite_template, target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("pg_database_url")
    _truncate_all(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only, for tests that need no second backend."""
    target = tmp_path / "meld.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, secret_key="test-secret" * 3, run_outbox_worker=False)


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    db = open_database(settings.database_url)
    yield db
    db.dispose()


@pytest.fixture
def ctx(database: Database, settings: Settings, clock: FakeClock) -> Context:
    return Context(db=database, settings=settings, taxonomy=load_taxonomy(),
                   secret_key=b"test-secret" * 3, clock=clock)

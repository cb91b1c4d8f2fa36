"""Fresh, migrated databases for one bench run: SQLite files under var/bench, or new
PostgreSQL databases `meld_bench_<random>` on a given server, removed again at the end."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from storage.migrate import upgrade

PG_ENV_VARS = ("MELD_BENCH_POSTGRES_URL", "MELD_TEST_POSTGRES_URL")


@dataclass(frozen=True)
class BenchDatabase:
    backend: str  # "sqlite" or "postgresql"
    url: str  # SQLAlchemy URL, as MELD_DATABASE_URL takes it
    path: Path | None = None  # SQLite file
    conninfo: str | None = None  # libpq URL for psycopg


def postgres_server_url() -> str | None:
    for name in PG_ENV_VARS:
        if os.environ.get(name):
            return os.environ[name]
    return None


def select_backends(choice: str) -> tuple[list[str], dict[str, str], str | None]:
    """The backends to run for --backend all|sqlite|postgresql, the skipped ones with the
    reason, and the PostgreSQL server URL (None when not given)."""
    backends: list[str] = []
    skipped: dict[str, str] = {}
    server_url = postgres_server_url()
    if choice in ("all", "sqlite"):
        backends.append("sqlite")
    if choice in ("all", "postgresql"):
        if server_url:
            backends.append("postgresql")
        else:
            skipped["postgresql"] = f"set {' or '.join(PG_ENV_VARS)}"
    return backends, skipped, server_url


def _libpq(url: str) -> str:
    """A SQLAlchemy URL as plain libpq URL (psycopg does not take the +driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def sqlite_databases(work_dir: Path, count: int) -> Iterator[list[BenchDatabase]]:
    """`count` migrated SQLite files on the project's disk (not /tmp, which may be tmpfs)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="sqlite-", dir=work_dir)).resolve()
    try:
        dbs = []
        for i in range(count):
            path = root / f"db{i}" / "meld.db"
            path.parent.mkdir()
            url = f"sqlite:///{path}"
            upgrade(url)
            dbs.append(BenchDatabase("sqlite", url, path=path))
        yield dbs
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def postgres_databases(server_url: str, count: int) -> Iterator[list[BenchDatabase]]:
    """`count` new migrated databases on the server; dropped (forcibly) at the end."""
    base = make_url(server_url)
    if base.drivername == "postgresql":
        base = base.set(drivername="postgresql+psycopg")
    admin = _libpq(base.render_as_string(hide_password=False))
    names = [f"meld_bench_{uuid.uuid4().hex[:10]}" for _ in range(count)]
    created: list[str] = []
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            for name in names:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                created.append(name)
        dbs = []
        for name in names:
            url = base.set(database=name).render_as_string(hide_password=False)
            upgrade(url)
            dbs.append(BenchDatabase("postgresql", url, conninfo=_libpq(url)))
        yield dbs
    finally:
        if created:
            with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
                for name in created:
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                                 .format(sql.Identifier(name)))


def one_database(backend: str, server_url: str | None,
                 work_dir: Path) -> AbstractContextManager[list[BenchDatabase]]:
    """One fresh migrated database of the backend ("sqlite" in work_dir, or "postgres" on
    the server select_backends found), as `with one_database(...) as (db,)`."""
    if backend == "sqlite":
        return sqlite_databases(work_dir, 1)
    assert server_url is not None
    return postgres_databases(server_url, 1)

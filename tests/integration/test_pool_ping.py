"""PostgreSQL's pooled connections: one idle for a while is pinged before use and replaced
when the server has dropped it (a restart, a proxy's timeout), so the request using it
never sees the dead connection; one used moments ago is not pinged (no extra round trip
on every request under load)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

import storage.db
from storage.db import open_database

pytestmark = pytest.mark.postgres


def _terminate(url: str, pid: int) -> None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    finally:
        admin.dispose()


def _backend_pid(db: storage.db.Database) -> int:
    with db.reading() as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_an_idle_connection_dropped_by_the_server_is_replaced_unseen(
        pg_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage.db, "IDLE_PING_SECONDS", 0.0)  # every checkout is "idle"
    db = open_database(pg_database_url)
    try:
        dropped = _backend_pid(db)
        _terminate(pg_database_url, dropped)
        assert _backend_pid(db) != dropped  # pinged, found dead, replaced: no error
    finally:
        db.dispose()


def test_a_connection_used_moments_ago_is_not_pinged(
        pg_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage.db, "IDLE_PING_SECONDS", 3600.0)  # never "idle" here
    db = open_database(pg_database_url)
    try:
        dropped = _backend_pid(db)
        _terminate(pg_database_url, dropped)
        with pytest.raises(OperationalError):  # no ping: the dead connection was used
            _backend_pid(db)
        assert _backend_pid(db) != dropped  # and the pool recovers on the next use
    finally:
        db.dispose()


def _pooled_pids(db: storage.db.Database, count: int) -> list[int]:
    """Check out `count` connections at once (so the pool holds that many), give them back."""
    held = [db.engine.raw_connection() for _ in range(count)]
    try:
        pids = []
        for proxied in held:
            cursor = proxied.cursor()
            cursor.execute("SELECT pg_backend_pid()")
            pids.append(int(cursor.fetchone()[0]))
            cursor.close()
            proxied.rollback()
        return pids
    finally:
        for proxied in held:
            proxied.close()


def _driver_pid(db: storage.db.Database) -> int:
    with db.driver() as run:
        row = run("SELECT pg_backend_pid()")
    assert row is not None
    return int(row[0])


def test_the_driver_path_answers_a_dropped_connection_as_sqlalchemy_does_and_recovers(
        pg_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection the server dropped under `Database.driver` (the submit's path) raises
    SQLAlchemy's OperationalError (the 503 answer), is replaced, and the other connections
    given back before it broke are pinged at their next use instead of failing in turn."""
    monkeypatch.setattr(storage.db, "IDLE_PING_SECONDS", 3600.0)  # no ping for idleness
    db = open_database(pg_database_url)
    try:
        dropped = _pooled_pids(db, 2)
        for pid in dropped:
            _terminate(pg_database_url, pid)
        with pytest.raises(OperationalError) as caught:
            _driver_pid(db)
        assert caught.value.connection_invalidated
        assert _driver_pid(db) not in dropped  # the other dead one was pinged, replaced
        assert _backend_pid(db) not in dropped  # and SQLAlchemy's own sessions see it too
    finally:
        db.dispose()


def test_the_driver_path_raises_sqlalchemy_errors_without_the_parameters(
        pg_database_url: str) -> None:
    """A statement's error through `Database.driver` is SQLAlchemy's own class (an
    IntegrityError for a taken key), its message leaves the parameters out (they hold a
    report's text), and the connection stays usable (autocommit: nothing left aborted)."""
    db = open_database(pg_database_url)
    secret = "Kari Nordmann ringte fra 912 34 567"
    try:
        with db.driver() as run:
            run("CREATE TEMP TABLE taken (k text PRIMARY KEY, note text)")
            run("INSERT INTO taken VALUES ('api:1', %(note)s)", {"note": secret})
            with pytest.raises(IntegrityError):
                run("INSERT INTO taken VALUES ('api:1', %(note)s)", {"note": secret})
            with pytest.raises(DataError) as caught:
                run("SELECT length(%(note)s) / 0", {"note": secret})
            assert secret not in str(caught.value)
            assert "hidden" in str(caught.value)
            assert run("SELECT count(*) FROM taken") == (1,)
        with db.reading() as session:  # given back in its usual state: not in autocommit
            assert session.execute(text("SHOW transaction_isolation")).scalar_one()
            assert not session.connection().connection.driver_connection.autocommit
    finally:
        db.dispose()

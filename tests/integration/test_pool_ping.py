"""PostgreSQL's pooled connections: one idle for a while is pinged before use and replaced
when the server has dropped it (a restart, a proxy's timeout), so the request using it
never sees the dead connection; one used moments ago is not pinged (no extra round trip
on every request under load)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

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

"""Both databases keep connections per process (`storage.db.POOL_SIZE`, on SQLite
`SQLITE_POOL_SIZE`): as many reads at once as that, over and over (Slack users opening the
report form), open each connection once, instead of opening and closing those beyond
SQLAlchemy's default five on every burst (on SQLite the file and its pragmas; on
PostgreSQL a server process)."""

from __future__ import annotations

import threading

from sqlalchemy import event, text

import storage.db
from storage.db import open_database

BURSTS = 4


def _reads_at_once(db: storage.db.Database, count: int) -> None:
    """`count` threads each hold a read session at the same moment, then give it back."""
    barrier = threading.Barrier(count, timeout=30)
    failed: list[BaseException] = []

    def read() -> None:
        try:
            with db.reading() as session:
                session.execute(text("SELECT count(*) FROM reports")).scalar_one()
                barrier.wait()  # every thread holds its connection now
        except BaseException as exc:  # reported below, in the test's thread
            failed.append(exc)

    threads = [threading.Thread(target=read) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failed, failed


def test_bursts_of_concurrent_reads_reuse_the_kept_connections(db_url: str) -> None:
    db = open_database(db_url)
    kept = storage.db.SQLITE_POOL_SIZE if db.dialect == "sqlite" else storage.db.POOL_SIZE
    assert kept > 5  # more than SQLAlchemy's default
    opened: list[object] = []
    event.listen(db.engine, "connect", lambda conn, _record: opened.append(conn))
    try:
        for _ in range(BURSTS):
            _reads_at_once(db, kept)
        assert len(opened) == kept  # each opened once, none closed
        assert db.engine.pool.checkedin() == kept
    finally:
        db.dispose()

"""Engine and session factory; nothing is created at import time."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    # WAL for concurrent readers; FULL sync so a commit is durable before we say "stored".
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    # Each connection's own page cache: SQLite's 2 MB each, over the kept connections,
    # was some 8 MB that stayed after make bench's Slack load. The OS caches the file
    # anyway: with 256 kB, make bench's board lists over 100,000 reports were as fast.
    cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KB}")
    cur.close()


# Connections kept open per process, and how many more a burst may open. A connection
# beyond the kept ones is closed when it is given back, and the next burst opens it again.
# PostgreSQL: a new server process each time (some milliseconds of the server's CPU). With
# 10 kept, 20 concurrent submits opened and closed about ten connections all the time
# (py-spy: 4 % of the samples in connecting); 20 keeps a load of 20 requests at a time
# without any. The most per process stays 30, as before (mind max_connections, 100 by
# default, across MELD_WORKERS and replicas). SQLite: opening the file and its pragmas
# each time; with SQLAlchemy's 5 kept, 20 Slack users at a time made a /meld (one read of
# the form's defaults) cost twice its CPU on PostgreSQL. Its threads' reads are few at a
# time (the loop's default executor: cores + 4), and each kept connection holds its
# schema and page cache (SQLITE_CACHE_KB), so it keeps fewer.
POOL_SIZE = 20
SQLITE_POOL_SIZE = 10
MAX_OVERFLOW = 10
SQLITE_CACHE_KB = 256


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        on_disk = bool(database) and database != ":memory:"
        if on_disk:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 10},
            # in memory: SQLAlchemy's one connection per thread, which takes no overflow
            **({"pool_size": SQLITE_POOL_SIZE, "max_overflow": MAX_OVERFLOW}
               if on_disk else {}),
        )
        event.listen(engine, "connect", _sqlite_pragmas)

        # pysqlite's own transaction handling defers BEGIN; issue it ourselves so a write
        # transaction takes the lock up front (BEGIN IMMEDIATE) and cannot deadlock-upgrade.
        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_conn, _record) -> None:
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn) -> None:
            immediate = conn.get_execution_options().get("sqlite_immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    engine = create_engine(
        url,
        echo=echo,
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
        connect_args=({"connect_timeout": CONNECT_SECONDS}
                      if parsed.get_backend_name() == "postgresql" else {}),
    )
    _ping_when_idle(engine)
    return engine


IDLE_PING_SECONDS = 1.0
CONNECT_SECONDS = 5  # PostgreSQL: a server that does not answer is a 503 after this


# When a connection last broke in use through Database.driver (monotonic seconds), per
# engine: every connection given back before then is pinged at its next checkout.
_BROKEN_AT: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()


def _ping_when_idle(engine: Engine) -> None:
    """A pooled connection idle for IDLE_PING_SECONDS or more is pinged before use, and
    replaced if the server has gone (restarted, or a proxy dropped it); one used moments
    ago is not. (SQLAlchemy's pool_pre_ping pings on every checkout: a round trip more on
    every request under load, where the connections are never idle.) A connection that
    breaks in use invalidates the pool as before (SQLAlchemy's Connection), or, through
    `Database.driver`, has every connection given back before it pinged at its next use."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, record) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn, record, _proxy) -> None:
        since = record.info.get("checked_in_at")
        if since is None or (time.monotonic() - since < IDLE_PING_SECONDS
                             and since > _BROKEN_AT.get(engine, -1.0)):
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # the pool connects anew and tries again
            raise DisconnectionError(f"ping failed: {type(exc).__name__}") from exc


class Database:
    """Engine plus two session factories: reads, and writes (SQLite: BEGIN IMMEDIATE)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite has one writer at a time. Threads of this process queue here, in order,
        # instead of polling the file lock in SQLite's busy handler (which sleeps with backoff
        # and gives multi-second tails under load). Other processes still meet busy_timeout.
        self._write_lock = threading.Lock() if engine.dialect.name == "sqlite" else None
        self.known_sequences: set[int] = set()  # PostgreSQL reference sequences seen to exist
        # PostgreSQL: the event loop's own connections while a loop has them
        # (storage.async_driver.open_for_loop / for_this_loop)
        self.loop_driver: Any = None
        self.read = sessionmaker(engine, expire_on_commit=False)
        self.write = sessionmaker(
            engine.execution_options(sqlite_immediate=True), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One write unit of work: commit on success, roll back on any exception."""
        if self._write_lock is None:
            with self.write() as session, session.begin():
                yield session
            return
        with self._write_lock, self.write() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session."""
        with self.read() as session, session.begin():
            yield session

    @contextmanager
    def driver(self) -> Iterator[Callable[..., tuple[Any, ...] | None]]:
        """PostgreSQL: a pooled connection's own driver (psycopg) in autocommit, for the
        one hot path where SQLAlchemy's work per statement is a large share of the cost
        (a submit's two statements). Yields `run(sql, params=None)`, which executes one
        statement and returns its first row (or None).

        Errors come out as SQLAlchemy's own (OperationalError, IntegrityError, ...), so they
        get the same answers as everywhere else (503 when the server is gone), with the
        parameters left out of the message (a report's text never reaches a log). A
        connection that lost its server is invalidated, and every connection given back
        before that is pinged at its next checkout (see `_ping_when_idle`)."""
        dialect = self.engine.dialect
        base = dialect.loaded_dbapi.Error
        try:
            proxied = self.engine.raw_connection()
        except base as exc:
            raise self._wrapped(exc, None, None, disconnect=True) from exc
        conn: Any = proxied.driver_connection
        broken = False
        try:
            try:
                conn.autocommit = True
            except base as exc:  # the connection is known to be gone
                broken = True
                raise self._wrapped(exc, None, None, disconnect=True) from exc
            with conn.cursor() as cursor:

                def run(sql: str, params: Any = None) -> tuple[Any, ...] | None:
                    nonlocal broken
                    try:
                        cursor.execute(sql, params)
                        return cursor.fetchone() if cursor.description else None
                    except base as exc:
                        broken = dialect.is_disconnect(exc, conn, cursor)
                        raise self._wrapped(exc, sql, params, disconnect=broken) from exc

                yield run
        finally:
            if broken:
                _BROKEN_AT[self.engine] = time.monotonic()
                proxied.invalidate()
            else:
                try:
                    conn.autocommit = False
                except base:  # left mid-command by an exception from the caller
                    proxied.invalidate()
            proxied.close()

    def _wrapped(self, exc: Exception, sql: str | None, params: Any, *,
                 disconnect: bool) -> Exception:
        return DBAPIError.instance(sql, params, exc, self.engine.dialect.loaded_dbapi.Error,
                                   hide_parameters=True, connection_invalidated=disconnect,
                                   dialect=self.engine.dialect)

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str) -> Database:
    return Database(make_engine(url))

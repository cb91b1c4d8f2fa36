"""PostgreSQL's hot path on the event loop: the driver's own async connections.

A submit through the HTTP API or the form used to run in a worker thread of the web
server, only to wait there on its two statements. Handing it to a thread and back costs
about a fifth of the submit's CPU (measured: 1.45 against 1.17 ms per submit in `make
bench`), more than any work of Meld's own. `AsyncDriver` lets such a door run the
statements on the event loop instead, on psycopg's `AsyncConnection`s, pooled by
SQLAlchemy's async engine (in autocommit: each statement commits when it ends).

It keeps `Database.driver`'s promises: errors come out as SQLAlchemy's own classes
(OperationalError: the 503; IntegrityError: an idempotency race), without the parameters
(a report's text never reaches a log); a connection that lost its server is invalidated,
and every connection of either pool given back before that is pinged at its next
checkout. An AsyncDriver belongs to the event loop that opened it (the app's lifespan,
`open_for_loop`) and is closed there (`close_for_loop`); code on that loop finds it with
`for_this_loop(db)`, code anywhere else (a worker thread, another loop) gets None and
uses `Database.driver`.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from psycopg.pq import TransactionStatus
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.util import greenlet_spawn

from storage.db import _BROKEN_AT, Database, _ping_when_idle

# Connections kept for the loop's statements: as many as the threads' pool keeps (see
# storage.db.POOL_SIZE: fewer made 20 submits at a time open and close connections all
# the time). They are opened on first use, so a process that files nothing opens none.
POOL_SIZE = 20
MAX_OVERFLOW = 10

Run = Callable[..., Awaitable[tuple[Any, ...] | None]]


class AsyncDriver:
    """PostgreSQL connections for the event loop that made it (see the module's text)."""

    def __init__(self, db: Database) -> None:
        if db.dialect != "postgresql":
            raise ValueError("the async driver is for PostgreSQL")
        self._db = db
        self.loop = asyncio.get_running_loop()
        self.engine = create_async_engine(
            db.engine.url, pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW,
            isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
        _ping_when_idle(self.engine.sync_engine)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Run]:
        """A pooled connection; yields `await run(sql, params=None)`, which executes one
        statement (committed when it ends) and returns its first row (or None)."""
        sync_engine = self.engine.sync_engine
        dialect = sync_engine.dialect
        base = dialect.loaded_dbapi.Error
        try:
            proxied = await self.engine.raw_connection()
        except base as exc:
            raise self._wrapped(exc, None, None, disconnect=True) from exc
        conn: Any = proxied.driver_connection
        broken = False
        try:
            async with conn.cursor() as cursor:

                async def run(sql: str, params: Any = None) -> tuple[Any, ...] | None:
                    nonlocal broken
                    try:
                        await cursor.execute(sql, params)
                        return await cursor.fetchone() if cursor.description else None
                    except base as exc:
                        broken = dialect.is_disconnect(exc, conn, cursor)
                        raise self._wrapped(exc, sql, params, disconnect=broken) from exc

                yield run
        finally:
            # left mid-statement (the caller's task cancelled, say): not given back as is
            if broken or conn.closed or conn.info.transaction_status != TransactionStatus.IDLE:
                if broken:
                    now = time.monotonic()
                    _BROKEN_AT[sync_engine] = _BROKEN_AT[self._db.engine] = now
                await greenlet_spawn(proxied.invalidate)
            await greenlet_spawn(proxied.close)

    def _wrapped(self, exc: Exception, sql: str | None, params: Any, *,
                 disconnect: bool) -> Exception:
        dialect = self.engine.sync_engine.dialect
        return DBAPIError.instance(sql, params, exc, dialect.loaded_dbapi.Error,
                                   hide_parameters=True, connection_invalidated=disconnect,
                                   dialect=dialect)

    async def close(self) -> None:
        """Close the pool's connections (on the loop that opened them)."""
        await self.engine.dispose()


_OPEN: weakref.WeakKeyDictionary[Database, AsyncDriver] = weakref.WeakKeyDictionary()


def open_for_loop(db: Database) -> AsyncDriver | None:
    """Give `db` an AsyncDriver on the running loop (PostgreSQL only; None for SQLite)."""
    if db.dialect != "postgresql":
        return None
    if db in _OPEN:
        raise RuntimeError("this database has an async driver already")
    driver = _OPEN[db] = AsyncDriver(db)
    return driver


async def close_for_loop(db: Database) -> None:
    """Close the driver `open_for_loop` gave `db` (on the same loop), if any."""
    driver = _OPEN.pop(db, None)
    if driver is not None:
        await driver.close()


def for_this_loop(db: Database) -> AsyncDriver | None:
    """`db`'s AsyncDriver if it was opened on the loop running now, else None."""
    driver = _OPEN.get(db)
    if driver is None:
        return None
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:  # a worker thread: no loop of its own
        return None
    return driver if driver.loop is running else None

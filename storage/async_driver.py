"""PostgreSQL's hot path on the event loop: the driver's own async connections.

A submit through the HTTP API or the form used to run in a worker thread of the web
server, only to wait there on its two statements. Handing it to a thread and back costs
about a fifth of the submit's CPU (measured: 1.45 against 1.17 ms per submit in `make
bench`), more than any work of Meld's own. `AsyncDriver` lets such a door run the
statements on the event loop instead, on psycopg's `AsyncConnection`s in autocommit
(each statement commits when it ends).

The connections are pooled here, in a few lines, not by SQLAlchemy's async engine: its
pool adapts every checkout and checkin through greenlets, some 55 µs of CPU each against
some 5 here (measured with 5000 checkouts), a twentieth of a submit. The pool keeps
`POOL_SIZE` connections (opened on first use, so a process that files nothing opens
none), opens up to `MAX_OVERFLOW` more in a burst, and makes a caller beyond that wait
its turn (SQLAlchemy's TimeoutError, the 503, after `CHECKOUT_SECONDS`).

It keeps `Database.driver`'s promises: errors come out as SQLAlchemy's own classes
(OperationalError: the 503; IntegrityError: an idempotency race), without the parameters
(a report's text never reaches a log); a server that cannot be reached fails at once; a
connection that lost its server is closed, and every connection of either pool given
back before that, or idle for `storage.db.IDLE_PING_SECONDS`, is pinged at its next
checkout. An AsyncDriver belongs to the event loop that opened it (the app's lifespan,
`open_for_loop`) and is closed there (`close_for_loop`); code on that loop finds it with
`for_this_loop(db)`, code anywhere else (a worker thread, another loop) gets None and
uses `Database.driver`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from storage import db as _db
from storage.db import _BROKEN_AT, Database

if TYPE_CHECKING:  # imported by AsyncDriver: a process on SQLite never loads psycopg
    import psycopg

POOL_SIZE = 20  # kept: as many as the threads' pool (fewer made 20 clients churn them)
MAX_OVERFLOW = 10  # opened in a burst, closed when given back
CHECKOUT_SECONDS = 30.0  # a caller waits this long for a connection (SQLAlchemy's default)
PING = ";"  # what SQLAlchemy's psycopg dialect pings with: an empty query

Run = Callable[..., Awaitable[tuple[Any, ...] | None]]


class AsyncDriver:
    """PostgreSQL connections for the event loop that made it (see the module's text)."""

    def __init__(self, db: Database) -> None:
        if db.dialect != "postgresql":
            raise ValueError("the async driver is for PostgreSQL")
        import psycopg  # some 10 MB resident, for PostgreSQL only
        from psycopg.pq import TransactionStatus

        self._error, self._async_connect = psycopg.Error, psycopg.AsyncConnection.connect
        self._idle_status = TransactionStatus.IDLE
        self._db = db
        self._dialect = db.engine.dialect
        self.loop = asyncio.get_running_loop()
        # the connection arguments SQLAlchemy's psycopg dialect gives psycopg.connect
        _args, self._params = self._dialect.create_connect_args(db.engine.url)
        self._idle: deque[tuple[psycopg.AsyncConnection[Any], float]] = deque()
        self._count = 0  # open connections, idle or in use
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False
        self.checkouts = 0  # connections handed out (for tests and figures)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Run]:
        """A pooled connection; yields `await run(sql, params=None)`, which executes one
        statement (committed when it ends) and returns its first row (or None)."""
        conn = await self._checkout()
        base = self._dialect.loaded_dbapi.Error
        broken = False
        try:
            async with conn.cursor() as cursor:

                async def run(sql: str, params: Any = None) -> tuple[Any, ...] | None:
                    nonlocal broken
                    try:
                        await cursor.execute(sql, params)
                        return await cursor.fetchone() if cursor.description else None
                    except base as exc:
                        broken = self._dialect.is_disconnect(exc, conn, cursor)
                        raise self._wrapped(exc, sql, params, disconnect=broken) from exc

                yield run
        finally:
            if broken:  # the others given back before now are pinged at their next use
                _BROKEN_AT[self._db.engine] = time.monotonic()
            # left mid-statement (the caller's task cancelled, say): not given back as is
            await self._checkin(conn, keep=not broken and not conn.closed
                                and conn.info.transaction_status == self._idle_status)

    async def _checkout(self) -> psycopg.AsyncConnection[Any]:
        try:
            async with asyncio.timeout(CHECKOUT_SECONDS):
                while True:
                    if self._closed:
                        raise RuntimeError("the async driver is closed")
                    conn = await self._idle_one()
                    if conn is None and self._count < POOL_SIZE + MAX_OVERFLOW:
                        conn = await self._connect()
                    if conn is not None:
                        self.checkouts += 1
                        return conn
                    await self._wait_turn()
        except TimeoutError as exc:
            raise PoolTimeout(f"no connection free in {CHECKOUT_SECONDS:g} s") from exc

    async def _idle_one(self) -> psycopg.AsyncConnection[Any] | None:
        """The connection given back last, pinged when idle long or given back before a
        connection broke; None when none is idle (or every idle one was gone)."""
        while self._idle:
            conn, since = self._idle.pop()
            if (time.monotonic() - since < _db.IDLE_PING_SECONDS
                    and since > _BROKEN_AT.get(self._db.engine, -1.0)):
                return conn
            try:
                await conn.execute(PING)
            except self._error:
                await self._close(conn)
                continue
            return conn
        return None

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        self._count += 1
        try:
            return await self._async_connect(
                **{"connect_timeout": _db.CONNECT_SECONDS, **self._params}, autocommit=True)
        except BaseException as exc:
            self._count -= 1
            self._wake()
            if isinstance(exc, self._error):
                raise self._wrapped(exc, None, None, disconnect=True) from exc
            raise

    async def _wait_turn(self) -> None:
        turn: asyncio.Future[None] = self.loop.create_future()
        self._waiters.append(turn)
        try:
            await turn
        except BaseException:
            if turn.done() and not turn.cancelled():
                self._wake()  # woken, then gone: the turn passes on
            raise

    def _wake(self) -> None:
        while self._waiters:
            turn = self._waiters.popleft()
            if not turn.done():
                turn.set_result(None)
                return

    async def _checkin(self, conn: psycopg.AsyncConnection[Any], *, keep: bool) -> None:
        if keep and not self._closed and len(self._idle) < POOL_SIZE:
            self._idle.append((conn, time.monotonic()))
            self._wake()
        else:
            await self._close(conn)

    async def _close(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._count -= 1
        self._wake()
        try:
            await conn.close()
        except self._error:
            pass  # gone already

    def _wrapped(self, exc: Exception, sql: str | None, params: Any, *,
                 disconnect: bool) -> Exception:
        return DBAPIError.instance(sql, params, exc, self._dialect.loaded_dbapi.Error,
                                   hide_parameters=True, connection_invalidated=disconnect,
                                   dialect=self._dialect)

    async def close(self) -> None:
        """Close the idle connections (on the loop that opened them); one in use is closed
        when it is given back."""
        self._closed = True
        while self._idle:
            await self._close(self._idle.pop()[0])
        for turn in self._waiters:
            if not turn.done():
                turn.set_result(None)


def open_for_loop(db: Database) -> AsyncDriver | None:
    """Give `db` an AsyncDriver on the running loop (PostgreSQL only; None for SQLite)."""
    if db.dialect != "postgresql":
        return None
    if db.loop_driver is not None:
        raise RuntimeError("this database has an async driver already")
    driver = db.loop_driver = AsyncDriver(db)
    return driver


async def close_for_loop(db: Database) -> None:
    """Close the driver `open_for_loop` gave `db` (on the same loop), if any."""
    driver, db.loop_driver = db.loop_driver, None
    if driver is not None:
        await driver.close()


def for_this_loop(db: Database) -> AsyncDriver | None:
    """`db`'s AsyncDriver if it was opened on the loop running now, else None."""
    driver: AsyncDriver | None = db.loop_driver
    if driver is None:
        return None
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:  # a worker thread: no loop of its own
        return None
    return driver if driver.loop is running else None

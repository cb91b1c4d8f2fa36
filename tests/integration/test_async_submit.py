"""A submit on the event loop (services.submit_report_async over storage.async_driver):
PostgreSQL's statements run on the loop's own connections, with no worker thread. It
must store exactly what the threaded submit stores, keep idempotency (a replay, a reused
key, two submits racing with one key), store all or nothing, and answer a lost server and
a statement's error as the threaded path does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

import storage.db
from intake import services
from intake.domain.model import Actor, Conflict
from intake.services.context import Context
from storage import async_driver
from storage.async_driver import AsyncDriver, close_for_loop, for_this_loop, open_for_loop
from storage.db import open_database
from tests.conftest import _truncate_all
from tests.fakes import FakeClock
from tests.faults.procs import free_port
from tests.integration.helpers import draft
from tests.integration.test_storing import (
    SLACK,
    TEAMS,
    _allow_group_cards,
    _context,
    _refuse_group_cards,
    _stored,
    _submit_several,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(pg_database_url: str, clock: FakeClock) -> Iterator[Context]:
    _truncate_all(pg_database_url)
    ctx = _context(pg_database_url, clock)
    services.refresh_category_model(ctx)  # trained: the loop path reads nothing else
    yield ctx
    ctx.db.dispose()


def _on_loop(ctx: Context, scenario: Any) -> Any:
    """Run `scenario(driver)` on a new event loop that has the database's AsyncDriver (as
    the app's lifespan opens it), closed after; also give the number of connections the
    driver's pool handed out."""
    async def main() -> tuple[Any, int]:
        driver = open_for_loop(ctx.db)
        assert driver is not None and for_this_loop(ctx.db) is driver
        try:
            result = await scenario(driver)
        finally:
            await close_for_loop(ctx.db)
        assert for_this_loop(ctx.db) is None
        return result, driver.checkouts

    return asyncio.run(main())


async def _submit(ctx: Context, actor: Actor = SLACK, key: str | None = None,
                  **overrides: Any) -> services.Receipt:
    return await services.submit_report_async(ctx=ctx, actor=actor, draft=draft(**overrides),
                                              idempotency_key=key)


def test_the_loop_stores_what_the_threads_store(pg: Context, sqlite_url: str,
                                                clock: FakeClock) -> None:
    lite = _context(sqlite_url, clock)
    try:
        threaded = _submit_several(lite)
    finally:
        lite.db.dispose()

    async def several(driver: AsyncDriver) -> list[str]:
        shapes: list[tuple[Actor, str | None, dict[str, Any]]] = [
            (SLACK, None, {}),
            (TEAMS, None, {"category": None, "subcategory": None, "severity": None,
                           "place": None, "kind": None, "reporter_party": None,
                           "concerned_party": None, "occurred_on": None}),
            (SLACK, None, {"category": None, "subcategory": None,
                           "description": "Noe gikk galt i går."}),
            (TEAMS, "k-1", {"email": "lege@example.org", "severity": "severe"}),
            (SLACK, None, {"kind": "suggestion", "severity": None}),
        ]
        return [(await _submit(pg, actor, key, **overrides)).reference
                for actor, key, overrides in shapes]

    on_loop, checkouts = _on_loop(pg, several)
    assert on_loop == threaded
    assert checkouts == 5  # every submit on the loop's own connections
    lite = _context(sqlite_url, clock)
    try:
        assert _stored(pg) == _stored(lite)
    finally:
        lite.db.dispose()


def test_only_the_loop_that_opened_the_driver_uses_it(pg: Context) -> None:
    """A submit from another loop (its own thread) is stored through `Database.driver`, in
    a worker thread, never on connections that belong to the app's loop."""

    async def elsewhere(driver: AsyncDriver) -> tuple[str, str]:
        other = await asyncio.to_thread(asyncio.run, _submit(pg, TEAMS))
        here = await _submit(pg)
        return other.reference, here.reference

    (other, here), checkouts = _on_loop(pg, elsewhere)
    assert checkouts == 1  # only the submit on the driver's own loop
    with pg.db.reading() as session:
        stored = set(session.scalars(text("SELECT reference FROM reports")))
    assert stored == {other, here}
    with pytest.raises(RuntimeError):  # one driver per database
        _on_loop(pg, lambda driver: _submit(pg) if open_for_loop(pg.db) else None)


def test_replays_reused_keys_and_races_keep_one_report(pg: Context) -> None:
    async def scenario(driver: AsyncDriver) -> None:
        first, racer = await asyncio.gather(_submit(pg, key="same"),
                                            _submit(pg, key="same"))
        assert first.reference == racer.reference
        assert sorted([first.created, racer.created]) == [False, True]
        between = await _submit(pg)  # (the race's loser took a number: a gap)
        again = await _submit(pg, key="same")
        assert (again.reference, again.created) == (first.reference, False)
        with pytest.raises(Conflict):
            await _submit(pg, key="same", description="Noe helt annet.")
        other = await _submit(pg)
        number = int(between.reference.rsplit("-", 1)[1])
        assert other.reference.endswith(f"-{number + 1:04d}")  # a replay took no number

    _on_loop(pg, scenario)
    with pg.db.reading() as session:
        assert session.scalar(text("SELECT count(*) FROM reports")) == 3


def test_a_submit_on_the_loop_is_stored_whole_or_not_at_all(pg: Context) -> None:
    _refuse_group_cards(pg)

    async def refused(driver: AsyncDriver) -> None:
        with pytest.raises(DBAPIError):
            await _submit(pg)
        with pytest.raises(DBAPIError):
            await _submit(pg, key="k")

    try:
        _on_loop(pg, refused)
    finally:
        _allow_group_cards(pg.settings.database_url)
    assert [len(rows) for rows in _stored(pg).values()] == [0, 0, 0]

    async def later(driver: AsyncDriver) -> services.Receipt:
        return await _submit(pg, key="k")

    receipt, _ = _on_loop(pg, later)
    assert receipt.created  # the refused submit left its key free


def _terminate(url: str, pids: list[int]) -> None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for pid in pids:
                assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    finally:
        admin.dispose()


async def _pid(driver: AsyncDriver) -> int:
    async with driver.connection() as run:
        row = await run("SELECT pg_backend_pid()")
    assert row is not None
    return int(row[0])


def test_a_dropped_connection_is_a_503_once_and_the_rest_are_pinged(
        pg: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection the server dropped raises SQLAlchemy's OperationalError (the 503
    answer) and is replaced; the others of both pools given back before it broke are
    pinged at their next use instead of failing in turn."""
    monkeypatch.setattr(storage.db, "IDLE_PING_SECONDS", 3600.0)  # no ping for idleness
    url = pg.settings.database_url
    with pg.db.reading() as session:  # a connection in the threads' pool
        threads_pid = int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())

    async def scenario(driver: AsyncDriver) -> None:
        async def held() -> int:  # two at once, so the pool keeps two
            async with driver.connection() as run:
                row = await run("SELECT pg_backend_pid()")
                await asyncio.sleep(0.05)
            assert row is not None
            return int(row[0])

        dropped = list(await asyncio.gather(held(), held()))
        await asyncio.to_thread(_terminate, url, [*dropped, threads_pid])
        with pytest.raises(OperationalError) as caught:
            await _pid(driver)
        assert caught.value.connection_invalidated
        assert await _pid(driver) not in dropped  # the other dead one pinged, replaced

    _on_loop(pg, scenario)
    with pg.db.reading() as session:  # the threads' pool was told too
        assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() != threads_pid


def test_errors_are_sqlalchemys_without_the_parameters(pg: Context) -> None:
    secret = "Kari Nordmann ringte fra 912 34 567"

    async def scenario(driver: AsyncDriver) -> None:
        async with driver.connection() as run:
            await run("CREATE TEMP TABLE taken (k text PRIMARY KEY, note text)")
            await run("INSERT INTO taken VALUES ('api:1', %(note)s)", {"note": secret})
            with pytest.raises(IntegrityError):
                await run("INSERT INTO taken VALUES ('api:1', %(note)s)", {"note": secret})
            with pytest.raises(DataError) as caught:
                await run("SELECT length(%(note)s) / 0", {"note": secret})
            assert secret not in str(caught.value)
            assert "hidden" in str(caught.value)
            assert await run("SELECT count(*) FROM taken") == (1,)  # autocommit: usable

    _on_loop(pg, scenario)


def test_a_statement_cancelled_midway_does_not_go_back_to_the_pool_busy(pg: Context) -> None:
    """The request's task cancelled while its statement runs (a client gone, a timeout):
    the statement is stopped, and no connection is handed to the next request in the
    middle of a command (psycopg cancels it on the server; one left busy is closed)."""

    async def scenario(driver: AsyncDriver) -> None:
        started = asyncio.Event()

        async def slow() -> None:
            async with driver.connection() as run:
                started.set()
                await run("SELECT pg_sleep(30)")

        task = asyncio.create_task(slow())
        await started.wait()
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(3):  # the pool's connections answer at once, the first one too
            await asyncio.wait_for(_pid(driver), 5)
        async with driver.connection() as run:  # and the server stopped the statement
            assert await run("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                             "AND query = 'SELECT pg_sleep(30)'") == (0,)

    _on_loop(pg, scenario)


def test_the_pool_keeps_its_size_and_callers_beyond_it_wait_their_turn(
        pg: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(async_driver, "POOL_SIZE", 2)
    monkeypatch.setattr(async_driver, "MAX_OVERFLOW", 1)

    async def scenario(driver: AsyncDriver) -> None:
        busy = 0
        most = 0

        async def one() -> int:
            nonlocal busy, most
            async with driver.connection() as run:
                busy += 1
                most = max(most, busy)
                row = await run("SELECT pg_backend_pid() FROM pg_sleep(0.02)")
                busy -= 1
            assert row is not None
            return int(row[0])

        pids = await asyncio.gather(*(one() for _ in range(12)))
        assert most == 3  # never more than the pool and its overflow at once
        assert len(set(pids)) >= 3
        assert len(driver._idle) == 2 and driver._count == 2  # the overflow one closed
        monkeypatch.setattr(async_driver, "CHECKOUT_SECONDS", 0.2)
        async with driver.connection(), driver.connection(), driver.connection():
            with pytest.raises(PoolTimeout):  # the 503 of a full pool, in time
                await _pid(driver)
        assert await _pid(driver) in pids  # and the pool goes on

    _on_loop(pg, scenario)


def test_a_server_out_of_reach_fails_at_once(pg_database_url: str) -> None:
    db = open_database(make_url(pg_database_url).set(port=free_port()).render_as_string(
        hide_password=False))

    async def scenario() -> float:
        driver = AsyncDriver(db)
        started = time.monotonic()
        try:
            with pytest.raises(OperationalError) as caught:
                await _pid(driver)
        finally:
            await driver.close()
        assert caught.value.connection_invalidated
        assert driver._count == 0
        return time.monotonic() - started

    try:
        assert asyncio.run(scenario()) < 5  # refused, not waited for
    finally:
        db.dispose()

"""Group commit: submits at the same moment share one transaction on SQLite (one fsync),
and every guarantee of a lone submit holds for each of them: stored before its receipt,
its own reference, its audit event and outbox rows, idempotency keys answered by their
report, a key reused with other content refused, and one submit's error only its own.
On PostgreSQL each submit keeps its own transaction; the same guarantees are checked."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from intake import services
from intake.domain.model import Actor, Conflict, Role, ValidationFailed
from intake.services import storing
from storage import async_driver
from storage import models as m
from storage.group_commit import GroupCommit
from tests.integration.helpers import draft

REPORTER = Actor("slack:U0GROUP", Role.REPORTER)


# ---------------------------------------------------------------- the primitive


def test_callers_waiting_meanwhile_are_written_in_one_batch() -> None:
    gate, entered = threading.Event(), threading.Event()
    batches: list[list[int]] = []

    def write(items: Sequence[int]) -> list[int | BaseException]:
        entered.set()
        gate.wait(5)  # the first batch holds the turn until every caller has queued
        batches.append(list(items))
        return [ValueError(f"bad {i}") if i == 7 else i * 10 for i in items]

    writer: GroupCommit[int, int] = GroupCommit(write)
    results: dict[int, object] = {}

    def call(i: int) -> None:
        try:
            results[i] = writer.run(i)
        except ValueError as exc:
            results[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(12)]
    threads[0].start()
    assert entered.wait(5)
    for t in threads[1:]:
        t.start()
    deadline = time.monotonic() + 5
    while len(writer._queue) < 11 and time.monotonic() < deadline:
        time.sleep(0.001)
    gate.set()
    for t in threads:
        t.join(5)
    assert sorted(i for b in batches for i in b) == list(range(12))
    assert len(batches) == 2 and len(batches[1]) == 11  # all who waited: one batch
    assert {i: r for i, r in results.items() if i != 7} == {i: i * 10 for i in range(12)
                                                             if i != 7}
    assert isinstance(results[7], ValueError)  # its error is its own


def test_an_error_of_the_whole_batch_reaches_each_of_its_callers() -> None:
    def write(items: Sequence[int]) -> list[int | BaseException]:
        raise RuntimeError("disk full")

    writer: GroupCommit[int, int] = GroupCommit(write)
    with pytest.raises(RuntimeError, match="disk full"):
        writer.run(1)
    assert writer.batches == 1


def test_callers_on_an_event_loop_share_a_batch_and_one_thread() -> None:
    gate, entered = threading.Event(), threading.Event()
    batches: list[list[int]] = []
    writers: set[int] = set()

    def write(items: Sequence[int]) -> list[int | BaseException]:
        writers.add(threading.get_ident())
        entered.set()
        gate.wait(5)
        batches.append(list(items))
        return [ValueError(f"bad {i}") if i == 3 else i * 10 for i in items]

    writer: GroupCommit[int, int] = GroupCommit(write)

    async def main() -> list[object]:
        first = asyncio.ensure_future(writer.run_async(0))
        assert await asyncio.to_thread(entered.wait, 5)
        rest = [asyncio.ensure_future(writer.run_async(i)) for i in range(1, 8)]
        gone = asyncio.ensure_future(writer.run_async(8))
        await asyncio.sleep(0)  # every caller has queued
        gone.cancel()  # its caller left: its item is written all the same
        gate.set()
        return list(await asyncio.gather(first, *rest, return_exceptions=True))

    results = asyncio.run(main())
    assert [r for i, r in enumerate(results) if i != 3] == [i * 10 for i in range(8) if i != 3]
    assert isinstance(results[3], ValueError)  # its error is its own
    assert batches == [[0], list(range(1, 9))]
    assert len(writers) == 1 and threading.get_ident() not in writers
    assert not writer._draining  # the next caller starts a writer again

    async def later() -> int:
        return await writer.run_async(9)

    assert asyncio.run(later()) == 90


# ---------------------------------------------------------------- submits


def _counts(ctx: services.Context) -> tuple[int, int, int, int]:
    with ctx.db.reading() as s:
        reports = s.scalar(select(func.count()).select_from(m.Report))
        refs = s.scalar(select(func.count(func.distinct(m.Report.reference))))
        audits = s.scalar(select(func.count()).select_from(m.AuditEvent)
                          .where(m.AuditEvent.action == "submitted"))
        outbox = s.scalar(select(func.count()).select_from(m.OutboxMessage))
    return reports or 0, refs or 0, audits or 0, outbox or 0


N_AT_ONCE = 24


def _calls(i: int) -> list[dict[str, Any]]:
    """The submits of caller `i` of N_AT_ONCE, in order (its answer: the last one's)."""
    if i % 6 == 0:  # four keys given twice each (8 callers), the same report
        return [{"draft": draft(), "idempotency_key": f"key-{i % 12}"}]
    if i == 1:  # a key reused with other content
        return [{"draft": draft(), "idempotency_key": "taken"},
                {"draft": draft(description="Noe helt annet."), "idempotency_key": "taken"}]
    if i == 2:  # invalid: refused alone
        return [{"draft": draft(category="nope")}]
    return [{"draft": draft(description=f"Melding nummer {i}.")}]


def _check_at_once(ctx: services.Context, results: list[object]) -> None:
    n = N_AT_ONCE
    assert isinstance(results[1], Conflict)
    assert isinstance(results[2], ValidationFailed)
    keyed = [r for i, r in enumerate(results) if i % 6 == 0]
    assert all(isinstance(r, services.Receipt) for r in keyed)
    by_key: dict[int, set[str]] = {}
    for i, r in enumerate(results):
        if i % 6 == 0:
            assert isinstance(r, services.Receipt)
            by_key.setdefault(i % 12, set()).add(r.reference)
    assert all(len(refs) == 1 for refs in by_key.values())  # a key: one report
    created = [r for r in results if isinstance(r, services.Receipt) and r.created]
    # 2 keys (each once created) + the 'taken' one + 18 plain ones (n - 4 keyed - 1 - 1)
    plain = n - 4 - 2
    expected = 2 + 1 + plain
    assert len(created) == expected - 1  # the 'taken' one's first receipt is not returned
    reports, distinct, audits, outbox = _counts(ctx)
    assert reports == distinct == audits == expected
    assert outbox == 2 * expected  # the receipt and the group's card, each
    for receipt in created:  # stored before its receipt: readable by its reference
        assert services.receipt_for(ctx=ctx, reference=receipt.reference).reference \
            == receipt.reference
    if ctx.db.dialect == "sqlite":  # references without gaps on SQLite
        with ctx.db.reading() as session:
            stored = session.scalars(select(m.Report.reference)).all()
        assert sorted(int(r.rsplit("-", 1)[1]) for r in stored) == list(range(1, expected + 1))


def test_many_submits_at_once_keep_every_guarantee(ctx: services.Context) -> None:
    start = threading.Barrier(N_AT_ONCE)

    def one(i: int) -> object:
        start.wait(10)
        try:
            for call in _calls(i):
                result = services.submit_report(ctx=ctx, actor=REPORTER, **call)
        except (Conflict, ValidationFailed) as exc:
            return exc
        return result

    with ThreadPoolExecutor(max_workers=N_AT_ONCE) as pool:
        _check_at_once(ctx, list(pool.map(one, range(N_AT_ONCE))))


def test_many_submits_at_once_on_the_event_loop_keep_every_guarantee(
        ctx: services.Context) -> None:
    """The same from doors on the event loop (`submit_report_async`): on SQLite they await
    the group commit, with one worker thread per batch, not one per submit; on PostgreSQL
    they run on the loop's async driver."""
    services.refresh_category_model(ctx)  # trained: nothing else is sent to a thread
    used: list[int] = []

    async def one(i: int) -> object:
        try:
            for call in _calls(i):
                result = await services.submit_report_async(ctx=ctx, actor=REPORTER, **call)
        except (Conflict, ValidationFailed) as exc:
            return exc
        return result

    async def main() -> list[object]:
        driver = async_driver.open_for_loop(ctx.db)
        try:
            return list(await asyncio.gather(*(one(i) for i in range(N_AT_ONCE))))
        finally:
            await async_driver.close_for_loop(ctx.db)
            used.append(driver.checkouts if driver is not None else 0)

    writer = storing._writer(ctx.db)
    before = writer.batches, writer.items
    _check_at_once(ctx, asyncio.run(main()))
    if ctx.db.dialect == "sqlite":
        batches, items = writer.batches - before[0], writer.items - before[1]
        assert items == N_AT_ONCE  # (the refused one never reached the writer; 'taken' twice)
        assert batches < items  # they waited together
    else:
        assert used[0] >= N_AT_ONCE - 1  # on the loop's connections


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sqlite_groups_what_queued_while_the_writer_was_busy(ctx: services.Context) -> None:
    """While another write holds SQLite's lock, the submits queue; they are then written
    in (at most) two transactions, not one each."""
    n = 10
    writer = storing._writer(ctx.db)
    before = writer.batches
    lock = ctx.db._write_lock
    assert lock is not None
    with ThreadPoolExecutor(max_workers=n) as pool:
        with lock:  # a long write elsewhere in this process
            futures = [pool.submit(services.submit_report, ctx=ctx, actor=REPORTER,
                                   draft=draft(description=f"Melding {i}.")) for i in range(n)]
            deadline = time.monotonic() + 5
            while len(writer._queue) < n - 1 and time.monotonic() < deadline:
                time.sleep(0.001)
        receipts = [f.result(10) for f in futures]
    assert len({r.reference for r in receipts}) == n
    assert writer.batches - before <= 2
    assert _counts(ctx)[0] == n

"""The outbox: notifications survive crashes, are retried with backoff and stay in order."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from intake import services
from intake.delivery.outbox import LEASE, DeliveryError, OutboxWorker, WebStatusNotifier
from intake.domain.model import Actor, Role
from storage import models as m
from tests.fakes import FakeClock, RecordingNotifier
from tests.integration.helpers import draft

ALICE = Actor("slack:UALICE", Role.REPORTER)
BOB = Actor("slack:UBOB", Role.REPORTER)
GROUP = Actor("slack:UGROUP", Role.TRIAGER)


def worker_for(ctx: services.Context, clock: FakeClock, notifier: RecordingNotifier,
               **kwargs) -> OutboxWorker:
    return OutboxWorker(db=ctx.db, notifiers={"slack": notifier, "web": WebStatusNotifier()},
                        clock=clock, **kwargs)


def rows(ctx: services.Context) -> list[m.OutboxMessage]:
    """The reporters' rows (the group's rows wait for a group notifier, none here)."""
    with ctx.db.reading() as s:
        return list(s.scalars(
            select(m.OutboxMessage)
            .where(m.OutboxMessage.channel != services.GROUP_CHANNEL)
            .order_by(m.OutboxMessage.id)).all())


def test_delivers_with_reference_locale_and_message_text(ctx, clock) -> None:
    ref = services.submit_report(ctx=ctx, actor=ALICE, draft=draft()).reference
    services.reply(ctx=ctx, actor=GROUP, reference=ref, text="Takk, vi ser på det.")
    notifier = RecordingNotifier()
    assert asyncio.run(worker_for(ctx, clock, notifier).drain()) == 3
    assert [(n.event, n.reference, n.locale) for n in notifier.delivered] == [
        ("receipt", ref, "nb"), ("status_changed", ref, "nb"), ("reply", ref, "nb")]
    assert notifier.delivered[2].message == "Takk, vi ser på det."
    assert all(r.delivered_at is not None for r in rows(ctx))
    # nothing more to do
    assert asyncio.run(worker_for(ctx, clock, notifier).drain()) == 0


def test_failures_are_retried_with_backoff(ctx, clock) -> None:
    services.submit_report(ctx=ctx, actor=ALICE, draft=draft())
    notifier = RecordingNotifier(fail_next=2)
    worker = worker_for(ctx, clock, notifier, backoff_base=10, backoff_max=100)
    assert asyncio.run(worker.run_once()) == 0
    (row,) = rows(ctx)
    assert row.attempts == 1 and row.delivered_at is None and row.last_error == "fake_unavailable"
    wait = (row.next_attempt_at - clock.now).total_seconds()
    assert 8 <= wait <= 12  # base 10 s, +-20% jitter
    assert asyncio.run(worker.run_once()) == 0  # not due yet: not even attempted
    assert len(notifier.attempts) == 1
    clock.advance(seconds=13)
    assert asyncio.run(worker.run_once()) == 0
    (row,) = rows(ctx)
    assert 16 <= (row.next_attempt_at - clock.now).total_seconds() <= 24  # doubled
    clock.advance(seconds=25)
    assert asyncio.run(worker.run_once()) == 1
    assert len(notifier.delivered) == 1 and worker.stats.retried == 2


def test_retry_after_from_the_platform_is_respected(ctx, clock) -> None:
    services.submit_report(ctx=ctx, actor=ALICE, draft=draft())
    notifier = RecordingNotifier(fail_next=1, failure=DeliveryError("rate_limited",
                                                                     retry_after=42))
    asyncio.run(worker_for(ctx, clock, notifier).run_once())
    (row,) = rows(ctx)
    assert row.next_attempt_at - clock.now == timedelta(seconds=42)


def test_order_is_kept_per_recipient_while_others_go_on(ctx, clock) -> None:
    ref = services.submit_report(ctx=ctx, actor=ALICE, draft=draft()).reference
    services.submit_report(ctx=ctx, actor=BOB, draft=draft())
    services.reply(ctx=ctx, actor=GROUP, reference=ref, text="Første svar")

    class FailAlice(RecordingNotifier):
        async def deliver(self, note):
            if note.recipient == "slack:UALICE" and self.fail_next:
                self.fail_next -= 1
                raise DeliveryError("boom")
            self.delivered.append(note)

    notifier = FailAlice(fail_next=1)
    worker = worker_for(ctx, clock, notifier)
    asyncio.run(worker.drain())
    # Bob got his receipt; Alice's later notices wait behind her failed receipt
    assert notifier.transcript == [("slack:UBOB", "receipt", "MELD-2026-0002")]
    clock.advance(hours=1)
    asyncio.run(worker.drain())
    alice = [n.event for n in notifier.delivered if n.recipient == "slack:UALICE"]
    assert alice == ["receipt", "status_changed", "reply"]


def test_a_crash_after_claiming_loses_nothing(ctx, clock) -> None:
    """A worker that claimed rows and died: the lease runs out and another delivers them."""
    services.submit_report(ctx=ctx, actor=ALICE, draft=draft())
    notifier = RecordingNotifier()
    dead = worker_for(ctx, clock, notifier)
    claimed = dead.claim()
    assert len(claimed) == 1  # ...and then the process is killed before delivering
    survivor = worker_for(ctx, clock, notifier)
    assert asyncio.run(survivor.drain()) == 0  # still leased
    clock.advance(seconds=LEASE.total_seconds() + 1)
    assert asyncio.run(survivor.drain()) == 1
    assert notifier.delivered[0].id == claimed[0].id
    assert notifier.delivered[0].attempt == 2


def test_gives_up_after_max_attempts_and_unblocks_the_next(ctx, clock) -> None:
    ref = services.submit_report(ctx=ctx, actor=ALICE, draft=draft()).reference
    services.reply(ctx=ctx, actor=GROUP, reference=ref, text="Svar")
    notifier = RecordingNotifier(fail_next=1, failure=DeliveryError("user_not_found",
                                                                     permanent=True))
    worker = worker_for(ctx, clock, notifier, max_attempts=3)
    asyncio.run(worker.drain())
    first, *rest = rows(ctx)
    assert first.failed_at is not None and first.delivered_at is None
    assert all(r.delivered_at is not None for r in rest)
    assert worker.stats.failed == 1


def test_a_notifier_bug_does_not_stop_the_worker(ctx, clock) -> None:
    services.submit_report(ctx=ctx, actor=ALICE, draft=draft())

    class Broken(RecordingNotifier):
        async def deliver(self, note):
            raise RuntimeError("bug")

    worker = worker_for(ctx, clock, Broken())
    assert asyncio.run(worker.run_once()) == 0
    (row,) = rows(ctx)
    assert row.last_error == "exception:RuntimeError" and row.failed_at is None


def test_two_workers_never_claim_the_same_row(ctx, clock) -> None:
    for i in range(30):
        services.submit_report(ctx=ctx, actor=Actor(f"slack:U{i}", Role.REPORTER),
                               draft=draft())
    a = worker_for(ctx, clock, RecordingNotifier())
    b = worker_for(ctx, clock, RecordingNotifier())

    async def both():
        return await asyncio.gather(asyncio.to_thread(a.claim, 20),
                                    asyncio.to_thread(b.claim, 20))

    got_a, got_b = asyncio.run(both())
    ids_a = {n.id for n in got_a}
    ids_b = {n.id for n in got_b}
    assert not ids_a & ids_b
    assert len(ids_a | ids_b) == 30


def test_web_reporters_see_delivered_notices(ctx, clock) -> None:
    web = Actor("web:abc", Role.REPORTER)
    receipt = services.submit_report(ctx=ctx, actor=web, draft=draft())
    services.move_status(ctx=ctx, actor=GROUP, reference=receipt.reference,
                         status="in_progress", message="Vi jobber med saken.")
    assert services.delivered_notices(ctx=ctx, reference=receipt.reference) == []
    asyncio.run(worker_for(ctx, clock, RecordingNotifier()).drain())
    notices = services.delivered_notices(ctx=ctx, reference=receipt.reference)
    assert [(p["status"], body) for _w, _e, p, body in notices] == [
        ("triage", None), ("in_progress", "Vi jobber med saken.")]

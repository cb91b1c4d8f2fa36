"""Unknown outcomes in the outbox: an ambiguous failure or a lost lease is never resent
blindly by a notifier that says so (Teams), is verified when it can be, parked for
reconciliation when it cannot, and logged by outbox id either way. A notifier that accepts
duplicates (Slack DMs) resends, and the possible duplicate is logged by id."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from sqlalchemy import select

from intake import services
from intake.delivery.outbox import (
    LEASE,
    DeliveryError,
    Notification,
    OutboxWorker,
    WebStatusNotifier,
)
from intake.domain.model import Actor, Role
from storage import models as m
from tests.fakes import FakeClock, RecordingNotifier
from tests.integration.helpers import draft

ALICE = Actor("teams:alice", Role.REPORTER)
GROUP = Actor("slack:UGROUP", Role.TRIAGER)


@dataclass
class CarefulNotifier:
    """A platform without idempotency keys where a duplicate is not acceptable (like Teams).

    `platform` is what the far side really received. `ambiguous_after_send` makes the next
    deliveries time out after the platform got them; `ambiguous_before_send` before.
    """

    channel: str = "teams"
    resend_blindly: bool = False
    platform: list[int] = field(default_factory=list)
    ambiguous_after_send: int = 0
    ambiguous_before_send: int = 0
    verify_calls: list[int] = field(default_factory=list)
    verify_fails: int = 0

    async def deliver(self, note: Notification) -> None:
        if self.ambiguous_before_send:
            self.ambiguous_before_send -= 1
            raise DeliveryError("teams_timeout", ambiguous=True)
        self.platform.append(note.id)
        if self.ambiguous_after_send:
            self.ambiguous_after_send -= 1
            raise DeliveryError("teams_timeout", ambiguous=True)

    async def verify(self, note: Notification) -> bool:
        self.verify_calls.append(note.id)
        if self.verify_fails:
            self.verify_fails -= 1
            raise DeliveryError("teams_http_503", retry_after=7)
        return note.id in self.platform


@dataclass
class CarefulWithoutVerify:
    """Never resends blindly and cannot look up what it sent: unknown means reconcile."""

    channel: str = "teams"
    resend_blindly: bool = False
    platform: list[int] = field(default_factory=list)
    ambiguous_after_send: int = 0

    async def deliver(self, note: Notification) -> None:
        self.platform.append(note.id)
        if self.ambiguous_after_send:
            self.ambiguous_after_send -= 1
            raise DeliveryError("teams_timeout", ambiguous=True)


def worker_for(ctx: services.Context, clock: FakeClock, notifier: object) -> OutboxWorker:
    return OutboxWorker(db=ctx.db, notifiers={"teams": notifier, "web": WebStatusNotifier(),
                                              "slack": RecordingNotifier()},
                        clock=clock, backoff_base=10, backoff_max=100)


def rows(ctx: services.Context, channel: str = "teams") -> list[m.OutboxMessage]:
    with ctx.db.reading() as s:
        return list(s.scalars(select(m.OutboxMessage)
                              .where(m.OutboxMessage.channel == channel)
                              .order_by(m.OutboxMessage.id)).all())


def submit_with_reply(ctx: services.Context) -> str:
    ref = services.submit_report(ctx=ctx, actor=ALICE, draft=draft()).reference
    services.reply(ctx=ctx, actor=GROUP, reference=ref, text="Takk, vi ser på saken.")
    return ref


def test_ambiguous_timeout_after_delivery_is_verified_not_resent(ctx, clock, caplog) -> None:
    caplog.set_level(logging.INFO, logger="meld.outbox")
    submit_with_reply(ctx)
    notifier = CarefulNotifier(ambiguous_after_send=1)
    worker = worker_for(ctx, clock, notifier)
    assert asyncio.run(worker.run_once()) == 0
    first, *later = rows(ctx)
    assert first.last_error == "ambiguous:teams_timeout" and first.failed_at is None
    assert notifier.platform == [first.id]
    # the later notices for the same reporter wait behind the unknown one (order kept)
    assert all(r.attempts == 0 for r in later)
    clock.advance(seconds=13)
    asyncio.run(worker.drain())
    clock.advance(seconds=30)
    asyncio.run(worker.drain())
    # verified as delivered: not sent a second time; the rest went out in order
    assert notifier.verify_calls == [first.id]
    assert notifier.platform == [r.id for r in rows(ctx)]
    assert all(r.delivered_at is not None for r in rows(ctx))
    assert worker.stats.verified == 1 and worker.stats.redelivered == 0
    assert f"outbox id={first.id} channel=teams: verified as delivered earlier" in caplog.text


def test_ambiguous_timeout_before_delivery_is_verified_then_sent(ctx, clock) -> None:
    submit_with_reply(ctx)
    notifier = CarefulNotifier(ambiguous_before_send=1)
    worker = worker_for(ctx, clock, notifier)
    asyncio.run(worker.run_once())
    clock.advance(seconds=13)
    asyncio.run(worker.drain())
    clock.advance(seconds=30)
    asyncio.run(worker.drain())
    ids = [r.id for r in rows(ctx)]
    assert notifier.verify_calls == [ids[0]]
    assert notifier.platform == ids  # each exactly once, in order
    assert worker.stats.verified == 0


def test_a_failed_verification_stays_unknown_and_is_asked_again(ctx, clock) -> None:
    services.submit_report(ctx=ctx, actor=ALICE, draft=draft())
    notifier = CarefulNotifier(ambiguous_after_send=1, verify_fails=1)
    worker = worker_for(ctx, clock, notifier)
    asyncio.run(worker.run_once())
    clock.advance(seconds=13)
    asyncio.run(worker.run_once())  # verify answers 503: still unknown, nothing sent
    (row,) = rows(ctx)
    assert row.last_error == "ambiguous:verify_teams_http_503" and row.delivered_at is None
    assert (row.next_attempt_at - clock.now).total_seconds() == 7  # Retry-After kept
    clock.advance(seconds=8)
    asyncio.run(worker.run_once())
    (row,) = rows(ctx)
    assert row.delivered_at is not None
    assert notifier.platform == [row.id]  # never twice
    assert len(notifier.verify_calls) == 2


def test_without_verify_an_unknown_outcome_is_parked_for_reconciliation(
        ctx, clock, caplog) -> None:
    caplog.set_level(logging.INFO, logger="meld.outbox")
    submit_with_reply(ctx)
    notifier = CarefulWithoutVerify(ambiguous_after_send=1)
    worker = worker_for(ctx, clock, notifier)
    asyncio.run(worker.run_once())
    first, *_ = rows(ctx)
    assert first.failed_at is not None and first.last_error == "unverified:teams_timeout"
    assert worker.stats.parked == 1
    assert (f"outbox id={first.id} channel=teams: an earlier attempt may have been "
            "delivered") in caplog.text
    clock.advance(hours=2)
    asyncio.run(worker.drain())
    # the parked one was sent once (the ambiguous attempt) and never again; the rest went
    assert notifier.platform.count(first.id) == 1
    assert all(r.delivered_at is not None for r in rows(ctx)[1:])


def test_a_lost_lease_is_verified_by_a_careful_notifier(ctx, clock, caplog) -> None:
    """The process died after the platform got the message, before it was marked."""
    caplog.set_level(logging.INFO, logger="meld.outbox")
    services.submit_report(ctx=ctx, actor=ALICE, draft=draft())
    notifier = CarefulNotifier()
    dead = worker_for(ctx, clock, notifier)
    (claimed,) = [n for n in dead.claim() if n.channel == "teams"]
    notifier.platform.append(claimed.id)  # delivered... and then SIGKILL before the mark
    clock.advance(seconds=LEASE.total_seconds() + 1)
    survivor = worker_for(ctx, clock, notifier)
    asyncio.run(survivor.drain())
    (row,) = rows(ctx)
    assert row.delivered_at is not None and notifier.platform == [row.id]
    assert survivor.stats.verified == 1
    assert f"outbox id={row.id} channel=teams: attempt 1 left no outcome" in caplog.text


def test_a_lost_lease_without_verify_is_parked(ctx, clock) -> None:
    services.submit_report(ctx=ctx, actor=ALICE, draft=draft())
    notifier = CarefulWithoutVerify()
    dead = worker_for(ctx, clock, notifier)
    dead.claim()
    clock.advance(seconds=LEASE.total_seconds() + 1)
    survivor = worker_for(ctx, clock, notifier)
    asyncio.run(survivor.drain())
    (row,) = rows(ctx)
    assert row.last_error == "unverified:lease_expired" and row.failed_at is not None
    assert notifier.platform == []


def test_a_lost_lease_is_resent_by_a_blind_notifier_and_logged(ctx, clock, caplog) -> None:
    caplog.set_level(logging.INFO, logger="meld.outbox")
    services.submit_report(ctx=ctx, actor=Actor("slack:UALICE", Role.REPORTER), draft=draft())
    slack = RecordingNotifier()
    dead = OutboxWorker(db=ctx.db, notifiers={"slack": slack}, clock=clock)
    (claimed,) = dead.claim()
    clock.advance(seconds=LEASE.total_seconds() + 1)
    survivor = OutboxWorker(db=ctx.db, notifiers={"slack": slack}, clock=clock)
    assert asyncio.run(survivor.drain()) == 1
    assert survivor.stats.redelivered == 1
    assert (f"outbox id={claimed.id} channel=slack attempt 2: an earlier attempt may have "
            "been delivered; resending (possible duplicate)") in caplog.text


def test_the_lease_is_configurable(ctx, clock) -> None:
    from datetime import timedelta

    services.submit_report(ctx=ctx, actor=Actor("slack:UALICE", Role.REPORTER), draft=draft())
    slack = RecordingNotifier()
    short = timedelta(seconds=3)
    OutboxWorker(db=ctx.db, notifiers={"slack": slack}, clock=clock, lease=short).claim()
    clock.advance(seconds=4)
    survivor = OutboxWorker(db=ctx.db, notifiers={"slack": slack}, clock=clock, lease=short)
    assert asyncio.run(survivor.drain()) == 1


def test_the_worker_says_at_start_how_many_notices_are_parked(ctx, clock, caplog) -> None:
    """`meld serve` runs this worker: a parked notice is not silently forgotten."""
    caplog.set_level(logging.INFO, logger="meld.outbox")
    for who in ("teams:alice", "teams:bob"):  # one notice per recipient is claimed at a time
        services.submit_report(ctx=ctx, actor=Actor(who, Role.REPORTER), draft=draft())
    notifier = CarefulWithoutVerify()
    dead = worker_for(ctx, clock, notifier)
    dead.claim()
    clock.advance(seconds=LEASE.total_seconds() + 1)
    survivor = worker_for(ctx, clock, notifier)
    asyncio.run(survivor.drain())
    parked = [r for r in rows(ctx) if (r.last_error or "").startswith("unverified:")]
    assert len(parked) == 2

    async def start_and_stop() -> None:
        stop = asyncio.Event()
        stop.set()  # one look at start, then stop
        await worker_for(ctx, clock, notifier).run_forever(stop)

    caplog.clear()
    asyncio.run(start_and_stop())
    started = [r for r in caplog.records if "parked for a person" in r.getMessage()]
    assert [(r.levelno, r.getMessage()) for r in started] == [
        (logging.WARNING, "outbox: 2 notice(s) parked for a person to settle "
                          "(meld outbox --unverified)")]

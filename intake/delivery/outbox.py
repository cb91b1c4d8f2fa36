"""Notifier protocol and the outbox worker that delivers queued notifications.

Services write outbox rows in the same transaction as the change they announce. The worker
claims due rows (one per recipient at a time, oldest first, so a reporter's notices arrive
in order), hands them to the notifier of the row's channel, and marks them delivered; a
failure is retried with exponential backoff. A crash between commit and delivery loses
nothing: the row stays pending and its lease runs out.

Unknown outcomes. A row whose lease ran out without a recorded outcome (the process died
during delivery), or whose last attempt failed ambiguously (`DeliveryError(ambiguous=True)`:
a timeout, a dropped connection, a 5xx after the request was sent), may already have
reached the recipient. Such a row is claimed with `Notification.unknown_outcome` set and
the worker logs it by id. What happens next is the notifier's choice:

- `resend_blindly = True` (the default; Slack DMs): deliver again. A duplicate is possible
  and accepted; the log line `outbox id=N ... possible duplicate` names it.
- `resend_blindly = False` (e.g. Teams): never resend blindly. If the notifier has
  `async verify(note) -> bool`, the worker asks it first (True: it was delivered, mark it
  so without sending; False: deliver now). Without `verify`, the row is parked for
  reconciliation (`failed_at` set, `last_error = "unverified:<code>"`) and logged by id.

An ambiguous failure is recorded as `last_error = "ambiguous:<code>"`, so the next claim,
in this process or another, knows the outcome is unknown.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from storage import models as m
from storage.db import Database

log = logging.getLogger("meld.outbox")

LEASE = timedelta(minutes=2)
AMBIGUOUS = "ambiguous:"  # last_error prefix: the last attempt may have been delivered
UNVERIFIED = "unverified:"  # last_error prefix: parked, a person must reconcile it
EMAIL_CHANNEL = "email"  # = intake.services.common.EMAIL_CHANNEL (delivery sits below services)


@dataclass(frozen=True, slots=True)
class Notification:
    """One notice to one recipient; `message` is the dialog text it carries, if any."""

    id: int
    channel: str
    recipient: str
    event: str
    payload: dict[str, Any]
    reference: str | None
    locale: str
    message: str | None
    attempt: int
    unknown_outcome: bool = False  # an earlier attempt may have been delivered
    # the e-mail channel's address, read from the report at claim time (never stored in
    # the outbox, never logged); None when there is none (erased by retention)
    address: str | None = None


class DeliveryError(Exception):
    """A failed delivery. retry_after (seconds) when the platform said when; permanent stops;
    ambiguous when the platform may have done it anyway (timeout, dropped connection, 5xx)."""

    def __init__(self, code: str, *, retry_after: float | None = None,
                 permanent: bool = False, ambiguous: bool = False) -> None:
        super().__init__(code)
        self.code = code
        self.retry_after = retry_after
        self.permanent = permanent
        self.ambiguous = ambiguous


class Notifier(Protocol):
    """A platform that can tell a reporter something (Slack DM, Teams chat, web status page)."""

    channel: str

    async def deliver(self, note: Notification) -> None:
        """Deliver or raise DeliveryError; must not log the message text."""

    # Optional: `resend_blindly: bool` (default True) and `async def verify(note) -> bool`
    # (was this note delivered?), for platforms where a duplicate is not acceptable.


def resends_blindly(notifier: Notifier) -> bool:
    """Whether a note whose earlier attempt had an unknown outcome may simply be resent."""
    return bool(getattr(notifier, "resend_blindly", True))


class WebStatusNotifier:
    """Web reporters read notices on their private status page: delivery makes them visible."""

    channel = "web"

    async def deliver(self, note: Notification) -> None:
        return None


@dataclass(slots=True)
class WorkerStats:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    redelivered: int = 0  # claimed again after an attempt with an unknown outcome
    verified: int = 0  # found delivered by the notifier's verify(): not sent again
    parked: int = 0  # unknown outcome, no verify(): left for reconciliation


class OutboxWorker:
    """Claims due outbox rows and delivers them through the notifier of their channel."""

    def __init__(
        self,
        *,
        db: Database,
        notifiers: Mapping[str, Notifier],
        max_attempts: int = 12,
        backoff_base: float = 5.0,
        backoff_max: float = 3600.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        lease: timedelta = LEASE,
    ) -> None:
        self.db = db
        self.lease = lease
        self.notifiers = dict(notifiers)
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.clock = clock
        self.stats = WorkerStats()
        self._unrecorded: list[Notification] = []  # delivered, not yet marked in the database
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    def wake(self, channels: frozenset[str] | None = None) -> None:
        """A transaction in this process wrote notices: deliver now, not at the next poll.
        Safe from any thread (use cases run in worker threads); a no-op when not running,
        or when none of the channels written to (None: not known) has a notifier here."""
        loop, event = self._loop, self._wake
        if loop is None or event is None or loop.is_closed():
            return
        if channels is not None and self.notifiers.keys().isdisjoint(channels):
            return
        try:
            loop.call_soon_threadsafe(event.set)
        except RuntimeError:  # the loop closed meanwhile: the poll after a restart has it
            pass

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the given number of failed attempts (with +-20% jitter)."""
        delay = min(self.backoff_max, self.backoff_base * (2 ** max(0, attempts - 1)))
        return delay * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security

    def claim(self, limit: int = 50) -> list[Notification]:
        """Lease up to `limit` due rows, the oldest pending one per recipient."""
        now = self.clock()
        pending = and_(m.OutboxMessage.delivered_at.is_(None), m.OutboxMessage.failed_at.is_(None))
        head = (
            select(func.min(m.OutboxMessage.id))
            .where(pending, m.OutboxMessage.channel.in_(list(self.notifiers)))
            .group_by(m.OutboxMessage.recipient)
        )
        stmt = (
            select(m.OutboxMessage, m.Report.reference, m.Report.locale, m.Message.body,
                   m.Report.notify_email)
            .outerjoin(m.Report, m.Report.id == m.OutboxMessage.report_id)
            .outerjoin(
                m.Message,
                m.Message.id == m.OutboxMessage.payload["message_id"].as_integer(),
            )
            .where(
                m.OutboxMessage.id.in_(head),
                m.OutboxMessage.next_attempt_at <= now,
                or_(m.OutboxMessage.locked_until.is_(None), m.OutboxMessage.locked_until < now),
            )
            .order_by(m.OutboxMessage.id)
            .limit(limit)
        )
        if self.db.dialect == "postgresql":
            stmt = stmt.with_for_update(of=m.OutboxMessage, skip_locked=True)
        notes: list[Notification] = []
        with self.db.transaction() as session:
            for row, reference, locale, body, address in session.execute(stmt).all():
                # locked_until is cleared with every recorded outcome: still set (and past,
                # or the row would not be due) means the last claimer died mid-delivery
                lease_lost = row.locked_until is not None
                unknown = lease_lost or (row.last_error or "").startswith(AMBIGUOUS)
                row.locked_until = now + self.lease
                row.attempts += 1
                notes.append(
                    Notification(
                        id=row.id, channel=row.channel, recipient=row.recipient,
                        event=row.event, payload=dict(row.payload), reference=reference,
                        locale=locale or "nb", message=body, attempt=row.attempts,
                        unknown_outcome=unknown,
                        address=address if row.channel == EMAIL_CHANNEL else None,
                    )
                )
                if lease_lost:
                    log.warning("outbox id=%s channel=%s: attempt %s left no outcome (lease "
                                "ran out); claimed again as attempt %s",
                                row.id, row.channel, row.attempts - 1, row.attempts)
        return notes

    def _mark_delivered(self, ids: list[int]) -> None:
        if not ids:
            return
        with self.db.transaction() as session:
            session.execute(
                update(m.OutboxMessage)
                .where(m.OutboxMessage.id.in_(ids))
                .values(delivered_at=self.clock(), locked_until=None, last_error=None)
            )

    def _mark_failed(self, note: Notification, err: DeliveryError) -> None:
        now = self.clock()
        give_up = err.permanent or note.attempt >= self.max_attempts
        delay = err.retry_after if err.retry_after is not None else self.backoff(note.attempt)
        code = (AMBIGUOUS + err.code) if err.ambiguous else err.code
        values: dict[str, Any] = {"locked_until": None, "last_error": code[:200]}
        if give_up:
            values["failed_at"] = now
        else:
            values["next_attempt_at"] = now + timedelta(seconds=delay)
        with self.db.transaction() as session:
            session.execute(
                update(m.OutboxMessage).where(m.OutboxMessage.id == note.id).values(**values)
            )
        if give_up:
            self.stats.failed += 1
            log.error("outbox id=%s channel=%s gave up after %s attempts: %s",
                      note.id, note.channel, note.attempt, err.code)
        else:
            self.stats.retried += 1
            log.warning("outbox id=%s channel=%s attempt %s failed (%s); retry in %.0fs",
                        note.id, note.channel, note.attempt, err.code, delay)

    def _park(self, note: Notification) -> None:
        """Unknown outcome and no way to verify: stop, and leave it to a person."""
        with self.db.transaction() as session:
            row = session.get(m.OutboxMessage, note.id)
            if row is None:
                return
            previous = (row.last_error or "").removeprefix(AMBIGUOUS) or "lease_expired"
            row.locked_until = None
            row.failed_at = self.clock()
            row.last_error = (UNVERIFIED + previous)[:200]
        self.stats.parked += 1
        log.error("outbox id=%s channel=%s: an earlier attempt may have been delivered and "
                  "the notifier cannot verify it; not resent, parked for reconciliation",
                  note.id, note.channel)

    async def _settle_unknown(self, notifier: Notifier, note: Notification) -> bool | None:
        """For a note whose earlier attempt may have arrived: True (it did, done), False
        (go on and deliver) or None (parked or retried later; stop here)."""
        if resends_blindly(notifier):
            self.stats.redelivered += 1
            log.warning("outbox id=%s channel=%s attempt %s: an earlier attempt may have "
                        "been delivered; resending (possible duplicate)",
                        note.id, note.channel, note.attempt)
            return False
        verify = getattr(notifier, "verify", None)
        if verify is None:
            await asyncio.to_thread(self._park, note)
            return None
        try:
            delivered = bool(await verify(note))
        except DeliveryError as err:  # cannot tell yet: stays ambiguous, asked again later
            await asyncio.to_thread(self._mark_failed, note, DeliveryError(
                f"verify_{err.code}"[:80], retry_after=err.retry_after, ambiguous=True))
            return None
        if delivered:
            self.stats.verified += 1
            log.info("outbox id=%s channel=%s: verified as delivered earlier; not resent",
                     note.id, note.channel)
            return True
        log.info("outbox id=%s channel=%s: verified as not delivered; sending",
                 note.id, note.channel)
        return False

    async def _attempt(self, note: Notification) -> bool:
        """Hand one note to its notifier; failures are recorded, successes returned True."""
        notifier = self.notifiers[note.channel]
        if note.unknown_outcome:
            settled = await self._settle_unknown(notifier, note)
            if settled is None:
                return False
            if settled:
                return True
        try:
            await notifier.deliver(note)
        except DeliveryError as err:
            await asyncio.to_thread(self._mark_failed, note, err)
            if (err.ambiguous and not err.permanent and not resends_blindly(notifier)
                    and getattr(notifier, "verify", None) is None):
                await asyncio.to_thread(self._park, note)
            return False
        except Exception as exc:  # a notifier bug must not stop the worker; retried later
            log.exception("outbox id=%s channel=%s notifier raised", note.id, note.channel)
            await asyncio.to_thread(
                self._mark_failed, note, DeliveryError(f"exception:{type(exc).__name__}")
            )
            return False
        return True

    async def deliver(self, notes: list[Notification]) -> int:
        """Deliver claimed notes and record the successes in one transaction."""
        done: list[Notification] = []
        lost_db: SQLAlchemyError | None = None
        for note in notes:
            try:
                ok = await self._attempt(note)
            except SQLAlchemyError as exc:  # a failure could not be recorded: its lease
                lost_db = exc               # covers it; the rest of the batch waits too
                break
            if ok:
                done.append(note)
        # Delivered notes are remembered until the database has recorded them: a database
        # outage right after a delivery must not make it look undelivered (a duplicate
        # once the lease runs out). They are recorded at the start of the next round.
        self._unrecorded.extend(done)
        await self._record_delivered()
        if lost_db is not None:
            raise lost_db
        return len(done)

    async def _record_delivered(self) -> None:
        """Mark the remembered deliveries delivered; raises (and keeps them) if it cannot."""
        if not self._unrecorded:
            return
        notes = list(self._unrecorded)
        await asyncio.to_thread(self._mark_delivered, [n.id for n in notes])
        del self._unrecorded[:len(notes)]
        for note in notes:
            log.info("outbox id=%s channel=%s event=%s delivered",
                     note.id, note.channel, note.event)
        self.stats.delivered += len(notes)

    async def run_once(self, limit: int = 200) -> int:
        """Claim and deliver one batch; returns how many were delivered."""
        await self._record_delivered()
        notes = await asyncio.to_thread(self.claim, limit)
        return await self.deliver(notes) if notes else 0

    async def drain(self, max_rounds: int = 100) -> int:
        """Deliver until nothing is due (tests and one-shot runs)."""
        await self._record_delivered()
        total = 0
        for _ in range(max_rounds):
            notes = await asyncio.to_thread(self.claim, 200)
            if not notes:
                break
            total += await self.deliver(notes)
        return total

    async def run_forever(self, stop: asyncio.Event, poll_seconds: float = 2.0) -> None:
        """Poll until stop is set; database outages are logged and waited out. Says first
        how many notices wait for a person (parked with an unknown outcome)."""
        try:
            parked = await asyncio.to_thread(count_unverified, self.db)
        except SQLAlchemyError as exc:
            log.warning("outbox: could not count parked notices (%s)", type(exc).__name__)
        else:
            log.log(logging.WARNING if parked else logging.INFO,
                    "outbox: %d notice(s) parked for a person to settle "
                    "(meld outbox --unverified)", parked)
        self._loop = asyncio.get_running_loop()
        self._wake = wake = asyncio.Event()
        try:
            while not stop.is_set():
                wake.clear()  # before the claim: a commit during this round wakes the next
                try:
                    busy = await self.run_once()
                except SQLAlchemyError as exc:
                    log.warning("outbox: database error (%s); retrying", type(exc).__name__)
                    busy = 0
                if not busy:
                    await _first_of(stop, wake, timeout=poll_seconds)
        finally:
            self._loop = self._wake = None


async def _first_of(*events: asyncio.Event, timeout: float) -> None:
    """Wait until one of the events is set, or the timeout passes."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


# ---------------------------------------------------------------- reconciliation


@dataclass(frozen=True, slots=True)
class ParkedRow:
    """An outbox row parked with an unknown outcome (codes only, never the message)."""

    id: int
    channel: str
    recipient: str
    event: str
    reference: str | None
    created_at: datetime
    last_error: str


def _parked(o: type[m.OutboxMessage]) -> Any:
    return and_(o.delivered_at.is_(None), o.failed_at.is_not(None),
                o.last_error.like(UNVERIFIED + "%"))


def count_unverified(db: Database) -> int:
    """How many rows are parked for a person."""
    o = m.OutboxMessage
    with db.reading() as session:
        return session.scalar(select(func.count()).select_from(o).where(_parked(o))) or 0


def unverified(db: Database) -> list[ParkedRow]:
    """Rows parked for a person: an attempt may have arrived and nothing could tell."""
    o = m.OutboxMessage
    with db.reading() as session:
        rows = session.execute(
            select(o.id, o.channel, o.recipient, o.event, m.Report.reference, o.created_at,
                   o.last_error)
            .outerjoin(m.Report, m.Report.id == o.report_id)
            .where(_parked(o))
            .order_by(o.id)
        ).all()
    return [ParkedRow(*row) for row in rows]


def reconcile(db: Database, ids: list[int], *, delivered: bool,
              now: datetime | None = None) -> list[int]:
    """A person's answer for parked rows: it did arrive (`delivered`: mark it so) or it did
    not (send it once more). Returns the ids changed; rows not parked are left alone."""
    now = now or datetime.now(UTC)
    o = m.OutboxMessage
    parked = and_(o.id.in_(ids), _parked(o))
    values: dict[str, Any] = (
        {"delivered_at": now, "failed_at": None, "last_error": "reconciled:delivered"}
        if delivered else
        {"failed_at": None, "next_attempt_at": now, "locked_until": None,
         "last_error": "reconciled:resend"})
    with db.transaction() as session:
        changed = list(session.scalars(update(o).where(parked).values(**values)
                                       .returning(o.id)))
    for row_id in changed:
        log.info("outbox id=%s reconciled by a person: %s", row_id,
                 "delivered" if delivered else "send once more")
    return sorted(changed)

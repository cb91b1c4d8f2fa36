"""Notifier protocol and the outbox worker that delivers queued notifications.

Services write outbox rows in the same transaction as the change they announce. The worker
claims due rows (one per recipient at a time, oldest first, so a reporter's notices arrive
in order), hands them to the notifier of the row's channel, and marks them delivered; a
failure is retried with exponential backoff. A crash between commit and delivery loses
nothing: the row stays pending and its lease runs out.
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


class DeliveryError(Exception):
    """A failed delivery. retry_after (seconds) when the platform said when; permanent stops."""

    def __init__(self, code: str, *, retry_after: float | None = None,
                 permanent: bool = False) -> None:
        super().__init__(code)
        self.code = code
        self.retry_after = retry_after
        self.permanent = permanent


class Notifier(Protocol):
    """A platform that can tell a reporter something (Slack DM, Teams chat, web status page)."""

    channel: str

    async def deliver(self, note: Notification) -> None:
        """Deliver or raise DeliveryError; must not log the message text."""


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
    ) -> None:
        self.db = db
        self.notifiers = dict(notifiers)
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.clock = clock
        self.stats = WorkerStats()

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
            select(m.OutboxMessage, m.Report.reference, m.Report.locale, m.Message.body)
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
            for row, reference, locale, body in session.execute(stmt).all():
                row.locked_until = now + LEASE
                row.attempts += 1
                notes.append(
                    Notification(
                        id=row.id, channel=row.channel, recipient=row.recipient,
                        event=row.event, payload=dict(row.payload), reference=reference,
                        locale=locale or "nb", message=body, attempt=row.attempts,
                    )
                )
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
        values: dict[str, Any] = {"locked_until": None, "last_error": err.code[:200]}
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

    async def _attempt(self, note: Notification) -> bool:
        """Hand one note to its notifier; failures are recorded, successes returned True."""
        notifier = self.notifiers[note.channel]
        try:
            await notifier.deliver(note)
        except DeliveryError as err:
            await asyncio.to_thread(self._mark_failed, note, err)
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
        for note in notes:
            if await self._attempt(note):
                done.append(note)
        await asyncio.to_thread(self._mark_delivered, [n.id for n in done])
        for note in done:
            log.info("outbox id=%s channel=%s event=%s delivered",
                     note.id, note.channel, note.event)
        self.stats.delivered += len(done)
        return len(done)

    async def run_once(self, limit: int = 200) -> int:
        """Claim and deliver one batch; returns how many were delivered."""
        notes = await asyncio.to_thread(self.claim, limit)
        return await self.deliver(notes) if notes else 0

    async def drain(self, max_rounds: int = 100) -> int:
        """Deliver until nothing is due (tests and one-shot runs)."""
        total = 0
        for _ in range(max_rounds):
            notes = await asyncio.to_thread(self.claim, 200)
            if not notes:
                break
            total += await self.deliver(notes)
        return total

    async def run_forever(self, stop: asyncio.Event, poll_seconds: float = 2.0) -> None:
        """Poll until stop is set; database outages are logged and waited out."""
        while not stop.is_set():
            try:
                busy = await self.run_once()
            except SQLAlchemyError as exc:
                log.warning("outbox: database error (%s); retrying", type(exc).__name__)
                busy = 0
            if not busy:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=poll_seconds)
                except TimeoutError:
                    pass

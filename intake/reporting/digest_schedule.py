"""Posting the weekly digest: the schedule, and exactly once per (channel, period).

Schedule: an RFC 5545 RRULE in local time (default Monday 08:00 Europe/Oslo), expanded by
dateutil with a naive local DTSTART, so 08:00 stays 08:00 across daylight-saving changes.
A run covers the ISO week that ended before it.

Exactly once per (channel, period): `run_digest` claims a row in `digest_runs` in its own
transaction before it posts (INSERT ... ON CONFLICT DO NOTHING on the unique key). A claim
holds a lease; one that was never marked posted and whose lease ran out (the claimer
crashed, or the post failed) is taken over with an UPDATE whose WHERE re-checks both, so
two takers cannot both win. A posted claim is never posted again. The one window left is
a crash after Slack accepted the message and before `posted_at` is written: that digest
is posted again when the lease runs out (at least once there; chat.postMessage has no
idempotency key).

The composition root starts `digest_scheduler`; the CLI (`meld digest`) and tests use
`run_digest`, `run_state` and `claim`. The doors only supply the `post` callable.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from intake.reporting.digest import (
    Digest,
    build_digest,
    check_postable,
    parse_week,
    week_ended_before,
)
from storage import models as m

if TYPE_CHECKING:
    from intake.services import Context
    from intake.settings import Settings

log = logging.getLogger("meld.digest")

DIGEST_LEASE = timedelta(minutes=5)   # a claim not posted within this may be taken over
POST_DEADLINE = 120.0                 # seconds one post may take; well inside the lease
RETRY_BASE_SECONDS = 60.0             # the scheduler's first retry after a failed post
RETRY_MAX_SECONDS = 3600.0
MAX_SLEEP_SECONDS = 600.0             # the scheduler re-reads the clock at least this often


# ---------------------------------------------------------------- schedule


def _rule_around(rule: str, moment: datetime, zone: ZoneInfo) -> tuple[Any, datetime]:
    """The rule expanded in naive local time from a DTSTART shortly before `moment`."""
    local = moment.astimezone(zone).replace(tzinfo=None)
    if "DTSTART" in rule.upper():
        return rrulestr(rule, ignoretz=True), local
    dtstart = datetime.combine(local.date() - timedelta(days=8), time(0))
    return rrulestr(rule, dtstart=dtstart), local


def _to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    # a wall-clock time in a spring-forward gap resolves forward (02:30 -> 03:30 CEST)
    return local.replace(tzinfo=zone).astimezone(UTC)


def next_run(after: datetime, rule: str, tz: str = "Europe/Oslo") -> datetime:
    """The first occurrence of `rule` (local wall-clock time in tz) strictly after `after`."""
    zone = ZoneInfo(tz)
    expanded, local = _rule_around(rule, after, zone)
    candidate = expanded.after(local - timedelta(hours=3), inc=False)
    while candidate is not None and _to_utc(candidate, zone) <= after:
        candidate = expanded.after(candidate, inc=False)
    if candidate is None:
        raise ValueError("the digest rule has no further occurrences")
    return _to_utc(candidate, zone)


def previous_run(before: datetime, rule: str, tz: str = "Europe/Oslo") -> datetime | None:
    """The last occurrence of `rule` at or before `before` (looking back about a week)."""
    zone = ZoneInfo(tz)
    expanded, local = _rule_around(rule, before, zone)
    candidate = expanded.before(local + timedelta(hours=3), inc=True)
    while candidate is not None and _to_utc(candidate, zone) > before:
        candidate = expanded.before(candidate, inc=False)
    return _to_utc(candidate, zone) if candidate is not None else None


# ---------------------------------------------------------------- exactly once


@dataclass(frozen=True, slots=True)
class RunState:
    """What `digest_runs` says about one (channel, period)."""

    posted_at: datetime | None
    lease_until: datetime
    attempts: int
    last_error: str | None


def digest_channel(settings: Settings) -> str | None:
    """The claim key of the configured destination: 'slack:<triage channel id>', or None."""
    if settings.slack_enabled and settings.slack_triage_channel:
        return f"slack:{settings.slack_triage_channel}"
    return None


def run_state(ctx: Context, channel: str, period: str) -> RunState | None:
    with ctx.db.reading() as session:
        row = session.execute(
            select(m.DigestRun.posted_at, m.DigestRun.lease_until, m.DigestRun.attempts,
                   m.DigestRun.last_error)
            .where(m.DigestRun.channel == channel, m.DigestRun.period == period)
        ).one_or_none()
    return RunState(*row) if row is not None else None


def claim(ctx: Context, channel: str, period: str, *,
          lease: timedelta = DIGEST_LEASE) -> str | None:
    """Claim (channel, period) in its own transaction: a token if this caller may post.

    A new row is inserted; if the row exists, it is taken over only when it was never
    posted and its lease has run out (one UPDATE whose WHERE checks both, so of two
    concurrent takers only one changes the row).
    """
    now = ctx.clock()
    token = uuid.uuid4().hex
    values = {"channel": channel, "period": period, "claimed_at": now, "claimed_by": token,
              "lease_until": now + lease, "attempts": 1}
    table = m.DigestRun.__table__
    with ctx.db.transaction() as session:
        dialect = session.get_bind().dialect.name
        if dialect in ("postgresql", "sqlite"):
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            stmt = (insert(table).values(**values)
                    .on_conflict_do_nothing(index_elements=["channel", "period"])
                    .returning(table.c.id))
            inserted = session.execute(stmt).scalar_one_or_none() is not None
        else:  # pragma: no cover - other databases: a unique violation means "taken"
            try:
                with session.begin_nested():
                    session.execute(table.insert().values(**values))
                inserted = True
            except IntegrityError:
                inserted = False
    if inserted:
        return token
    with ctx.db.transaction() as session:
        taken = session.execute(
            update(table)
            .where(table.c.channel == channel, table.c.period == period,
                   table.c.posted_at.is_(None), table.c.lease_until < now)
            .values(claimed_at=now, claimed_by=token, lease_until=now + lease,
                    attempts=table.c.attempts + 1)
        ).rowcount
    return token if taken == 1 else None


def _mark_posted(ctx: Context, channel: str, period: str, token: str) -> bool:
    table = m.DigestRun.__table__
    now = ctx.clock()
    with ctx.db.transaction() as session:
        done = session.execute(
            update(table)
            .where(table.c.channel == channel, table.c.period == period,
                   table.c.claimed_by == token, table.c.posted_at.is_(None))
            .values(posted_at=now, lease_until=now, last_error=None)
        ).rowcount
    return done == 1


def _release(ctx: Context, channel: str, period: str, token: str, error: str) -> None:
    """A failed post: free the claim at once (the caller decides when to try again)."""
    table = m.DigestRun.__table__
    now = ctx.clock()
    with ctx.db.transaction() as session:
        session.execute(
            update(table)
            .where(table.c.channel == channel, table.c.period == period,
                   table.c.claimed_by == token, table.c.posted_at.is_(None))
            .values(lease_until=now, last_error=error[:200])
        )


def _error_code(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    return str(code) if isinstance(code, str) and code else type(exc).__name__


Poster = Callable[[Digest], Awaitable[None]] | Callable[[Digest], None]


def _is_async(post: Poster) -> bool:
    return inspect.iscoroutinefunction(post) or inspect.iscoroutinefunction(
        getattr(post, "__call__", None))  # noqa: B004 - an object with `async def __call__`


async def run_digest(*, ctx: Context, channel: str, period: str, post: Poster,
                     lease: timedelta = DIGEST_LEASE) -> bool:
    """Claim (channel, period), build the digest, post it, mark it posted.

    Returns True if this call posted; False if the period was posted already or another
    live claim holds it. A failing post frees the claim, records the error code and
    raises. `post` may be a coroutine function or a plain function (run in a thread). A
    week that has not ended is refused before anything is claimed (`check_postable`).
    """
    week = parse_week(period)
    check_postable(week, ctx.clock(), ctx.settings.timezone)
    token = await asyncio.to_thread(claim, ctx, channel, week.key, lease=lease)
    if token is None:
        log.info("digest %s for %s: claimed or posted elsewhere; not posting", week.key,
                 channel)
        return False
    try:
        digest = await asyncio.to_thread(build_digest, ctx=ctx, week=week.key,
                                         now=ctx.clock())
        async with asyncio.timeout(min(POST_DEADLINE, lease.total_seconds() / 2)):
            if _is_async(post):
                await post(digest)  # type: ignore[misc]
            else:
                result = await asyncio.to_thread(post, digest)
                if inspect.isawaitable(result):
                    await result
    except BaseException as exc:
        code = _error_code(exc)
        log.warning("digest %s for %s: post failed (%s); the claim is freed for a retry",
                    week.key, channel, code)
        await asyncio.shield(asyncio.to_thread(_release, ctx, channel, week.key, token, code))
        raise
    if not await asyncio.to_thread(_mark_posted, ctx, channel, week.key, token):
        log.warning("digest %s for %s: posted, but the claim had been taken over (lease "
                    "ran out while posting); it may have been posted twice", week.key, channel)
    else:
        log.info("digest %s for %s: posted", week.key, channel)
    return True


# ---------------------------------------------------------------- in-process scheduler


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))
    except TimeoutError:
        pass


async def digest_scheduler(ctx: Context, settings: Settings, post: Poster,
                           stop: asyncio.Event, *, channel: str | None = None,
                           max_sleep: float = MAX_SLEEP_SECONDS,
                           retry_base: float = RETRY_BASE_SECONDS) -> None:
    """Post the digest at every occurrence of settings.digest_rrule until `stop` is set.

    On start it first catches up on the last scheduled run (the week that ended before
    it) if that digest is not posted yet (no claim, or a stale one). Every replica may run
    this: the claim in `digest_runs` lets exactly one of them post. A failed post, or a
    claim another process holds, is retried until the next occurrence comes due. Times
    come from ctx.clock; the loop re-reads it at least every `max_sleep` seconds.
    """
    channel = channel or digest_channel(settings)
    if channel is None:
        log.info("digest scheduler: no destination configured; not running")
        return
    try:
        await _schedule(ctx, settings, post, stop, channel, max_sleep, retry_base)
    except ValueError as exc:  # the rule ran out of occurrences (COUNT or UNTIL)
        log.error("digest scheduler stopped: %s", exc)


async def _schedule(ctx: Context, settings: Settings, post: Poster, stop: asyncio.Event,
                    channel: str, max_sleep: float, retry_base: float) -> None:
    rule, tz = settings.digest_rrule, settings.timezone
    clock = ctx.clock
    due: datetime | None = previous_run(clock(), rule, tz)  # catch up on the last one
    retry_at: datetime | None = None
    failures = 0
    log.info("digest scheduler: next digest %s",
             next_run(clock(), rule, tz).isoformat())
    while not stop.is_set():
        now = clock()
        if due is None:
            due = next_run(now, rule, tz)
        newest = previous_run(now, rule, tz)
        if newest is not None and newest > due:
            due, retry_at, failures = newest, None, 0  # a newer run came due meanwhile
        wake = retry_at or due
        if wake > now:
            await _sleep(stop, min(max_sleep, (wake - now).total_seconds()))
            continue
        period = week_ended_before(due, tz).key
        try:
            state = await asyncio.to_thread(run_state, ctx, channel, period)
            if state is not None and state.posted_at is not None:
                posted = False
            else:
                posted = await run_digest(ctx=ctx, channel=channel, period=period, post=post)
                if not posted:
                    state = await asyncio.to_thread(run_state, ctx, channel, period)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed post or the database: retry with backoff
            failures += 1
            delay = min(RETRY_MAX_SECONDS, retry_base * 2 ** (failures - 1))
            retry_at = clock() + timedelta(seconds=delay)
            log.warning("digest %s: attempt %s failed (%s); retrying in %.0f s", period,
                        failures, _error_code(exc), delay)
            continue
        if posted or state is None or state.posted_at is not None:
            due, retry_at, failures = next_run(max(now, due), rule, tz), None, 0
            log.info("digest scheduler: next digest %s", due.isoformat())
        else:
            # another process holds a live claim: look again when its lease has run out
            retry_at = max(state.lease_until, clock()) + timedelta(seconds=1)

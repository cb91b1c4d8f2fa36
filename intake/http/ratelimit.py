"""Rate limits on the open submit doors: per reporter and per IP, sliding window, shared.

Both the JSON submit endpoint (POST /api/v1/reports) and the web form (POST /) take at
most MELD_RATE_LIMIT_PER_REPORTER submissions per reporter and MELD_RATE_LIMIT_PER_IP per
client address in any MELD_RATE_LIMIT_WINDOW_SECONDS. A refused request gets 429 with
Retry-After (whole seconds until the oldest counted request leaves the window) and is
not counted itself.

The reporter is the browser's pseudonymous session (the `meld_session` cookie, on the
form and on API calls that carry it). The IP is the peer address as the server sees it
(`meld serve` trusts no forwarding headers, so behind a reverse proxy every client shares
the proxy's address: size MELD_RATE_LIMIT_PER_IP for that, or limit at the proxy).

The windows live in the database (`rate_limit_hits`, `SharedLimits`), so every process
of `meld serve` (MELD_WORKERS) and every replica on the same database counts against
the same limit. A check is one short write transaction: on PostgreSQL a transaction-level
advisory lock per key (so two processes checking one key take turns), one SELECT of the
key's hits inside the window and one INSERT; on SQLite the write transaction itself
(BEGIN IMMEDIATE) is the lock. Hits older than the longest window are deleted about once
a minute per process. Times are the server's wall clock (time.time()): replicas on
several hosts need synchronised clocks (NTP), as for everything else. When the database
cannot be reached the limits let the request through (logged): it cannot be stored then
either, and answers 503 like every other request that needs the database.

`SubmitLimits` over `SlidingWindow` is the same rule in one process's memory, for code
that has no database to share (and the model the shared one is tested against).

Nothing here logs or stores report text; only keyed hashes (HMAC with the secret key) of
the keys are kept, never an address or a session.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import math
import threading
import time
import zlib
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool

from intake.domain.model import DomainError
from intake.http import deps
from intake.i18n import N_, Translator
from intake.settings import Settings
from storage.db import Database
from storage.models_limits import RateLimitHit

__all__ = ["Limits", "RateLimited", "SharedLimits", "SlidingWindow", "SubmitLimits",
           "check_submit", "install"]

RATE_LIMITED = N_("Too many reports in a short time. Wait {seconds} seconds and send again.")
RATE_LIMITED_FORM = N_(
    "Too many reports in a short time from this browser or network. Wait {seconds} seconds "
    "and send again: your text is still in the form."
)
log = logging.getLogger("meld.ratelimit")

SESSION_COOKIE = "meld_session"  # the web door's session cookie (intake.http.web.pages)


class RateLimited(DomainError):
    """A submission over a limit; `retry_after` is in whole seconds (at least 1)."""

    http_status = 429

    def __init__(self, retry_after: int, scope: str) -> None:
        super().__init__("rate_limited", seconds=retry_after)
        self.retry_after = retry_after
        self.scope = scope


class SlidingWindow:
    """Exact sliding-window log: at most `limit` events per key in any `window` seconds.

    `clock` returns seconds (monotonic in production; tests inject their own). Keys idle
    for a whole window are forgotten; past `max_keys` the longest-idle keys are dropped.
    """

    def __init__(self, limit: int, window: float, clock: Callable[[], float],
                 max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()  # least recently used first

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until `key` may have one more event (0.0: it may now)."""
        hits = self._hits.get(key)
        if hits is None:
            return 0.0
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) < self.limit:
            return 0.0
        return hits[len(hits) - self.limit] + self.window - now

    def add(self, key: str, now: float) -> None:
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
        else:
            self._hits.move_to_end(key)
        hits.append(now)
        self._forget(now)

    def _forget(self, now: float) -> None:
        while self._hits:
            oldest_key, oldest = next(iter(self._hits.items()))
            idle = not oldest or oldest[-1] <= now - self.window
            if not idle and len(self._hits) <= self.max_keys:
                return
            del self._hits[oldest_key]

    def __len__(self) -> int:
        return len(self._hits)


def _key(kind: str, value: str, secret: bytes = b"") -> str:
    """The kept form of a limit key: a hash (keyed with the secret key when given), never
    the address or session itself."""
    if secret:
        return hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:32]


class Limits(Protocol):
    """What the doors call: count one submission or raise RateLimited (counting nothing).
    Blocking (the shared limits ask the database): call it from a worker thread."""

    enabled: bool

    def hit(self, *, ip: str | None, reporter: str | None) -> None: ...


@dataclass
class SubmitLimits:
    """The per-reporter and per-IP windows in one process's memory, checked together."""

    per_reporter: SlidingWindow
    per_ip: SlidingWindow
    enabled: bool = True

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings,
                      clock: Callable[[], float] = time.monotonic) -> SubmitLimits:
        window = settings.rate_limit_window_seconds
        return cls(
            per_reporter=SlidingWindow(settings.rate_limit_per_reporter, window, clock),
            per_ip=SlidingWindow(settings.rate_limit_per_ip, window, clock),
            enabled=settings.rate_limit_enabled,
        )

    def hit(self, *, ip: str | None, reporter: str | None) -> None:
        """Count one submission, or raise RateLimited (and count nothing)."""
        if not self.enabled:
            return
        checks = [(w, k, scope) for w, k, scope in (
            (self.per_reporter, _key("reporter", reporter) if reporter else None, "reporter"),
            (self.per_ip, _key("ip", ip) if ip else None, "ip"),
        ) if k is not None]
        with self._lock:
            now = self.per_ip.clock()
            waits = [(w.retry_after(k, now), scope) for w, k, scope in checks]
            wait, scope = max(waits, default=(0.0, ""))
            if wait > 0:
                raise RateLimited(max(1, math.ceil(wait)), scope)
            for w, k, _scope in checks:
                w.add(k, now)


# pg_advisory_xact_lock(namespace, key): the namespace of the rate limits' locks
LOCK_NAMESPACE = 0x4D52  # "MR"
PRUNE_EVERY = 60.0  # seconds between one process's deletions of hits out of every window


class SharedLimits:
    """The per-reporter and per-IP windows in the database, shared by every process.

    Same rule as `SubmitLimits`: exact sliding windows, a refused request counts nothing,
    Retry-After until the oldest counted hit that matters leaves its window. `clock` is
    seconds since the epoch (wall clock: comparable across processes; tests inject theirs).
    """

    def __init__(self, db: Database, *, per_reporter: tuple[int, float],
                 per_ip: tuple[int, float], secret: bytes, enabled: bool = True,
                 clock: Callable[[], float] = time.time,
                 prune_every: float = PRUNE_EVERY) -> None:
        self.db = db
        self.per_reporter = per_reporter  # (limit, window seconds)
        self.per_ip = per_ip
        self.secret = secret
        self.enabled = enabled
        self.clock = clock
        self.prune_every = prune_every
        self._pruned_at: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings, db: Database, secret: bytes,
                      clock: Callable[[], float] = time.time) -> SharedLimits:
        window = settings.rate_limit_window_seconds
        return cls(db, per_reporter=(settings.rate_limit_per_reporter, window),
                   per_ip=(settings.rate_limit_per_ip, window), secret=secret,
                   enabled=settings.rate_limit_enabled, clock=clock)

    def hit(self, *, ip: str | None, reporter: str | None) -> None:
        """Count one submission, or raise RateLimited (and count nothing)."""
        if not self.enabled:
            return
        checks = [(key, limit, window, scope) for key, (limit, window), scope in (
            (_key("reporter", reporter, self.secret) if reporter else None, self.per_reporter,
             "reporter"),
            (_key("ip", ip, self.secret) if ip else None, self.per_ip, "ip"),
        ) if key is not None]
        if not checks:
            return
        try:
            wait, scope, now = self._check(checks)
        except (OperationalError, PoolTimeout) as exc:
            # no database: the submission cannot be stored either (it answers 503, and a
            # form keeps its text); a limit that cannot be read lets the request through
            log.warning("rate limits not checked: database unavailable (%s)",
                        type(exc).__name__)
            return
        if wait > 0:
            raise RateLimited(max(1, math.ceil(wait)), scope)
        with contextlib.suppress(OperationalError, PoolTimeout):
            self._prune(now)

    def _check(self, checks: list[tuple[str, int, float, str]]) -> tuple[float, str, float]:
        """(seconds to wait, the scope that says so, now); the hits counted when 0."""
        now = self.clock()
        hits = RateLimitHit.__table__
        with self.db.transaction() as session:
            if self.db.dialect == "postgresql":
                # one lock per key, in a fixed order (no deadlock between two processes
                # locking the same two keys); held until this transaction ends
                locks = [func.pg_advisory_xact_lock(LOCK_NAMESPACE, _lock_id(key))
                         for key in sorted(key for key, *_ in checks)]
                session.execute(select(*locks))
            oldest_needed = now - max(window for _key_, _limit, window, _scope in checks)
            recent: dict[str, list[float]] = {}
            for key, at in session.execute(
                    select(hits.c.key, hits.c.at)
                    .where(hits.c.key.in_([key for key, *_ in checks]),
                           hits.c.at > oldest_needed)):
                recent.setdefault(key, []).append(at)
            waits = [(_retry_after(recent.get(key, []), limit, window, now), scope)
                     for key, limit, window, scope in checks]
            wait, scope = max(waits, default=(0.0, ""))
            if wait <= 0:
                session.execute(insert(hits), [{"key": key, "at": now}
                                               for key, *_ in checks])
        return wait, scope, now

    def _prune(self, now: float) -> None:
        """Delete the hits outside every window, at most once per `prune_every` seconds."""
        if self._pruned_at is not None and now - self._pruned_at < self.prune_every:
            return
        self._pruned_at = now
        longest = max(self.per_reporter[1], self.per_ip[1])
        table = RateLimitHit.__table__
        with self.db.transaction() as session:
            session.execute(delete(table).where(table.c.at <= now - longest))


def _lock_id(key: str) -> int:
    return zlib.crc32(key.encode()) - 2**31  # a signed 32-bit key


def _retry_after(hits: list[float], limit: int, window: float, now: float) -> float:
    """Seconds until a key with these hit times may have one more (0.0: it may now)."""
    inside = sorted(at for at in hits if at > now - window)
    if len(inside) < limit:
        return 0.0
    return inside[len(inside) - limit] + window - now


def _limits(request: Request) -> Limits:
    return request.app.state.rate_limits


async def check_submit(request: Request) -> None:
    """Count a submission from this request's client; RateLimited when over a limit."""
    limits = _limits(request)
    if not limits.enabled:
        return
    ip = request.client.host if request.client else None
    session = request.cookies.get(SESSION_COOKIE) or None
    await run_in_threadpool(limits.hit, ip=ip, reporter=session[:64] if session else None)


async def api_submit_limit(request: Request) -> None:
    """FastAPI dependency for the JSON submit endpoint."""
    await check_submit(request)


def message(exc: RateLimited, tr: Translator, *, form: bool = False) -> str:
    return tr(RATE_LIMITED_FORM if form else RATE_LIMITED, seconds=exc.retry_after)


def install(app: FastAPI, settings: Settings, db: Database, secret: bytes) -> None:
    """Give the app its limits (app.state.rate_limits, in the database) and the 429 JSON
    answer."""
    app.state.rate_limits = SharedLimits.from_settings(settings, db, secret)

    @app.exception_handler(RateLimited)
    async def _rate_limited(request: Request, exc: RateLimited) -> JSONResponse:
        return JSONResponse(
            {"code": exc.code, "message": message(exc, deps.translator_of(request)),
             "retry_after": exc.retry_after},
            status_code=429, headers={"Retry-After": str(exc.retry_after)},
        )

"""Rate limits on the open submit doors: per reporter and per IP, sliding window, in process.

Both the JSON submit endpoint (POST /api/v1/reports) and the web form (POST /) take at
most MELD_RATE_LIMIT_PER_REPORTER submissions per reporter and MELD_RATE_LIMIT_PER_IP per
client address in any MELD_RATE_LIMIT_WINDOW_SECONDS. A refused request gets 429 with
Retry-After (whole seconds until the oldest counted request leaves the window) and is
not counted itself.

The reporter is the browser's pseudonymous session (the `meld_session` cookie, on the
form and on API calls that carry it). The IP is the peer address as the server sees it
(`meld serve` trusts no forwarding headers, so behind a reverse proxy every client shares
the proxy's address: size MELD_RATE_LIMIT_PER_IP for that, or limit at the proxy).

The counters live in the process: with MELD_WORKERS=N a client may get up to N times the
limit. Nothing here logs or stores report text; only hashes of the keys are kept.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from intake.domain.model import DomainError
from intake.http import deps
from intake.i18n import N_, Translator
from intake.settings import Settings

__all__ = ["RateLimited", "SlidingWindow", "SubmitLimits", "check_submit", "install"]

RATE_LIMITED = N_("Too many reports in a short time. Wait {seconds} seconds and send again.")
RATE_LIMITED_FORM = N_(
    "Too many reports in a short time from this browser or network. Wait {seconds} seconds "
    "and send again: your text is still in the form."
)
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


def _key(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:32]


@dataclass
class SubmitLimits:
    """The per-reporter and per-IP windows of one process, checked together."""

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


def _limits(request: Request) -> SubmitLimits:
    return request.app.state.rate_limits


def check_submit(request: Request) -> None:
    """Count a submission from this request's client; RateLimited when over a limit."""
    ip = request.client.host if request.client else None
    session = request.cookies.get(SESSION_COOKIE) or None
    _limits(request).hit(ip=ip, reporter=session[:64] if session else None)


async def api_submit_limit(request: Request) -> None:
    """FastAPI dependency for the JSON submit endpoint."""
    check_submit(request)


def message(exc: RateLimited, tr: Translator, *, form: bool = False) -> str:
    return tr(RATE_LIMITED_FORM if form else RATE_LIMITED, seconds=exc.retry_after)


def install(app: FastAPI, settings: Settings) -> None:
    """Give the app its limits (app.state.rate_limits) and the 429 JSON answer."""
    app.state.rate_limits = SubmitLimits.from_settings(settings)

    @app.exception_handler(RateLimited)
    async def _rate_limited(request: Request, exc: RateLimited) -> JSONResponse:
        return JSONResponse(
            {"code": exc.code, "message": message(exc, deps.translator_of(request)),
             "retry_after": exc.retry_after},
            status_code=429, headers={"Retry-After": str(exc.retry_after)},
        )

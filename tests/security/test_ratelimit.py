"""Rate limits on the open submit doors: exact sliding windows, tested with a moved clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from intake.app import create_app
from intake.http.ratelimit import (
    RateLimited,
    SharedLimits,
    SlidingWindow,
    SubmitLimits,
    _key,
)
from storage.db import Database, open_database
from storage.models_limits import RateLimitHit
from tests.doors.conftest import (
    Door,
    LiveServer,
    csrf_of,
    form_data,
    report_body,
    settings_for,
)


class Ticks:
    """A seconds clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- the window itself -------------------------------------------------------------


def test_window_allows_exactly_limit_then_says_when() -> None:
    clock = Ticks()
    w = SlidingWindow(limit=3, window=60, clock=clock)
    for step in (0, 10, 5):  # hits at 1000, 1010, 1015
        clock.advance(step)
        assert w.retry_after("k", clock()) == 0.0
        w.add("k", clock())
    assert w.retry_after("k", clock()) == 45.0  # the hit at 1000 leaves at 1060
    clock.advance(44.999)
    assert w.retry_after("k", clock()) == pytest.approx(0.001)
    clock.advance(0.001)  # exactly one window after the first hit
    assert w.retry_after("k", clock()) == 0.0
    w.add("k", clock())
    assert w.retry_after("k", clock()) == pytest.approx(10.0)  # next: the hit at 1010
    assert w.retry_after("other", clock()) == 0.0  # keys are apart


def test_window_forgets_idle_keys_and_caps_memory() -> None:
    clock = Ticks()
    w = SlidingWindow(limit=1, window=10, clock=clock, max_keys=3)
    for key in "abcd":
        w.add(key, clock())
    assert len(w) == 3  # the longest-idle key went first
    assert w.retry_after("a", clock()) == 0.0
    assert w.retry_after("d", clock()) == 10.0
    clock.advance(10)
    w.add("e", clock())
    assert len(w) == 1  # every key idle for a whole window is gone


def refuse_without_counting(limits: SubmitLimits | SharedLimits, clock: Ticks) -> None:
    """Per reporter 2 in 60 s, per IP 3 in 30 s: a refusal counts nothing, and the longer
    of two waits is the one given (the same rule in memory and in the database)."""
    limits.hit(ip="10.0.0.1", reporter="r1")
    clock.advance(1)
    limits.hit(ip="10.0.0.1", reporter="r1")
    with pytest.raises(RateLimited) as refused:
        limits.hit(ip="10.0.0.1", reporter="r1")
    assert (refused.value.retry_after, refused.value.scope) == (59, "reporter")
    limits.hit(ip="10.0.0.1", reporter="r2")  # the refused one was not counted for the IP
    with pytest.raises(RateLimited) as refused:
        limits.hit(ip="10.0.0.1", reporter="r3")
    assert (refused.value.retry_after, refused.value.scope) == (29, "ip")
    limits.hit(ip="10.0.0.2", reporter=None)  # another address, no session


def test_limits_refuse_without_counting_and_take_the_longer_wait() -> None:
    clock = Ticks()
    limits = SubmitLimits(per_reporter=SlidingWindow(2, 60, clock),
                          per_ip=SlidingWindow(3, 30, clock))
    refuse_without_counting(limits, clock)


def test_disabled_limits_count_nothing() -> None:
    clock = Ticks()
    limits = SubmitLimits(per_reporter=SlidingWindow(1, 60, clock),
                          per_ip=SlidingWindow(1, 60, clock), enabled=False)
    for _ in range(5):
        limits.hit(ip="10.0.0.1", reporter="r")
    assert len(limits.per_ip) == 0


# --- the shared windows (in the database: every process counts against one limit) ----


def test_shared_limits_refuse_without_counting_and_take_the_longer_wait(
        database: Database) -> None:
    clock = Ticks()
    limits = SharedLimits(database, per_reporter=(2, 60), per_ip=(3, 30), secret=b"s" * 16,
                          clock=clock)
    refuse_without_counting(limits, clock)
    clock.advance(29)  # the first IP hit (at 1000) leaves the 30 s window at 1030
    limits.hit(ip="10.0.0.1", reporter="r3")


def test_shared_limits_keep_keyed_hashes_only_and_prune(database: Database) -> None:
    clock = Ticks()
    limits = SharedLimits(database, per_reporter=(5, 60), per_ip=(5, 60), secret=b"k" * 16,
                          clock=clock, prune_every=30)
    limits.hit(ip="192.0.2.77", reporter="session-value-77")
    with database.reading() as session:
        keys = session.scalars(select(RateLimitHit.key)).all()
    assert len(keys) == 2
    assert not any("192.0.2.77" in k or "session" in k for k in keys)
    # the same address under another secret key is another hash
    assert set(keys).isdisjoint({_key("ip", "192.0.2.77"), _key("ip", "192.0.2.77", b"x")})
    clock.advance(61)
    limits.hit(ip="192.0.2.78", reporter=None)  # prunes what left every window
    with database.reading() as session:
        assert session.scalar(select(func.count()).select_from(RateLimitHit)) == 1


def test_shared_limits_hold_across_processes_hitting_at_once(settings) -> None:
    """Two Database objects (two engines, two pools: what two processes have) and eight
    threads on one key: exactly the limit gets through, however the checks interleave."""
    dbs = [open_database(settings.database_url) for _ in range(2)]
    limits = [SharedLimits(db, per_reporter=(7, 60), per_ip=(1000, 60), secret=b"s" * 16)
              for db in dbs]
    passed: list[int] = []
    refused: list[int] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        for _ in range(5):
            try:
                limits[n % 2].hit(ip=f"10.0.0.{n}", reporter="same-browser")
            except RateLimited:
                with lock:
                    refused.append(n)
            else:
                with lock:
                    passed.append(n)

    try:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        for db in dbs:
            db.dispose()
    assert (len(passed), len(refused)) == (7, 33)


# --- over HTTP ----------------------------------------------------------------------


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
def limited(db_url: str, ticks: Ticks) -> Iterator[Door]:
    """A door with low limits (2 per browser, 4 per IP, 60 s) and a clock the test moves."""
    settings = settings_for(db_url).model_copy(update={
        "rate_limit_per_reporter": 2, "rate_limit_per_ip": 4, "rate_limit_window_seconds": 60.0,
    })
    app = create_app(settings)
    ctx = app.state.ctx  # the limits the app runs with: in the database, on the test's clock
    app.state.rate_limits = SharedLimits.from_settings(settings, ctx.db, ctx.secret_key,
                                                       clock=ticks)
    server = LiveServer(app)
    server.start()
    d = Door(app=app, server=server)
    try:
        yield d
    finally:
        d.close()
        server.stop(wait=False)


def test_api_is_limited_per_ip_with_retry_after(limited: Door, ticks: Ticks) -> None:
    clients = [limited.client() for _ in range(5)]  # no cookies: only the IP counts
    for i, c in enumerate(clients[:4]):
        assert c.post("/api/v1/reports", json=report_body()).status_code == 201
        if i == 0:
            ticks.advance(20)
    r = clients[4].post("/api/v1/reports", json=report_body(description="Ny tekst her."))
    assert r.status_code == 429
    assert r.headers["retry-after"] == "40"
    body = r.json()
    assert body["code"] == "rate_limited" and body["retry_after"] == 40
    assert "Vent 40 sekunder" in body["message"]  # Norwegian by default
    assert limited.report_count() == 4
    ticks.advance(39.5)
    r = clients[4].post("/api/v1/reports", json=report_body(), headers={"Accept-Language": "en"})
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert "Wait 1 seconds" in r.json()["message"]
    ticks.advance(0.5)  # the first report leaves the window
    assert clients[4].post("/api/v1/reports", json=report_body()).status_code == 201
    assert limited.report_count() == 5


def test_refused_and_invalid_submits_count_but_429s_do_not(limited: Door, ticks: Ticks) -> None:
    c = limited.client()
    assert c.post("/api/v1/reports", json=report_body(kind="nope")).status_code == 422
    for _ in range(3):
        assert c.post("/api/v1/reports", json=report_body()).status_code == 201
    for _ in range(3):
        assert c.post("/api/v1/reports", json=report_body()).status_code == 429
    ticks.advance(60)
    assert c.post("/api/v1/reports", json=report_body()).status_code == 201


def _browser(door: Door) -> tuple[httpx.Client, str]:
    b = door.client()
    page = b.get("/")
    assert page.status_code == 200
    return b, csrf_of(page.text)


def test_web_form_is_limited_per_browser_and_keeps_the_text(limited: Door, ticks: Ticks) -> None:
    b, csrf = _browser(limited)
    for _ in range(2):
        assert b.post("/", data=form_data(csrf)).status_code == 303
        ticks.advance(1)
    text = "Tredje melding: epikrisen manglet igjen <b>&</b> «fet»."
    r = b.post("/", data=form_data(csrf, description=text, place_text="Avdeling 7"))
    assert r.status_code == 429
    assert r.headers["retry-after"] == "58"  # hits at 0 s and 1 s, now 2 s
    assert "For mange meldinger på kort tid" in r.text and "Vent 58 sekunder" in r.text
    assert "Tredje melding: epikrisen manglet igjen &lt;b&gt;&amp;&lt;/b&gt; «fet»." in r.text
    assert 'value="Avdeling 7"' in r.text
    assert r.headers["cache-control"] == "no-store"
    assert limited.report_count() == 2
    # another browser on the same address still gets through (4 per IP)
    other, other_csrf = _browser(limited)
    assert other.post("/", data=form_data(other_csrf)).status_code == 303
    ticks.advance(58)
    assert b.post("/", data=form_data(csrf, description=text)).status_code == 303
    assert limited.report_count() == 4


def test_web_form_and_api_share_the_ip_window(limited: Door) -> None:
    for _ in range(2):
        b, csrf = _browser(limited)
        assert b.post("/", data=form_data(csrf)).status_code == 303
    api = limited.client()
    for _ in range(2):
        assert api.post("/api/v1/reports", json=report_body()).status_code == 201
    b, csrf = _browser(limited)
    r = b.post("/", data=form_data(csrf))
    assert r.status_code == 429 and "Vent 60 sekunder" in r.text


def test_default_limits_leave_ordinary_use_alone(door: Door) -> None:
    settings = door.ctx.settings
    assert settings.rate_limit_enabled
    assert (settings.rate_limit_per_reporter, settings.rate_limit_per_ip) == (10, 120)
    assert settings.rate_limit_window_seconds == 60

"""Browser tests: Meld behind a real uvicorn on loopback, driven by Debian's Chromium.

Playwright (from PyPI) drives /usr/bin/chromium; it never downloads a browser. Without
Chromium the tests are skipped, except in CI (CI=true), where .ci/run installs it.
axe-core, for the accessibility checks, comes from the npm registry: `npm ci` in
tests/browser/axe (pinned by its package-lock.json) the first time a test asks for it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import func, select

from intake.app import create_app
from intake.services.context import build_context
from intake.settings import Settings
from storage import models as m
from tests.doors.conftest import LiveServer, _Server

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
SECRET = "browser-tests-secret-key-of-at-least-32-bytes"
WIDTHS = (390, 1280)  # a phone and a desktop
# for a test about behaviour, not layout: the phone width only
ONE_WIDTH = pytest.mark.parametrize("width", [390], ids=["390px"], indirect=True)
AXE_DIR = Path(__file__).parent / "axe"
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"

sync_api = pytest.importorskip("playwright.sync_api")

if not CHROMIUM.exists():
    if IN_CI:
        raise RuntimeError("CI=true but Chromium is missing; .ci/run installs it")
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)


class BoundServer(LiveServer):
    """LiveServer on a port chosen before the app is built (the app's base_url names it)."""

    def __init__(self, sock: socket.socket, app: Any) -> None:
        self.sock = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="none")
        self.server = _Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True,
            name=f"uvicorn-browser-{self.port}",
        )


@dataclass
class Meld:
    """One running Meld for a browser test."""

    url: str
    app: Any
    settings: Settings

    @property
    def ctx(self) -> Any:
        return self.app.state.ctx

    def count(self, model: type[m.Base]) -> int:
        with self.ctx.db.reading() as session:
            return session.scalar(select(func.count()).select_from(model)) or 0

    def references(self) -> list[str]:
        with self.ctx.db.reading() as session:
            return list(session.scalars(select(m.Report.reference).order_by(m.Report.id)))


@contextlib.contextmanager
def running_meld(db_url: str, clock: Callable[[], datetime] | None = None,
                 **overrides: Any) -> Iterator[Meld]:
    """Meld on a free loopback port; with `clock`, the app's context runs on that clock;
    `overrides` are more settings."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(**{"database_url": db_url, "secret_key": SECRET, "base_url": url,
                           "outbox_poll_seconds": 0.2, **overrides})
    ctx = None if clock is None else dataclasses.replace(build_context(settings), clock=clock)
    app = create_app(settings, ctx=ctx)
    server = BoundServer(sock, app)
    server.start()
    try:
        yield Meld(url=url, app=app, settings=settings)
    finally:
        server.stop()
        if ctx is not None:
            ctx.db.dispose()  # the app disposes only a context it built itself


@pytest.fixture
def meld(sqlite_url: str) -> Iterator[Meld]:
    with running_meld(sqlite_url) as running:
        yield running


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One Chromium per test module; each test opens its own context (profile).

    Not one per session: while Playwright's sync API runs, the main thread has a running
    event loop, and later tests that call asyncio.run() (the outbox drains) would fail.
    """
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(params=WIDTHS, ids=lambda w: f"{w}px")
def width(request: pytest.FixtureRequest) -> int:
    return request.param


@pytest.fixture
def context(chromium: Any, width: int) -> Iterator[Any]:
    """A fresh browser profile in Norwegian at the test's width."""
    ctx = chromium.new_context(viewport={"width": width, "height": 900}, locale="nb-NO")
    ctx.set_default_timeout(10_000)  # pages come from loopback: a wait this long is a failure
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script, installed with npm from the pinned lock file when missing (under
    a file lock: parallel test workers install it once)."""
    with open(AXE_DIR / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _axe_source()


def _axe_source() -> str:
    if not AXE_JS.exists():
        npm = shutil.which("npm")
        if npm is None:
            if IN_CI:
                raise RuntimeError("CI=true but npm is missing: it installs axe-core")
            pytest.skip("npm is not installed: it installs axe-core for the accessibility checks")
        done = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=AXE_DIR, capture_output=True, text=True, timeout=300, check=False,
        )
        if done.returncode != 0 or not AXE_JS.exists():
            if IN_CI:
                raise RuntimeError(f"npm ci for axe-core failed: {done.stderr[-2000:]}")
            pytest.skip(f"npm ci for axe-core failed: {done.stderr[-300:]}")
    return AXE_JS.read_text()


def axe_violations(page: Any, axe_source: str) -> list[str]:
    """WCAG 2.1 A/AA and best-practice violations on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # evaluated in the page, not added as a <script>: the page's CSP allows none
        page.evaluate(axe_source)
    result = page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag',
               values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"""
    )
    assert result["passes"], "axe checked nothing"
    return [
        f"{v['id']}: {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
    ]


def overflow(page: Any) -> int:
    """How many pixels the page is wider than the window (0: no horizontal scrolling)."""
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")


def open_form(page: Any, url: str) -> None:
    """Load the report form with its optional part ("Mer om saken") open, as a doctor
    does who wants to give more than the three steps."""
    page.goto(url + "/")
    details = page.locator("#more-details")
    if details.get_attribute("open") is None:
        page.locator("#more-details summary").click()

"""The group's board behind a real uvicorn server on loopback, on a context whose clock the
test moves (link expiry, idle sessions), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from intake import services
from intake.app import create_app
from intake.domain.model import Actor, Role
from intake.domain.taxonomy import load_taxonomy
from intake.settings import Settings
from storage.db import Database
from tests.doors.conftest import LiveServer, _join_stopped_servers, bound_socket  # noqa: F401
from tests.fakes import FakeClock
from tests.integration.helpers import draft

KEY = "test-secret" * 3
CSRF_RE = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
REPORTER = Actor("web:reporter-1", Role.REPORTER)
ADMIN = Actor("cli:admin", Role.ADMIN)


@dataclass
class Board:
    ctx: services.Context
    clock: FakeClock
    server: LiveServer
    app: Any = None
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self) -> httpx.Client:
        c = httpx.Client(base_url=self.server.url, timeout=30, follow_redirects=False)
        self.clients.append(c)
        return c

    def link(self, name: str = "Kari Lege", role: str = "triager") -> str:
        """The path of a fresh one-time sign-in link."""
        url = services.create_login_link(ctx=self.ctx, actor=ADMIN, name=name, role=role)
        return url.removeprefix(self.ctx.settings.base_url.rstrip("/"))

    def signed_in(self, name: str = "Kari Lege", role: str = "triager") -> httpx.Client:
        """A browser that has followed a sign-in link (GET, then the button)."""
        c = self.client()
        path = self.link(name, role)
        page = c.get(path)
        assert page.status_code == 200, page.text
        r = c.post(path, data={"csrf": csrf(page.text), "neste": "/gruppe"})
        assert r.status_code == 303 and r.headers["location"] == "/gruppe", r.text
        return c

    def report(self, **overrides: Any) -> str:
        return services.submit_report(ctx=self.ctx, actor=REPORTER,
                                      draft=draft(**overrides)).reference


def csrf(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


BoardMaker = Callable[..., Board]


@pytest.fixture
def make_board(db_url: str, database: Database, clock: FakeClock) -> Iterator[BoardMaker]:
    """make_board(**settings): the board on this test's database, its base URL its own."""
    made: list[Board] = []

    def make(**overrides: Any) -> Board:
        sock = bound_socket()
        values: dict[str, Any] = dict(
            database_url=db_url, secret_key=KEY, run_outbox_worker=False,
            rate_limit_enabled=False, base_url=f"http://127.0.0.1:{sock.getsockname()[1]}")
        values.update(overrides)
        settings = Settings(**values)
        ctx = services.Context(db=database, settings=settings, taxonomy=load_taxonomy(),
                               secret_key=KEY.encode(), clock=clock)
        app = create_app(settings, ctx=ctx)
        server = LiveServer(app, sock)
        server.start()
        made.append(Board(ctx=ctx, clock=clock, server=server, app=app))
        return made[-1]

    yield make
    for b in made:
        for c in b.clients:
            c.close()
        b.server.stop(wait=False)


@pytest.fixture
def board(make_board: BoardMaker) -> Board:
    return make_board()

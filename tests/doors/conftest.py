"""Door tests: the real app behind a real uvicorn server on loopback, spoken to with httpx.

Every test gets a fresh, migrated database (the `db_url` fixture: SQLite and PostgreSQL),
`create_app(settings)` exactly as production builds it, and a server thread that is shut
down afterwards. Helpers read the database through the app's own context, never through
the HTTP door under test.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, select

from intake import services
from intake.app import create_app
from intake.domain.model import Actor, Role
from intake.settings import Settings
from storage import models as m

OSLO = ZoneInfo("Europe/Oslo")
SECRET = "test-secret" * 3
REFERENCE_RE = re.compile(r"^MELD-(\d{4})-(\d{4,})$")
CSRF_RE = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
SUBMISSION_RE = re.compile(r'name="submission_id" value="([^"]*)"')
STATUS_PATH_RE = re.compile(r"^/status/([0-9a-f]{48})\?ny=1$")


def today_oslo() -> date:
    return datetime.now(OSLO).date()


def yesterday() -> str:
    return (today_oslo() - timedelta(days=1)).isoformat()


def report_body(**overrides: Any) -> dict[str, Any]:
    """A valid JSON body for POST /api/v1/reports."""
    body: dict[str, Any] = {
        "kind": "deviation",
        "category": "discharge_summary",
        "subcategory": "missing",
        "description": "Epikrise manglet ved utskriving; fastlegen fikk ingen beskjed.",
        "occurred_on": yesterday(),
        "severity": "minor",
        "no_patient_identifiers": True,
        "reporter_party": "gp",
        "concerned_party": "hospital",
        "place": "stolav_medisinsk",
    }
    body.update(overrides)
    return body


def form_data(csrf: str, **overrides: str) -> dict[str, str]:
    """A valid web form post (what a browser sends for a filled-in form)."""
    data = {
        "csrf": csrf,
        "kind": "deviation",
        "category": "discharge_summary",
        "subcategory_discharge_summary": "missing",
        "description": "Epikrise kom aldri fram til fastlegen etter utskriving.",
        "occurred_on": yesterday(),
        "severity": "minor",
        "reporter_party": "gp",
        "concerned_party": "hospital",
        "place": "stolav_medisinsk",
        "place_text": "",
        "no_patient_identifiers": "on",
    }
    data.update(overrides)
    return data


class _Server(uvicorn.Server):
    """uvicorn.Server that wakes up at once when asked to stop.

    The stock main loop polls `should_exit` every 0.1 s; with a server per test that
    polling alone would take a good part of the time budget.
    """

    loop: asyncio.AbstractEventLoop | None = None
    stop_event: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop_event = asyncio.Event()
        await self.on_tick(0)  # sets the Date/Server headers once
        if not self.should_exit:
            await self.stop_event.wait()

    def request_stop(self) -> None:
        self.should_exit = True
        if self.loop is not None and self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)


def bound_socket() -> socket.socket:
    """A TCP socket bound to a free port on 127.0.0.1."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class LiveServer:
    """uvicorn serving one app on 127.0.0.1 in a background thread."""

    def __init__(self, app: FastAPI, sock: socket.socket | None = None) -> None:
        """With `sock`, serve on that bound socket (its port chosen before the app was
        built, so that the app's base URL can name it: see `bound_socket`)."""
        self.sock = sock or bound_socket()
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="none")
        self.server = _Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True,
            name=f"uvicorn-{self.port}",
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not (self.server.started and self.server.stop_event is not None):
            if not self.thread.is_alive():
                raise RuntimeError("uvicorn stopped during startup")
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 15 s")
            time.sleep(0.005)

    def stop(self, *, wait: bool = True) -> None:
        """Ask the server to stop; uvicorn's shutdown itself takes a fixed 0.1 s."""
        self.server.request_stop()
        if wait:
            self.join()
        else:
            _STOPPING.append(self)

    def join(self) -> None:
        self.thread.join(timeout=15)
        self.sock.close()
        if self.thread.is_alive():
            raise RuntimeError("uvicorn did not stop within 15 s")


# Servers asked to stop whose threads are joined at the end of the session (so a test
# does not wait for uvicorn's fixed shutdown pause).
_STOPPING: list[LiveServer] = []


@pytest.fixture(scope="session", autouse=True)
def _join_stopped_servers() -> Iterator[None]:
    yield
    while _STOPPING:
        _STOPPING.pop().join()


@dataclass
class Door:
    """One running app and what tests need around it."""

    app: FastAPI
    server: LiveServer
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ctx(self) -> services.Context:
        return self.app.state.ctx

    def client(self, **kwargs: Any) -> httpx.Client:
        """A fresh client with its own cookie jar; redirects are not followed."""
        # plain HTTP on loopback: verify=False spares building a TLS context per client
        c = httpx.Client(base_url=self.url, timeout=30, follow_redirects=False, verify=False,
                         **kwargs)
        self.clients.append(c)
        return c

    def close(self) -> None:
        for c in self.clients:
            c.close()

    # -- direct reads of the database, independent of the door under test
    def count(self, model: type[m.Base]) -> int:
        with self.ctx.db.reading() as session:
            return session.scalar(select(func.count()).select_from(model)) or 0

    def report_count(self) -> int:
        return self.count(m.Report)

    def stored_nothing(self) -> bool:
        return (self.report_count(), self.count(m.AuditEvent), self.count(m.OutboxMessage),
                self.count(m.Message)) == (0, 0, 0, 0)

    def references(self) -> list[str]:
        with self.ctx.db.reading() as session:
            return list(session.scalars(select(m.Report.reference).order_by(m.Report.id)))

    def token(self, name: str = "kari", role: str = "triager") -> str:
        return services.create_token(ctx=self.ctx, name=name, role=role)

    def drain_outbox(self) -> int:
        return asyncio.run(self.app.state.worker.drain())


GROUP = Actor(identity="token:0:tests", role=Role.TRIAGER, display_name="tests")


def settings_for(db_url: str) -> Settings:
    return Settings(database_url=db_url, secret_key=SECRET, run_outbox_worker=False)


def start_door(settings: Settings) -> Door:
    app = create_app(settings)
    server = LiveServer(app)
    server.start()
    return Door(app=app, server=server)


@pytest.fixture
def door(db_url: str) -> Iterator[Door]:
    d = start_door(settings_for(db_url))
    try:
        yield d
    finally:
        d.close()
        d.server.stop(wait=False)


@pytest.fixture
def api(door: Door) -> httpx.Client:
    """An anonymous API client (no Accept-Language, no token)."""
    return door.client()


@pytest.fixture
def group(door: Door) -> httpx.Client:
    """An API client with a triager's bearer token."""
    return door.client(headers={"Authorization": f"Bearer {door.token()}"})


def submit(client: httpx.Client, **overrides: Any) -> dict[str, Any]:
    """POST a valid report (with overrides); asserts 201 and returns the receipt."""
    r = client.post("/api/v1/reports", json=report_body(**overrides))
    assert r.status_code == 201, r.text
    return r.json()


def status_token(receipt: dict[str, Any]) -> str:
    return receipt["status_url"].rsplit("/", 1)[1]


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "no csrf field in the page"
    return found.group(1)


def error_codes(body: dict[str, Any]) -> dict[str, list[str]]:
    """field -> codes from a 422 body."""
    out: dict[str, list[str]] = {}
    for e in body["errors"]:
        out.setdefault(e["field"], []).append(e["code"])
    return out

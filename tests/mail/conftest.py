"""Fixtures for notices by e-mail: the loopback SMTP servers, the fake Graph, and a service
context whose settings send mail (on SQLite and PostgreSQL, through tests/conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from intake import services
from intake.app import create_app
from intake.delivery.mail import build_email_notifier
from intake.delivery.outbox import OutboxWorker, WebStatusNotifier
from intake.domain.taxonomy import load_taxonomy
from intake.settings import Settings
from storage.db import Database
from tests.doors.conftest import LiveServer
from tests.fakes import FakeClock
from tests.mail.fakes import (
    CLIENT_ID,
    CLIENT_SECRET,
    MAILBOX,
    TENANT_ID,
    FakeGraph,
    SmtpServer,
)

KEY = "test-secret" * 3
BASE_URL = "https://meld.example.no"
# Generous: on a loaded machine (2 cores, two test workers and their servers) the fake mail
# servers in this process may greet late, and a mail the outbox must retry is not what
# these tests are about. The tests of a timeout set a short one of their own.
MAIL_TIMEOUT = 10.0
SENDER = "meld@helse.example.no"
ADDRESS = "lege@eksempel.no"


@pytest.fixture
def sites() -> Iterator[list[MailSite]]:
    """The sites this test started. The mail servers below ask for this list, so it is torn
    down after them, and they stop the sites (and their outbox workers) before they stop
    themselves: a worker still sending into a stopping server leaks its socket."""
    made: list[MailSite] = []
    yield made
    for s in made:
        s.close()


@pytest.fixture
def smtp(sites: list[MailSite]) -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server
        for s in sites:
            s.close()


@pytest.fixture
def tls_smtp(tmp_path: Path, sites: list[MailSite]) -> Iterator[SmtpServer]:
    with SmtpServer(tmp_path) as server:
        yield server
        for s in sites:
            s.close()


@pytest.fixture
def graph(tmp_path: Path, sites: list[MailSite]) -> Iterator[FakeGraph]:
    with FakeGraph(tmp_path) as fake:
        yield fake
        for s in sites:
            s.close()


def smtp_settings(db_url: str, server: SmtpServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        database_url=db_url, secret_key=KEY, run_outbox_worker=False, base_url=BASE_URL,
        mail_transport="smtp", smtp_url=server.url(), mail_from=SENDER, smtp_starttls="off",
        mail_timeout_seconds=MAIL_TIMEOUT, rate_limit_enabled=False)
    values.update(overrides)
    return Settings(**values)


def graph_settings(db_url: str, fake: FakeGraph, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        database_url=db_url, secret_key=KEY, run_outbox_worker=False, base_url=BASE_URL,
        mail_transport="graph", graph_tenant_id=TENANT_ID, graph_client_id=CLIENT_ID,
        graph_client_secret=CLIENT_SECRET, graph_mailbox=MAILBOX, graph_url=fake.url,
        graph_authority_url=fake.url, graph_ca_bundle=fake.ca_path,
        mail_timeout_seconds=MAIL_TIMEOUT,
        rate_limit_enabled=False)
    values.update(overrides)
    return Settings(**values)


class MailSite:
    """A service context with mail settings, its worker (on the context's clock) and the app."""

    def __init__(self, settings: Settings, database: Database, clock: FakeClock) -> None:
        self.settings = settings
        self.clock = clock
        self.ctx = services.Context(db=database, settings=settings, taxonomy=load_taxonomy(),
                                    secret_key=KEY.encode(), clock=clock)
        notifier = build_email_notifier(
            settings, status_token=lambda ref: services.status_token_for(self.ctx, ref),
            taxonomy=self.ctx.taxonomy)
        assert notifier is not None
        self.notifier = notifier
        self.worker = OutboxWorker(db=database, clock=clock, backoff_base=1.0,
                                   notifiers={"email": notifier, "web": WebStatusNotifier()})
        self.app = create_app(settings, ctx=self.ctx)
        self.server = LiveServer(self.app)
        self.server.start()
        self.client = httpx.Client(base_url=self.server.url, timeout=30)
        self.closed = False

    def drain(self) -> int:
        return asyncio.run(self.worker.drain())

    def token(self, reference: str) -> str:
        return services.status_token_for(self.ctx, reference)

    def close(self) -> None:
        """Stop the app and wait for it (and its outbox worker) to end; again is a no-op."""
        if not self.closed:
            self.closed = True
            self.client.close()
            self.server.stop(wait=True)


@pytest.fixture
def site(database: Database, clock: FakeClock,
         sites: list[MailSite]) -> Callable[[Settings], MailSite]:
    """site(settings): a MailSite on this test's database (SQLite or PostgreSQL)."""

    def make(settings: Settings) -> MailSite:
        s = MailSite(settings, database, clock)
        sites.append(s)
        return s

    return make

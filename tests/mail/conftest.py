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
SENDER = "meld@helse.example.no"
ADDRESS = "lege@eksempel.no"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def tls_smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with SmtpServer(tmp_path) as server:
        yield server


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[FakeGraph]:
    with FakeGraph(tmp_path) as fake:
        yield fake


def smtp_settings(db_url: str, server: SmtpServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        database_url=db_url, secret_key=KEY, run_outbox_worker=False, base_url=BASE_URL,
        mail_transport="smtp", smtp_url=server.url(), mail_from=SENDER, smtp_starttls="off",
        mail_timeout_seconds=3, rate_limit_enabled=False)
    values.update(overrides)
    return Settings(**values)


def graph_settings(db_url: str, fake: FakeGraph, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        database_url=db_url, secret_key=KEY, run_outbox_worker=False, base_url=BASE_URL,
        mail_transport="graph", graph_tenant_id=TENANT_ID, graph_client_id=CLIENT_ID,
        graph_client_secret=CLIENT_SECRET, graph_mailbox=MAILBOX, graph_url=fake.url,
        graph_authority_url=fake.url, graph_ca_bundle=fake.ca_path, mail_timeout_seconds=3,
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
            settings, status_token=lambda ref: services.status_token_for(self.ctx, ref))
        assert notifier is not None
        self.notifier = notifier
        self.worker = OutboxWorker(db=database, clock=clock, backoff_base=1.0,
                                   notifiers={"email": notifier, "web": WebStatusNotifier()})
        self.app = create_app(settings, ctx=self.ctx)
        self.server = LiveServer(self.app)
        self.server.start()
        self.client = httpx.Client(base_url=self.server.url, timeout=30)

    def drain(self) -> int:
        return asyncio.run(self.worker.drain())

    def token(self, reference: str) -> str:
        return services.status_token_for(self.ctx, reference)


@pytest.fixture
def site(database: Database, clock: FakeClock) -> Callable[[Settings], MailSite]:
    """site(settings): a MailSite on this test's database (SQLite or PostgreSQL)."""
    made: list[MailSite] = []

    def make(settings: Settings) -> MailSite:
        s = MailSite(settings, database, clock)
        made.append(s)
        return s

    yield make  # type: ignore[misc]
    for s in made:
        s.client.close()
        s.server.stop(wait=False)

"""The tertial newsletter's tests: a tertial of closed reports on SQLite and PostgreSQL, and
what must never show (the reporters' texts, who reported, who handled it).

`Tertials` closes reports at chosen moments with the FakeClock: T3 2025 (the previous
tertial) and T1 2026 (the newsletter's). Every report's description carries a marker
(SECRET) that must appear nowhere in the newsletter, its posts or its notices.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from intake import services
from intake.domain.model import Actor, Role
from intake.domain.taxonomy import load_taxonomy
from intake.settings import Settings
from storage.db import Database, open_database
from tests.board.conftest import (  # noqa: F401 - the board's fixtures, for its tests here
    _join_stopped_servers,
    board,
    make_board,
)
from tests.fakes import FakeClock
from tests.integration.helpers import draft

KEY = "test-secret" * 3
BASE_URL = "https://meld.example.no"
TERTIAL = "2026-T1"
PREVIOUS = "2025-T3"
GROUP = Actor("slack:UGROUP", Role.TRIAGER, "Kari Gruppeleder")
READER = Actor("token:9:komite", Role.READER, "Komiteen")
ASSIGNEE = "Per Saksbehandler"
OWNER = "Olga Tiltakseier"
SECRET = "HEMMELIG-BESKRIVELSE"
IN_PREVIOUS = datetime(2025, 11, 10, 10, 0, tzinfo=UTC)
IN_TERTIAL = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
AFTER = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


@dataclass
class Tertials:
    """Closes reports in the two tertials; remembers what must never be shown."""

    ctx: services.Context
    clock: FakeClock
    n: int = 0
    references: list[str] = field(default_factory=list)
    reporters: list[str] = field(default_factory=list)

    def report(self, *, at: datetime, reporter: str | None = None, kind: str = "deviation",
               category: str = "discharge_summary", **overrides: Any) -> str:
        self.clock.now = at
        self.n += 1
        reporter = reporter or f"slack:UREP{self.n:03d}"
        day = at.date().isoformat()
        values: dict[str, Any] = {"kind": kind, "category": category,
                                  "description": f"{SECRET}-{self.n} pasienten ventet",
                                  "occurred_on": day}
        if category != "discharge_summary":
            values["subcategory"] = None
        if kind == "good_collaboration":
            values["severity"] = None
        values.update(overrides)
        receipt = services.submit_report(
            ctx=self.ctx, actor=Actor(reporter, Role.REPORTER), draft=draft(**values))
        self.references.append(receipt.reference)
        self.reporters.append(reporter)
        return receipt.reference

    def close(self, reference: str, learning_point: str, measure: str = "Rutinen er endret.",
              *, assign: bool = True) -> None:
        if assign:
            services.assign(ctx=self.ctx, actor=GROUP, reference=reference, assignee=ASSIGNEE)
        services.move_status(ctx=self.ctx, actor=GROUP, reference=reference,
                             status="in_progress")
        services.close(ctx=self.ctx, actor=GROUP, reference=reference,
                       learning_point=learning_point, measure=measure)

    def closed(self, learning_point: str, *, at: datetime = IN_TERTIAL,
               measure: str = "Rutinen er endret.", **report: Any) -> str:
        reference = self.report(at=at, **report)
        self.close(reference, learning_point, measure)
        return reference


def seed(t: Tertials) -> dict[str, Any]:
    """The standard tertial: counts, a trend, small counts, a flagged item, good
    collaboration, a tracked measure, a reopened and an open report."""
    for i in range(4):
        t.closed(f"Epikrisen må sendes samme dag ({i}).", at=IN_PREVIOUS)
    t.closed("Legemiddellisten må følge pasienten.", at=IN_PREVIOUS, category="medication")
    for i in range(5):
        t.closed(f"Henvisningen må adresseres riktig ({i}).", at=IN_PREVIOUS,
                 category="referral")
    shared = "Epikrisen sendes elektronisk samme dag som utskrivning."
    same = [t.closed(shared, measure="Ny sjekkliste ved utskrivning.") for _ in range(2)]
    for i in range(4):
        t.closed(f"Legen skriver epikrise før pasienten reiser ({i}).")
    t.closed("Legemiddelendringer forklares i epikrisen.", category="medication")
    t.closed("Pasientens medisinliste avstemmes ved innleggelse.", category="medication")
    for i in range(3):
        t.closed(f"Henvisninger besvares innen fire uker ({i}).", category="referral")
    flagged = t.closed("Ring vakthavende på 73 86 10 00 ved spørsmål.", category="follow_up")
    for i in range(3):
        t.closed(f"Rask telefon fra sykehuset ga trygg overføring ({i}).",
                 kind="good_collaboration", category="reachability")
    measure = services.create_measure(ctx=t.ctx, actor=GROUP, references=[same[0]],
                                      description="Felles mal for epikrise innføres.",
                                      owner=OWNER, due_on="2026-06-01")
    reopened = t.closed("Dette læringspunktet er trukket tilbake.", category="routines")
    services.reopen(ctx=t.ctx, actor=GROUP, reference=reopened)
    t.report(at=IN_TERTIAL, category="competence")  # open: not in the newsletter
    t.clock.now = AFTER
    return {"shared": same, "flagged": flagged, "measure": measure, "reopened": reopened}


@pytest.fixture
def tertials(ctx: services.Context, clock: FakeClock) -> Tertials:
    return Tertials(ctx=ctx, clock=clock)


def context_for(database: Database, settings: Settings, clock: FakeClock) -> services.Context:
    return services.Context(db=database, settings=settings, taxonomy=load_taxonomy(),
                            secret_key=KEY.encode(), clock=clock)


def channel_settings(db_url: str, **overrides: Any) -> Settings:
    """Settings with every channel on (nothing is contacted by the use cases)."""
    values: dict[str, Any] = dict(
        database_url=db_url, secret_key=KEY, run_outbox_worker=False, base_url=BASE_URL,
        slack_bot_token="xoxb-test", slack_triage_channel="CTRIAGE",
        newsletter_slack_channel="CNEWS", teams_app_id="app", teams_app_password="pw",
        teams_tenant_id="tenant", teams_triage_conversation="19:triage@thread.tacv2",
        newsletter_teams_conversation="19:news@thread.tacv2", mail_transport="smtp",
        smtp_url="smtp://127.0.0.1:2525", mail_from="meld@example.no",
        newsletter_mail_to="alle@example.no, leger@example.no")
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def channel_ctx(db_url: str, clock: FakeClock) -> Iterator[services.Context]:
    settings = channel_settings(db_url)
    database = open_database(db_url)
    yield context_for(database, settings, clock)
    database.dispose()


def with_settings(ctx: services.Context, **overrides: Any) -> services.Context:
    values = ctx.settings.model_dump()
    values.update(overrides)
    return dataclasses.replace(ctx, settings=Settings(**values))

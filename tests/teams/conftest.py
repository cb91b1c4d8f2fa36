"""The Teams door over real HTTP: the real app on uvicorn, fake Microsoft endpoints over HTTPS.

`TeamsHarness` wraps one running app (`create_app` as production builds it, Teams on) and
the FakeMicrosoft its msal, JWKS fetch and Bot Connector calls go to. It sends activities
the way Teams does: JSON with a Bearer JWT signed by the fake's key.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from intake import services
from intake.domain.model import Actor, Role
from intake.settings import Settings
from storage import models as m
from tests.doors.conftest import SECRET, Door, start_door, yesterday
from tests.fakes import strings_in
from tests.teams_fake import APP_ID, APP_PASSWORD, BOT_ID, TENANT_ID, FakeMicrosoft

REPORTER = "0a0a0a0a-0000-4000-8000-000000000001"
GROUP = "0b0b0b0b-0000-4000-8000-000000000002"
OUTSIDER = "0c0c0c0c-0000-4000-8000-000000000003"
TRIAGE = "19:triage0000000000@thread.tacv2"
DESCRIPTION = "Epikrise manglet ved utskriving; fastlegen fikk ingen beskjed."


def teams_settings(db_url: str, ms: FakeMicrosoft, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        database_url=db_url, secret_key=SECRET, run_outbox_worker=False,
        run_digest_scheduler=False, run_promise_scheduler=False,
        run_cluster_alerts=False,
        # the start-up training reads the database at once: a test that removes the
        # database after start would find a pooled connection to the removed file
        run_suggest_refresh=False,
        teams_app_id=APP_ID, teams_app_password=APP_PASSWORD,
        teams_tenant_id=TENANT_ID, teams_authority_url=ms.url,
        teams_openid_metadata_url=ms.metadata_url, teams_service_urls=ms.url,
        teams_ca_bundle=ms.cert, teams_group_members=GROUP,
        teams_triage_conversation=TRIAGE, teams_triage_service_url=ms.service_url,
    )
    values.update(overrides)
    return Settings(**values)


def form_data(**overrides: Any) -> dict[str, Any]:
    """What Teams puts in action.data for a filled-in report form (inputs merged in)."""
    data: dict[str, Any] = {
        "meld": "submit", "key": "form-key-1", "kind": "deviation",
        "category": "discharge_summary/missing", "description": DESCRIPTION,
        "occurred_on": yesterday(), "place": "stolav_medisinsk", "reporter_party": "gp",
        "concerned_party": "hospital", "severity": "minor", "no_ids": "true",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@dataclass
class TeamsHarness:
    door: Door
    ms: FakeMicrosoft
    http: httpx.Client
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def ctx(self) -> services.Context:
        return self.door.ctx

    # -- activities shaped like Teams'
    def activity(self, kind: str, *, user: str = REPORTER, conversation: str = "personal",
                 **extra: Any) -> dict[str, Any]:
        n = next(self._ids)
        if conversation == "personal":
            conv = {"id": f"a:personal-{user}", "conversationType": "personal",
                    "tenantId": TENANT_ID}
        elif conversation == "channel":
            conv = {"id": f"{TRIAGE};messageid=17000000{n}", "conversationType": "channel",
                    "isGroup": True, "tenantId": TENANT_ID}
        else:
            conv = {"id": conversation, "conversationType": "groupChat", "isGroup": True,
                    "tenantId": TENANT_ID}
        body: dict[str, Any] = {
            "type": kind, "id": f"f:activity-{n}", "channelId": "msteams",
            "serviceUrl": self.ms.service_url, "timestamp": "2026-11-23T20:00:00.000Z",
            "from": {"id": f"29:user-{user}", "name": "Kari", "aadObjectId": user},
            "recipient": {"id": BOT_ID, "name": "Meld"}, "conversation": conv,
            "channelData": {"tenant": {"id": TENANT_ID}}, "locale": "nb-NO",
        }
        body.update(extra)
        return body

    def post(self, activity: dict[str, Any], *, token: str | None = None,
             headers: dict[str, str] | None = None) -> httpx.Response:
        all_headers = {"Authorization": f"Bearer {token or self.ms.jwt()}"}
        all_headers.update(headers or {})
        return self.http.post("/api/messages", json=activity, headers=all_headers)

    def message(self, text: str, **kw: Any) -> httpx.Response:
        return self.post(self.activity("message", text=text, **kw))

    def invoke(self, name: str, value: dict[str, Any], **kw: Any) -> dict[str, Any]:
        r = self.post(self.activity("invoke", name=name, value=value, **kw))
        assert r.status_code == 200, r.text
        return r.json()

    def submit_form(self, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """An Action.Execute of the chat form; returns the card that replaces it."""
        body = self.invoke("adaptiveCard/action",
                           {"action": {"type": "Action.Execute", "verb": "meld_submit",
                                       "data": data}, "trigger": "manual"}, **kw)
        assert body["statusCode"] == 200 and body["type"].endswith("card.adaptive")
        return body["value"]

    def drain(self) -> int:
        return self.door.drain_outbox()

    def wait_replies(self) -> None:
        """Let the door's background replies finish."""
        teams = self.door.app.state.teams
        loop = self.door.server.server.loop
        assert loop is not None
        asyncio.run_coroutine_threadsafe(teams.door.drain(), loop).result(10)

    # -- the database
    def reports(self) -> list[m.Report]:
        with self.ctx.db.reading() as session:
            return list(session.scalars(select(m.Report).order_by(m.Report.id)))

    def audit(self, action: str) -> list[m.AuditEvent]:
        with self.ctx.db.reading() as session:
            return list(session.scalars(select(m.AuditEvent)
                                        .where(m.AuditEvent.action == action)))

    def seed_report(self, user: str = REPORTER) -> str:
        receipt = services.submit_report(
            ctx=self.ctx, actor=Actor(identity=f"teams:{user}", role=Role.REPORTER),
            draft=services.ReportDraft(
                kind="deviation", category="discharge_summary", subcategory="missing",
                description=DESCRIPTION, occurred_on=yesterday(), severity="minor",
                no_patient_identifiers=True))
        return receipt.reference


def card_texts(card: Any) -> str:
    return "\n".join(strings_in(card, ("text", "title", "value", "label")))

def find_input(card: dict[str, Any], input_id: str) -> tuple[int, dict[str, Any]]:
    for i, element in enumerate(card["body"]):
        if element.get("id") == input_id:
            return i, element
    raise AssertionError(f"no input {input_id}")


@pytest.fixture(scope="session")
def ms_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeMicrosoft]:
    with FakeMicrosoft(tmp_path_factory.mktemp("ms")) as fake:
        yield fake


@pytest.fixture
def ms(ms_session: FakeMicrosoft) -> FakeMicrosoft:
    """The fake, emptied for this test."""
    ms_session.sent.clear()
    ms_session.token_requests.clear()
    ms_session.fail_next.clear()
    ms_session.hang_next.clear()
    ms_session.endorsements = ["msteams"]
    return ms_session


def _start(settings: Settings, ms: FakeMicrosoft) -> TeamsHarness:
    door = start_door(settings)
    return TeamsHarness(door=door, ms=ms, http=door.client())


def _stop(h: TeamsHarness) -> None:
    h.door.close()
    h.door.server.stop(wait=False)


@pytest.fixture
def teams(sqlite_url: str, ms: FakeMicrosoft) -> Iterator[TeamsHarness]:
    """The Teams door on SQLite."""
    h = _start(teams_settings(sqlite_url, ms), ms)
    try:
        yield h
    finally:
        _stop(h)


@pytest.fixture
def teams_both(db_url: str, ms: FakeMicrosoft) -> Iterator[TeamsHarness]:
    """The Teams door on SQLite and PostgreSQL."""
    h = _start(teams_settings(db_url, ms), ms)
    try:
        yield h
    finally:
        _stop(h)


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path

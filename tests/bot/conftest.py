"""The Slack door over real HTTP: the real app on uvicorn, a fake Slack Web API, signed requests.

`SlackDoor` wraps one running app (`create_app` exactly as production builds it, Slack on,
HTTP mode) and the FakeSlack its Web API client talks to. It signs requests the way Slack
does (`v0=` HMAC-SHA256 over `v0:{timestamp}:{body}`) and builds the three kinds of body
Slack sends: form fields (slash commands), `payload=<json>` (interactivity) and JSON
(Events API). Listeners run after the ack, so `wait_for` polls FakeSlack for their calls.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import select

from intake import services
from intake.domain.model import Actor, Role
from intake.settings import Settings
from storage import models as m
from tests.doors.conftest import _STOPPING, SECRET, Door, start_door, yesterday
from tests.slack_fake import BOT_USER_ID, TEAM_ID, Call, FakeSlack

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
APP_ID = "A0MELDAPP"
GROUP_USER = "UGROUP1"  # in MELD_SLACK_GROUP_MEMBERS: Forbedringsgruppen
REPORTER = "UREPORT1"
OUTSIDER = "UOUTSIDE1"  # neither reporter of the seeded report nor in the group
TRIAGE_CHANNEL = "CTRIAGE"
WAIT = 5.0  # seconds a listener gets to call the Web API after the ack


def slack_settings(db_url: str, fake: FakeSlack, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        database_url=db_url, secret_key=SECRET, run_outbox_worker=False,
        run_digest_scheduler=False, run_promise_scheduler=False, run_cluster_alerts=False,
        # the start-up training reads the database at once: a test that removes the
        # database after start would find a pooled connection to the removed file
        run_suggest_refresh=False,
        slack_bot_token="xoxb-test",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake.url, slack_triage_channel=TRIAGE_CHANNEL,
        slack_group_members=GROUP_USER,
    )
    values.update(overrides)
    return Settings(**values)


def sign(body: bytes, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    return SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)


# ---------------------------------------------------------------- payloads


def slack_user(user_id: str) -> dict[str, Any]:
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(),
            "team_id": TEAM_ID}


def slack_team() -> dict[str, Any]:
    return {"id": TEAM_ID, "domain": "meld-test"}


def select_state(value: str | None) -> dict[str, Any]:
    option = ({"text": {"type": "plain_text", "text": value, "emoji": True}, "value": value}
              if value else None)
    return {"value": {"type": "static_select", "selected_option": option}}


def radio_state(value: str | None) -> dict[str, Any]:
    option = ({"text": {"type": "plain_text", "text": value, "emoji": True}, "value": value}
              if value else None)
    return {"value": {"type": "radio_buttons", "selected_option": option}}


def checkbox_state(checked: bool) -> dict[str, Any]:
    options = [{"text": {"type": "plain_text", "text": "ok", "emoji": True}, "value": "yes"}]
    return {"value": {"type": "checkboxes", "selected_options": options if checked else []}}


def text_state(value: str | None) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": value}}


def date_state(value: str | None) -> dict[str, Any]:
    return {"value": {"type": "datepicker", "selected_date": value}}


DESCRIPTION = "Epikrise manglet ved utskriving; fastlegen fikk ingen beskjed."


def report_values(**overrides: Any) -> dict[str, Any]:
    """state.values of a filled-in report modal (overrides: plain values, None = empty)."""
    plain: dict[str, Any] = {
        "kind": "deviation", "category": "discharge_summary/missing",
        "description": DESCRIPTION, "occurred_on": yesterday(), "place": "stolav_medisinsk",
        "reporter_party": "gp", "concerned_party": "hospital", "severity": "minor",
        "no_ids": True,
    }
    plain.update(overrides)
    state = {
        "kind": radio_state(plain["kind"]),
        "category": select_state(plain["category"]),
        "description": text_state(plain["description"]),
        "occurred_on": date_state(plain["occurred_on"]),
        "place": select_state(plain["place"]),
        "reporter_party": select_state(plain["reporter_party"]),
        "concerned_party": select_state(plain["concerned_party"]),
        "severity": select_state(plain["severity"]),
        "no_ids": checkbox_state(bool(plain["no_ids"])),
    }
    if "confirm_warnings" in plain:
        state["confirm_warnings"] = checkbox_state(bool(plain["confirm_warnings"]))
    return state


def view_submission(callback_id: str, values: dict[str, Any], *, view_id: str = "V0SUBMIT01",
                    private_metadata: str = "", user: str = REPORTER,
                    blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A view_submission payload shaped like Slack's (bolt-python's scenario tests)."""
    return {
        "type": "view_submission",
        "team": slack_team(),
        "user": slack_user(user),
        "api_app_id": APP_ID,
        "token": "verification-token",
        "trigger_id": "1111.2222.submit",
        "view": {
            "id": view_id, "team_id": TEAM_ID, "type": "modal", "blocks": blocks or [],
            "private_metadata": private_metadata, "callback_id": callback_id,
            "state": {"values": values}, "hash": f"1600000000.{view_id}",
            "title": {"type": "plain_text", "text": "Meld", "emoji": True},
            "clear_on_close": False, "notify_on_close": False, "close": None, "submit": None,
            "previous_view_id": None, "root_view_id": view_id, "app_id": APP_ID,
            "external_id": "", "app_installed_team_id": TEAM_ID, "bot_id": "B0MELDBOT",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def block_action(action_id: str, value: str, *, user: str, response_url: str,
                 trigger_id: str = "3333.4444.action") -> dict[str, Any]:
    """A button click in a message (the triage card or the reporter's DM)."""
    return {
        "type": "block_actions",
        "user": slack_user(user),
        "api_app_id": APP_ID,
        "token": "verification-token",
        "container": {"type": "message", "message_ts": "1772450000.000001",
                      "channel_id": TRIAGE_CHANNEL, "is_ephemeral": False},
        "trigger_id": trigger_id,
        "team": slack_team(),
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": TRIAGE_CHANNEL, "name": "forbedringsgruppen"},
        "message": {"type": "message", "user": BOT_USER_ID, "bot_id": "B0MELDBOT",
                    "text": "Ny melding", "ts": "1772450000.000001"},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": f"card:{value}",
                     "text": {"type": "plain_text", "text": "Vis", "emoji": True},
                     "value": value, "type": "button", "action_ts": "1772450001.000100"}],
    }


# ---------------------------------------------------------------- the door


@dataclass
class SlackDoor:
    """One running app with Slack on, its FakeSlack and a client that signs like Slack."""

    door: Door
    fake: FakeSlack
    http: httpx.Client
    _ids: Iterator[int] = field(default_factory=lambda: iter(range(1, 1_000_000)))

    @property
    def ctx(self) -> services.Context:
        return self.door.ctx

    def response_url(self) -> str:
        """A response_url that FakeSlack records (paths under /api/ are recorded)."""
        return f"{self.fake.url}response-url/{TEAM_ID}/{next(self._ids)}/hook"

    def response_url_calls(self) -> list[Call]:
        return [c for c in self.fake.calls if c.method.startswith("response-url/")]

    # -- sending
    def post(self, body: bytes, content_type: str, *, timestamp: str | None = None,
             signature: str | None = None, headers: dict[str, str] | None = None,
             ) -> httpx.Response:
        ts = timestamp if timestamp is not None else str(int(time.time()))
        all_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature if signature is not None else sign(body, ts),
        }
        all_headers.update(headers or {})
        return self.http.post("/slack/events", content=body, headers=all_headers)

    def command(self, command: str, text: str, *, user: str = GROUP_USER,
                response_url: str | None = None) -> httpx.Response:
        fields = {
            "token": "verification-token", "team_id": TEAM_ID, "team_domain": "meld-test",
            "channel_id": "C0GENERAL", "channel_name": "general", "user_id": user,
            "user_name": user.lower(), "command": command, "text": text,
            "api_app_id": APP_ID, "is_enterprise_install": "false",
            "response_url": response_url or self.response_url(),
            "trigger_id": f"5555.{next(self._ids)}.command",
        }
        return self.post(urlencode(fields).encode(), "application/x-www-form-urlencoded")

    def interact(self, payload: dict[str, Any]) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.post(body, "application/x-www-form-urlencoded")

    def event(self, event: dict[str, Any], *, event_id: str,
              headers: dict[str, str] | None = None) -> httpx.Response:
        body = json.dumps({
            "token": "verification-token", "team_id": TEAM_ID, "api_app_id": APP_ID,
            "event": event, "type": "event_callback", "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"enterprise_id": None, "team_id": TEAM_ID,
                                "user_id": BOT_USER_ID, "is_bot": True,
                                "is_enterprise_install": False}],
            "is_ext_shared_channel": False,
        }).encode()
        return self.post(body, "application/json", headers=headers)

    def submit_view(self, payload: dict[str, Any]) -> dict[str, Any]:
        """POST a view_submission; returns the ack body ({} for an empty ack)."""
        r = self.interact(payload)
        assert r.status_code == 200, r.text
        return r.json() if r.content else {}

    # -- waiting for what the listeners do after the ack
    def wait_for(self, method: str, count: int = 1, timeout: float = WAIT) -> list[Call]:
        deadline = time.monotonic() + timeout
        while True:
            calls = [c for c in self.fake.calls_to(method) if c.status == 200]
            if len(calls) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.005)
        assert len(calls) >= count, (
            f"expected {count} {method} call(s), got {len(calls)}; all: {self.fake.methods}")
        return calls

    def opened_view(self, index: int = 0) -> dict[str, Any]:
        """The view of the index-th views.open call (waits for it)."""
        call = self.wait_for("views.open", index + 1)[index]
        view = call.json_param("view")
        assert isinstance(view, dict)
        return view

    def drain(self) -> int:
        return self.door.drain_outbox()

    # -- the database, read and seeded through the app's own context
    def reports(self) -> list[m.Report]:
        with self.ctx.db.reading() as session:
            return list(session.scalars(select(m.Report).order_by(m.Report.id)))

    def messages(self) -> list[m.Message]:
        with self.ctx.db.reading() as session:
            return list(session.scalars(select(m.Message).order_by(m.Message.id)))

    def audit(self, action: str) -> list[m.AuditEvent]:
        with self.ctx.db.reading() as session:
            return list(session.scalars(select(m.AuditEvent)
                                        .where(m.AuditEvent.action == action)
                                        .order_by(m.AuditEvent.id)))

    def seed_report(self, user: str = REPORTER, **overrides: Any) -> str:
        """A report sent by a Slack user, stored through the service (not the door)."""
        values: dict[str, Any] = dict(
            kind="deviation", category="discharge_summary", subcategory="missing",
            description=DESCRIPTION, occurred_on=yesterday(), severity="minor",
            no_patient_identifiers=True, reporter_party="gp", concerned_party="hospital",
            place="stolav_medisinsk",
        )
        values.update(overrides)
        receipt = services.submit_report(
            ctx=self.ctx, actor=Actor(identity=f"slack:{user}", role=Role.REPORTER),
            draft=services.ReportDraft(**values))
        return receipt.reference


def start_slack_door(settings: Settings, fake: FakeSlack) -> SlackDoor:
    door = start_door(settings)
    http = door.client()
    return SlackDoor(door=door, fake=fake, http=http)


def stop_slack_door(sd: SlackDoor) -> None:
    sd.door.close()
    sd.door.server.stop(wait=False)


@pytest.fixture(scope="session", autouse=True)
def _join_stopped_slack_servers() -> Iterator[None]:
    """Servers stopped without waiting are joined once, at the end of the session."""
    yield
    while _STOPPING:
        _STOPPING.pop().join()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def slack(sqlite_url: str, fake_slack: FakeSlack) -> Iterator[SlackDoor]:
    """The Slack door on SQLite."""
    sd = start_slack_door(slack_settings(sqlite_url, fake_slack), fake_slack)
    try:
        yield sd
    finally:
        stop_slack_door(sd)


@pytest.fixture
def slack_both(db_url: str, fake_slack: FakeSlack) -> Iterator[SlackDoor]:
    """The Slack door on SQLite and on PostgreSQL."""
    sd = start_slack_door(slack_settings(db_url, fake_slack), fake_slack)
    try:
        yield sd
    finally:
        stop_slack_door(sd)


@pytest.fixture
def dead_slack(tmp_path: Path, sqlite_template: Path,
               fake_slack: FakeSlack) -> Iterator[SlackDoor]:
    """The Slack door whose SQLite folder was removed after the app was built."""
    import shutil

    folder = tmp_path / "gone"
    folder.mkdir()
    shutil.copy(sqlite_template, folder / "meld.db")
    sd = start_slack_door(slack_settings(f"sqlite:///{folder}/meld.db", fake_slack),
                          fake_slack)
    shutil.rmtree(folder)
    try:
        yield sd
    finally:
        stop_slack_door(sd)

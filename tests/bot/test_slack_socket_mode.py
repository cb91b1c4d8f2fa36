"""Socket Mode: Meld connects out to Slack's websocket and answers envelopes over it.

A fake Slack Web API hands out a ws:// URL on loopback (apps.connections.open); a small
aiohttp websocket server plays Slack's side: hello, then envelopes, and records the acks.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from aiohttp import WSMsgType, web
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.app import create_app
from intake.settings import Settings
from tests.bot.conftest import (
    SlackDoor,
    report_values,
    slack_settings,
    start_slack_door,
    view_submission,
)
from tests.bot.slack_shapes import (
    CASES,
    JSON_VALUES,
    Case,
    database,
    mutation_kinds,
    mutations,
    wait_for_calls,
    web_api_calls,
    wrong_value,
)
from tests.slack_fake import Call, FakeSlack


class SocketModeSlack(FakeSlack):
    """The Web API side, plus apps.connections.open for an app-level token."""

    def __init__(self, ws_url: str) -> None:
        super().__init__()
        self.ws_url = ws_url

    def _valid_token(self, token: str | None) -> bool:
        return bool(token) and token.startswith(("xoxb-", "xapp-"))

    def answer(self, method: str, call: Call) -> dict[str, Any]:
        if method == "apps.connections.open":
            if not (call.token or "").startswith("xapp-"):
                return {"ok": False, "error": "not_allowed_token_type"}
            return {"ok": True, "url": self.ws_url}
        return super().answer(method, call)


class SlackSocket:
    """Slack's websocket end: greets, sends envelopes, collects the app's acks."""

    def __init__(self) -> None:
        self.acks: list[dict[str, Any]] = []
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._queue: asyncio.Queue[dict[str, Any]] | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._queue = asyncio.Queue()
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_get("/link", self._socket)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        await ws.send_json({"type": "hello", "num_connections": 1,
                            "connection_info": {"app_id": "A0MELD"},
                            "debug_info": {"host": "fake", "approximate_connection_time": 3600}})
        assert self._queue is not None

        async def sender() -> None:
            while True:
                await ws.send_json(await self._queue.get())

        task = asyncio.create_task(sender())
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self.acks.append(json.loads(msg.data))
        finally:
            task.cancel()
        return ws

    def start(self) -> SlackSocket:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def send(self, envelope: dict[str, Any]) -> None:
        assert self._queue is not None
        self._loop.call_soon_threadsafe(self._queue.put_nowait, envelope)

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ack in list(self.acks):
                if ack.get("envelope_id") == envelope_id:
                    return ack
            time.sleep(0.02)
        raise AssertionError(f"no ack for {envelope_id}")


@pytest.fixture
def socket_mode(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[SlackSocket, FakeSlack]]:
    ws = SlackSocket().start()
    fake = SocketModeSlack(f"ws://127.0.0.1:{ws.port}/link").start()
    settings = Settings(database_url=sqlite_url, secret_key="k" * 32, run_outbox_worker=False,
                        slack_bot_token="xoxb-test", slack_app_token="xapp-test",
                        slack_api_url=fake.url)
    app = create_app(settings)
    assert app.state.slack.router is None  # no signing secret: no HTTP endpoint
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not (server.started and ws.connections):
        assert time.monotonic() < deadline, "Meld did not connect over Socket Mode"
        time.sleep(0.02)
    try:
        yield ws, fake
    finally:
        server.should_exit = True
        thread.join(15)
        fake.stop()
        ws.stop()


def test_a_slash_command_over_the_socket_opens_the_modal(socket_mode) -> None:
    ws, fake = socket_mode
    assert fake.calls_to("apps.connections.open")[0].token == "xapp-test"
    ws.send({"envelope_id": "env-1", "type": "slash_commands", "accepts_response_payload": True,
             "payload": {"token": "x", "team_id": "T0MELD001", "user_id": "U1",
                         "user_name": "kari", "command": "/meld", "text": "Epikrise mangler",
                         "channel_id": "C1", "trigger_id": "trig-1", "api_app_id": "A0MELD",
                         "response_url": "https://hooks.invalid/x"}})
    ack = ws.wait_ack("env-1")
    assert ack["envelope_id"] == "env-1"
    deadline = time.monotonic() + 10
    while not fake.calls_to("views.open"):
        assert time.monotonic() < deadline, "no views.open"
        time.sleep(0.02)
    call = fake.calls_to("views.open")[0]
    view = call.json_param("view")
    assert call.params["trigger_id"] == "trig-1"
    assert view["callback_id"] == "meld_report"
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks["description"]["element"]["initial_value"] == "Epikrise mangler"


# ---------------------------------------------------------------- malformed envelopes
#
# The same listeners and payload shapes as the HTTP door's property
# (tests/bot/test_slack_malformed.py), delivered over the websocket. An envelope Meld
# cannot read is not acknowledged (as HTTP answers 400: Slack tells the person it failed)
# and changes nothing; the handler goes on with the next envelope.

ENVELOPE_TYPES = {"command": "slash_commands", "interactive": "interactive",
                  "event": "events_api"}
SETTLE = 0.3


@dataclass
class SocketDoor:
    """The app in Socket Mode with the HTTP door's helpers (database, seeding, FakeSlack)."""

    sd: SlackDoor
    ws: SlackSocket
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(message)

    def acks_for(self, envelope_id: Any) -> list[dict[str, Any]]:
        return [a for a in list(self.ws.acks) if a.get("envelope_id") == envelope_id]

    def sentinel(self) -> None:
        """A valid envelope sent after the one under test: once it is acknowledged, the
        handler has read the one before it (and is still alive)."""
        n = next(self.ids)
        self.send({"envelope_id": f"sentinel-{n}", "type": "slash_commands",
                   "accepts_response_payload": True,
                   "payload": CASES_BY_NAME["triage_command"].build(self.sd, n)})
        ack = self.ws.wait_ack(f"sentinel-{n}")
        assert ack.get("payload", {}).get("text"), ack  # /triage hjelp: the help text


CASES_BY_NAME = {c.name: c for c in CASES}


@pytest.fixture
def socket_door(sqlite_url: str) -> Iterator[SocketDoor]:
    ws = SlackSocket().start()
    fake = SocketModeSlack(f"ws://127.0.0.1:{ws.port}/link").start()
    sd = start_slack_door(slack_settings(sqlite_url, fake, slack_app_token="xapp-test"), fake)
    try:
        deadline = time.monotonic() + 15
        while not ws.connections:
            assert time.monotonic() < deadline, "Meld did not connect over Socket Mode"
            time.sleep(0.02)
        yield SocketDoor(sd, ws)
    finally:
        sd.door.close()
        sd.door.server.stop()  # waits: the app closes its websocket before Slack's end stops
        fake.stop()
        ws.stop()


def _refused_and_unchanged(door: SocketDoor, envelope_id: Any, db: Any,
                           calls: list[str]) -> None:
    door.sentinel()
    assert door.acks_for(envelope_id) == [], "a refused envelope was acknowledged"
    assert database(door.sd) == db, "a refused envelope changed the database"
    assert web_api_calls(door.sd) == calls, "a refused envelope called Slack"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_property_socket_mode_refuses_what_a_listener_cannot_read(socket_door: SocketDoor,
                                                                  case: Case) -> None:
    """Each listener's payload with one change, in an envelope. Refused: no ack, nothing
    stored or called, and the next envelope is answered. Otherwise acknowledged, and the
    listener does its work."""
    door, sd = socket_door, socket_door.sd

    @settings(max_examples=12, deadline=None, derandomize=True, database=None)
    @given(data=st.data())
    def run(kind: str, data: st.DataObject) -> None:
        n = next(door.ids)
        mutation = data.draw(mutations(case, kind), label="mutation")
        payload = mutation.apply(case.build(sd, n))
        envelope_id = f"env-{case.name}-{n}"
        db, calls = database(sd), web_api_calls(sd)
        door.send({"envelope_id": envelope_id, "type": ENVELOPE_TYPES[case.kind],
                   "accepts_response_payload": case.kind != "event", "payload": payload})
        if mutation.refused:
            _refused_and_unchanged(door, envelope_id, db, calls)
            return
        ack = door.ws.wait_ack(envelope_id)
        if case.effect:
            last = case.effect[-1]
            after = wait_for_calls(sd, last, calls.count(last) + 1)
            assert after[-1] == last, (str(mutation), after[len(calls):])
            if mutation.kind == "extra":
                assert sorted(after[len(calls):]) == sorted(case.effect), str(mutation)
        if case.stores and mutation.kind == "extra":
            assert ack.get("payload") == {"response_action": "clear"}, (str(mutation), ack)
            assert database(sd) != db

    for kind in mutation_kinds(case):
        run(kind)
    calls = web_api_calls(sd)
    time.sleep(SETTLE)
    assert web_api_calls(sd) == calls, "a listener called Slack after its envelope"


def test_property_socket_mode_refuses_malformed_envelopes(socket_door: SocketDoor) -> None:
    """The envelope itself: a payload that is not an object (or missing), a type Meld does
    not serve, an envelope id that is not text. Never acknowledged, nothing changes."""
    door, sd = socket_door, socket_door.sd
    valid = CASES_BY_NAME["meld_command"]

    @settings(max_examples=60, deadline=None, derandomize=True, database=None)
    @given(part=st.sampled_from(["payload", "no_payload", "type", "envelope_id"]),
           value=JSON_VALUES, data=st.data())
    def run(part: str, value: Any, data: st.DataObject) -> None:
        n = next(door.ids)
        message: dict[str, Any] = {"envelope_id": f"env-bad-{n}", "type": "slash_commands",
                                   "accepts_response_payload": True,
                                   "payload": valid.build(sd, n)}
        if part == "payload":
            message["payload"] = value if not isinstance(value, dict) else [value]
        elif part == "no_payload":
            del message["payload"]
        elif part == "type":
            message["type"] = data.draw(
                st.sampled_from(["interactive", "events_api", "hello", "disconnected_x"])
                | wrong_value((str,)), label="type")
            if message["type"] == "interactive":
                message["payload"] = {"type": "block_actions", "actions": "not a list"}
            if message["type"] == "events_api":
                message["payload"] = {"type": "event_callback", "event": value}
                if isinstance(value, dict) and isinstance(value.get("type"), str):
                    message["payload"]["event"] = "app_home_opened"
        else:
            message["envelope_id"] = data.draw(st.just("") | wrong_value((str,)),
                                               label="envelope_id")
        db, calls = database(sd), web_api_calls(sd)
        door.send(message)
        _refused_and_unchanged(door, message["envelope_id"], db, calls)

    run()
    # and the handler still serves a valid envelope in full
    calls = web_api_calls(sd)
    door.send({"envelope_id": "env-good", "type": "slash_commands",
               "accepts_response_payload": True, "payload": valid.build(sd, 999_999)})
    door.ws.wait_ack("env-good")
    assert wait_for_calls(sd, "views.open", calls.count("views.open") + 1)[-1] == "views.open"


def test_a_refused_envelope_is_logged_by_type_and_ids_only(
        socket_door: SocketDoor, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    door, sd = socket_door, socket_door.sd
    secret_text = "Pasienten Kari Nordmann 12345678901"
    payload = view_submission("meld_report", report_values(description=secret_text),
                              view_id="V0SOCKET01", private_metadata='{"link": 42}')
    db = database(sd)
    door.send({"envelope_id": "env-logged", "type": "interactive",
               "accepts_response_payload": True, "payload": payload})
    _refused_and_unchanged(door, "env-logged", db, web_api_calls(sd))
    assert "slack envelope refused: bad_string_type view.private_metadata.link " \
           "(view_submission:meld_report user=UREPORT1 team=T0MELD001 view=V0SOCKET01)" \
           in caplog.text
    assert secret_text not in caplog.text and "Kari" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]

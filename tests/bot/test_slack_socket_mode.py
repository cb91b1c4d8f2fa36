"""Socket Mode: Meld connects out to Slack's websocket and answers envelopes over it.

A fake Slack Web API hands out a ws:// URL on loopback (apps.connections.open); a small
aiohttp websocket server plays Slack's side: hello, then envelopes, and records the acks.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from aiohttp import WSMsgType, web

from intake.app import create_app
from intake.settings import Settings
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
    settings = Settings(database_url=sqlite_url, secret_key="k", run_outbox_worker=False,
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

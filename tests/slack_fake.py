"""A fake Slack Web API on loopback: a real HTTP server that answers like Slack and records.

Modelled on slackapi/bolt-python's `tests/mock_web_api_server/` (a stdlib HTTP server in a
thread), so it serves sync clients (`WebClient`, urllib) and async ones (`AsyncWebClient`,
aiohttp) alike, from plain pytest tests or from inside an event loop. It binds 127.0.0.1 on
a free port and never forwards anything anywhere.

    with FakeSlack() as slack:
        client = WebClient(base_url=slack.url, token="xoxb-test")
        client.chat_postMessage(channel="C1", text="hi")
        assert slack.calls_to("chat.postMessage")[0].params["text"] == "hi"

Failures are scripted per method and consumed in order (`fail`): HTTP 429 with Retry-After,
any other HTTP status, `{"ok": false, "error": ...}`, or a hang (the call is recorded, the
answer comes late: what a client that timed out cannot know is that Slack did the work).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_HANG = 5.0  # seconds; a hang is bounded so a forgotten one cannot stall the test run
TEAM_ID = "T0MELD001"
BOT_USER_ID = "U0MELDBOT"


@dataclass(frozen=True, slots=True)
class Call:
    """One request as the fake received it (params: form fields, query or JSON body)."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)
    peer: int = 0  # the client's port: calls over one kept connection share it

    @property
    def token(self) -> str | None:
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        token = self.params.get("token")
        return token if isinstance(token, str) else None

    def json_param(self, name: str) -> Any:
        """A parameter Slack accepts as JSON text in a form (blocks, view) or as JSON itself."""
        value = self.params.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value


@dataclass(slots=True)
class Failure:
    """What the next `times` calls to one method answer instead of success."""

    times: int
    status: int = 429
    retry_after: float | None = 3
    error: str | None = None
    hang: float | None = None
    disconnect: bool = False


class FakeSlack:
    """The fake Web API. `url` is the base URL to give slack_sdk (`base_url=`)."""

    def __init__(self, *, tokens: set[str] | None = None, keep_alive: bool = False) -> None:
        self.tokens = tokens  # None: any xoxb-/xoxp- token is valid
        # keep_alive: connections stay open between calls, as Slack's do (HTTP/1.1); off,
        # every answer closes its connection
        self.keep_alive = keep_alive
        self.usergroups: dict[str, list[str]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        # conversations.info knows these channels (id -> fields over the defaults: a public
        # channel the bot is a member of); any other id is channel_not_found
        self.channels: dict[str, dict[str, Any]] = {}
        self._calls: list[Call] = []
        self._failures: dict[str, list[Failure]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ts = itertools.count(1)
        self._view_ids = itertools.count(1)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._open: set[socket.socket] = set()  # connections being served (kept ones too)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlack:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-slack", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wakes hanging handlers
        server.shutdown()
        with self._lock:  # a kept connection waiting for its next request ends now
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        server.server_close()  # joins the handler threads (block_on_close)
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """Base URL ending in /api/, as slack_sdk's `base_url` expects."""
        return f"http://127.0.0.1:{self.port}/api/"

    # ------------------------------------------------------------ scripting and reading

    def fail(self, method: str, *, times: int = 1, status: int = 429,
             retry_after: float | None = 3, error: str | None = None,
             hang: float | None = None, disconnect: bool = False) -> None:
        """Script the next `times` calls to `method`.

        hang=S: record the call, wait S seconds (at most MAX_HANG), then answer normally.
        disconnect=True: record the call and close the connection without an answer.
        error="...": HTTP 200 with {"ok": false, "error": ...}.
        otherwise: HTTP `status`; a 429 carries `Retry-After: retry_after` (None: no header).
        Several scripts for one method are used one after another.
        """
        if hang is not None and not 0 < hang <= MAX_HANG:
            raise ValueError(f"hang must be in (0, {MAX_HANG}] seconds")
        with self._lock:
            self._failures.setdefault(method, []).append(
                Failure(times=times, status=status, retry_after=retry_after, error=error,
                        hang=hang, disconnect=disconnect))

    def clear_failures(self) -> None:
        """Forget the scripted failures still pending (the recorded calls stay)."""
        with self._lock:
            self._failures.clear()

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._failures.clear()

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    @property
    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    # ------------------------------------------------------------ behaviour

    def _take_failure(self, method: str) -> Failure | None:
        with self._lock:
            queue = self._failures.get(method)
            if not queue:
                return None
            failure = queue[0]
            failure.times -= 1
            if failure.times <= 0:
                queue.pop(0)
            return failure

    def _record(self, call: Call) -> int:
        with self._lock:
            self._calls.append(call)
            return len(self._calls) - 1

    def _update(self, index: int, status: int, body: dict[str, Any]) -> None:
        with self._lock:
            old = self._calls[index]
            self._calls[index] = Call(old.method, old.params, old.headers, status, body,
                                      old.peer)

    def _valid_token(self, token: str | None) -> bool:
        if not token:
            return False
        if self.tokens is not None:
            return token in self.tokens
        return token.startswith(("xoxb-", "xoxp-")) and len(token) > 5

    def _next_ts(self) -> str:
        return f"1772450000.{next(self._ts):06d}"

    def answer(self, method: str, call: Call) -> dict[str, Any]:
        """Slack's answer to a successful call of `method` (override or extend in tests)."""
        p = call.params
        if method == "api.test":
            return {"ok": True, "args": {k: v for k, v in p.items() if k != "token"}}
        if method == "auth.test":
            return {"ok": True, "url": "https://meld-test.slack.com/", "team": "Meld test",
                    "user": "meld", "team_id": TEAM_ID, "user_id": BOT_USER_ID,
                    "bot_id": "B0MELDBOT", "is_enterprise_install": False}
        if method == "chat.postMessage":
            channel = p.get("channel")
            if not channel:
                return {"ok": False, "error": "channel_not_found"}
            if not p.get("text") and not p.get("blocks") and not p.get("attachments"):
                return {"ok": False, "error": "no_text"}
            ts = self._next_ts()
            message = {"type": "message", "user": BOT_USER_ID, "bot_id": "B0MELDBOT",
                       "text": p.get("text", ""), "ts": ts}
            blocks = call.json_param("blocks")
            if blocks:
                message["blocks"] = blocks
            return {"ok": True, "channel": channel, "ts": ts, "message": message}
        if method == "chat.postEphemeral":
            if not p.get("channel") or not p.get("user"):
                return {"ok": False, "error": "channel_not_found"}
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "chat.update":
            if not p.get("channel") or not p.get("ts"):
                return {"ok": False, "error": "message_not_found"}
            return {"ok": True, "channel": p["channel"], "ts": p["ts"],
                    "text": p.get("text", "")}
        if method == "chat.getPermalink":
            channel, ts = p.get("channel"), p.get("message_ts")
            if not channel or not ts:
                return {"ok": False, "error": "message_not_found"}
            return {"ok": True, "channel": channel,
                    "permalink": f"https://meld-test.slack.com/archives/{channel}/"
                                 f"p{str(ts).replace('.', '')}"}
        if method == "conversations.open":
            users = [u for u in str(p.get("users", "")).split(",") if u]
            if not users:
                return {"ok": False, "error": "users_list_not_supplied"}
            channel_id = "D" + users[0] if len(users) == 1 else "G" + "".join(users)[:10]
            return {"ok": True, "channel": {"id": channel_id}}
        if method in ("views.open", "views.update", "views.push", "views.publish"):
            view = call.json_param("view")
            if not isinstance(view, dict):
                return {"ok": False, "error": "invalid_arguments"}
            view_id = p.get("view_id") or f"V{next(self._view_ids):08d}"
            out = dict(view, id=view_id, team_id=TEAM_ID, hash=f"h{view_id}",
                       state={"values": {}})
            if method == "views.publish":
                out["type"] = view.get("type", "home")
            return {"ok": True, "view": out}
        if method == "conversations.info":
            channel = p.get("channel")
            if channel not in self.channels:
                return {"ok": False, "error": "channel_not_found"}
            info = {"id": channel, "name": str(channel).lower(), "is_channel": True,
                    "is_private": False, "is_archived": False, "is_member": True}
            info.update(self.channels[channel])
            return {"ok": True, "channel": info}
        if method == "users.info":
            user = p.get("user")
            if not user:
                return {"ok": False, "error": "user_not_found"}
            info = {"id": user, "team_id": TEAM_ID, "name": user.lower(),
                    "real_name": f"Test {user}", "deleted": False, "is_bot": False,
                    "tz": "Europe/Oslo", "profile": {"real_name": f"Test {user}",
                                                     "display_name": user.lower()}}
            info.update(self.users.get(user, {}))
            if str(p.get("include_locale", "")).lower() in ("1", "true"):
                info.setdefault("locale", "nb-NO")
            return {"ok": True, "user": info}
        if method == "usergroups.users.list":
            group = p.get("usergroup")
            if group not in self.usergroups:
                return {"ok": False, "error": "no_such_subteam"}
            return {"ok": True, "users": list(self.usergroups[group])}
        return {"ok": False, "error": "unknown_method"}


def fake_slack_fixture() -> Iterator[FakeSlack]:
    """Generator for a pytest fixture: `fake_slack = pytest.fixture(fake_slack_fixture)`."""
    with FakeSlack() as fake:
        yield fake


# ---------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() waits for handlers: nothing outlives stop()
    fake: FakeSlack

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is normal here; stay quiet.
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 10  # an idle connection cannot keep a handler thread (and stop()) waiting

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def setup(self) -> None:
        super().setup()
        with self.server.fake._lock:
            self.server.fake._open.add(self.connection)

    def finish(self) -> None:
        with self.server.fake._lock:
            self.server.fake._open.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _params(self, query: str) -> dict[str, Any]:
        params: dict[str, Any] = {k: v[0] for k, v in parse_qs(query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return params
        ctype = (self.headers.get("Content-Type") or "").lower()
        text = raw.decode("utf-8", errors="replace")
        if "json" in ctype or text.lstrip().startswith("{"):
            try:
                body = json.loads(text)
            except ValueError:
                body = {}
            if isinstance(body, dict):
                params.update(body)
        else:
            params.update({k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()})
        return params

    def _handle(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        params = self._params(parts.query)
        if not parts.path.startswith("/api/"):
            self._send(404, {"ok": False, "error": "not_found"})
            return
        method = parts.path[len("/api/"):].strip("/")
        headers = {k.lower(): v for k, v in self.headers.items()}
        call = Call(method, params, headers, peer=int(self.client_address[1]))
        index = fake._record(call)
        status, body, extra = self._respond(fake, method, call)
        fake._update(index, status, body)
        if status == 0:  # scripted disconnect: no answer at all
            self.close_connection = True
            return
        self._send(status, body, extra)

    def _respond(self, fake: FakeSlack, method: str,
                 call: Call) -> tuple[int, dict[str, Any], dict[str, str]]:
        if not fake._valid_token(call.token):
            error = "not_authed" if not call.token else "invalid_auth"
            return 200, {"ok": False, "error": error}, {}
        failure = fake._take_failure(method)
        if failure is not None:
            if failure.disconnect:
                return 0, {}, {}
            if failure.hang is not None:
                fake._stopping.wait(min(failure.hang, MAX_HANG))
            elif failure.error is not None:
                return 200, {"ok": False, "error": failure.error}, {}
            elif failure.status == 429:
                extra = {}
                if failure.retry_after is not None:
                    extra["Retry-After"] = f"{failure.retry_after:g}"
                return 429, {"ok": False, "error": "ratelimited"}, extra
            else:
                return failure.status, {"ok": False, "error": f"http_{failure.status}"}, {}
        return 200, fake.answer(method, call), {}

    def _send(self, status: int, body: dict[str, Any], extra: dict[str, str] | None = None,
              ) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            if not self.server.fake.keep_alive:
                self.send_header("Connection", "close")
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client gave up (timeout) and closed the connection
            self.close_connection = True
            return
        self.close_connection = not self.server.fake.keep_alive

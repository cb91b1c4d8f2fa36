"""Real-shaped mail endpoints on loopback: an aiosmtpd SMTP server (plain, or STARTTLS with
AUTH and a trustme certificate) and a fake Microsoft Graph + Entra authority over HTTPS.

    with SmtpServer() as smtp:                 # smtp.mails: the messages it accepted
    with FakeGraph(tmp_path) as graph:         # graph.mails: what sendMail got, decoded
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

TENANT_ID = "99999999-8888-7777-6666-444444444444"
CLIENT_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
CLIENT_SECRET = "graph-test-secret"
MAILBOX = "forbedring@example.no"
SMTP_USER = "meld"
SMTP_PASSWORD = "smtp-pass word"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Accepted:
    """One mail the SMTP server took: envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    at: float = field(default_factory=time.monotonic, compare=False, repr=False)  # at DATA
    raw: bytes = field(default=b"", compare=False, repr=False)  # as it came over the wire


def parse(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=default)  # type: ignore[return-value]


class Handler:
    """Collects envelopes; can refuse recipients or stall in DATA as told."""

    def __init__(self) -> None:
        self.mails: list[Accepted] = []
        self.rcpt_answers: list[str] = []  # answers to the next RCPT commands
        self.data_answers: list[str] = []  # answers to the next finished DATA
        self.stall_data: float = 0.0  # seconds to wait before answering DATA (after taking it)
        self.data_started = threading.Event()
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        with self.lock:
            answer = self.rcpt_answers.pop(0) if self.rcpt_answers else None
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            answer = self.data_answers.pop(0) if self.data_answers else None
        if answer:
            return answer
        # taken: recorded before any stall, as a server that queued it and then hung
        with self.lock:
            self.mails.append(Accepted(envelope.mail_from, list(envelope.rcpt_tos),
                                       parse(envelope.content), raw=envelope.content))
        self.data_started.set()
        if self.stall_data:
            await asyncio.sleep(self.stall_data)
        return "250 Queued"


class _ClosingController(Controller):
    """aiosmtpd's Controller, but stop() lets open sessions end (QUIT in flight) and closes
    the ones left, instead of leaving their sockets to the garbage collector."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sessions: list[SMTP] = []

    def factory(self) -> SMTP:
        session = super().factory()
        self.sessions.append(session)
        return session

    def stop(self, no_assert: bool = False) -> None:
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and any(_open(s) for s in self.sessions):
            time.sleep(0.01)
        for session in self.sessions:
            if _open(session):
                self.loop.call_soon_threadsafe(session.transport.close)
        self.sessions.clear()
        super().stop(no_assert)


def _open(session: SMTP) -> bool:
    transport = session.transport
    return transport is not None and not transport.is_closing()


class SmtpServer:
    """aiosmtpd on 127.0.0.1; with `tls_folder`, STARTTLS required and AUTH LOGIN/PLAIN."""

    def __init__(self, tls_folder: Path | None = None, port: int | None = None) -> None:
        self.handler = Handler()
        self.port = port or free_port()
        self.ca_path: Path | None = None
        kwargs: dict[str, Any] = {}
        if tls_folder is not None:
            ca = trustme.CA()
            cert = ca.issue_cert("127.0.0.1", "localhost")
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(context)
            self.ca_path = tls_folder / "smtp-ca.pem"
            ca.cert_pem.write_to_path(str(self.ca_path))
            kwargs.update(tls_context=context, require_starttls=True, auth_required=True,
                          authenticator=self._authenticate)
        self.logins: list[str] = []
        self.controller = _ClosingController(self.handler, hostname="127.0.0.1", port=self.port,
                                     ready_timeout=5, **kwargs)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and auth_data.login.decode() == SMTP_USER \
                and auth_data.password.decode() == SMTP_PASSWORD:
            self.logins.append(mechanism)
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    @property
    def mails(self) -> list[Accepted]:
        with self.handler.lock:
            return list(self.handler.mails)

    def url(self, *, login: bool = False) -> str:
        auth = f"{SMTP_USER}:{SMTP_PASSWORD.replace(' ', '%20')}@" if login else ""
        return f"smtp://{auth}127.0.0.1:{self.port}"

    def wait_mails(self, count: int, timeout: float = 10.0) -> list[Accepted]:
        deadline = time.monotonic() + timeout
        while len(self.mails) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.mails

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@dataclass
class GraphMail:
    mailbox: str
    token: str
    message: EmailMessage
    raw: bytes = b""  # the MIME as Graph received it (base64-decoded)


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet HTTP/1.1 handler for the fakes: `_answer` sends JSON (or nothing)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: Any = None,
                headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ssl.SSLError | ConnectionError):
            return
        super().handle_error(request, client_address)


def serve_https(handler: type[BaseHTTPRequestHandler], cert: trustme.LeafCert
                ) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """A quiet threading HTTP server on a free 127.0.0.1 port, over TLS with `cert`, and the
    thread to serve it (not started)."""
    server = _QuietServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return server, threading.Thread(target=server.serve_forever, daemon=True)


@dataclass
class FakeGraph:
    """Entra authority (OpenID configuration, token endpoint) and Graph's sendMail over
    HTTPS with a trustme certificate (`ca_path` for MELD_GRAPH_CA_BUNDLE)."""

    folder: Path
    mails: list[GraphMail] = field(default_factory=list)
    token_requests: list[dict[str, list[str]]] = field(default_factory=list)
    send_requests: int = 0
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # next sendMail
    revoked: set[str] = field(default_factory=set)
    issued: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_path = self.folder / "graph-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_path))
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        fake = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path == f"/{TENANT_ID}/v2.0/.well-known/openid-configuration":
                    base = f"{fake.url}/{TENANT_ID}"
                    self._answer(200, {
                        "issuer": f"{base}/v2.0",
                        "token_endpoint": f"{base}/oauth2/v2.0/token",
                        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                    })
                else:
                    self._answer(404, {"error": "not_found"})

            def do_POST(self) -> None:
                path = urlsplit(self.path).path
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if path == f"/{TENANT_ID}/oauth2/v2.0/token":
                    form = parse_qs(raw.decode())
                    with fake._lock:
                        fake.token_requests.append(form)
                    if form.get("client_secret") != [CLIENT_SECRET] or \
                            form.get("client_id") != [CLIENT_ID]:
                        self._answer(401, {"error": "invalid_client",
                                           "error_description": "AADSTS7000215"})
                        return
                    if form.get("scope") != ["https://graph.microsoft.com/.default"]:
                        self._answer(400, {"error": "invalid_scope"})
                        return
                    token = f"graph-token-{next(fake._ids)}"
                    with fake._lock:
                        fake.issued.append(token)
                    self._answer(200, {"token_type": "Bearer", "expires_in": 3599,
                                       "access_token": token})
                    return
                prefix, suffix = "/v1.0/users/", "/sendMail"
                if not (path.startswith(prefix) and path.endswith(suffix)):
                    self._answer(404, {"error": {"code": "NotFound"}})
                    return
                mailbox = unquote(path[len(prefix):-len(suffix)])
                auth = self.headers.get("Authorization") or ""
                token = auth.removeprefix("Bearer ")
                with fake._lock:
                    fake.send_requests += 1
                    good = token in fake.issued and token not in fake.revoked
                    scripted = fake.answers.pop(0) if (good and fake.answers) else None
                if not good:
                    self._answer(401, {"error": {"code": "InvalidAuthenticationToken"}})
                    return
                if scripted is not None:
                    self._answer(scripted[0], {"error": {"code": "Scripted"}}, scripted[1])
                    return
                if self.headers.get("Content-Type") != "text/plain":
                    self._answer(400, {"error": {"code": "ErrorMimeContentInvalid"}})
                    return
                mime = base64.b64decode(raw, validate=True)
                message = parse(mime)
                with fake._lock:
                    fake.mails.append(GraphMail(mailbox, token, message, mime))
                self._answer(202)

        self.server, self.thread = serve_https(Handler, cert)
        self.port = self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeGraph:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

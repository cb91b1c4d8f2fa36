"""Fake Microsoft endpoints on loopback, over real HTTPS: Bot Framework OpenID metadata and
JWKS, the Entra token endpoint msal talks to, and a Bot Connector that records activities.

One stdlib ThreadingHTTPServer in a thread, TLS with a certificate made here for 127.0.0.1
(tests point MELD_TEAMS_CA_BUNDLE at it; msal refuses non-https authorities). JWTs are
RS256-signed with an RSA key generated here and served from the JWKS, with `endorsements`
like the Bot Framework's.

    with FakeMicrosoft(tmp_path) as ms:
        token = ms.jwt(service_url=ms.service_url)          # what Teams would send us
        ms.activities                                       # what Meld sent to Teams
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.fakes import strings_in

APP_ID = "11111111-2222-3333-4444-555555555555"
TENANT_ID = "99999999-8888-7777-6666-555555555555"
APP_PASSWORD = "test-client-secret"
BOT_ID = f"28:{APP_ID}"
ISSUER = "https://api.botframework.com"
KID = "meld-test-key"


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_tls(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (cert.pem, key.pem)."""
    import ipaddress

    key = _rsa()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meld-test-fake")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "fake-cert.pem", folder / "fake-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass(frozen=True, slots=True)
class Sent:
    """One request Meld made to the fake Bot Connector."""

    method: str
    path: str
    body: dict[str, Any]
    token: str | None
    # when the fake received it (time.monotonic): for the bench's receipt latency
    at: float = field(default_factory=time.monotonic, compare=False, repr=False)

    @property
    def conversation(self) -> str:
        return unquote(self.path.split("/")[3]) if self.path.count("/") >= 3 else ""

    @property
    def card(self) -> dict[str, Any] | None:
        for a in self.body.get("attachments") or []:
            if a.get("contentType") == "application/vnd.microsoft.card.adaptive":
                return a["content"]
        return None

    @property
    def card_text(self) -> str:
        """Every text in the card (TextBlocks, facts), joined: for assertions."""
        return "\n".join(strings_in(self.card, ("text", "title", "value")))


class _QuietServer(ThreadingHTTPServer):
    """A client that gave up (Meld's timeout on a hanging answer) is expected, not noise."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ssl.SSLError | ConnectionError):
            return
        super().handle_error(request, client_address)


class FakeMicrosoft:
    """The fake endpoints; `url` is its https origin, `service_url` a Bot Connector URL."""

    def __init__(self, folder: Path) -> None:
        self.cert, key_file = make_tls(folder)
        self.signing_key = _rsa()
        self.other_key = _rsa()  # a key that is not in the JWKS
        self.endorsements = ["msteams"]
        self.sent: list[Sent] = []
        self.token_requests: list[dict[str, list[str]]] = []
        self.metadata_fetches = 0
        self.fail_next: list[int] = []  # statuses the next connector calls answer
        # seconds the next connector calls wait before answering, after the activity was
        # recorded as posted (a client that gives up first sees a timeout: ambiguous)
        self.hang_next: list[float] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "7")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path == "/v1/.well-known/openidconfiguration":
                    with fake._lock:
                        fake.metadata_fetches += 1
                    self._answer(200, {"issuer": ISSUER,
                                       "jwks_uri": f"{fake.url}/v1/.well-known/keys",
                                       "id_token_signing_alg_values_supported": ["RS256"]})
                elif path == "/v1/.well-known/keys":
                    self._answer(200, {"keys": [fake._jwk()]})
                elif path == f"/{TENANT_ID}/v2.0/.well-known/openid-configuration":
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
                self._connector("POST")

            def do_PUT(self) -> None:
                self._connector("PUT")

            def _connector(self, method: str) -> None:
                path = urlsplit(self.path).path
                raw = self._body()
                if path == f"/{TENANT_ID}/oauth2/v2.0/token":
                    form = parse_qs(raw.decode())
                    with fake._lock:
                        fake.token_requests.append(form)
                    if form.get("client_secret") != [APP_PASSWORD]:
                        self._answer(401, {"error": "invalid_client",
                                           "error_description": "bad secret"})
                        return
                    self._answer(200, {"token_type": "Bearer", "expires_in": 3599,
                                       "access_token": f"bot-token-{uuid.uuid4().hex}"})
                    return
                if not path.startswith("/teams/v3/conversations"):
                    self._answer(404, {"error": "not_found"})
                    return
                auth = self.headers.get("Authorization") or ""
                body = json.loads(raw or b"{}")
                sent = Sent(method, path.removeprefix("/teams"), body,
                            auth[7:] if auth.startswith("Bearer ") else None)
                with fake._lock:
                    fake.sent.append(sent)  # every request, answered with an error or not
                    status = fake.fail_next.pop(0) if fake.fail_next else None
                    hang = fake.hang_next.pop(0) if fake.hang_next else 0.0
                if hang:
                    time.sleep(hang)
                if status is not None:
                    self._answer(status, {"error": {"code": "Failed"}})
                    return
                if sent.path == "/v3/conversations":
                    self._answer(201, {"id": f"a:new-personal-{next(fake._ids)}"})
                else:
                    self._answer(201 if method == "POST" else 200,
                                 {"id": f"activity-{next(fake._ids)}"})

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(self.cert, key_file)
        self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name=f"fake-microsoft-{self.port}")

    # -- addresses
    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def service_url(self) -> str:
        return f"{self.url}/teams/"

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/v1/.well-known/openidconfiguration"

    def _jwk(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.signing_key.public_key()))
        jwk.update({"kid": KID, "use": "sig", "endorsements": list(self.endorsements)})
        return jwk

    # -- what Teams sends us
    def jwt(self, *, service_url: str | None = None, audience: str = APP_ID,
            issuer: str = ISSUER, expires_in: float = 3600, not_before: float | None = None,
            kid: str = KID, key: rsa.RSAPrivateKey | None = None, algorithm: str = "RS256",
            drop: tuple[str, ...] = ()) -> str:
        now = time.time()
        claims: dict[str, Any] = {
            "serviceurl": service_url or self.service_url, "iss": issuer, "aud": audience,
            "exp": int(now + expires_in), "nbf": int(not_before if not_before is not None
                                                     else now - 60),
        }
        for name in drop:
            claims.pop(name, None)
        signer: Any = key or self.signing_key
        if algorithm.startswith("HS"):
            signer = "a-shared-secret-that-is-long-enough-for-hs256!"
        return jwt.encode(claims, signer, algorithm=algorithm, headers={"kid": kid})

    # -- what Meld sent
    def wait_sent(self, count: int = 1, timeout: float = 5.0) -> list[Sent]:
        deadline = time.monotonic() + timeout
        while len(self.sent) < count and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(self.sent) >= count, f"expected {count} activities, got {self.sent}"
        return list(self.sent)

    def __enter__(self) -> FakeMicrosoft:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

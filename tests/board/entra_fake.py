"""A fake Entra ID (OpenID provider) over HTTPS on loopback, with a trustme certificate:
discovery, the authorize endpoint (it signs in `fake.user` at once and sends the browser
back with a code, or with an error), and the token endpoint, which checks what a real one
checks: the code (once), the redirect URI, the client secret and the PKCE verifier
against the challenge (S256). The ID token is RS256-signed and carries the nonce from the
authorize request, the tenant, the object id, the name and the app roles.

    with FakeEntra(tmp_path) as entra:      # entra.url, entra.ca_path, entra.user = {...}
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import trustme
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.mail.fakes import JsonHandler, serve_https

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT_ID = "66666666-7777-8888-9999-000000000000"
CLIENT_SECRET = "entra-test-secret"


def user(oid: str = "aaaa-1", name: str = "Kari Lege",
         roles: tuple[str, ...] = ("Meld.Triage",), tid: str = TENANT) -> dict[str, Any]:
    return {"oid": oid, "name": name, "roles": list(roles), "tid": tid}


@dataclass
class FakeEntra:
    folder: Path
    user: dict[str, Any] = field(default_factory=user)
    deny: str | None = None  # an OAuth error for the next sign-ins (access_denied, ...)
    audience: str = CLIENT_ID  # what the ID token says it is for
    forge: bool = False  # sign the ID token with a key the authority does not publish
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # why token requests were refused

    def __post_init__(self) -> None:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_path = self.folder / "entra-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_path))
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._codes: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        fake = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                base = f"{fake.url}/{TENANT}"
                if parts.path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
                    self._answer(200, {
                        "issuer": f"{base}/v2.0",
                        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                        "token_endpoint": f"{base}/oauth2/v2.0/token",
                        "jwks_uri": f"{base}/discovery/v2.0/keys",
                        "response_types_supported": ["code"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                    })
                elif parts.path == f"/{TENANT}/discovery/v2.0/keys":
                    self._answer(200, {"keys": [fake.jwk()]})
                elif parts.path == f"/{TENANT}/oauth2/v2.0/authorize":
                    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                    fake.authorize_requests.append(query)
                    self._answer(302, headers={"Location": fake._authorize(query)})
                else:
                    self._answer(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if urlsplit(self.path).path != f"/{TENANT}/oauth2/v2.0/token":
                    self._answer(404, {"error": "not_found"})
                    return
                fake.token_requests.append(form)
                status, body = fake._token(form)
                self._answer(status, body)

        self.server, self.thread = serve_https(Handler, cert)
        self.port = self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def jwk(self) -> dict[str, Any]:
        key = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {**key, "kid": "k1", "use": "sig", "alg": "RS256"}

    def _authorize(self, query: dict[str, str]) -> str:
        back = query.get("redirect_uri", "")
        if self.deny:
            return f"{back}?{urlencode({'error': self.deny, 'state': query.get('state', '')})}"
        code = f"code-{next(self._ids)}"
        with self._lock:
            self._codes[code] = {"query": query, "user": dict(self.user)}
        return f"{back}?{urlencode({'code': code, 'state': query.get('state', '')})}"

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)  # a code works once
        why = None
        if grant is None:
            why = "unknown_code"
        elif form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            why = "bad_client"
        elif form.get("redirect_uri") != grant["query"].get("redirect_uri"):
            why = "redirect_uri_mismatch"
        elif grant["query"].get("code_challenge_method") != "S256" or _challenge(
                form.get("code_verifier", "")) != grant["query"].get("code_challenge"):
            why = "pkce_failed"
        if why is not None:
            self.refused.append(why)
            return 400, {"error": "invalid_grant", "error_description": why}
        now = int(time.time())
        claims = {"iss": f"{self.url}/{TENANT}/v2.0", "aud": self.audience, "iat": now,
                  "nbf": now, "exp": now + 3600, "sub": f"sub-{grant['user']['oid']}",
                  "nonce": grant["query"].get("nonce"), "ver": "2.0",
                  **grant["user"]}
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if self.forge \
            else self.key
        id_token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
        return 200, {"token_type": "Bearer", "access_token": f"at-{next(self._ids)}",
                     "expires_in": 3599, "scope": "openid profile", "id_token": id_token}

    def __enter__(self) -> FakeEntra:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

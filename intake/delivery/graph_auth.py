"""The app token for Microsoft Graph, shared by sending (mail_graph.py) and the mailbox
sync (intake/mailbox/graph.py).

msal's ConfidentialClientApplication with client credentials against the single tenant
`{MELD_GRAPH_AUTHORITY_URL}/{MELD_GRAPH_TENANT_ID}`, scope
`https://graph.microsoft.com/.default`; msal caches the token until it nearly expires.
A Graph 401 means the token went stale: `drop_token()` and ask again.
"""

from __future__ import annotations

import logging
import ssl
import threading
from typing import Any

import httpx
import msal
import requests

from intake.settings import Settings

log = logging.getLogger("meld.mail.graph")

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
RETRY_AFTER_MAX = 24 * 3600.0


class CaBundleSession(requests.Session):
    """A Session whose own `verify` wins over REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE (requests
    lets those variables override a Session's bundle). As bot.teams.auth has it; delivery
    may not import a door."""

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> dict[str, Any]:
        merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
        merged["verify"] = self.verify
        return merged


class GraphTokenError(Exception):
    """msal gave no token; the message is a code (msal's error, or 'unreachable')."""


def retry_after(headers: httpx.Headers) -> float | None:
    """Retry-After in seconds (Graph sends seconds), capped; None when absent or unreadable."""
    try:
        seconds = float(headers.get("Retry-After", ""))
    except ValueError:
        return None
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return min(seconds, RETRY_AFTER_MAX)


def graph_ssl(settings: Settings) -> ssl.SSLContext | bool:
    """httpx's `verify` for Graph: the private CA bundle when one is set."""
    if settings.graph_ca_bundle is None:
        return True
    return ssl.create_default_context(cafile=str(settings.graph_ca_bundle))


class GraphToken:
    """An app token from msal for the settings' app registration (thread-safe)."""

    def __init__(self, settings: Settings, *, http_client: requests.Session | None = None
                 ) -> None:
        if not (settings.graph_tenant_id and settings.graph_client_id
                and settings.graph_client_secret):
            raise ValueError("Graph needs MELD_GRAPH_TENANT_ID, _CLIENT_ID and _CLIENT_SECRET")
        self.settings = settings
        if http_client is None:
            http_client = CaBundleSession() if settings.graph_ca_bundle else requests.Session()
            if settings.graph_ca_bundle is not None:
                http_client.verify = str(settings.graph_ca_bundle)
        self.http_client = http_client
        self.timeout = settings.mail_timeout_seconds
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    @property
    def authority(self) -> str:
        return f"{self.settings.graph_authority_url.rstrip('/')}/{self.settings.graph_tenant_id}"

    def _client(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            s = self.settings
            assert s.graph_client_secret is not None
            self._app = msal.ConfidentialClientApplication(
                s.graph_client_id,
                client_credential=s.graph_client_secret.get_secret_value(),
                authority=self.authority,
                http_client=self.http_client,
                instance_discovery=False,  # a single-tenant authority we name ourselves
                timeout=self.timeout,
            )
        return self._app

    def token_sync(self) -> str:
        """An app token (msal's cache first); raises GraphTokenError with a code."""
        try:
            with self._lock:
                result = self._client().acquire_token_for_client(scopes=[GRAPH_SCOPE])
        except (requests.RequestException, ValueError) as exc:
            log.warning("graph: token endpoint unavailable (%s)", type(exc).__name__)
            raise GraphTokenError("unreachable") from None
        token = result.get("access_token") if isinstance(result, dict) else None
        if not token:
            code = result.get("error", "no_token") if isinstance(result, dict) else "no_token"
            log.warning("graph: no token from msal (%s)", code)
            raise GraphTokenError(str(code)[:80])
        return str(token)

    def drop_token(self) -> None:
        """Forget msal's cached token (Graph said 401): the next token is fetched anew."""
        with self._lock:
            self._app = None

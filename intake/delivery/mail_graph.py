"""Microsoft Graph transport for notices by e-mail (MELD_MAIL_TRANSPORT=graph).

`POST {MELD_GRAPH_URL}/v1.0/users/{MELD_GRAPH_MAILBOX}/sendMail` with the finished MIME
message, base64-encoded, as `Content-Type: text/plain` (Graph's MIME send; the message keeps
our Message-ID and headers). The app token comes from msal: a ConfidentialClientApplication
with client credentials against the single tenant `{MELD_GRAPH_AUTHORITY_URL}/{tenant}`,
scope `https://graph.microsoft.com/.default`; msal caches it. The app registration needs
the Mail.Send application permission, limited to the shared mailbox (README).

What an answer means for the outbox:

- 202: sent.
- 429 or 503 with Retry-After: throttled, nothing sent; retried after that many seconds.
- 401: the token went stale: a fresh one, and one more try now; then retried later.
- 403: the app may not send as the mailbox (permission, access policy): configuration,
  every mail fails the same way, so retried with backoff rather than dropped.
- other 4xx: permanent (`graph_http_<status>`).
- 5xx without Retry-After, a read timeout or a dropped connection after the request went
  out: Graph may have sent it (ambiguous); refused or unreachable before: retried.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
from email.message import EmailMessage
from urllib.parse import quote

import httpx
import requests

from intake.delivery.graph_auth import (  # noqa: F401 - re-exported for older callers
    GRAPH_SCOPE,
    RETRY_AFTER_MAX,
    CaBundleSession,
    GraphToken,
    GraphTokenError,
    graph_ssl,
    retry_after,
)
from intake.delivery.outbox import DeliveryError
from intake.settings import Settings

log = logging.getLogger("meld.mail.graph")


class GraphTransport:
    """sendMail from the shared mailbox with an app token from msal."""

    name = "graph"

    def __init__(self, settings: Settings, *, http_client: requests.Session | None = None
                 ) -> None:
        if not (settings.graph_tenant_id and settings.graph_client_id
                and settings.graph_client_secret and settings.graph_mailbox):
            raise ValueError("Graph needs MELD_GRAPH_TENANT_ID, _CLIENT_ID, _CLIENT_SECRET "
                             "and _MAILBOX")
        self.settings = settings
        self.tokens = GraphToken(settings, http_client=http_client)  # graph_auth.py
        self.http_client = self.tokens.http_client
        self.timeout = settings.mail_timeout_seconds
        self.url = (f"{settings.graph_url.rstrip('/')}/v1.0/users/"
                    f"{quote(settings.graph_mailbox, safe='@')}/sendMail")

    @property
    def authority(self) -> str:
        return self.tokens.authority

    def token_sync(self) -> str:
        """An app token (msal's cache first); raises GraphTokenError with a code."""
        return self.tokens.token_sync()

    def drop_token(self) -> None:
        """Forget msal's cached token (Graph said 401): the next token is fetched anew."""
        self.tokens.drop_token()

    def _ssl(self) -> ssl.SSLContext | bool:
        return graph_ssl(self.settings)

    async def _post(self, body: bytes) -> httpx.Response:
        try:
            token = await asyncio.to_thread(self.token_sync)
        except GraphTokenError as exc:
            raise DeliveryError(f"graph_token_{exc}"[:80]) from None
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"}
        try:
            async with httpx.AsyncClient(verify=self._ssl(), timeout=self.timeout,
                                         trust_env=False) as client:
                return await client.post(self.url, content=body, headers=headers)
        except (httpx.ConnectTimeout, httpx.PoolTimeout):
            raise DeliveryError("graph_connect_timeout") from None  # nothing was sent
        except httpx.TimeoutException:  # sent, no answer in time: Graph may have sent it
            raise DeliveryError("graph_timeout", ambiguous=True) from None
        except httpx.ConnectError:
            raise DeliveryError("graph_connection_error") from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            raise DeliveryError("graph_connection_dropped", ambiguous=True) from None
        except httpx.HTTPError:
            raise DeliveryError("graph_connection_error") from None

    async def send(self, message: EmailMessage, *, sender: str, to: str) -> None:
        body = base64.b64encode(message.as_bytes())  # the message's own policy (mail.py)
        response = await self._post(body)
        if response.status_code == 401:  # a token Graph no longer takes: one fresh try
            self.drop_token()
            response = await self._post(body)
        status = response.status_code
        if status in (200, 202):
            return
        wait = retry_after(response.headers)
        if status in (429, 503) and wait is not None:
            raise DeliveryError(f"graph_http_{status}", retry_after=wait)
        if status == 429:
            raise DeliveryError("graph_http_429")
        if status in (401, 403):
            raise DeliveryError(f"graph_http_{status}")  # configuration: retried with backoff
        if 400 <= status < 500:
            raise DeliveryError(f"graph_http_{status}", permanent=True)
        raise DeliveryError(f"graph_http_{status}", ambiguous=status >= 500)

    def check(self) -> None:
        """What `meld doctor` asks: a token from the Microsoft login; raises
        GraphTokenError with a code."""
        self.token_sync()

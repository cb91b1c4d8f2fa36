"""Outgoing Bot Connector calls: new activities, replies, updates, new conversations.

Every call carries the bot token from msal and goes only to an allow-listed serviceUrl
origin. Failures become ConnectorError with a code, whether they are worth retrying, and
whether they are ambiguous: the request went out and no answer came back (a read timeout,
a connection dropped mid-answer), so Teams may have posted the message. Nothing is resent
here; the caller (the outbox worker) decides, and for Teams it never resends blindly.
An HTTP status, 5xx included, is an answer: the Bot Connector says it did not post.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import quote

import httpx

from bot.teams.auth import BotTokens, ClientFactory, TokenError, origin

log = logging.getLogger("meld.teams.connector")

# the recipient cannot be reached, now or later
PERMANENT_STATUSES = frozenset({400, 403, 404})


class ConnectorError(Exception):
    def __init__(self, code: str, *, status: int | None = None, permanent: bool = False,
                 retry_after: float | None = None, ambiguous: bool = False) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.permanent = permanent
        self.retry_after = retry_after
        self.ambiguous = ambiguous


class Connector:
    """A small Bot Connector REST client (v3) over httpx."""

    def __init__(self, tokens: BotTokens, *, allowed_origins: frozenset[str],
                 client: ClientFactory) -> None:
        self.tokens = tokens
        self.allowed_origins = allowed_origins
        self.client = client
        self._pooled: tuple[asyncio.AbstractEventLoop, httpx.AsyncClient] | None = None

    def start(self) -> None:
        """Keep connections alive on the running loop (the server's, which also runs the
        outbox worker) until aclose(); calls from any other loop use a client of their own."""
        self._pooled = (asyncio.get_running_loop(), self.client())

    async def aclose(self) -> None:
        if self._pooled is not None:
            await self._pooled[1].aclose()
            self._pooled = None

    async def _request(self, method: str, url: str, body: dict[str, Any],
                       token: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        pooled = self._pooled
        if pooled is not None and pooled[0] is asyncio.get_running_loop():
            return await pooled[1].request(method, url, json=body, headers=headers)
        async with self.client() as client:
            return await client.request(method, url, json=body, headers=headers)

    def _url(self, service_url: str, path: str) -> str:
        if origin(service_url) not in self.allowed_origins:
            # never send the bot token to a host we do not know
            raise ConnectorError("serviceurl_not_allowed", permanent=True)
        return service_url.rstrip("/") + path

    async def _call(self, method: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            token = await self.tokens.token()
        except TokenError as exc:
            raise ConnectorError(f"token_{exc}") from None
        try:
            response = await self._request(method, url, body, token)
        except (httpx.ConnectTimeout, httpx.PoolTimeout):
            raise ConnectorError("connect_timeout") from None  # nothing was sent
        except httpx.TimeoutException:  # sent, and no answer in time: it may have posted
            raise ConnectorError("timeout", ambiguous=True) from None
        except httpx.ConnectError:
            raise ConnectorError("connection_error") from None
        except (httpx.RemoteProtocolError, httpx.ReadError):  # dropped after sending
            raise ConnectorError("connection_dropped", ambiguous=True) from None
        except httpx.HTTPError:
            raise ConnectorError("connection_error") from None
        if response.status_code >= 300:
            retry_after = None
            if response.status_code == 429:
                try:
                    retry_after = min(float(response.headers.get("Retry-After", "")), 3600.0)
                except ValueError:
                    retry_after = None
            raise ConnectorError(f"http_{response.status_code}", status=response.status_code,
                                 permanent=response.status_code in PERMANENT_STATUSES,
                                 retry_after=retry_after)
        try:
            data = response.json() if response.content else {}
        except ValueError:
            data = {}
        return data if isinstance(data, dict) else {}

    async def send(self, service_url: str, conversation_id: str,
                   activity: dict[str, Any]) -> dict[str, Any]:
        """POST a new activity to a conversation (proactive or channel post)."""
        path = f"/v3/conversations/{quote(conversation_id, safe='')}/activities"
        return await self._call("POST", self._url(service_url, path), activity)

    async def reply(self, service_url: str, conversation_id: str, activity_id: str,
                    activity: dict[str, Any]) -> dict[str, Any]:
        """POST a reply to an activity."""
        path = (f"/v3/conversations/{quote(conversation_id, safe='')}/activities/"
                f"{quote(activity_id, safe='')}")
        return await self._call("POST", self._url(service_url, path), activity)

    async def update(self, service_url: str, conversation_id: str, activity_id: str,
                     activity: dict[str, Any]) -> dict[str, Any]:
        """PUT: replace an activity the bot sent (a card update)."""
        path = (f"/v3/conversations/{quote(conversation_id, safe='')}/activities/"
                f"{quote(activity_id, safe='')}")
        return await self._call("PUT", self._url(service_url, path), activity)

    async def create_conversation(self, service_url: str, *, bot_id: str, user_id: str,
                                  tenant_id: str | None) -> str:
        """POST /v3/conversations: a personal chat with one user; returns its id."""
        body: dict[str, Any] = {"bot": {"id": bot_id}, "members": [{"id": user_id}],
                                "isGroup": False}
        if tenant_id:
            body["tenantId"] = tenant_id
            body["channelData"] = {"tenant": {"id": tenant_id}}
        data = await self._call("POST", self._url(service_url, "/v3/conversations"), body)
        conversation = data.get("id")
        if not isinstance(conversation, str) or not conversation:
            raise ConnectorError("no_conversation_id")
        return conversation

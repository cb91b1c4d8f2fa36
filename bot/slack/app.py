"""The Slack door: Bolt's AsyncApp over Socket Mode or HTTP (POST /slack/events)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import ClientOSError, ServerDisconnectedError
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.received import ReceivedEvents
from bot.slack import filing, payloads, suggestions
from bot.slack.group import SlackGroupNotifier
from bot.slack.listeners import SlackDoor, register
from bot.slack.newsletter import CHANNEL as SLACK_NEWSLETTER
from bot.slack.newsletter import SlackNewsletterNotifier
from bot.slack.notifier import SlackNotifier, slack_client
from intake import services
from intake.delivery.outbox import Notifier
from intake.i18n import Translator
from intake.settings import Settings

log = logging.getLogger("meld.slack")

_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^v0=[0-9a-f]{64}$")
ENVELOPE_TYPES = ("slash_commands", "interactive", "events_api")


@dataclass
class Slack:
    """The pieces create_app needs: the Bolt app, its client, its notifiers, its route."""

    app: AsyncApp
    client: AsyncWebClient
    notifiers: dict[str, Notifier]
    router: APIRouter | None
    app_token: str | None

    async def open_session(self) -> None:
        """From here the calls made on this loop share one aiohttp session and its kept
        connections, instead of a session, a connection and (to slack.com) a TLS handshake
        per call: the listeners' (views.open after /meld, views.update, ...) and the
        notifiers' (a receipt's DM, the triage channel's card; `LoopSessionClient`, so the
        notifiers still work from other loops). Call it in the loop that serves Slack (the
        app's lifespan); `close_session` when it stops."""
        if self.app.client.session is None:
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                keepalive_timeout=KEEPALIVE_SECONDS))
            self.app.client.session = session
            self.client.session = session

    async def close_session(self) -> None:
        session, self.app.client.session = self.app.client.session, None
        self.client.session = None
        if session is not None:
            await session.close()


# A kept connection idle this long is not used again: shorter than any web server's idle
# timeout (5 s is the shortest common one), so a DM, which is not sent again at once (the
# outbox retries it later), seldom meets a connection that Slack has closed.
KEEPALIVE_SECONDS = 4.0


# A kept connection that Slack closed while it sat idle fails the next call sent on it
# before Slack has it (disconnected, or reset by peer): that call is sent again at once on
# a new connection, once, so a /meld never loses its form to a stale connection.
STALE_CONNECTION_ERRORS: list[type[Exception]] = [ServerDisconnectedError, ClientOSError]


def listener_client(token: str, *, base_url: str | None, timeout: float) -> AsyncWebClient:
    """The Bolt app's client: its calls are sent again once after a stale connection
    (`STALE_CONNECTION_ERRORS`); the notifiers' client retries nothing (the outbox does)."""
    client = slack_client(token, base_url=base_url, timeout=timeout)
    client.retry_handlers = [AsyncConnectionErrorRetryHandler(
        max_retry_count=1, interval_calculator=FixedValueRetryIntervalCalculator(0.0),
        error_types=STALE_CONNECTION_ERRORS)]
    return client


def build_slack(settings: Settings, ctx: services.Context) -> Slack | None:
    """The Slack door, or None when no bot token is configured (Slack is off)."""
    if settings.slack_bot_token is None:
        return None
    # the notifiers' client: on the app's loop it shares the listeners' session while the
    # app runs (Slack.open_session); on any other loop (a command draining the outbox,
    # tests) slack_sdk opens a session per call
    token = settings.slack_bot_token.get_secret_value()
    client = slack_client(token, base_url=settings.slack_api_url,
                          timeout=settings.slack_timeout_seconds)
    secret = settings.slack_signing_secret
    app = AsyncApp(
        client=listener_client(token, base_url=settings.slack_api_url,
                               timeout=settings.slack_timeout_seconds),
        signing_secret=secret.get_secret_value() if secret else "",
        # the HTTP route verifies the signature itself, before it parses anything (Bolt
        # parses first); Socket Mode needs none. Without a secret there is no HTTP route.
        request_verification_enabled=False,
        ssl_check_enabled=False,
    )
    # a retry (X-Slack-Retry-Num) may reach another process or replica than the first
    # delivery: the claim is in the database, so every process knows the event
    seen = ReceivedEvents(ctx, "slack")

    @app.middleware
    async def deduplicate_retries(req: AsyncBoltRequest, resp: BoltResponse,
                                  next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse:
        event_id = req.body.get("event_id") if isinstance(req.body, dict) else None
        if event_id and not await seen.first_time(str(event_id)):
            retry = (req.headers.get("x-slack-retry-num") or ["?"])[0]
            log.info("slack event %s retry %s already received: acknowledged", event_id, retry)
            return BoltResponse(status=200, body="")
        return await next()

    door = SlackDoor(ctx=ctx, settings=settings)
    register(app, door)
    suggestions.register(app, door)  # the report form's suggestions and "me too"
    filing.register(app, door)  # the receipt's "Endre kategorien"
    notifiers: dict[str, Notifier] = {"slack": SlackNotifier(client,
                                                             timezone=settings.timezone,
                                                             taxonomy=ctx.taxonomy)}
    if settings.slack_triage_channel:
        notifiers["group"] = SlackGroupNotifier(
            client, channel_id=settings.slack_triage_channel, taxonomy=ctx.taxonomy,
            locale=settings.locale, timezone=settings.timezone, ctx=ctx)
    # the published tertial newsletter's announcement (intake.services.publish_newsletter)
    notifiers[SLACK_NEWSLETTER] = SlackNewsletterNotifier(
        client, Translator(settings.locale, settings.timezone))
    router = _http_router(app, secret.get_secret_value()) if secret is not None else None
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
    return Slack(app=app, client=client, notifiers=notifiers, router=router,
                 app_token=app_token)


def _http_router(app: AsyncApp, signing_secret: str) -> APIRouter:
    verifier = SignatureVerifier(signing_secret)
    router = APIRouter(include_in_schema=False)

    @router.post("/slack/events")
    async def slack_events(request: Request) -> Response:
        raw = await request.body()
        if not _signed(verifier, raw, request):
            log.warning("slack request refused: missing, stale or wrong signature")
            return JSONResponse({"code": "invalid_signature"}, status_code=401)
        try:
            body = payloads.parse_http(raw, request.headers.get("content-type", ""))
        except payloads.BadBody as err:
            log.warning("slack request refused: %s", err.code)
            return JSONResponse({"code": err.code}, status_code=400)
        refused = payloads.refusal(body)
        if refused is not None:
            log.warning("slack request refused: %s %s (%s)", refused.code, refused.where,
                        payloads.describe(body))
            return JSONResponse({"code": refused.code}, status_code=400)
        # Bolt gets the payload as Meld read it (canonical JSON), not the raw body: its own
        # parser takes a slash command whose text says "payload" for something else
        bolt_request = AsyncBoltRequest(body=json.dumps(body), query=request.query_params,
                                        headers={**request.headers,
                                                 "content-type": payloads.JSON})
        return to_starlette_response(await app.async_dispatch(bolt_request))

    return router


def _signed(verifier: SignatureVerifier, raw: bytes, request: Request) -> bool:
    """Slack's v0 signature over this body, at most five minutes old."""
    timestamp = request.headers.get("x-slack-request-timestamp", "")
    signature = request.headers.get("x-slack-signature", "")
    if not _TIMESTAMP.match(timestamp) or not _SIGNATURE.match(signature):
        return False  # the verifier fails on a timestamp that is not a number
    try:
        text = raw.decode("utf-8")  # Slack signs UTF-8; the verifier cannot hash other bytes
    except UnicodeDecodeError:
        return False
    return verifier.is_valid(body=text, timestamp=timestamp, signature=signature)


class SocketMode(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler with the door's check in front: an envelope Meld cannot
    read is logged by type and ids and left unacknowledged (as HTTP answers 400), and it
    never reaches Bolt, which would fail on it before any listener or error handler."""

    def __init__(self, app: AsyncApp, app_token: str) -> None:
        super().__init__(app, app_token)
        # read the raw envelope: slack_sdk's own request object fails on some payloads
        self.client.socket_mode_request_listeners.remove(self.handle)
        self.client.message_listeners.append(self._envelope)

    async def _envelope(self, client: AsyncBaseSocketModeClient, message: dict[str, Any],
                        raw: str | None) -> None:
        if "envelope_id" not in message:
            return  # hello, ping: not a request
        payload = message.get("payload")
        envelope_id = message.get("envelope_id")
        if message.get("type") not in ENVELOPE_TYPES:
            refused: payloads.Refusal | None = payloads.Refusal("unknown_envelope")
        elif not isinstance(envelope_id, str) or not envelope_id:
            refused = payloads.Refusal("bad_envelope_id")
        else:
            refused = payloads.refusal(payload)
        if refused is not None:
            log.warning("slack envelope refused: %s %s (%s)", refused.code, refused.where,
                        payloads.describe(payload))
            return
        request = SocketModeRequest.from_dict(message)
        if request is not None:
            await self.handle(client, request)  # type: ignore[arg-type]

"""The Slack door: Bolt's AsyncApp over Socket Mode or HTTP (POST /slack/events)."""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.group import SlackGroupNotifier
from bot.slack.listeners import SlackDoor, register
from bot.slack.notifier import SlackNotifier, slack_client
from intake import services
from intake.notify import Notifier
from intake.settings import Settings

log = logging.getLogger("meld.slack")

_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^v0=[0-9a-f]{64}$")
EVENT_MEMORY = 10_000
EVENT_TTL = 3600.0  # Slack retries for up to ~5 minutes


class SeenEvents:
    """Event ids already received, so a retried delivery is acknowledged, not re-run."""

    def __init__(self, size: int = EVENT_MEMORY, ttl: float = EVENT_TTL) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._size = size
        self._ttl = ttl

    def first_time(self, event_id: str) -> bool:
        now = time.monotonic()
        while self._seen and (len(self._seen) >= self._size
                              or next(iter(self._seen.values())) < now - self._ttl):
            self._seen.popitem(last=False)
        if event_id in self._seen:
            return False
        self._seen[event_id] = now
        return True


@dataclass
class Slack:
    """The pieces create_app needs: the Bolt app, its client, its notifiers, its route."""

    app: AsyncApp
    client: AsyncWebClient
    notifiers: dict[str, Notifier]
    router: APIRouter | None
    app_token: str | None


def build_slack(settings: Settings, ctx: services.Context) -> Slack | None:
    """The Slack door, or None when no bot token is configured (Slack is off)."""
    if settings.slack_bot_token is None:
        return None
    # slack_sdk opens an aiohttp session per call when given none: a little slower than a
    # shared pool, but a client that works from any event loop (the outbox worker, tests)
    client = slack_client(settings.slack_bot_token.get_secret_value(),
                          base_url=settings.slack_api_url,
                          timeout=settings.slack_timeout_seconds)
    secret = settings.slack_signing_secret
    app = AsyncApp(
        client=client,
        signing_secret=secret.get_secret_value() if secret else "",
        # without a signing secret only Socket Mode can deliver requests (it needs none)
        request_verification_enabled=secret is not None,
        ssl_check_enabled=False,
    )
    seen = SeenEvents()

    @app.middleware
    async def deduplicate_retries(req: AsyncBoltRequest, resp: BoltResponse,
                                  next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse:
        event_id = req.body.get("event_id") if isinstance(req.body, dict) else None
        if event_id and not seen.first_time(str(event_id)):
            retry = (req.headers.get("x-slack-retry-num") or ["?"])[0]
            log.info("slack event %s retry %s already received: acknowledged", event_id, retry)
            return BoltResponse(status=200, body="")
        return await next()

    register(app, SlackDoor(ctx=ctx, settings=settings))
    notifiers: dict[str, Notifier] = {"slack": SlackNotifier(client,
                                                             timezone=settings.timezone)}
    if settings.slack_triage_channel:
        notifiers["group"] = SlackGroupNotifier(
            client, channel_id=settings.slack_triage_channel, taxonomy=ctx.taxonomy,
            locale=settings.locale, timezone=settings.timezone)
    router = _http_router(app) if secret is not None else None
    token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
    return Slack(app=app, client=client, notifiers=notifiers, router=router, app_token=token)


def _http_router(app: AsyncApp) -> APIRouter:
    handler = AsyncSlackRequestHandler(app)
    router = APIRouter(include_in_schema=False)

    @router.post("/slack/events")
    async def slack_events(request: Request) -> Response:
        # Bolt answers 500 on some malformed headers: refuse them here with 401
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        signature = request.headers.get("x-slack-signature", "")
        if not _TIMESTAMP.match(timestamp) or not _SIGNATURE.match(signature):
            log.warning("slack request refused: malformed signature headers")
            return JSONResponse({"code": "invalid_signature"}, status_code=401)
        return await handler.handle(request)

    return router

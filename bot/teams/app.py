"""The Teams door: POST /api/messages (Bot Framework protocol), notifiers and the digest poster."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import httpx
import requests
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from microsoft_agents.activity import Activity
from pydantic import ValidationError

from bot.teams.auth import AuthError, BotAuthenticator, BotTokens, OpenIdKeys, ssl_context
from bot.teams.connector import Connector
from bot.teams.door import TeamsDoor
from bot.teams.newsletter import CHANNEL as TEAMS_NEWSLETTER
from bot.teams.newsletter import TeamsNewsletterNotifier
from bot.teams.notifier import (
    ChannelTarget,
    TeamsDigestPoster,
    TeamsGroupNotifier,
    TeamsNotifier,
)
from intake import services
from intake.delivery.conversations import ConversationStore
from intake.delivery.outbox import Notifier
from intake.i18n import Translator
from intake.settings import Settings

log = logging.getLogger("meld.teams")
TEAMS_CHANNEL = "msteams"


@dataclass
class Teams:
    """What create_app needs: the route, the notifiers, the digest poster, the door."""

    router: APIRouter
    notifiers: dict[str, Notifier]
    door: TeamsDoor
    authenticator: BotAuthenticator
    digest_poster: TeamsDigestPoster | None
    connector: Connector

    def start(self) -> None:
        """On the server's loop, at start-up: pooled connections to the Bot Connector."""
        self.connector.start()

    async def close(self) -> None:
        """At shutdown: finish background replies, close the connections."""
        await self.door.drain()
        await self.connector.aclose()


def build_teams(settings: Settings, ctx: services.Context, *,
                http_client: requests.Session | None = None) -> Teams | None:
    """The Teams door, or None when no app id and password are configured (Teams is off)."""
    if not settings.teams_enabled:
        return None
    assert settings.teams_app_id is not None
    # microsoft-agents-activity logs a refused activity's validation error at ERROR, with
    # the input values in it: those can be report text. Our own refusal line says enough.
    logging.getLogger("microsoft_agents.activity").setLevel(logging.CRITICAL)
    tls = ssl_context(settings)
    timeout = settings.teams_timeout_seconds

    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(verify=tls, timeout=timeout, follow_redirects=False)

    tokens = BotTokens(settings, http_client=http_client)
    keys = OpenIdKeys(settings.teams_openid_metadata_url, client=client)
    authenticator = BotAuthenticator(app_id=settings.teams_app_id, keys=keys,
                                     allowed_origins=settings.teams_service_origins)
    connector = Connector(tokens, allowed_origins=settings.teams_service_origins, client=client)
    store = ConversationStore(ctx.db)
    door = TeamsDoor(ctx=ctx, settings=settings, connector=connector, store=store)
    notifiers: dict[str, Notifier] = {
        "teams": TeamsNotifier(connector, store, tenant_id=settings.teams_tenant_id or "",
                               timezone=settings.timezone, taxonomy=ctx.taxonomy)}
    # the published tertial newsletter's announcement (intake.services.publish_newsletter)
    notifiers[TEAMS_NEWSLETTER] = TeamsNewsletterNotifier(
        connector, store, fallback_service_url=settings.teams_triage_service_url,
        tr=Translator(settings.locale, settings.timezone))
    poster = None
    if settings.teams_triage_conversation:
        target = ChannelTarget(store, settings.teams_triage_conversation,
                               settings.teams_triage_service_url)
        notifiers["group"] = TeamsGroupNotifier(connector, target, taxonomy=ctx.taxonomy,
                                                locale=settings.locale,
                                                timezone=settings.timezone, ctx=ctx)
        poster = TeamsDigestPoster(connector, target,
                                   Translator(settings.locale, settings.timezone))
    return Teams(router=_router(authenticator, door), notifiers=notifiers, door=door,
                 authenticator=authenticator, digest_poster=poster, connector=connector)


def _refused(code: str, status: int) -> JSONResponse:
    return JSONResponse({"code": code}, status_code=status)


# The longest ids the door stores (teams_conversations, audit_events): a longer one, or one
# with control characters, is no Teams id and would fail the write.
ID_LIMITS = {"from.id": 200, "from.aadObjectId": 100, "recipient.id": 200,
             "conversation.id": 300}


def _ids(activity: Activity) -> dict[str, str | None]:
    sender, recipient, conv = activity.from_property, activity.recipient, activity.conversation
    return {"from.id": sender.id if sender else None,
            "from.aadObjectId": sender.aad_object_id if sender else None,
            "recipient.id": recipient.id if recipient else None,
            "conversation.id": conv.id if conv else None}


class InvalidJson(Exception):
    """A body that is no JSON Meld can read."""


def parse_json(body: bytes) -> Any:
    """The body as JSON; InvalidJson for anything the parser refuses, however deep."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # syntax, encoding, nesting beyond the stack
        raise InvalidJson() from None


def _ids_fit(activity: Activity) -> bool:
    return all(value is None or (len(value) <= ID_LIMITS[path] and value.isprintable())
               for path, value in _ids(activity).items())


def parse_activity(body: bytes) -> Activity | None:
    """An activity the door can serve, or None (raises InvalidJson for a non-JSON body)."""
    raw: Any = parse_json(body)
    if not isinstance(raw, dict):
        return None
    try:
        activity = Activity.model_validate(raw)
    except (ValueError, ValidationError, RecursionError):
        return None
    if not activity.service_url or not activity.channel_id or not activity.type:
        return None
    if not _ids_fit(activity):
        return None
    return activity


def _router(authenticator: BotAuthenticator, door: TeamsDoor) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.post("/api/messages")
    async def messages(request: Request) -> Response:
        try:  # the token first: nobody without one gets the body parsed
            trusted = await authenticator.authenticate(request.headers.get("authorization"))
        except AuthError as err:
            log.warning("teams request refused: %s (%s)", err.code, err.status)
            return _refused(err.code, err.status)
        try:
            activity = parse_activity(await request.body())
        except InvalidJson:
            log.warning("teams request refused: body is not JSON")
            return _refused("invalid_json", 400)
        if activity is None:
            log.warning("teams request refused: not an activity")
            return _refused("invalid_activity", 400)
        try:
            authenticator.check_fit(trusted, service_url=activity.service_url,
                                    channel_id=activity.channel_id)
        except AuthError as err:
            log.warning("teams request refused: %s (%s)", err.code, err.status)
            return _refused(err.code, err.status)
        if activity.channel_id != TEAMS_CHANNEL:  # a genuine token for Web Chat, Skype, ...
            log.warning("teams request refused: channel %s", activity.channel_id[:40])
            return _refused("channel_not_supported", 403)
        status, body = await door.handle(activity)
        if body is None:
            return Response(status_code=status)
        return JSONResponse(body, status_code=status)

    return router

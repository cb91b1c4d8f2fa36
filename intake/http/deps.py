"""Request helpers shared by the HTTP routers and the app's error handlers: the service
context and the reader's language from a request, and the working group's bearer token as
a FastAPI dependency. Imports no router, so every router (and `ratelimit`) may import it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool as call

from intake import services
from intake.domain.model import Actor, PermissionDenied
from intake.i18n import Translator, from_accept_language


def ctx_of(request: Request) -> services.Context:
    return request.app.state.ctx


def translator_of(request: Request) -> Translator:
    ctx = ctx_of(request)
    lang = from_accept_language(request.headers.get("accept-language"), ctx.settings.locale)
    return Translator(lang, ctx.settings.timezone)


_bearer = HTTPBearer(auto_error=False, description="Token from `meld token create`")


async def group_actor(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The working-group member behind the bearer token."""
    if creds is None:
        raise PermissionDenied("invalid_token")
    actor = await call(services.authenticate_token, ctx=ctx_of(request), token=creds.credentials)
    if not actor.is_group:  # a token of a role that may not use the group's API: audited
        route = getattr(request.scope.get("route"), "name", "?")
        raise await call(services.deny, ctx=ctx_of(request), actor=actor, action=f"api:{route}")
    return actor


async def _ctx_dep(request: Request) -> services.Context:
    return ctx_of(request)


async def _tr_dep(request: Request) -> Translator:
    return translator_of(request)


Ctx = Annotated[services.Context, Depends(_ctx_dep)]
Group = Annotated[Actor, Depends(group_actor)]
Tr = Annotated[Translator, Depends(_tr_dep)]

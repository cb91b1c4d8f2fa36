"""What the group's board pages share: the board's session cookie (a server-side session,
see `intake.services.board`), its CSRF token, the guard every board page goes through and
rendering a board page. `board` (sign-in and the list) and `board_report` (one report and
its forms) import this; it imports `pages` only.

A request without a live session is sent to the sign-in page (never shown data); a
reporter's cookie is not a board session, so it gets the same. A reader may read, and a
change they post is refused (403) and audited.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from intake import services
from intake.domain.model import Actor
from intake.http.web.pages import ctx_of, in_thread, render_http_error, render_page, translator

BOARD_COOKIE = "meld_board"
SIGN_IN_PATH = "/gruppe/logg-inn"


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a board path only (never another site)."""
    if value and value.startswith("/gruppe") and "//" not in value and "\\" not in value:
        return value
    return "/gruppe"


def board_secret(request: Request) -> str | None:
    value = request.cookies.get(BOARD_COOKIE)
    return value if value and len(value) <= 100 else None


def board_csrf(request: Request, secret: str) -> str:
    key = ctx_of(request).secret_key
    return hmac.new(key, f"board-csrf:{secret}".encode(), hashlib.sha256).hexdigest()


def board_csrf_ok(request: Request, posted: str | None) -> bool:
    secret = board_secret(request)
    return bool(secret and posted) and hmac.compare_digest(board_csrf(request, secret),
                                                           str(posted))


async def board_actor(request: Request) -> Actor | None:
    """Who is signed in on the board with this request's cookie (None: nobody)."""
    return await in_thread(services.session_actor, ctx=ctx_of(request),
                           secret=board_secret(request))


def to_sign_in(request: Request) -> RedirectResponse:
    """Off to the sign-in page, with where to come back to."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{SIGN_IN_PATH}?neste={quote(target, safe='')}",
                            status_code=303)


def set_board_cookie(request: Request, response: Response, secret: str) -> None:
    """HttpOnly, SameSite=Lax (a link from chat or mail opens the board), Secure on HTTPS or
    behind a TLS proxy (base URL https). No max-age: it ends with the browser, and the
    server ends it on sign-out or idleness."""
    settings = ctx_of(request).settings
    secure = request.url.scheme == "https" or settings.base_url.startswith("https://")
    response.set_cookie(BOARD_COOKIE, secret, httponly=True, samesite="lax", secure=secure,
                        path="/gruppe")


def render_board(request: Request, actor: Actor, name: str, status_code: int = 200,
                 **context: Any) -> HTMLResponse:
    """A board page: who is signed in, what they may do, and the board's CSRF token."""
    secret = board_secret(request) or ""
    return render_page(request, name, status_code=status_code, board_user=actor,
                       can_change=actor.is_group, board_csrf=board_csrf(request, secret),
                       **context)


def form_expired(request: Request) -> HTMLResponse:
    """A board form posted without this session's CSRF token: 403, change nothing. Checked
    before the session, so a forged post never even gets the sign-in redirect."""
    tr = translator(request)
    return render_page(request, "error.html", status_code=403,
                       title=tr("The form has expired"),
                       text=tr("Reload the page and try again."))


async def group_post(request: Request, action: str, *,
                     known: bool = True) -> tuple[Any, Actor] | Response:
    """A change posted on the board: the form and the group member posting it, or the answer
    when it may not go on: 403 for a form without this session's CSRF token (checked first,
    so a forged post never even gets the sign-in redirect), the sign-in page without a
    session, 404 for what is not `known`, and 403 (audited as `action`) for a reader."""
    form = await request.form()
    if not board_csrf_ok(request, str(form.get("csrf", ""))):
        return form_expired(request)
    actor = await board_actor(request)
    if actor is None:
        return to_sign_in(request)
    if not known:
        return render_http_error(request, 404)
    if not actor.is_group:
        return await refused_change(request, actor, action)
    return form, actor


async def refused_change(request: Request, actor: Actor, action: str) -> HTMLResponse:
    """A reader (or anyone else who may not) posting a change: 403, and audited."""
    await in_thread(services.deny, ctx=ctx_of(request), actor=actor, action=f"board:{action}")
    tr = translator(request)
    return render_board(request, actor, "error.html", status_code=403,
                        title=tr("Read only"),
                        text=tr("You can read the board but not change anything. Ask "
                                "Forbedringsgruppen if you need to."))

"""What every server-rendered page of the web door shares: the templates, the reporter's
pseudonymous session cookie and its CSRF token, rendering a page in the visitor's
language, the error pages (the composition root renders its HTTP errors with
`render_http_error`), and the favicon every page links to. The other modules of
`intake.http.web` and `intake.app` import this; it imports none of them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from intake import services
from intake.i18n import Translator
from intake.texts import error_text

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
# the templates ship with the package: no stat() of every template file on every render
templates.env.auto_reload = False

SESSION_COOKIE = "meld_session"

router = APIRouter(include_in_schema=False)


def ctx_of(request: Request) -> services.Context:
    """The service context the composition root put on the app."""
    return request.app.state.ctx


def translator(request: Request) -> Translator:
    """The visitor's language: ?lang=, else the language cookie, else Meld's default."""
    ctx = ctx_of(request)
    lang = request.query_params.get("lang") or request.cookies.get("meld_lang")
    if not lang:
        lang = ctx.settings.locale
    return Translator(lang, ctx.settings.timezone)


def browser_session(request: Request) -> tuple[str, bool]:
    """The browser's pseudonymous session value, and whether it is new."""
    value = request.cookies.get(SESSION_COOKIE, "")
    if len(value) == 43 and value.replace("-", "").replace("_", "").isalnum():
        return value, False
    return secrets.token_urlsafe(32), True


def reporter_identity(value: str) -> str:
    """The reporter identity of a browser session (a hash: the cookie is never stored)."""
    return "web:" + hashlib.sha256(value.encode()).hexdigest()[:24]


def _csrf_token(ctx: services.Context, session_value: str) -> str:
    return hmac.new(ctx.secret_key, f"csrf:{session_value}".encode(), hashlib.sha256).hexdigest()


def _set_session(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, value, max_age=60 * 60 * 24 * 365, httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )


def render_page(request: Request, name: str, status_code: int = 200,
                **context: Any) -> HTMLResponse:
    """A template in the visitor's language, with the CSRF token; sets the session cookie
    on a browser's first page and the language cookie when ?lang= chose one."""
    tr = context.pop("tr", None) or translator(request)
    session_value, new = browser_session(request)
    ctx = ctx_of(request)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "_": tr,
            "tr": tr,
            "lang": tr.locale,
            "csrf": _csrf_token(ctx, session_value),
            **context,
        },
        status_code=status_code,
    )
    if new:
        _set_session(response, request, session_value)
    if request.query_params.get("lang") in ("nb", "en"):
        response.set_cookie("meld_lang", tr.locale, max_age=60 * 60 * 24 * 365,
                            samesite="strict", httponly=True)
    return response


def check_csrf(request: Request, posted: str | None) -> bool:
    value = request.cookies.get(SESSION_COOKIE)
    if not value or not posted:
        return False
    return hmac.compare_digest(_csrf_token(ctx_of(request), value), posted)


def csrf_refused(request: Request) -> HTMLResponse:
    tr = translator(request)
    return render_page(request, "error.html", status_code=403, tr=tr,
                       title=tr("The form has expired"),
                       text=tr("For your safety the form must be sent from this page. "
                               "Go back, reload the page and send again: your text is still "
                               "there if you use the browser's back button."))


async def in_thread(fn: Any, **kwargs: Any) -> Any:
    """Run a (blocking) service call in the thread pool."""
    return await run_in_threadpool(fn, **kwargs)


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    return FileResponse(STATIC_DIR / "favicon.ico", media_type="image/x-icon",
                        headers={"Cache-Control": "public, max-age=604800"})


def render_http_error(request: Request, status_code: int) -> HTMLResponse:
    tr = translator(request)
    if status_code == 404:
        title, text = tr("Not found"), tr("There is nothing here. Check the link you were given.")
    elif status_code == 503:
        title, text = tr("Meld is unavailable"), error_text("database_unavailable", tr)
    elif status_code == 413:
        title = tr("Too much to send")
        text = tr("What you sent is larger than 1 MB, so nothing was stored. Go back with "
                  "the browser's back button (your text is still there), shorten it and "
                  "send again.")
    else:
        title, text = tr("Something went wrong"), tr("The request could not be handled.")
    response = render_page(request, "error.html", status_code=status_code, tr=tr,
                           title=title, text=text)
    if status_code == 503:
        response.headers["Retry-After"] = "10"
    return response

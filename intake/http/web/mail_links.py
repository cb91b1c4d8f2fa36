"""The link in every notice by e-mail that stops them: /status/{token}/epost-av.

GET shows a small page asking to confirm (a link opened by a mail scanner must not stop
anything); POST stops e-mail notices for that report. A mail client's one-click POST
(RFC 8058, body `List-Unsubscribe=One-Click`) lands on the same POST. There is no CSRF
token on purpose: the private status token in the path is the capability, and whoever holds
it could post anyway; all a forged request could do is stop mails the link's holder may
stop. An unknown token is the usual 404 page. Only `intake.app` imports this (its router).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from intake import services
from intake.domain.model import NotFound
from intake.http.web.pages import ctx_of, in_thread, render_http_error, render_page, translator

router = APIRouter(include_in_schema=False)

ONE_CLICK = "List-Unsubscribe=One-Click"
MAX_BODY = 4096  # a one-click body is 26 bytes; the confirm form's is empty


@router.get("/status/{token}/epost-av", response_class=HTMLResponse)
async def confirm_page(request: Request, token: str) -> HTMLResponse:
    ctx = ctx_of(request)
    try:
        state = await in_thread(services.email_notices, ctx=ctx, token=token)
    except NotFound:
        return render_http_error(request, 404)
    return render_page(request, "mail_stop.html", tr=translator(request),
                       reference=state.reference, on=state.on, stopped=False, token=token)


@router.post("/status/{token}/epost-av", response_class=HTMLResponse)
async def stop(request: Request, token: str) -> HTMLResponse:
    body = (await request.body())[:MAX_BODY]
    via = "one_click" if ONE_CLICK.encode() in body else "page"
    ctx = ctx_of(request)
    try:
        state = await in_thread(services.stop_email_notices, ctx=ctx, token=token, via=via)
    except NotFound:
        return render_http_error(request, 404)
    return render_page(request, "mail_stop.html", tr=translator(request),
                       reference=state.reference, on=False, stopped=True, token=token)

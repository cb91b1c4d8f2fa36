"""The tertial newsletter on the web: its public page and the group's work on it.

    GET  /nyhetsbrev/{slug}              the published newsletter, one self-contained page
                                         (the stable link; anyone with it may read it)
    GET  /nyhetsbrev/{slug}.pdf          the same as PDF
    GET  /gruppe/nyhetsbrev?tertial=...  the board: pick a tertial, read the draft, edit the
                                         title, introduction and items, approve, publish
    GET  /gruppe/nyhetsbrev/forhandsvis?tertial=...[&format=pdf]
                                         the newsletter as it stands, as it will look
    POST /gruppe/nyhetsbrev/rediger      title, introduction, the items ticked
    POST /gruppe/nyhetsbrev/utkast       build the draft afresh (an approved one: back to
                                         draft)
    POST /gruppe/nyhetsbrev/godkjenn     the signed-in member approves it (by name)
    POST /gruppe/nyhetsbrev/publiser     publish it: the page, Slack, Teams, e-mail, once
                                         each, and the contributors' notices

Readers read the board and the preview; a change they post is refused and audited. Board
forms carry the board's CSRF token. Only `intake.app` imports this.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from intake import services
from intake.domain import periods
from intake.domain.model import DomainError, ValidationFailed
from intake.http.web.board_common import (
    board_actor,
    group_post,
    render_board,
    to_sign_in,
)
from intake.http.web.pages import ctx_of, in_thread, render_http_error, translator
from intake.http.web.report_link import REPORT_CSP
from intake.i18n import N_, Translator
from intake.reporting.newsletter import DEFAULT_TITLE, NewsletterView
from intake.reporting.newsletter_render import item_lines, render_html
from intake.texts import domain_error_text
from intake.texts_newsletter import (
    PUBLICATION_STATES,
    STATUS_LABELS,
    findings_text,
)

router = APIRouter(include_in_schema=False)
BOARD_PATH = "/gruppe/nyhetsbrev"
TERTIALS_SHOWN = 6
PUBLIC_HEADERS = {"Content-Security-Policy": REPORT_CSP, "Cache-Control": "public, max-age=300",
                  "X-Robots-Tag": "noindex"}
DONE = {"edited": N_("The newsletter was saved."),
        "approved": N_("The newsletter was approved."),
        "published": N_("The newsletter was published. The posts go out now."),
        "drafted": N_("The draft was built afresh from the reports.")}


# ---------------------------------------------------------------- the public page


def _pdf(view: NewsletterView, tr: Translator) -> bytes:
    """The PDF, with fpdf2 imported only when one is asked for (it adds some 30 MB to a
    process that never makes one)."""
    from intake.reporting.newsletter_pdf import render_pdf

    return render_pdf(view, tr)


@router.get("/nyhetsbrev/{slug}.pdf")
async def public_pdf(request: Request, slug: str) -> Response:
    view = await in_thread(services.public_newsletter, ctx=ctx_of(request), slug=slug)
    if view is None:
        return render_http_error(request, 404)
    tr = translator(request)
    data = await in_thread(_pdf, view=view, tr=tr)
    return Response(data, media_type="application/pdf", headers={
        **PUBLIC_HEADERS,
        "Content-Disposition": f'inline; filename="nyhetsbrev-{view.tertial}.pdf"'})


@router.get("/nyhetsbrev/{slug}", response_class=HTMLResponse)
async def public_page(request: Request, slug: str) -> Response:
    view = await in_thread(services.public_newsletter, ctx=ctx_of(request), slug=slug)
    if view is None:
        return render_http_error(request, 404)
    return HTMLResponse(render_html(view, translator(request)), headers=PUBLIC_HEADERS)


# ---------------------------------------------------------------- the board


def _tertials(request: Request) -> list[periods.Period]:
    tr = translator(request)
    shown = [periods.tertial_of(ctx_of(request).today(), tr)]
    while len(shown) < TERTIALS_SHOWN:
        shown.append(periods.previous_period(shown[-1], tr))
    return shown


def _chosen(request: Request, value: str | None) -> str:
    """The tertial asked for, else the last one that has ended."""
    if value:
        return value.strip()[:20]
    return _tertials(request)[1].key


def _items(view: NewsletterView, tr: Any) -> list[dict[str, Any]]:
    return [{"key": item.key, "category": item.category, "good": item.section == "good",
             "lines": item_lines(item, tr), "included": item.key in view.included,
             "flagged": item.flagged, "blocked": item.blocked,
             "findings": findings_text(item.findings, tr),
             "references": item.references}
            for item in view.content.items]


async def _page(request: Request, actor: Any, tertial: str, *, status_code: int = 200,
                errors: list[str] | None = None, notice: str | None = None,
                form: dict[str, str] | None = None) -> HTMLResponse:
    ctx = ctx_of(request)
    tr = translator(request)
    statuses = await in_thread(services.newsletter_statuses, ctx=ctx, actor=actor)
    choices = [(p.key, p.label, tr(STATUS_LABELS[statuses[p.key]]) if p.key in statuses
                else "") for p in _tertials(request)]
    try:
        view = await in_thread(services.newsletter, ctx=ctx, actor=actor, tertial=tertial)
    except ValidationFailed as exc:
        return render_board(request, actor, "board_newsletter.html", status_code=404,
                            choices=choices, tertial=tertial, view=None,
                            errors=[domain_error_text(exc, tr)])
    publications = [(p.channel.partition(":")[0], tr(PUBLICATION_STATES[p.state]), p.error)
                    for p in view.publications]
    return render_board(
        request, actor, "board_newsletter.html", status_code=status_code, choices=choices,
        tertial=view.tertial, view=view, title=view.title(tr), items=_items(view, tr),
        default_title=tr(DEFAULT_TITLE, period=view.period_label),
        status_label=tr(STATUS_LABELS[view.status]), publications=publications,
        channels=services.newsletter_channels(ctx.settings), errors=errors or [],
        notice=notice, form=form or {}, quoted=quote(view.tertial, safe=""),
        public_link=services.newsletter_url(ctx, view.slug))


@router.get(BOARD_PATH, response_class=HTMLResponse)
async def board_page(request: Request) -> Response:
    actor = await board_actor(request)
    if actor is None:
        return to_sign_in(request)
    tertial = _chosen(request, request.query_params.get("tertial"))
    notice = request.query_params.get("ok")
    tr = translator(request)
    return await _page(request, actor, tertial,
                       notice=tr(DONE[notice]) if notice in DONE else None)


@router.get(BOARD_PATH + "/forhandsvis")
async def preview(request: Request) -> Response:
    actor = await board_actor(request)
    if actor is None:
        return to_sign_in(request)
    tr = translator(request)
    try:
        view = await in_thread(services.newsletter, ctx=ctx_of(request), actor=actor,
                               tertial=_chosen(request, request.query_params.get("tertial")))
    except ValidationFailed:
        return render_http_error(request, 404)
    if request.query_params.get("format") == "pdf":
        data = await in_thread(_pdf, view=view, tr=tr)
        return Response(data, media_type="application/pdf", headers={
            "Cache-Control": "no-store", "Content-Security-Policy": REPORT_CSP,
            "Content-Disposition": f'inline; filename="nyhetsbrev-{view.tertial}.pdf"'})
    return HTMLResponse(render_html(view, tr), headers={
        "Cache-Control": "no-store", "Content-Security-Policy": REPORT_CSP})


def _revision(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


async def _change(request: Request, action: str) -> Response:
    posted = await group_post(request, f"newsletter_{action}")
    if isinstance(posted, Response):
        return posted
    form, actor = posted
    ctx = ctx_of(request)
    tertial = str(form.get("tertial", ""))[:20]
    revision = _revision(form.get("revision"))
    typed: dict[str, str] = {}
    try:
        if action == "edit":
            typed = {"title": str(form.get("title", ""))[:1000],
                     "introduction": str(form.get("introduction", ""))[:20000]}
            await in_thread(services.edit_newsletter, ctx=ctx, actor=actor, tertial=tertial,
                            title=typed["title"], introduction=typed["introduction"],
                            included=[str(k) for k in form.getlist("item")],
                            revision=revision)
            done = "edited"
        elif action == "draft":
            await in_thread(services.draft_newsletter, ctx=ctx, actor=actor, tertial=tertial)
            done = "drafted"
        elif action == "approve":
            await in_thread(services.approve_newsletter, ctx=ctx, actor=actor,
                            tertial=tertial, revision=revision)
            done = "approved"
        else:
            await in_thread(services.publish_newsletter, ctx=ctx, actor=actor,
                            tertial=tertial)
            done = "published"
    except DomainError as exc:
        tr = translator(request)
        status = 422 if isinstance(exc, ValidationFailed) else exc.http_status
        return await _page(request, actor, tertial or _chosen(request, None),
                           status_code=status, errors=[domain_error_text(exc, tr)], form=typed)
    return RedirectResponse(f"{BOARD_PATH}?tertial={quote(tertial, safe='')}&ok={done}",
                            status_code=303)


@router.post(BOARD_PATH + "/rediger", response_class=HTMLResponse)
async def edit(request: Request) -> Response:
    return await _change(request, "edit")


@router.post(BOARD_PATH + "/utkast", response_class=HTMLResponse)
async def redraft(request: Request) -> Response:
    return await _change(request, "draft")


@router.post(BOARD_PATH + "/godkjenn", response_class=HTMLResponse)
async def approve(request: Request) -> Response:
    return await _change(request, "approve")


@router.post(BOARD_PATH + "/publiser", response_class=HTMLResponse)
async def publish(request: Request) -> Response:
    return await _change(request, "publish")

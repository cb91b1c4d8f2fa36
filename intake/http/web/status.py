"""The reporter's own pages: a report's status page behind its private link (the receipt
right after sending, the news, the dialog and the answer form), and "Mine meldinger"
(/mine: the reports this browser sent, with marks for news since the last visit). Only
`intake.app` imports this (for its router).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from intake import services
from intake.domain.model import (
    Actor,
    CategorySource,
    DomainError,
    FieldError,
    NotFound,
    Role,
    Status,
    ValidationFailed,
)
from intake.http.web.pages import (
    browser_session,
    check_csrf,
    csrf_refused,
    ctx_of,
    in_thread,
    render_http_error,
    render_page,
    reporter_identity,
    translator,
)
from intake.i18n import N_, Translator
from intake.texts import (
    KIND_LABELS,
    RATING_LABELS,
    SEVERITY_LABELS,
    STATUS_LABELS,
    domain_error_text,
    field_error_text,
    label,
    notice_links,
    notification_text,
    receipt_lines,
)
from intake.texts_filing import category_name, offered_choice, receipt_fields

SEEN_COOKIE = "meld_seen"
VISIT_GAP = timedelta(minutes=30)  # requests closer than this belong to one visit of /mine

router = APIRouter(include_in_schema=False)


@router.get("/status/{token}", response_class=HTMLResponse)
def status_page(request: Request, token: str) -> HTMLResponse:
    ctx = ctx_of(request)
    tr = translator(request)
    try:
        _actor, view = services.find_by_status_token(ctx=ctx, token=token)
    except NotFound:
        return render_http_error(request, 404)
    return _status(request, view, tr)


def _status(request: Request, view: services.ReportView, tr: Translator, *,
            answer: str = "", errors: list[FieldError] | None = None,
            status_code: int = 200, rating_form: dict[str, str] | None = None,
            rating_errors: list[str] | None = None,
            category_error: str | None = None) -> HTMLResponse:
    ctx = ctx_of(request)
    token = services.status_token_for(ctx, view.reference)
    rating = services.rating_for(ctx=ctx, status_token=token)
    delivered = services.delivered_notices(ctx=ctx, reference=view.reference)
    notices = [(when, notification_text(event, payload, tr, "web", links=False), body,
                notice_links(payload))
               for when, event, payload, body in delivered]
    # words the group sent with a status change are shown once, under that news
    with_notice = {payload.get("message_id") for _w, _e, payload, body in delivered if body}
    messages = [msg for msg in view.messages if msg.id not in with_notice]
    receipt = None
    link = None
    # the reporter may file it under another category until the group has assessed it
    category_change = (f"/status/{token}/kategori"
                       if view.category_source != CategorySource.GROUP
                       and view.status != Status.CLOSED else None)
    fresh = request.query_params.get("ny") == "1"
    filed = (services.receipt_for(ctx=ctx, reference=view.reference)
             if fresh or (category_change and view.category_source == CategorySource.NONE)
             else None)
    if fresh and filed is not None:
        receipt = receipt_lines(filed, tr)
        link = f"{ctx.settings.base_url.rstrip('/')}/status/{token}"
    # left uncategorized: Meld's suggestion, taken with one button
    offer = (offered_choice(ctx.taxonomy, receipt_fields(filed), tr)
             if category_change and filed is not None else None)
    errs = errors or []
    return render_page(
        request, "status.html", status_code=status_code, tr=tr, view=view, receipt=receipt,
        link=link, notices=notices, messages=messages,
        status_label=label(STATUS_LABELS, view.status, tr),
        kind_label=label(KIND_LABELS, view.kind, tr),
        severity_label=label(SEVERITY_LABELS, view.reported_severity, tr),
        category_label=category_name(ctx.taxonomy, view.category, view.subcategory, tr),
        category_note=tr(CATEGORY_NOTES[view.category_source])
        if view.category_source in CATEGORY_NOTES else "",
        category_change=category_change, category_offer=offer,
        category_choices=_category_choices(ctx, tr), category_error=category_error,
        place_label=ctx.taxonomy.place_label(view.place, tr.locale),
        answer=answer, answer_errors=[(field_error_text(e, tr), e.warning) for e in errs],
        has_warnings=any(e.warning for e in errs), answer_invalid=any(not e.warning for e in errs),
        rating=rating, rating_labels=[(code, tr(text)) for code, text in RATING_LABELS.items()],
        rating_answer=label(RATING_LABELS, rating.answer, tr),
        rating_until=tr.date(ctx.local_date(rating.open_until)) if rating.open_until else "",
        rating_action=f"/status/{token}/nyttig#nyttig",
        rating_form=rating_form or {"answer": rating.answer or "",
                                    "comment": rating.comment or ""},
        rating_errors=rating_errors or [], max_rating_comment=services.MAX_RATING_COMMENT,
    )


# what the status page says of a category the reporter did not choose
CATEGORY_NOTES = {
    CategorySource.SUGGESTED: N_("Suggested by Meld from your text. Change it if it is "
                                 "wrong."),
    CategorySource.NONE: N_("Forbedringsgruppen chooses the category. You may choose it "
                            "yourself."),
}


def _category_choices(ctx: services.Context,
                      tr: Translator) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(value, label, [(value, label)]) of every category a reporter may choose, with
    its subcategories as "category/subcategory" (the form's values)."""
    return [(c.id, c.label(tr.locale),
             [(f"{c.id}/{s.id}", s.label(tr.locale)) for s in c.subcategories if s.active])
            for c in ctx.taxonomy.active_categories()]


async def _reporter_post(request: Request, token: str) -> Response | tuple[
        Any, Actor, services.ReportView]:
    """A form posted on a status page: its fields, the reporter (the token is their
    capability) and their report; or the answer to a post refused (CSRF, unknown token)."""
    form_data = await request.form()
    if not check_csrf(request, str(form_data.get("csrf", ""))):
        return csrf_refused(request)
    try:
        actor, view = await in_thread(services.find_by_status_token, ctx=ctx_of(request),
                                      token=token)
    except NotFound:
        return render_http_error(request, 404)
    return form_data, actor, view


@router.post("/status/{token}/kategori", response_class=HTMLResponse)
async def change_category(request: Request, token: str) -> Response:
    """The reporter chooses the category on the status page (the web receipt's "endre")."""
    posted = await _reporter_post(request, token)
    if isinstance(posted, Response):
        return posted
    form_data, actor, view = posted
    ctx = ctx_of(request)
    tr = translator(request)
    choice = str(form_data.get("category", ""))[:130]
    try:
        await in_thread(services.change_category_to, ctx=ctx, actor=actor,
                        reference=view.reference, choice=choice)
    except ValidationFailed as exc:
        message = "; ".join(field_error_text(e, tr) for e in exc.errors)
        return _status(request, view, tr, category_error=message, status_code=422)
    except DomainError as exc:
        return _status(request, view, tr, category_error=domain_error_text(exc, tr),
                       status_code=exc.http_status)
    return RedirectResponse(f"/status/{token}#kategori", status_code=303)


@router.post("/status/{token}/nyttig", response_class=HTMLResponse)
async def rate(request: Request, token: str) -> Response:
    """"Var svaret nyttig?" from the status page: the token is the reporter's capability."""
    form_data = await request.form()
    if not check_csrf(request, str(form_data.get("csrf", ""))):
        return csrf_refused(request)
    ctx = ctx_of(request)
    tr = translator(request)
    values = {"answer": str(form_data.get("answer", ""))[:20],
              "comment": str(form_data.get("comment", ""))[:20000]}
    try:
        await in_thread(services.rate_answer, ctx=ctx, status_token=token,
                        answer=values["answer"], comment=values["comment"])
    except NotFound:
        return render_http_error(request, 404)
    except DomainError as exc:
        _actor, view = await in_thread(services.find_by_status_token, ctx=ctx, token=token)
        return _status(request, view, tr, rating_form=values,
                       rating_errors=[domain_error_text(exc, tr)],
                       status_code=exc.http_status)
    return RedirectResponse(f"/status/{token}#nyttig", status_code=303)


@router.post("/status/{token}", response_class=HTMLResponse)
async def answer(request: Request, token: str) -> Response:
    posted = await _reporter_post(request, token)
    if isinstance(posted, Response):
        return posted
    form_data, actor, view = posted
    ctx = ctx_of(request)
    tr = translator(request)
    text = str(form_data.get("text", ""))[:20000]
    try:
        await in_thread(services.reporter_answer, ctx=ctx, actor=actor,
                        reference=view.reference, text=text,
                        confirm_warnings=form_data.get("confirm_warnings") == "on")
    except ValidationFailed as exc:
        return _status(request, view, tr, answer=text, errors=exc.errors, status_code=422)
    return RedirectResponse(f"/status/{token}", status_code=303)


def _seen(request: Request, now: datetime) -> tuple[datetime | None, str]:
    """The end of the browser's previous visit to /mine, and the cookie value to set.

    The cookie holds two epoch seconds, "baseline:last": the end of the previous visit and
    the latest request. Requests less than VISIT_GAP apart are one visit, so a reload does
    not wipe the marks; a later request starts a new visit whose baseline is the last one.
    """
    baseline: datetime | None = None
    last: datetime | None = None
    first, colon, second = request.cookies.get(SEEN_COOKIE, "").partition(":")
    if colon and first.isascii() and first.isdigit() and second.isascii() and second.isdigit():
        try:
            baseline = datetime.fromtimestamp(int(first), UTC) if int(first) else None
            last = datetime.fromtimestamp(int(second), UTC)
        except (ValueError, OverflowError, OSError):  # not a time this side of year 9999
            baseline = last = None
    if last is not None and not (timedelta(0) <= now - last < VISIT_GAP):
        baseline = last  # a new visit: news is what came after the previous one
    stamp = int(baseline.timestamp()) if baseline else 0
    return baseline, f"{stamp}:{int(now.timestamp())}"


@router.get("/mine", response_class=HTMLResponse)
def mine(request: Request) -> HTMLResponse:
    ctx = ctx_of(request)
    tr = translator(request)
    value, new = browser_session(request)
    actor = Actor(reporter_identity(value), Role.REPORTER)
    rows = [] if new else services.list_my_reports(ctx=ctx, actor=actor)
    news = {} if new else services.last_group_activity(ctx=ctx, actor=actor)
    now = ctx.clock()
    baseline, cookie = _seen(request, now)
    items = [
        (r, label(STATUS_LABELS, r.status, tr), ctx.taxonomy.category_label(r.category, tr.locale),
         services.status_token_for(ctx, r.reference),
         r.reference in news and (baseline is None or news[r.reference] > baseline))
        for r in rows
    ]
    response = render_page(request, "mine.html", tr=tr, items=items,
                           news_count=sum(1 for item in items if item[-1]))
    response.set_cookie(SEEN_COOKIE, cookie, max_age=60 * 60 * 24 * 365, path="/mine",
                        httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response

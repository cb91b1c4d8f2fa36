"""The web form's suggestions and "Dette har skjedd meg også" (intake.services.public).

    GET  /meld/lignende     up to three open reports like the one being written (category,
                            place, text so far): an HTML fragment the form's script shows
    POST /meld/ogsa/{ref}   the form's "this happened to me too" button (it posts the whole
                            form here: its date and place go with the +1, its text is never
                            read or stored); then a page with the private follow link
    GET  /fulgt/{token}     a follower's private page: the report's title, status, and what
                            was learned once it is closed

Only `intake.app` imports this (for its router).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from intake import services
from intake.domain.model import Actor, Conflict, NotFound, Role, ValidationFailed
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
from intake.i18n import Translator
from intake.texts import KIND_LABELS, STATUS_LABELS, domain_error_text, field_error_text, label

router = APIRouter(include_in_schema=False)
log = logging.getLogger("meld.web")



def suggestion_rows(ctx: services.Context, found: tuple[services.Suggestion, ...],
                    tr: Translator) -> list[dict[str, Any]]:
    """What the form shows of each suggestion: the title and coded fields only."""
    return [{"reference": s.reference, "title": s.title,
             "kind": label(KIND_LABELS, s.kind, tr),
             "category": ctx.taxonomy.category_label(s.category, tr.locale),
             "place": ctx.taxonomy.place_label(s.place, tr.locale) if s.place else "",
             "status": label(STATUS_LABELS, s.status, tr), "plus_ones": s.plus_ones}
            for s in found]


def form_suggestions(ctx: services.Context, values: dict[str, Any],
                     tr: Translator) -> list[dict[str, Any]]:
    """The suggestions for a form as filled in (a refused form shows them again). None
    when the database cannot be read: the form, with what was typed, matters more."""
    try:
        found = services.suggestions(ctx=ctx, category=values.get("category") or None,
                                     place=values.get("place") or None,
                                     text=str(values.get("description") or ""))
    except SQLAlchemyError as exc:
        log.warning("form suggestions unavailable (%s)", type(exc).__name__)
        return []
    return suggestion_rows(ctx, found, tr)


@router.get("/meld/lignende", response_class=HTMLResponse)
async def similar_fragment(request: Request) -> Response:
    q = request.query_params
    ctx = ctx_of(request)
    tr = translator(request)
    values = {"category": q.get("category", "")[:64], "place": q.get("place", "")[:64],
              "description": q.get("text", "")[:services.MAX_TYPED]}
    rows = await in_thread(form_suggestions, ctx=ctx, values=values, tr=tr)
    response = render_page(request, "form_suggestions.html", suggestions=rows)
    response.headers["Cache-Control"] = "no-store"
    return response


def category_guesses(ctx: services.Context, text: str,
                     tr: Translator) -> list[dict[str, str]]:
    """Meld's category suggestions for a text, as the form shows them (best first): the
    labels, the "category/subcategory" value of the form's list, and the words they rest
    on. None when the database cannot be read (the form works without them)."""
    try:
        found = services.suggest_category(ctx, text[:services.MAX_TYPED], limit=3)
    except SQLAlchemyError as exc:
        log.warning("category suggestions unavailable (%s)", type(exc).__name__)
        return []
    rows = []
    for guess in found:
        name = ctx.taxonomy.category_label(guess.category, tr.locale)
        if guess.subcategory:
            sub = ctx.taxonomy.subcategory_label(guess.category, guess.subcategory, tr.locale)
            name = f"{name} › {sub}"
        rows.append({"category": guess.category, "label": name,
                     "subcategory": (f"{guess.category}/{guess.subcategory}"
                                     if guess.subcategory else ""),
                     "words": ", ".join(guess.words)})
    return rows


@router.get("/meld/kategori", response_class=HTMLResponse)
async def category_fragment(request: Request) -> Response:
    """The form's live category suggestion for the text so far (an HTML fragment)."""
    ctx = ctx_of(request)
    tr = translator(request)
    text = request.query_params.get("text", "")[:services.MAX_TYPED]
    guesses = await in_thread(category_guesses, ctx=ctx, text=text, tr=tr)
    response = render_page(request, "form_category_hint.html", category_guesses=guesses)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/meld/ogsa/{reference}", response_class=HTMLResponse)
async def me_too(request: Request, reference: str) -> Response:
    form = await request.form()
    if not check_csrf(request, str(form.get("csrf", ""))):
        return csrf_refused(request)
    tr = translator(request)
    ctx = ctx_of(request)
    occurred = str(form.get("occurred_on", ""))[:10]
    try:
        occurred_on = date.fromisoformat(occurred) if occurred else None
    except ValueError:
        occurred_on = None
    session_value, _new = browser_session(request)
    actor = Actor(reporter_identity(session_value), Role.REPORTER)
    try:
        count, token = await in_thread(
            services.me_too, ctx=ctx, actor=actor, reference=reference,
            occurred_on=occurred_on, place=str(form.get("place", ""))[:64] or None)
    except (NotFound, ValidationFailed) as exc:
        if isinstance(exc, NotFound) or any(e.field == "reference" for e in exc.errors):
            return render_http_error(request, 404)  # no such report to say "me too" to
        message = "; ".join(field_error_text(e, tr) for e in exc.errors)
        return render_page(request, "me_too.html", status_code=422, error=message)
    except Conflict as exc:
        return render_page(request, "me_too.html", status_code=409,
                           error=domain_error_text(exc, tr), reference=reference.upper())
    return render_page(request, "me_too.html", reference=reference.upper(), count=count,
                       follow_url=(f"{ctx.settings.base_url.rstrip('/')}/fulgt/{token}"
                                   if token else None))


@router.get("/fulgt/{token}", response_class=HTMLResponse)
async def followed(request: Request, token: str) -> Response:
    ctx = ctx_of(request)
    tr = translator(request)
    found = await in_thread(services.followed_report, ctx=ctx, token=token)
    if found is None:
        return render_http_error(request, 404)
    [row] = suggestion_rows(ctx, (found,), tr)
    response = render_page(request, "followed.html", s=row,
                           learning_point=found.learning_point)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response

"""One report on the group's board (/gruppe/sak/{reference}): the coded fields, the text,
the whole story on one timeline, and every triage action as a form.

    GET  /gruppe/sak/{reference}            the page (the read is audited)
    POST /gruppe/sak/{reference}/{action}   status, assess, assign, reply, ask, note,
                                            redirect, duplicate, close, reopen

A change that works goes back to the page (303); a refused one shows the page again with
the reason next to that form and what was typed still in it. A reader's POST is refused and
audited. Only `intake.app` imports this (for its router).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from babel.numbers import format_decimal
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from intake import services
from intake.domain.model import (
    TRANSITIONS,
    DomainError,
    NotFound,
    RedirectTarget,
    Severity,
    Status,
    ValidationFailed,
)
from intake.http.web.board_common import (
    board_actor,
    group_post,
    render_board,
    to_sign_in,
)
from intake.http.web.pages import ctx_of, in_thread, render_http_error, translator
from intake.i18n import N_, Translator
from intake.texts import (
    KIND_LABELS,
    MEASURE_STATUS_LABELS,
    REDIRECT_LABELS,
    SEVERITY_LABELS,
    STATUS_LABELS,
    domain_error_text,
    field_error_text,
    label,
    similar_reasons_text,
)
from intake.texts_filing import group_category_text

router = APIRouter(include_in_schema=False)

# statuses a plain status move may reach (the others have their own forms)
MOVABLE = (Status.TRIAGE, Status.IN_PROGRESS, Status.REJECTED)
MAX_FIELD = 20000

MESSAGE_LABELS = {
    ("group", "reply"): N_("Answer to the reporter"),
    ("group", "question"): N_("Question to the reporter"),
    ("reporter", "answer"): N_("From the reporter"),
    ("internal", "note"): N_("Internal note"),
}
EVENT_LABELS = {
    "received": N_("Received"),
    "assessed": N_("Assessed"),
    "assigned": N_("Assignee changed"),
    "status_changed": N_("Status changed"),
    "plus_one": N_("Another doctor has seen the same (+1)"),
    "measure_created": N_("Measure added"),
    "measure_updated": N_("Measure updated"),
    "measure_reminded": N_("The measure's owner was reminded"),
}


def _bool(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


# action -> (the form's fields, the service call with them)
ACTIONS: dict[str, tuple[tuple[str, ...], Callable[..., Any]]] = {
    "status": (("status", "message"), lambda v, **k: services.move_status(
        status=v["status"], message=v["message"] or None, **k)),
    "assess": (("category", "assessed_severity", "agreement_reference",
                "guideline_breached"), lambda v, **k: services.assess(
        category=v["category"] or None, assessed_severity=v["assessed_severity"] or None,
        agreement_reference=v["agreement_reference"] or None,
        guideline_breached=_bool(v["guideline_breached"]), **k)),
    "assign": (("assignee",), lambda v, **k: services.assign(
        assignee=v["assignee"].strip() or None, **k)),
    "reply": (("text",), lambda v, **k: services.reply(text=v["text"], **k)),
    "ask": (("question",), lambda v, **k: services.request_info(question=v["question"], **k)),
    "note": (("note",), lambda v, **k: services.add_note(text=v["note"], **k)),
    "redirect": (("target", "external_reference", "redirect_message"),
                 lambda v, **k: services.redirect(
                     target=v["target"], external_reference=v["external_reference"] or None,
                     message=v["redirect_message"] or None, **k)),
    "duplicate": (("duplicate_of",), lambda v, **k: services.mark_duplicate(
        duplicate_of=v["duplicate_of"].strip().upper(), **k)),
    "close": (("learning_point", "measure"), lambda v, **k: services.close(
        learning_point=v["learning_point"], measure=v["measure"], **k)),
    "reopen": ((), lambda v, **k: services.reopen(**k)),
    "title": (("public_title",), lambda v, **k: services.set_public_title(
        title=v["public_title"], **k)),
    "measure": (("measure_description", "owner", "due_on"), lambda v, reference, **k:
                services.create_measure(references=[reference],
                                        description=v["measure_description"],
                                        owner=v["owner"], due_on=v["due_on"], **k)),
    "measure-status": (("measure_id", "measure_status"), lambda v, reference, **k:
                       services.update_measure(measure_id=_number(v["measure_id"]),
                                               status=v["measure_status"] or None, **k)),
}


def _number(value: str) -> int:
    if not value.isdigit() or len(value) > 9:
        raise NotFound("measure_not_found")
    return int(value)


@router.get("/gruppe/sak/{reference}", response_class=HTMLResponse)
async def report_page(request: Request, reference: str) -> Response:
    actor = await board_actor(request)
    if actor is None:
        return to_sign_in(request)
    return await _page(request, actor, reference)


@router.post("/gruppe/sak/{reference}/{action}", response_class=HTMLResponse)
async def act(request: Request, reference: str, action: str) -> Response:
    posted = await group_post(request, action, known=action in ACTIONS)
    if isinstance(posted, Response):
        return posted
    form, actor = posted
    fields, call = ACTIONS[action]
    values = {name: str(form.get(name, ""))[:MAX_FIELD] for name in fields}
    tr = translator(request)
    try:
        view = await in_thread(partial(call, values), ctx=ctx_of(request), actor=actor,
                               reference=reference)
    except NotFound:
        return render_http_error(request, 404)
    except ValidationFailed as exc:
        errors = [field_error_text(err, tr) for err in exc.errors]
        return await _page(request, actor, reference, failed=action, values=values,
                           errors=errors, status_code=422)
    except DomainError as exc:
        return await _page(request, actor, reference, failed=action, values=values,
                           errors=[domain_error_text(exc, tr)], status_code=exc.http_status)
    reference = getattr(view, "reference", None) or reference.strip().upper()
    return RedirectResponse(f"/gruppe/sak/{reference}?gjort={action}#historikk",
                            status_code=303)


async def _page(request: Request, actor: Any, reference: str, *, failed: str | None = None,
                values: dict[str, str] | None = None, errors: list[str] | None = None,
                status_code: int = 200) -> Response:
    ctx = ctx_of(request)
    tr = translator(request)
    try:
        view, entries = await in_thread(services.report_timeline, ctx=ctx, actor=actor,
                                        reference=reference)
        measures = await in_thread(services.list_measures, ctx=ctx, actor=actor,
                                   reference=view.reference)
        similar = await in_thread(services.similar_reports, ctx=ctx, actor=actor,
                                  reference=view.reference)
        analyses = await in_thread(services.analyses_of_report, ctx=ctx, actor=actor,
                                   reference=view.reference)
    except (NotFound, ValidationFailed):
        return render_http_error(request, 404)
    return render_board(
        request, actor, "board_report.html", status_code=status_code, r=view,
        fields=_fields(ctx, view, tr), timeline=[_entry(e, tr) for e in entries],
        failed=failed, values=values or {}, errors=errors or [],
        done=request.query_params.get("gjort") if failed is None else None,
        moves=[(s.value, label(STATUS_LABELS, s, tr)) for s in MOVABLE
               if s in TRANSITIONS[Status(view.status)]],
        categories=[(c.id, c.label(tr.locale)) for c in ctx.taxonomy.active_categories()],
        severities=[(s.value, label(SEVERITY_LABELS, s, tr)) for s in Severity],
        targets=[(t.value, label(REDIRECT_LABELS, t, tr)) for t in RedirectTarget],
        measures=measures, today=ctx.today().isoformat(), analyses=analyses,
        similar=[_similar(ctx, s, tr) for s in similar],
        measure_statuses=[(k, tr(v)) for k, v in MEASURE_STATUS_LABELS.items()],
        # a refused form is shown again with what was typed, even if it no longer fits
        allowed=_allowed(Status(view.status)) | ({failed} if failed else set()))


def _allowed(current: Status) -> set[str]:
    """The actions to offer on a report in this status (the services refuse the others). A
    received report moves to triage by itself when the group acts on it."""
    if current is Status.CLOSED:
        return {"reopen", "note", "measure", "title"}
    reachable = set(TRANSITIONS[current])
    if current is Status.RECEIVED:
        reachable |= TRANSITIONS[Status.TRIAGE]
    wanted = {"ask": Status.NEEDS_INFO, "redirect": Status.REDIRECTED,
              "duplicate": Status.DUPLICATE, "close": Status.CLOSED}
    return {"status", "assess", "assign", "reply", "note", "measure", "title"} | {
        action for action, target in wanted.items() if target in reachable}


def _fields(ctx: services.Context, r: services.ReportView, tr: Translator) -> list[tuple[str, str]]:
    place = ctx.taxonomy.place_label(r.place, tr.locale) if r.place else ""
    if r.place_text:
        place = f"{place} ({r.place_text})" if place else r.place_text
    rows = [
        (tr("Kind"), label(KIND_LABELS, r.kind, tr)),
        (tr("Category"), group_category_text(ctx.taxonomy, r, tr)),
        (tr("Status"), label(STATUS_LABELS, r.status, tr)),
        (tr("Occurred"), tr.date(r.occurred_on)),
        (tr("Received"), tr.datetime(r.reported_at, "short")),
        (tr("Place"), place),
        (tr("Severity (reporter)"), label(SEVERITY_LABELS, r.reported_severity, tr)),
        (tr("Severity (assessed)"), label(SEVERITY_LABELS, r.assessed_severity, tr)
         if r.assessed_severity else ""),
        (tr("Assignee"), r.assignee or ""),
        (tr("Public title"), r.public_title or ""),
        (tr("Came by"), r.channel),
        (tr("Others who saw the same (+1)"), str(r.plus_ones)),
        (tr("Learning point"), r.learning_point or ""),
        (tr("Measure"), r.measure or ""),
    ]
    return [(name, value) for name, value in rows if value]


def _similar(ctx: services.Context, s: services.SimilarReport,
             tr: Translator) -> dict[str, Any]:
    v = s.view
    return {"reference": v.reference, "status": label(STATUS_LABELS, v.status, tr),
            "active": s.active, "score": format_decimal(s.score, "0.00", locale=tr.babel_locale),
            "category": ctx.taxonomy.category_label(v.category, tr.locale),
            "place": ctx.taxonomy.place_label(v.place, tr.locale) if v.place else "",
            "reasons": similar_reasons_text(s.reasons, tr)}


def _entry(e: services.TimelineEntry, tr: Translator) -> dict[str, Any]:
    if e.event == "message":
        title = tr(MESSAGE_LABELS.get((e.direction or "", e.purpose or ""),
                                      N_("Message")))
        who = e.actor if e.direction != "reporter" else None
    else:
        title = tr(EVENT_LABELS.get(e.event, N_("Change")))
        who = e.actor
    detail = ""
    if e.event == "status_changed":
        detail = "{} → {}".format(label(STATUS_LABELS, e.details.get("previous"), tr),
                                  label(STATUS_LABELS, e.details.get("status"), tr))
    elif e.event == "received":
        detail = tr("by {channel}", channel=e.details.get("channel", ""))
    elif e.event.startswith("measure_"):
        detail = tr("no. {number}", number=e.details.get("measure_id", ""))
        if e.event == "measure_updated" and e.details.get("status"):
            detail += ": " + label(MEASURE_STATUS_LABELS, e.details["status"], tr)
    return {"when": tr.datetime(e.at, "short"), "title": title, "who": who or "",
            "detail": detail, "body": e.body, "internal": e.direction == "internal"}

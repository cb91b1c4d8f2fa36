"""Incident analyses on the board (hendelsesanalyse after the IS-0583 guide).

    GET  /gruppe/analyser                     the analyses, and a form to open one on one
                                              or more reports (?sak=REF fills it in)
    POST /gruppe/analyser                     open one
    GET  /gruppe/analyser/{id}                the guide's seven steps, each with its form
    POST /gruppe/analyser/{id}/{action}       mandate, comparison, follow-up, event,
                                              event-remove, cause, cause-remove, measure,
                                              report, status
    GET  /gruppe/analyser/{id}/rapport.html   the report: one self-contained, printable file
    GET  /gruppe/analyser/{id}/rapport.pdf    the same as PDF

Every read is audited by the service (an export as "export"). Readers read; their POST is
refused and audited. A refused form is shown again with the reason beside it and what was
typed still in it; a guard warning asks for a confirmation. Only `intake.app` imports this.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from intake import services
from intake.domain.analysis import (
    ANALYSIS_EDITABLE,
    ANALYSIS_TRANSITIONS,
    FOLLOW_UP_EDITABLE,
    AnalysisStatus,
    CauseCategory,
)
from intake.domain.model import DomainError, NotFound, ValidationFailed
from intake.http.web.board_common import (
    board_actor,
    group_post,
    render_board,
    to_sign_in,
)
from intake.http.web.pages import ctx_of, in_thread, render_http_error, translator
from intake.http.web.report_link import REPORT_CSP
from intake.i18n import Translator
from intake.texts import KIND_LABELS, MEASURE_STATUS_LABELS, STATUS_LABELS, label
from intake.texts_analysis import (
    ANALYSIS_MOVE_LABELS,
    ANALYSIS_STATUS_LABELS,
    CAUSE_LABELS,
    analysis_error_text,
    analysis_field_error,
    cause_label,
    status_label,
)

router = APIRouter(include_in_schema=False)
MAX_FIELD = 20000
REFERENCE = re.compile(r"MELD-\d{4}-\d{4,}", re.IGNORECASE)
CONFIRM = "confirm_warnings"


def _number(value: str) -> int:
    if not value.isdigit() or len(value) > 9:
        raise NotFound("analysis_part_not_found")
    return int(value)


def _sections(*names: str) -> Callable[..., Any]:
    return lambda v, **k: services.update_analysis(**{n: v[n] for n in names}, **k)


# action -> (the form's fields, the service call with them)
ACTIONS: dict[str, tuple[tuple[str, ...], Callable[..., Any]]] = {
    "mandate": (("title", "mandate", "team"), _sections("title", "mandate", "team")),
    "comparison": (("what_happened", "what_should_have_happened"),
                   _sections("what_happened", "what_should_have_happened")),
    "follow-up": (("follow_up",), _sections("follow_up")),
    "event": (("happened_on", "happened_time", "event_description"),
              lambda v, **k: services.add_event(
                  happened_on=v["happened_on"], happened_time=v["happened_time"] or None,
                  description=v["event_description"], **k)),
    "event-remove": (("event_id",), lambda v, confirm_warnings, **k: services.remove_event(
        event_id=_number(v["event_id"]), **k)),
    "cause": (("cause_category", "cause_description"), lambda v, **k: services.add_cause(
        category=v["cause_category"], description=v["cause_description"], **k)),
    "cause-remove": (("cause_id",), lambda v, confirm_warnings, **k: services.remove_cause(
        cause_id=_number(v["cause_id"]), **k)),
    "measure": (("measure_description", "owner", "due_on"),
                lambda v, **k: services.add_analysis_measure(
                    description=v["measure_description"], owner=v["owner"],
                    due_on=v["due_on"], **k)),
    "report": (("reference",), lambda v, confirm_warnings, **k: services.add_analysis_report(
        reference=v["reference"].strip().upper(), **k)),
    "status": (("status",), lambda v, confirm_warnings, **k: services.set_analysis_status(
        status=v["status"], **k)),
}
ANCHORS = {"mandate": "steg-1", "report": "steg-1", "event": "steg-2", "event-remove": "steg-2",
           "comparison": "steg-3", "cause": "steg-4", "cause-remove": "steg-4",
           "measure": "steg-5", "status": "steg-6", "follow-up": "steg-7"}


def _errors(exc: DomainError, tr: Translator) -> tuple[list[str], bool]:
    """The words of a refusal, and whether it is only warnings the group may confirm."""
    if isinstance(exc, ValidationFailed):
        return [analysis_field_error(e, tr) for e in exc.errors], exc.only_warnings
    return [analysis_error_text(exc, tr)], False


# ---------------------------------------------------------------- the list and opening one


@router.get("/gruppe/analyser", response_class=HTMLResponse)
async def analyses_page(request: Request) -> Response:
    actor = await board_actor(request)
    if actor is None:
        return to_sign_in(request)
    given = request.query_params.get("sak", "")[:200]
    return await _list(request, actor, values={"references": " ".join(REFERENCE.findall(given))})


async def _list(request: Request, actor: Any, *, values: dict[str, str],
                errors: list[str] | None = None, warnings_only: bool = False,
                status_code: int = 200) -> Response:
    ctx = ctx_of(request)
    tr = translator(request)
    analyses = await in_thread(services.list_analyses, ctx=ctx, actor=actor)
    return render_board(
        request, actor, "board_analyses.html", status_code=status_code,
        analyses=[(a, status_label(a.status, tr)) for a in analyses], values=values,
        errors=errors or [], warnings_only=warnings_only)


@router.post("/gruppe/analyser", response_class=HTMLResponse)
async def open_analysis(request: Request) -> Response:
    posted = await group_post(request, "analysis")
    if isinstance(posted, Response):
        return posted
    form, actor = posted
    values = {k: str(form.get(k, ""))[:MAX_FIELD] for k in ("references", "title", "mandate",
                                                              "team")}
    tr = translator(request)
    try:
        view = await in_thread(
            services.open_analysis, ctx=ctx_of(request), actor=actor,
            references=re.split(r"[\s,;]+", values["references"]), title=values["title"],
            mandate=values["mandate"], team=values["team"],
            confirm_warnings=form.get(CONFIRM) == "on")
    except DomainError as exc:  # a reference that is no report's is the form's fault too
        errors, warnings_only = _errors(exc, tr)
        return await _list(request, actor, values=values, errors=errors,
                           warnings_only=warnings_only,
                           status_code=422 if isinstance(exc, NotFound) else exc.http_status)
    return RedirectResponse(f"/gruppe/analyser/{view.id}?gjort=open", status_code=303)


# ---------------------------------------------------------------- one analysis


@router.get("/gruppe/analyser/{analysis_id}", response_class=HTMLResponse)
async def analysis_page(request: Request, analysis_id: str) -> Response:
    actor = await board_actor(request)
    if actor is None:
        return to_sign_in(request)
    return await _page(request, actor, analysis_id)


@router.post("/gruppe/analyser/{analysis_id}/{action}", response_class=HTMLResponse)
async def act(request: Request, analysis_id: str, action: str) -> Response:
    known = action in ACTIONS and analysis_id.isdigit() and len(analysis_id) <= 9
    posted = await group_post(request, f"analysis-{action}", known=known)
    if isinstance(posted, Response):
        return posted
    form, actor = posted
    fields, call = ACTIONS[action]
    values = {name: str(form.get(name, ""))[:MAX_FIELD] for name in fields}
    tr = translator(request)
    try:
        await in_thread(partial(call, values), ctx=ctx_of(request), actor=actor,
                        analysis_id=int(analysis_id),
                        confirm_warnings=form.get(CONFIRM) == "on")
    except NotFound as exc:
        if exc.code == "analysis_not_found":
            return render_http_error(request, 404)
        return await _page(request, actor, analysis_id, failed=action, values=values,
                           errors=_errors(exc, tr)[0], status_code=404)
    except DomainError as exc:
        errors, warnings_only = _errors(exc, tr)
        return await _page(request, actor, analysis_id, failed=action, values=values,
                           errors=errors, warnings_only=warnings_only,
                           status_code=exc.http_status)
    return RedirectResponse(f"/gruppe/analyser/{analysis_id}?gjort={action}"
                            f"#{ANCHORS[action]}", status_code=303)


async def _page(request: Request, actor: Any, analysis_id: str, *, failed: str | None = None,
                values: dict[str, str] | None = None, errors: list[str] | None = None,
                warnings_only: bool = False, status_code: int = 200) -> Response:
    ctx = ctx_of(request)
    tr = translator(request)
    if not analysis_id.isdigit() or len(analysis_id) > 9:
        return render_http_error(request, 404)
    try:
        a = await in_thread(services.get_analysis, ctx=ctx, actor=actor,
                            analysis_id=int(analysis_id))
    except NotFound:
        return render_http_error(request, 404)
    status = AnalysisStatus(a.status)
    order = {c.value: i for i, c in enumerate(CauseCategory)}
    return render_board(
        request, actor, "board_analysis.html", status_code=status_code, a=a,
        status=status_label(a.status, tr), failed=failed, values=values or {},
        errors=errors or [], warnings_only=warnings_only,
        done=request.query_params.get("gjort") if failed is None else None,
        editable=status in ANALYSIS_EDITABLE, follow_up_editable=status in FOLLOW_UP_EDITABLE,
        reports=[_report(ctx, r, tr) for r in a.reports],
        events=[(e, _when(e, tr)) for e in a.events],
        causes=[(c, cause_label(c.category, tr)) for c in
                sorted(a.causes, key=lambda c: (order.get(c.category, 99), c.id))],
        categories=[(c.value, tr(text)) for c, text in CAUSE_LABELS.items()],
        measures=[(ms, label(MEASURE_STATUS_LABELS, ms.status, tr)) for ms in a.measures],
        moves=[(s.value, tr(ANALYSIS_MOVE_LABELS[s])) for s in AnalysisStatus
               if s in ANALYSIS_TRANSITIONS[status]],
        statuses=[(s.value, tr(text)) for s, text in ANALYSIS_STATUS_LABELS.items()],
        today=ctx.today().isoformat())


def _when(e: services.AnalysisEventView, tr: Translator) -> str:
    day = tr.date(e.happened_on)
    return f"{day} {e.happened_time.strftime('%H:%M')}" if e.happened_time else day


def _report(ctx: services.Context, r: services.ReportView, tr: Translator) -> dict[str, str]:
    return {"reference": r.reference, "kind": label(KIND_LABELS, r.kind, tr),
            "category": ctx.taxonomy.category_label(r.category, tr.locale),
            "occurred": tr.date(r.occurred_on, "short"),
            "status": label(STATUS_LABELS, r.status, tr)}


# ---------------------------------------------------------------- the report


async def _export(request: Request, analysis_id: str, fmt: str) -> tuple[Response | None, Any]:
    """The analysis read for an export (audited as one), or the response that refuses it."""
    actor = await board_actor(request)
    if actor is None:
        return to_sign_in(request), None
    if not analysis_id.isdigit() or len(analysis_id) > 9:
        return render_http_error(request, 404), None
    try:
        view = await in_thread(services.get_analysis, ctx=ctx_of(request), actor=actor,
                               analysis_id=int(analysis_id), export=fmt)
    except NotFound:
        return render_http_error(request, 404), None
    return None, view


@router.get("/gruppe/analyser/{analysis_id}/rapport.html", response_class=HTMLResponse)
async def report_html(request: Request, analysis_id: str) -> Response:
    refused, view = await _export(request, analysis_id, "html")
    if refused is not None:
        return refused
    from intake.reporting.analysis_report import outline, render_analysis_html

    tr = translator(request)
    html = render_analysis_html(outline(view, ctx_of(request).taxonomy, tr), tr)
    return HTMLResponse(html, headers={
        "Content-Disposition": f'inline; filename="{view.reference}.html"',
        "Content-Security-Policy": REPORT_CSP, "Cache-Control": "no-store"})


@router.get("/gruppe/analyser/{analysis_id}/rapport.pdf")
async def report_pdf(request: Request, analysis_id: str) -> Response:
    refused, view = await _export(request, analysis_id, "pdf")
    if refused is not None:
        return refused
    from intake.reporting.analysis_report import outline, render_analysis_pdf

    tr = translator(request)
    data = await in_thread(render_analysis_pdf,
                           doc=outline(view, ctx_of(request).taxonomy, tr), tr=tr)
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{view.reference}.pdf"',
        "Cache-Control": "no-store"})

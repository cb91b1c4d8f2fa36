"""The group's meeting on the board (/gruppe/mote) and its reports.

    GET  /gruppe/mote?dato=YYYY-MM-DD   the agenda: new inputs since the last meeting and
                                        how each was answered, what is in process, the
                                        measures due; prints on A4 (the print stylesheet)
    POST /gruppe/mote                   the group sets a meeting date
    GET  /gruppe/mote/vedlegg?dato=...  the same as one self-contained HTML file to attach
                                        to the minutes (downloaded); &format=docx: a Word
                                        file (python-docx)
    GET  /gruppe/rapport[/{period}]     the tertial or annual report (the same document as
                                        behind `/triage rapport`'s link)
    GET  /gruppe/ukesammendrag?uke=...  the weekly digest as the channel gets it

Readers read all of it; only the group sets dates. Only `intake.app` imports this.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from intake import services
from intake.domain.model import DomainError, ValidationFailed
from intake.http.web.board_common import (
    board_actor,
    group_post,
    render_board,
    to_sign_in,
)
from intake.http.web.pages import ctx_of, in_thread, templates, translator
from intake.http.web.report_link import REPORT_CSP
from intake.texts import STATUS_LABELS, field_error_text, label

router = APIRouter(include_in_schema=False)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "").strip()[:10]) if value else None
    except ValueError:
        return None


def _rows(ctx: services.Context, items: Any, agenda: services.Agenda, tr: Any) -> list[dict]:
    return [{"reference": r.reference, "received": tr.date(tr.local_date(r.reported_at), "short"),
             "category": ctx.taxonomy.category_label(r.category, tr.locale),
             "status": label(STATUS_LABELS, r.status, tr), "overdue": r.feedback_overdue,
             "answered": (tr.date(tr.local_date(agenda.answered[r.reference]), "short")
                          if r.reference in agenda.answered else "")}
            for r in items]


async def _context(request: Request, actor: Any) -> dict[str, Any]:
    ctx = ctx_of(request)
    tr = translator(request)
    agenda = await in_thread(services.agenda, ctx=ctx, actor=actor,
                             meeting=_day(request.query_params.get("dato")))
    dates = await in_thread(services.meetings, ctx=ctx, actor=actor)
    return {"agenda": agenda, "dates": dates, "new": _rows(ctx, agenda.new, agenda, tr),
            "busy": _rows(ctx, agenda.in_process, agenda, tr),
            "measures": agenda.measures_due}


@router.get("/gruppe/mote", response_class=HTMLResponse)
async def meeting_page(request: Request) -> Response:
    actor = await board_actor(request)
    if actor is None:
        return to_sign_in(request)
    return render_board(request, actor, "board_meeting.html", **await _context(request, actor),
                        errors=[])


@router.post("/gruppe/mote", response_class=HTMLResponse)
async def set_meeting(request: Request) -> Response:
    posted = await group_post(request, "meeting")
    if isinstance(posted, Response):
        return posted
    form, actor = posted
    held_on = str(form.get("held_on", ""))[:20]
    try:
        day = await in_thread(services.add_meeting, ctx=ctx_of(request), actor=actor,
                              held_on=held_on)
    except ValidationFailed as exc:
        tr = translator(request)
        return render_board(request, actor, "board_meeting.html", status_code=422,
                            **await _context(request, actor), held_on=held_on,
                            errors=[field_error_text(e, tr) for e in exc.errors])
    return RedirectResponse(f"/gruppe/mote?dato={day.isoformat()}", status_code=303)


@router.get("/gruppe/mote/vedlegg", response_class=HTMLResponse)
async def meeting_attachment(request: Request) -> Response:
    actor = await board_actor(request)
    if actor is None:
        return to_sign_in(request)
    values = await _context(request, actor)
    tr = translator(request)
    name = f"moete-{values['agenda'].meeting.isoformat()}"
    if request.query_params.get("format") == "docx":
        from intake.reporting.meeting_docx import agenda_docx

        data = await in_thread(agenda_docx, agenda=values["agenda"], new=values["new"],
                               busy=values["busy"], tr=tr)
        return Response(data, media_type=DOCX, headers={
            "Content-Disposition": f'attachment; filename="{name}.docx"',
            "Cache-Control": "no-store"})
    html = templates.get_template("board_meeting_file.html").render(
        _=tr, tr=tr, lang=tr.locale, **values)
    return HTMLResponse(html, headers={
        "Content-Disposition": f'attachment; filename="{name}.html"',
        "Content-Security-Policy": REPORT_CSP, "Cache-Control": "no-store"})


@router.get("/gruppe/rapport", response_class=HTMLResponse)
async def reports_page(request: Request) -> Response:
    actor = await board_actor(request)
    if actor is None:
        return to_sign_in(request)
    from intake.domain.periods import previous_period, tertial_of

    ctx = ctx_of(request)
    tr = translator(request)
    current = tertial_of(ctx.today(), tr)
    choices = [current, previous_period(current, tr)]
    choices.append(previous_period(choices[-1], tr))
    year = ctx.today().year
    return render_board(request, actor, "board_reports.html",
                        periods=[(p.key, p.label) for p in choices]
                        + [(str(y), str(y)) for y in (year, year - 1)])


@router.get("/gruppe/rapport/{key}", response_class=HTMLResponse)
async def period_report(request: Request, key: str) -> Response:
    actor = await board_actor(request)
    if actor is None:
        return to_sign_in(request)
    from intake.domain.periods import parse_period
    from intake.http.web.pages import render_http_error
    from intake.reporting.period_report import build_period_report
    from intake.reporting.render_html import render_html

    ctx = ctx_of(request)
    tr = translator(request)
    try:
        period = parse_period(key[:20], tr)
    except ValueError:
        return render_http_error(request, 404)
    report = await in_thread(build_period_report, ctx=ctx, actor=actor, period=period, tr=tr)
    return HTMLResponse(render_html(report, tr), headers={
        "Cache-Control": "no-store", "Content-Security-Policy": REPORT_CSP})


@router.get("/gruppe/ukesammendrag", response_class=HTMLResponse)
async def digest_page(request: Request) -> Response:
    actor = await board_actor(request)
    if actor is None:
        return to_sign_in(request)
    from intake.reporting.digest import build_digest
    from intake.reporting.digest_text import render_text

    ctx = ctx_of(request)
    tr = translator(request)
    week = request.query_params.get("uke", "")[:10] or None
    try:
        digest = await in_thread(build_digest, ctx=ctx, week=week, now=ctx.clock(),
                                 locale=tr.locale)
    except (ValueError, DomainError):  # no such week, or not ended: the last full week
        digest = await in_thread(build_digest, ctx=ctx, week=None, now=ctx.clock(),
                                 locale=tr.locale)
    return render_board(request, actor, "board_digest.html", text=render_text(digest, tr))

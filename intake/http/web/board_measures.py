"""The group's measures on the board (/gruppe/tiltak): every measure by due date, filtered
by status or to the overdue ones, with counts by status; each links to its reports (where
the group moves it on). Only `intake.app` imports this (for its router).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from intake import services
from intake.domain.model import ValidationFailed
from intake.http.web.board_common import board_actor, render_board, to_sign_in
from intake.http.web.pages import ctx_of, in_thread, translator
from intake.texts import MEASURE_STATUS_LABELS, field_error_text, label

router = APIRouter(include_in_schema=False)


@router.get("/gruppe/tiltak", response_class=HTMLResponse)
async def measures_page(request: Request) -> Response:
    actor = await board_actor(request)
    if actor is None:
        return to_sign_in(request)
    ctx = ctx_of(request)
    tr = translator(request)
    status = request.query_params.get("status", "")[:40] or None
    overdue = request.query_params.get("overdue") in ("1", "on")
    errors: list[str] = []
    measures: tuple[services.MeasureView, ...] = ()
    try:
        measures = await in_thread(services.list_measures, ctx=ctx, actor=actor,
                                   status=status, overdue=overdue)
    except ValidationFailed as exc:
        errors = [field_error_text(err, tr) for err in exc.errors]
    counts = await in_thread(services.measure_counts, ctx=ctx, actor=actor)
    statuses = [(k, tr(v)) for k, v in MEASURE_STATUS_LABELS.items()]
    return render_board(
        request, actor, "board_measures.html", status_code=422 if errors else 200,
        measures=[(ms, label(MEASURE_STATUS_LABELS, ms.status, tr)) for ms in measures],
        errors=errors, statuses=statuses, status=status or "", overdue=overdue,
        counts=[(shown, counts.get(value, 0)) for value, shown in statuses])

"""GET /api/v1/reports/stats: the tertial/annual report as JSON, for the working group.

Include this router BEFORE `intake.http.api.router`, whose `/reports/{reference}` would
otherwise take the path `/reports/stats`.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool as call

from intake.domain import periods
from intake.http.api import ERROR_RESPONSES
from intake.http.deps import Ctx, Group, Tr
from intake.reporting.period_report import build_period_report
from intake.texts import error_text

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


@router.get("/reports/stats", tags=["working group"])
async def report_stats(
    ctx: Ctx,
    actor: Group,
    tr: Tr,
    period: Annotated[str, Query(max_length=20, examples=["2026-T1", "2026", "2026-W10"])],
    suppress: Annotated[
        bool, Query(description="Counts below 3 are to be shown as <3 (the committee's copy)")
    ] = True,
) -> Any:
    """Counts by kind, category, severity, direction, place and month for a tertial
    (2026-T1), a year (2026) or an ISO week (2026-W10), with the previous period and the
    same period a year earlier, learning points, feedback figures and the trend."""
    try:
        p = periods.parse_period(period, tr)
    except ValueError as exc:
        return JSONResponse(
            {"code": "validation_failed", "message": error_text("validation_failed", tr),
             "errors": [{"field": "period", "code": "invalid_period", "warning": False,
                         "message": str(exc)}],
             "only_warnings": False},
            status_code=422,
        )
    report = await call(build_period_report, ctx=ctx, actor=actor, period=p, suppress=suppress,
                        tr=tr)
    data = dataclasses.asdict(report)
    data["learning_points"] = [lp._asdict() for lp in report.learning_points]
    return jsonable_encoder(data)

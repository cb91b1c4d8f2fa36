"""The tertial or annual report behind a private link that `/triage rapport` hands out
(GET /rapport/{token}): one self-contained HTML document under its own strict policy.
Only `intake.app` imports this (for its router).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from intake import services
from intake.domain.model import Actor, NotFound, Role
from intake.http.web.pages import ctx_of, render_page, translator
from intake.texts import domain_error_text

REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")

router = APIRouter(include_in_schema=False)


@router.get("/rapport/{token}", response_class=HTMLResponse)
def period_report(request: Request, token: str) -> HTMLResponse:
    """The tertial/annual report behind a private link from /triage rapport."""
    from intake.domain.periods import parse_period
    from intake.reporting.period_report import build_period_report
    from intake.reporting.render_html import render_html

    ctx = ctx_of(request)
    tr = translator(request)
    try:
        key, suppress = services.open_report_link(ctx=ctx, token=token)
    except NotFound as err:
        return render_page(request, "error.html", status_code=404, tr=tr,
                           title=tr("Not found"), text=domain_error_text(err, tr))
    actor = Actor(identity="link:report", role=Role.TRIAGER)
    report = build_period_report(ctx=ctx, actor=actor, period=parse_period(key, tr),
                                 suppress=suppress, tr=tr)
    # The report is one self-contained document with inline CSS (it is also saved as a
    # file): its own policy allows inline styles but nothing else, no script at all.
    return HTMLResponse(render_html(report, tr), headers={
        "Cache-Control": "no-store", "Content-Security-Policy": REPORT_CSP})

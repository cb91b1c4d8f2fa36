"""The group's board: signing in and out, and the list of reports (/gruppe).

    /gruppe/logg-inn        how to sign in (a link from `meld login-link`)
    /gruppe/inn/{token}     a one-time link: GET asks (a mail scanner opening it uses
                            nothing up), POST signs in and starts a server-side session
    /gruppe/logg-ut         POST: ends the session
    /gruppe                 the reports, filtered, counted by status, paged (coded fields)

Only `intake.app` imports this (for its router).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from intake import services
from intake.domain.model import NotFound, Severity, Status, ValidationFailed
from intake.http.web.board_common import (
    SIGN_IN_PATH,
    board_actor,
    board_csrf_ok,
    board_secret,
    form_expired,
    render_board,
    safe_next,
    set_board_cookie,
    to_sign_in,
)
from intake.http.web.pages import (
    check_csrf,
    csrf_refused,
    ctx_of,
    in_thread,
    render_page,
    translator,
)
from intake.texts import KIND_LABELS, SEVERITY_LABELS, STATUS_LABELS, field_error_text, label

router = APIRouter(include_in_schema=False)

# the list's filters: query parameter -> ReportFilter field
TEXT_FILTERS = ("status", "kind", "category", "place", "assignee", "severity")
FLAG_FILTERS = ("overdue", "unread")
PAGE_SIZE = 50


@router.get(SIGN_IN_PATH, response_class=HTMLResponse)
def sign_in_page(request: Request) -> HTMLResponse:
    neste = safe_next(request.query_params.get("neste"))
    return render_page(request, "board_sign_in.html", link_state=None,
                       minutes=services.LOGIN_LINK_MINUTES,
                       entra=ctx_of(request).settings.entra_enabled,
                       entra_start="/gruppe/entra/start?" + urlencode({"neste": neste}))


@router.get("/gruppe/inn/{token}", response_class=HTMLResponse)
async def link_page(request: Request, token: str) -> HTMLResponse:
    valid = await in_thread(services.login_link_valid, ctx=ctx_of(request), token=token)
    return render_page(request, "board_sign_in.html", status_code=200 if valid else 404,
                       link_state="valid" if valid else "invalid", token=token,
                       minutes=services.LOGIN_LINK_MINUTES,
                       neste=safe_next(request.query_params.get("neste")))


@router.post("/gruppe/inn/{token}", response_class=HTMLResponse)
async def redeem(request: Request, token: str) -> Response:
    form = await request.form()
    if not check_csrf(request, str(form.get("csrf", ""))):
        return csrf_refused(request)
    try:
        secret, _actor = await in_thread(services.redeem_login_link, ctx=ctx_of(request),
                                         token=token)
    except NotFound:
        return render_page(request, "board_sign_in.html", status_code=404,
                           link_state="invalid", minutes=services.LOGIN_LINK_MINUTES)
    response = RedirectResponse(safe_next(str(form.get("neste", ""))), status_code=303)
    set_board_cookie(request, response, secret)
    return response


@router.post("/gruppe/logg-ut")
async def sign_out(request: Request) -> Response:
    form = await request.form()
    if not board_csrf_ok(request, str(form.get("csrf", ""))):
        return form_expired(request)  # a forged sign-out: nobody is signed out
    await in_thread(services.sign_out, ctx=ctx_of(request), secret=board_secret(request))
    response = RedirectResponse(SIGN_IN_PATH, status_code=303)
    response.delete_cookie("meld_board", path="/gruppe")
    return response


def _filters(request: Request) -> tuple[services.ReportFilter, dict[str, str]]:
    """The filters asked for, and the query values as given (for the form and the links)."""
    q = request.query_params
    given = {k: q.get(k, "")[:200].strip() for k in (*TEXT_FILTERS, "fra", "til", "q")}
    given["sort"] = "eldst" if q.get("sort") == "eldst" else ""
    flags = {k: q.get(k) in ("1", "on") for k in FLAG_FILTERS}
    given.update({k: "1" for k, on in flags.items() if on})
    dates: dict[str, date | None] = {}
    for key in ("fra", "til"):
        try:
            dates[key] = date.fromisoformat(given[key]) if given[key] else None
        except ValueError:
            dates[key] = None
            given[key] = ""
    filters = services.ReportFilter(
        **{k: given[k] or None for k in TEXT_FILTERS}, occurred_from=dates["fra"],
        occurred_to=dates["til"], text=given["q"] or None, **flags)
    return filters, given


@router.get("/gruppe", response_class=HTMLResponse)
async def report_list(request: Request) -> Response:
    actor = await board_actor(request)
    if actor is None:
        return to_sign_in(request)
    ctx = ctx_of(request)
    tr = translator(request)
    filters, given = _filters(request)
    after_text = request.query_params.get("etter", "")
    after = int(after_text) if after_text.isdigit() and len(after_text) < 12 else None
    errors: list[str] = []
    page, counts = None, {}
    try:
        page = await in_thread(services.list_reports, ctx=ctx, actor=actor, filters=filters,
                               after=after, limit=PAGE_SIZE,
                               oldest_first=given["sort"] == "eldst", with_counts=True)
        counts = page.counts or {}
    except ValidationFailed as exc:
        errors = [field_error_text(err, tr) for err in exc.errors]
    rows = [_row(ctx, r, tr) for r in (page.items if page else ())]
    kept = {k: v for k, v in given.items() if v}
    next_link = None
    if page and page.next_cursor:
        next_link = "/gruppe?" + urlencode({**kept, "etter": page.next_cursor})
    return render_board(
        request, actor, "board_list.html", status_code=422 if errors else 200,
        rows=rows, errors=errors, given=given, total=sum(counts.values()),
        counts=[(label(STATUS_LABELS, s, tr), counts[s]) for s in Status if s in counts],
        next_link=next_link, first_link=("/gruppe?" + urlencode(kept)) if after else None,
        options=_options(ctx, tr))


@dataclass(frozen=True, slots=True)
class ListRow:
    """One row of the list, as shown (an object: the template reads attributes directly;
    a dict would cost Jinja a failed getattr on every field of every row)."""

    reference: str
    received: str
    kind: str
    category: str
    status: str
    severity: str
    assignee: str
    overdue: bool
    unread: bool


def _row(ctx: services.Context, r: services.ReportView, tr: Any) -> ListRow:
    return ListRow(
        reference=r.reference,
        received=tr.date(tr.local_date(r.reported_at), "short"),
        kind=label(KIND_LABELS, r.kind, tr),
        category=ctx.taxonomy.category_label(r.category, tr.locale),
        status=label(STATUS_LABELS, r.status, tr),
        severity=label(SEVERITY_LABELS, r.assessed_severity or r.reported_severity, tr),
        assignee=r.assignee or "",
        overdue=r.feedback_overdue,
        unread=bool(r.unread_from_reporter),
    )


def _options(ctx: services.Context, tr: Any) -> dict[str, list[tuple[str, str]]]:
    """The choices of the filter form (and the report page's forms)."""
    return {
        "status": [(s.value, label(STATUS_LABELS, s, tr)) for s in Status],
        "kind": [(k.value, label(KIND_LABELS, k, tr)) for k in KIND_LABELS],
        "category": [(c.id, c.label(tr.locale)) for c in ctx.taxonomy.active_categories()],
        "place": [(p.id, p.label(tr.locale)) for p in ctx.taxonomy.active_places()],
        "severity": [(s.value, label(SEVERITY_LABELS, s, tr)) for s in Severity],
    }

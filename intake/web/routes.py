"""Server-rendered web form and status pages (no JavaScript needed)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

from intake import ratelimit, services
from intake.domain import (
    Actor,
    DomainError,
    FieldError,
    Kind,
    NotFound,
    Party,
    Role,
    Severity,
    ValidationFailed,
)
from intake.i18n import Translator
from intake.texts import (
    KIND_LABELS,
    PARTY_LABELS,
    SEVERITY_LABELS,
    STATUS_LABELS,
    domain_error_text,
    error_text,
    field_error_text,
    label,
    notification_text,
    receipt_lines,
)

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")

SESSION_COOKIE = "meld_session"
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
_SUBMISSION_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
FORM_FIELDS = (
    "kind", "category", "description", "occurred_on", "severity", "reporter_party",
    "concerned_party", "place", "place_text",
)

router = APIRouter(include_in_schema=False)


def _ctx(request: Request) -> services.Context:
    return request.app.state.ctx


def _tr(request: Request) -> Translator:
    ctx = _ctx(request)
    lang = request.query_params.get("lang") or request.cookies.get("meld_lang")
    if not lang:
        lang = ctx.settings.locale
    return Translator(lang, ctx.settings.timezone)


def _session_value(request: Request) -> tuple[str, bool]:
    """The browser's pseudonymous session value, and whether it is new."""
    value = request.cookies.get(SESSION_COOKIE, "")
    if len(value) == 43 and value.replace("-", "").replace("_", "").isalnum():
        return value, False
    return secrets.token_urlsafe(32), True


def _identity(value: str) -> str:
    return "web:" + hashlib.sha256(value.encode()).hexdigest()[:24]


def _csrf_token(ctx: services.Context, session_value: str) -> str:
    return hmac.new(ctx.secret_key, f"csrf:{session_value}".encode(), hashlib.sha256).hexdigest()


def _set_session(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, value, max_age=60 * 60 * 24 * 365, httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )


def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    tr = context.pop("tr", None) or _tr(request)
    session_value, new = _session_value(request)
    ctx = _ctx(request)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "_": tr,
            "tr": tr,
            "lang": tr.locale,
            "csrf": _csrf_token(ctx, session_value),
            **context,
        },
        status_code=status_code,
    )
    if new:
        _set_session(response, request, session_value)
    if request.query_params.get("lang") in ("nb", "en"):
        response.set_cookie("meld_lang", tr.locale, max_age=60 * 60 * 24 * 365,
                            samesite="strict", httponly=True)
    return response


def _choices(tr: Translator, ctx: services.Context) -> dict[str, Any]:
    return {
        "kinds": [(k.value, tr(KIND_LABELS[k])) for k in Kind],
        "severities": [(s.value, tr(SEVERITY_LABELS[s])) for s in Severity],
        "parties": [(p.value, tr(PARTY_LABELS[p])) for p in Party],
        "categories": [
            (c.id, c.label(tr.locale), [(s.id, s.label(tr.locale)) for s in c.subcategories
                                        if s.active])
            for c in ctx.taxonomy.active_categories()
        ],
        "hospital_places": [(p.id, p.label(tr.locale)) for p in ctx.taxonomy.active_places()
                            if p.kind == "hospital"],
        "municipal_places": [(p.id, p.label(tr.locale)) for p in ctx.taxonomy.active_places()
                             if p.kind != "hospital"],
    }


def _form(request: Request, *, values: dict[str, Any], errors: list[FieldError],
          status_code: int = 200, message: str | None = None) -> HTMLResponse:
    tr = _tr(request)
    ctx = _ctx(request)
    by_field: dict[str, list[str]] = {}
    for err in errors:
        by_field.setdefault(err.field, []).append(field_error_text(err, tr))
    return _page(
        request, "form.html", status_code=status_code, tr=tr,
        values=values, errors=by_field, has_warnings=any(e.warning for e in errors),
        only_warnings=bool(errors) and all(e.warning for e in errors),
        today=ctx.today().isoformat(), message=message, **_choices(tr, ctx),
    )


@router.get("/", response_class=HTMLResponse)
def form(request: Request) -> HTMLResponse:
    values = {"occurred_on": _ctx(request).today().isoformat(), "kind": "deviation",
              "submission_id": uuid.uuid4().hex}
    return _form(request, values=values, errors=[])


def _check_csrf(request: Request, posted: str | None) -> bool:
    value = request.cookies.get(SESSION_COOKIE)
    if not value or not posted:
        return False
    return hmac.compare_digest(_csrf_token(_ctx(request), value), posted)


def _csrf_refused(request: Request) -> HTMLResponse:
    tr = _tr(request)
    return _page(request, "error.html", status_code=403, tr=tr,
                 title=tr("The form has expired"),
                 text=tr("For your safety the form must be sent from this page. "
                         "Go back, reload the page and send again: your text is still there "
                         "if you use the browser's back button."))


@router.post("/", response_class=HTMLResponse)
async def submit(request: Request) -> Response:
    form_data = await request.form()
    values = {k: str(form_data.get(k, ""))[:20000] for k in FORM_FIELDS}
    values["subcategory"] = str(form_data.get(f"subcategory_{values['category']}", ""))[:64]
    submission_id = str(form_data.get("submission_id", ""))[:64]
    values["submission_id"] = submission_id if _SUBMISSION_ID.fullmatch(submission_id) \
        else uuid.uuid4().hex  # the page's own ids are hex; anything else is a fresh form
    values["no_patient_identifiers"] = form_data.get("no_patient_identifiers") == "on"
    confirm = form_data.get("confirm_warnings") == "on"
    if not _check_csrf(request, str(form_data.get("csrf", ""))):
        return _csrf_refused(request)
    ctx = _ctx(request)
    tr = _tr(request)
    try:
        ratelimit.check_submit(request)
    except ratelimit.RateLimited as exc:
        response = _form(request, values=values, errors=[], status_code=429,
                         message=ratelimit.message(exc, tr, form=True))
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    draft = services.ReportDraft(
        kind=values["kind"] or None, category=values["category"] or None,
        subcategory=values["subcategory"] or None, description=values["description"],
        occurred_on=values["occurred_on"] or None, severity=values["severity"] or None,
        no_patient_identifiers=values["no_patient_identifiers"], confirm_warnings=confirm,
        reporter_party=values["reporter_party"] or None,
        concerned_party=values["concerned_party"] or None,
        place=values["place"] or None, place_text=values["place_text"] or None,
        locale=tr.locale,
    )
    session_value, _new = _session_value(request)
    actor = Actor(identity=_identity(session_value), role=Role.REPORTER)
    try:
        receipt = await _run(services.submit_report, ctx=ctx, actor=actor, draft=draft,
                             idempotency_key=f"web:{values['submission_id']}")
    except ValidationFailed as exc:
        return _form(request, values=values, errors=exc.errors, status_code=422)
    except DomainError as exc:
        return _form(request, values=values, errors=[], status_code=exc.http_status,
                     message=domain_error_text(exc, tr))
    except OperationalError:
        return _form(request, values=values, errors=[], status_code=503,
                     message=error_text("database_unavailable", tr))
    return RedirectResponse(f"/status/{receipt.status_token}?ny=1", status_code=303)


async def _run(fn: Any, **kwargs: Any) -> Any:
    return await run_in_threadpool(fn, **kwargs)


@router.get("/status/{token}", response_class=HTMLResponse)
def status_page(request: Request, token: str) -> HTMLResponse:
    ctx = _ctx(request)
    tr = _tr(request)
    try:
        _actor, view = services.find_by_status_token(ctx=ctx, token=token)
    except NotFound:
        return render_http_error(request, 404)
    return _status(request, view, tr)


def _status(request: Request, view: services.ReportView, tr: Translator, *,
            answer: str = "", errors: list[FieldError] | None = None,
            status_code: int = 200) -> HTMLResponse:
    ctx = _ctx(request)
    notices = [
        (when, notification_text(event, payload, tr), body)
        for when, event, payload, body in services.delivered_notices(ctx=ctx,
                                                                    reference=view.reference)
    ]
    receipt = None
    if request.query_params.get("ny") == "1":
        receipt = receipt_lines(services.receipt_for(ctx=ctx, reference=view.reference), tr)
    errs = errors or []
    return _page(
        request, "status.html", status_code=status_code, tr=tr, view=view, receipt=receipt,
        notices=notices,
        status_label=label(STATUS_LABELS, view.status, tr),
        kind_label=label(KIND_LABELS, view.kind, tr),
        severity_label=label(SEVERITY_LABELS, view.reported_severity, tr),
        category_label=ctx.taxonomy.category_label(view.category, tr.locale),
        place_label=ctx.taxonomy.place_label(view.place, tr.locale),
        answer=answer, answer_errors=[field_error_text(e, tr) for e in errs],
        has_warnings=any(e.warning for e in errs),
    )


@router.post("/status/{token}", response_class=HTMLResponse)
async def answer(request: Request, token: str) -> Response:
    form_data = await request.form()
    if not _check_csrf(request, str(form_data.get("csrf", ""))):
        return _csrf_refused(request)
    ctx = _ctx(request)
    tr = _tr(request)
    text = str(form_data.get("text", ""))[:20000]
    try:
        actor, view = await _run(services.find_by_status_token, ctx=ctx, token=token)
    except NotFound:
        return render_http_error(request, 404)
    try:
        await _run(services.reporter_answer, ctx=ctx, actor=actor, reference=view.reference,
                   text=text, confirm_warnings=form_data.get("confirm_warnings") == "on")
    except ValidationFailed as exc:
        return _status(request, view, tr, answer=text, errors=exc.errors, status_code=422)
    return RedirectResponse(f"/status/{token}", status_code=303)


@router.get("/mine", response_class=HTMLResponse)
def mine(request: Request) -> HTMLResponse:
    ctx = _ctx(request)
    tr = _tr(request)
    value, new = _session_value(request)
    rows = [] if new else services.list_my_reports(
        ctx=ctx, actor=Actor(_identity(value), Role.REPORTER))
    items = [
        (r, label(STATUS_LABELS, r.status, tr), ctx.taxonomy.category_label(r.category, tr.locale),
         services.status_token_for(ctx, r.reference))
        for r in rows
    ]
    return _page(request, "mine.html", tr=tr, items=items)


@router.get("/rapport/{token}", response_class=HTMLResponse)
def period_report(request: Request, token: str) -> HTMLResponse:
    """The tertial/annual report behind a private link from /triage rapport."""
    from intake.periods import parse_period
    from intake.report_render import render_html
    from intake.reports import build_period_report

    ctx = _ctx(request)
    tr = _tr(request)
    try:
        key, suppress = services.open_report_link(ctx=ctx, token=token)
    except NotFound as err:
        return _page(request, "error.html", status_code=404, tr=tr, title=tr("Not found"),
                     text=domain_error_text(err, tr))
    actor = Actor(identity="link:report", role=Role.TRIAGER)
    report = build_period_report(ctx=ctx, actor=actor, period=parse_period(key, tr),
                                 suppress=suppress, tr=tr)
    # The report is one self-contained document with inline CSS (it is also saved as a
    # file): its own policy allows inline styles but nothing else, no script at all.
    return HTMLResponse(render_html(report, tr), headers={
        "Cache-Control": "no-store", "Content-Security-Policy": REPORT_CSP})


def render_http_error(request: Request, status_code: int) -> HTMLResponse:
    tr = _tr(request)
    if status_code == 404:
        title, text = tr("Not found"), tr("There is nothing here. Check the link you were given.")
    elif status_code == 503:
        title, text = tr("Meld is unavailable"), error_text("database_unavailable", tr)
    elif status_code == 413:
        title = tr("Too much to send")
        text = tr("What you sent is larger than 1 MB, so nothing was stored. Go back with "
                  "the browser's back button (your text is still there), shorten it and "
                  "send again.")
    else:
        title, text = tr("Something went wrong"), tr("The request could not be handled.")
    response = _page(request, "error.html", status_code=status_code, tr=tr, title=title,
                     text=text)
    if status_code == 503:
        response.headers["Retry-After"] = "10"
    return response

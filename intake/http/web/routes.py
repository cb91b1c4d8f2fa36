"""Server-rendered web form and status pages.

Everything works without JavaScript; /static/meld.js only adds comfort (the chosen
category's subcategories, the severity question for the chosen kind, error summary links
that show their field's question, a copy button for the private link).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

from intake import services
from intake.domain.model import (
    Actor,
    Conflict,
    DomainError,
    FieldError,
    Kind,
    NotFound,
    Party,
    Role,
    Severity,
    ValidationFailed,
)
from intake.http import ratelimit
from intake.i18n import N_, Translator
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
# the order of the fields on the page: the error summary lists problems in this order
FORM_ORDER = (
    "kind", "category", "subcategory", "description", "occurred_on", "place", "place_text",
    "reporter_party", "concerned_party", "severity", "no_patient_identifiers",
)
# The blank form may be kept by the browser (never by a shared cache): Back then shows this
# very page, with its submission id, so sending it again from history gives the same
# receipt. A new visit revalidates and gets a fresh page with a new id. Pages that carry a
# reporter's text stay no-store.
FORM_CACHE_CONTROL = "private, no-cache"
# The form posts to its own path, not to "/": a browser drops its stored copy of a page
# when a POST to that page's address succeeds, and Back would then fetch a new form.
SEND_PATH = "/send"
# what the error summary calls each field: the question or label it has on the page
FIELD_NAMES = {
    "kind": N_("What do you want to report?"),
    "category": N_("Category"),
    "subcategory": N_("More precise (optional)"),
    "description": N_("What happened?"),
    "occurred_on": N_("When did it happen?"),
    "place": N_("Where? (hospital unit or municipality)"),
    "place_text": N_("Place, in your own words (optional)"),
    "reporter_party": N_("I work at"),
    "concerned_party": N_("The matter concerns"),
}
SEVERITY_QUESTIONS = {
    "deviation": N_("How serious was it for the patient?"),
    "other": N_("If nothing changes, how serious could it be for patients?"),
}
SEEN_COOKIE = "meld_seen"
VISIT_GAP = timedelta(minutes=30)  # requests closer than this belong to one visit of /mine

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
    choices = _choices(tr, ctx)
    by_field: dict[str, list[tuple[str, bool]]] = {}
    for err in errors:
        by_field.setdefault(err.field, []).append((field_error_text(err, tr), err.warning))
    # the summary's links go to the control itself; a radio group's to its first radio
    anchors = {name: name for name in FORM_ORDER}
    anchors["kind"] = f"kind-{choices['kinds'][0][0]}"
    anchors["severity"] = f"severity-{choices['severities'][0][0]}"
    position = {name: i for i, name in enumerate(FORM_ORDER)}
    questions = {key: tr(msgid) for key, msgid in SEVERITY_QUESTIONS.items()}
    names = {key: tr(msgid) for key, msgid in FIELD_NAMES.items()}
    names["severity"] = questions["deviation" if values.get("kind") in ("deviation", "", None)
                                  else "other"]
    summary = [
        (anchors.get(name), _field_name(names.get(name)), text, warning)
        for name in sorted(by_field, key=lambda n: position.get(n, len(position)))
        for text, warning in by_field[name]
    ]
    # the "checked, send anyway" box sits right under the first warning it answers
    confirm_at = next((name for name in FORM_ORDER
                       if any(warning for _text, warning in by_field.get(name, ()))), None)
    return _page(
        request, "form.html", status_code=status_code, tr=tr,
        values=values, errors=by_field, summary=summary, confirm_at=confirm_at,
        severity_questions=questions, send_path=SEND_PATH,
        invalid={e.field for e in errors if not e.warning},
        has_warnings=any(e.warning for e in errors),
        only_warnings=bool(errors) and all(e.warning for e in errors),
        today=ctx.today().isoformat(), message=message, **choices,
    )


def _field_name(name: str | None) -> str | None:
    """A field's name as the lead of a summary line: "Category:", "What happened?"."""
    if not name:
        return None
    return name if name.endswith(("?", ":")) else f"{name}:"


@router.get("/", response_class=HTMLResponse)
def form(request: Request) -> HTMLResponse:
    values = {"occurred_on": _ctx(request).today().isoformat(), "kind": "deviation",
              "submission_id": uuid.uuid4().hex}
    response = _form(request, values=values, errors=[])
    response.headers["Cache-Control"] = FORM_CACHE_CONTROL
    return response


def _posted_subcategory(form_data: Any, category: str) -> str:
    """The form's "category/subcategory" choice (pages from before it sent subcategory_<id>)."""
    choice = str(form_data.get("subcategory", ""))[:130]
    if not choice and category:
        legacy = str(form_data.get(f"subcategory_{category}", ""))[:64]
        choice = f"{category}/{legacy}" if legacy else ""
    return choice


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


@router.get(SEND_PATH)
def send_page(request: Request) -> RedirectResponse:
    """The form's target opened as a page (a language link on a refused form): the form."""
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"/{query}", status_code=303)


@router.post(SEND_PATH, response_class=HTMLResponse)
@router.post("/", response_class=HTMLResponse)  # pages from before SEND_PATH, and API-like use
async def submit(request: Request) -> Response:
    form_data = await request.form()
    values = {k: str(form_data.get(k, ""))[:20000] for k in FORM_FIELDS}
    values["subcategory"] = _posted_subcategory(form_data, values["category"])
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
        # "category/subcategory": the service refuses a subcategory of another category
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
    except Conflict as exc:
        if exc.code != "idempotency_key_reused":
            return _form(request, values=values, errors=[], status_code=exc.http_status,
                         message=domain_error_text(exc, tr))
        # This page was sent before and has been changed since (Back, edit, send): say so,
        # and give the page a new id so that sending it again files a new report.
        values["submission_id"] = uuid.uuid4().hex
        return _form(request, values=values, errors=[], status_code=409, message=tr(
            "This form has already been sent, and it has been changed since. Your first "
            "report is under My reports. Send again to file this as a new report."))
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
    delivered = services.delivered_notices(ctx=ctx, reference=view.reference)
    notices = [(when, notification_text(event, payload, tr), body)
               for when, event, payload, body in delivered]
    # words the group sent with a status change are shown once, under that news
    with_notice = {payload.get("message_id") for _w, _e, payload, body in delivered if body}
    messages = [msg for msg in view.messages if msg.id not in with_notice]
    receipt = None
    link = None
    if request.query_params.get("ny") == "1":
        token = services.status_token_for(ctx, view.reference)
        receipt = receipt_lines(services.receipt_for(ctx=ctx, reference=view.reference), tr)
        link = f"{ctx.settings.base_url.rstrip('/')}/status/{token}"
    errs = errors or []
    return _page(
        request, "status.html", status_code=status_code, tr=tr, view=view, receipt=receipt,
        link=link, notices=notices, messages=messages,
        status_label=label(STATUS_LABELS, view.status, tr),
        kind_label=label(KIND_LABELS, view.kind, tr),
        severity_label=label(SEVERITY_LABELS, view.reported_severity, tr),
        category_label=ctx.taxonomy.category_label(view.category, tr.locale),
        place_label=ctx.taxonomy.place_label(view.place, tr.locale),
        answer=answer, answer_errors=[(field_error_text(e, tr), e.warning) for e in errs],
        has_warnings=any(e.warning for e in errs), answer_invalid=any(not e.warning for e in errs),
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
    ctx = _ctx(request)
    tr = _tr(request)
    value, new = _session_value(request)
    actor = Actor(_identity(value), Role.REPORTER)
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
    response = _page(request, "mine.html", tr=tr, items=items,
                     news_count=sum(1 for item in items if item[-1]))
    response.set_cookie(SEEN_COOKIE, cookie, max_age=60 * 60 * 24 * 365, path="/mine",
                        httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    return FileResponse(STATIC_DIR / "favicon.ico", media_type="image/x-icon",
                        headers={"Cache-Control": "public, max-age=604800"})


@router.get("/rapport/{token}", response_class=HTMLResponse)
def period_report(request: Request, token: str) -> HTMLResponse:
    """The tertial/annual report behind a private link from /triage rapport."""
    from intake.domain.periods import parse_period
    from intake.reporting.period_report import build_period_report
    from intake.reporting.render import render_html

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


# ---------------------------------------------------------------- API documentation
# Swagger UI and ReDoc from Meld itself (vendored in static/, see static/VENDORED.md):
# hospital networks often block the CDNs FastAPI's defaults load them from.

docs = APIRouter(include_in_schema=False)
DOCS_OAUTH2_REDIRECT = "/docs/oauth2-redirect"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def _docs_page(page: HTMLResponse) -> HTMLResponse:
    """A docs page with its own policy: Meld's scripts plus the page's inline ones by hash.

    ReDoc styles itself with <style> elements it creates at run time, hence inline styles;
    its search index runs in a worker made from a blob: URL.
    """
    body = bytes(page.body).decode()
    digests = (hashlib.sha256(script.encode()).digest()
               for script in _INLINE_SCRIPT.findall(body))
    hashes = " ".join(f"'sha256-{base64.b64encode(d).decode()}'" for d in digests)
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "worker-src 'self' blob:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ).replace("'self' ;", "'self';")
    return page


@docs.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    return _docs_page(get_swagger_ui_html(
        openapi_url=request.app.openapi_url, title=f"{request.app.title} – API",
        swagger_js_url="/static/swagger-ui-bundle.js", swagger_css_url="/static/swagger-ui.css",
        swagger_favicon_url="/favicon.ico", oauth2_redirect_url=DOCS_OAUTH2_REDIRECT,
    ))


@docs.get(DOCS_OAUTH2_REDIRECT, response_class=HTMLResponse)
def swagger_ui_redirect() -> HTMLResponse:
    return _docs_page(get_swagger_ui_oauth2_redirect_html())


@docs.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    return _docs_page(get_redoc_html(
        openapi_url=request.app.openapi_url, title=f"{request.app.title} – API",
        redoc_js_url="/static/redoc.standalone.js", redoc_favicon_url="/favicon.ico",
        with_google_fonts=False,
    ))

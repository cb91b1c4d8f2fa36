"""The report form: the blank page (GET /), and sending it (POST /send, and POST / for pages
from before /send) into `services.submit_report`, with the error summary in the page's
order and the "checked, send anyway" box for warnings. A sent form goes on to its status
page. Only `intake.app` imports this (for its router).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import OperationalError

from intake import services
from intake.domain.model import (
    Actor,
    Conflict,
    DomainError,
    FieldError,
    Kind,
    Party,
    Role,
    Severity,
    ValidationFailed,
)
from intake.http import ratelimit
from intake.http.web.pages import (
    browser_session,
    check_csrf,
    csrf_refused,
    ctx_of,
    render_page,
    reporter_identity,
    translator,
)
from intake.http.web.suggest import category_guesses, form_suggestions
from intake.i18n import N_, Translator
from intake.texts import (
    KIND_LABELS,
    PARTY_LABELS,
    SEVERITY_LABELS,
    domain_error_text,
    error_text,
    field_error_text,
)

_SUBMISSION_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
FORM_FIELDS = (
    "kind", "category", "description", "occurred_on", "severity", "reporter_party",
    "concerned_party", "place", "place_text", "email",
)
# the order of the fields on the page: the error summary lists problems in this order
FORM_ORDER = (
    "kind", "category", "subcategory", "description", "occurred_on", "place", "place_text",
    "reporter_party", "concerned_party", "severity", "email", "no_patient_identifiers",
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
    "email": N_("Would you like notices by e-mail?"),
}
# the optional part of the form (a <details>): open when one of these was chosen, or
# when one of its fields has a problem
CHOSEN_FIELDS = ("category", "subcategory", "severity", "place_text", "email")
DETAIL_FIELDS = frozenset({"category", "subcategory", "occurred_on", "place", "place_text",
                           "reporter_party", "concerned_party", "severity", "email"})
# this browser's last place and parties ("place|reporter_party|concerned_party"): the next
# form proposes them
LAST_COOKIE = "meld_last"
SEVERITY_QUESTIONS = {
    "deviation": N_("How serious was it for the patient?"),
    "other": N_("If nothing changes, how serious could it be for patients?"),
}

router = APIRouter(include_in_schema=False)


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
          status_code: int = 200, message: str | None = None,
          remembered: bool = False) -> HTMLResponse:
    tr = translator(request)
    ctx = ctx_of(request)
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
    return render_page(
        request, "form.html", status_code=status_code, tr=tr,
        values=values, errors=by_field, summary=summary, confirm_at=confirm_at,
        severity_questions=questions, send_path=SEND_PATH,
        # good collaboration asks no harm: its question is hidden (meld.js hides it too)
        asks_severity=values.get("kind") != Kind.GOOD_COLLABORATION,
        invalid={e.field for e in errors if not e.warning},
        has_warnings=any(e.warning for e in errors),
        only_warnings=bool(errors) and all(e.warning for e in errors),
        today=ctx.today().isoformat(), message=message, mail_enabled=ctx.settings.mail_enabled,
        suggestions=form_suggestions(ctx, values, tr) if values.get("category") else [],
        category_guesses=(category_guesses(ctx, str(values.get("description") or ""), tr)
                          if values.get("description") and not values.get("category")
                          else []),
        # the optional part is open when it holds what the reporter chose or a problem
        open_details=any(values.get(name) for name in CHOSEN_FIELDS)
        or any(e.field in DETAIL_FIELDS for e in errors),
        remembered=remembered,
        **choices,
    )


def _field_name(name: str | None) -> str | None:
    """A field's name as the lead of a summary line: "Category:", "What happened?"."""
    if not name:
        return None
    return name if name.endswith(("?", ":")) else f"{name}:"


@router.get("/", response_class=HTMLResponse)
def form(request: Request) -> HTMLResponse:
    values: dict[str, Any] = {"occurred_on": ctx_of(request).today().isoformat(),
                              "kind": "deviation", "submission_id": uuid.uuid4().hex}
    last = _remembered(request)
    values.update({k: v for k, v in last.items() if v})
    response = _form(request, values=values, errors=[], remembered=any(last.values()))
    response.headers["Cache-Control"] = FORM_CACHE_CONTROL
    return response


def _remembered(request: Request) -> dict[str, str | None]:
    """The place and parties of this browser's last report (LAST_COOKIE: codes only), as
    far as they are still on the lists."""
    place, _sep, rest = request.cookies.get(LAST_COOKIE, "")[:200].partition("|")
    reporter_party, _sep, concerned_party = rest.partition("|")
    found = services.defaults_of(ctx_of(request), place or None, reporter_party or None,
                                 concerned_party or None)
    return {"place": found.place, "reporter_party": found.reporter_party,
            "concerned_party": found.concerned_party}


def _remember(response: Response, request: Request, values: dict[str, Any]) -> None:
    """Keep the place and parties of a sent report for the next form in this browser (the
    codes only; nothing else of the report). Nothing chosen: nothing is kept or changed."""
    chosen = [str(values.get(k) or "") for k in ("place", "reporter_party", "concerned_party")]
    if any(chosen):
        response.set_cookie(LAST_COOKIE, "|".join(chosen), max_age=60 * 60 * 24 * 365,
                            path="/", httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")


def _posted_subcategory(form_data: Any, category: str) -> str:
    """The form's "category/subcategory" choice (pages from before it sent subcategory_<id>)."""
    choice = str(form_data.get("subcategory", ""))[:130]
    if not choice and category:
        legacy = str(form_data.get(f"subcategory_{category}", ""))[:64]
        choice = f"{category}/{legacy}" if legacy else ""
    return choice


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
    if not check_csrf(request, str(form_data.get("csrf", ""))):
        return csrf_refused(request)
    ctx = ctx_of(request)
    tr = translator(request)
    try:
        await ratelimit.check_submit(request)
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
        email=values["email"] or None, locale=tr.locale,
    )
    session_value, _new = browser_session(request)
    actor = Actor(identity=reporter_identity(session_value), role=Role.REPORTER)
    try:
        receipt = await services.submit_report_async(
            ctx=ctx, actor=actor, draft=draft, idempotency_key=f"web:{values['submission_id']}")
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
    response = RedirectResponse(f"/status/{receipt.status_token}?ny=1", status_code=303)
    _remember(response, request, values)
    return response

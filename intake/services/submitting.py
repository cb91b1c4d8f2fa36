"""A reporter submits a report: validation, the idempotent submit, the receipt.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets

import anyio.to_thread

from intake.domain import model as domain
from intake.domain.contact import normalize_email
from intake.domain.model import (
    UNCATEGORIZED,
    Actor,
    CategorySource,
    Conflict,
    FieldError,
    Kind,
    Party,
    Severity,
    Status,
    ValidationFailed,
)
from intake.i18n import normalize_locale
from intake.services import storing
from intake.services.common import (
    ANONYMOUS_WEB,
    MAX_SHORT_TEXT,
    channel_of,
    check_free_text,
    check_subcategory,
    choice,
    clean_text,
    has_control_chars,
    load_report,
    make_receipt,
    now_utc,
    parse_date,
    promised_by,
    status_token_for,
)
from intake.services.context import Context
from intake.services.submit_plan import Filed, SubmitPlan, Valid
from intake.services.suggesting import suggest_category, suggestions_ready
from intake.services.views import Receipt, ReportDraft, offered_suggestion
from storage import models as m


def validate_draft(ctx: Context, draft: ReportDraft) -> Valid:
    """All submit rules in one place; raises ValidationFailed with every problem found."""
    errors: list[FieldError] = []
    # Only the text and the no-identifiers confirmation are required. What is left out is
    # filed as the group expects it: a deviation, of today, of unknown severity, with no
    # category (Meld suggests one, or it waits for the group as "uncategorized").
    kind = choice(Kind, draft.kind, "kind", errors, False) or Kind.DEVIATION
    # good collaboration asks no harm: whatever a form still holds, it is stored as none
    severity = (Severity.NONE if kind == Kind.GOOD_COLLABORATION
                else choice(Severity, draft.severity, "severity", errors, False)
                or Severity.UNKNOWN)
    reporter_party = choice(Party, draft.reporter_party, "reporter_party", errors, False)
    concerned_party = choice(Party, draft.concerned_party, "concerned_party", errors, False)

    subcategory = draft.subcategory or None
    category_id = draft.category or None
    if category_id is None and subcategory and "/" in subcategory:
        # a door's combined "category/subcategory" choice names its category
        category_id = subcategory.split("/", 1)[0] or None
    category = ctx.taxonomy.category(category_id or "")
    if category_id is not None and (category is None or not category.active
                                    or category.system):
        errors.append(FieldError("category", "unknown_category"))
    elif category_id is None and subcategory:
        errors.append(FieldError("subcategory", "unknown_subcategory"))
    if subcategory and category is not None:
        subcategory, problem = check_subcategory(
            ctx.taxonomy, category.id, subcategory,
            normalize_locale(draft.locale or ctx.settings.locale), active_only=True)
        if problem is not None:
            errors.append(problem)

    place = draft.place or None
    if place:
        found = ctx.taxonomy.place(place)
        if found is None or not found.active:
            errors.append(FieldError("place", "unknown_place"))

    description = clean_text(draft.description)
    if description is None:
        errors.append(FieldError("description", "required"))
    errors += check_free_text(
        "description", description, max_chars=ctx.settings.max_text_chars, warn=True
    )
    place_text = clean_text(draft.place_text)
    errors += check_free_text("place_text", place_text, max_chars=MAX_SHORT_TEXT, warn=True)
    source_link = clean_text(draft.source_link)
    if source_link and len(source_link) > 500:
        errors.append(FieldError("source_link", "too_long", params={"max": 500}))

    email = None
    if draft.email is not None and draft.email.strip():
        if not ctx.settings.mail_enabled:
            errors.append(FieldError("email", "email_notices_off"))
        else:
            email = normalize_email(draft.email)
            if email is None:
                errors.append(FieldError("email", "invalid_email"))

    occurred_on = parse_date(draft.occurred_on or ctx.today(), errors, ctx)
    if not draft.no_patient_identifiers:
        errors.append(FieldError("no_patient_identifiers", "must_confirm_no_identifiers"))

    if draft.confirm_warnings:
        errors = [e for e in errors if not e.warning]
    if errors:
        raise ValidationFailed(errors)
    assert description and occurred_on
    return Valid(
        kind=kind,
        category=category_id,
        subcategory=subcategory,
        description=description,
        occurred_on=occurred_on,
        severity=severity,
        reporter_party=reporter_party,
        concerned_party=concerned_party,
        place=place,
        place_text=place_text,
        source_link=source_link,
        email=email,
    )


def _request_hash(valid: Valid) -> str:
    material = json.dumps(
        {k: str(getattr(valid, k)) for k in valid.__slots__}, sort_keys=True
    ).encode()
    return hashlib.sha256(material).hexdigest()


def _file(ctx: Context, valid: Valid) -> Filed:
    """The reporter's choice wins. Without one, the report is "uncategorized" for the
    group to set, and Meld's suggestion from the text is kept (the receipt offers it in
    one click, the group sees it, it measures the suggestions). Only a group that opts in
    with MELD_SUGGEST_MIN_SCORE files it under the suggestion when that is likely enough
    (unset, or 1: never; a probability may round to exactly 1.0). A category the reporter
    did not choose is offered to change in the receipt, with the alternatives: for the
    reporter's own choice, Meld's best guess alone is kept (less work)."""
    guesses = suggest_category(ctx, valid.description,
                               limit=1 if valid.category is not None else 3, words=False)
    top = guesses[0] if guesses else None
    suggested = (top.category, top.subcategory) if top else (None, None)
    alternatives = tuple(g.category for g in guesses)
    if valid.category is not None:
        return Filed(valid.category, valid.subcategory, CategorySource.REPORTER, *suggested,
                      alternatives)
    threshold = ctx.settings.suggest_min_score
    if top is not None and threshold is not None and threshold < 1 \
            and top.score >= threshold:
        return Filed(top.category, top.subcategory, CategorySource.SUGGESTED, *suggested,
                      alternatives)
    return Filed(UNCATEGORIZED, None, CategorySource.NONE, *suggested, alternatives)


def plan_submit(
    *, ctx: Context, actor: Actor, draft: ReportDraft, idempotency_key: str | None = None
) -> SubmitPlan:
    """Validate a draft and plan its submit (nothing is read or written: the category
    model must be trained, `suggestions_ready`, or this trains it)."""
    valid = validate_draft(ctx, draft)
    key = idempotency_key.strip()[:200] if idempotency_key and idempotency_key.strip() else None
    if key is not None and ("\x00" in key or has_control_chars(key)):
        raise ValidationFailed([FieldError("idempotency_key", "control_characters")])
    now = now_utc(ctx)
    return SubmitPlan(
        ctx=ctx, valid=valid, key=key,
        # only a replay compares it, and only a submit with a key can be replayed
        request_hash=_request_hash(valid) if key is not None else None,
        formal=valid.severity in domain.SERIOUS_SEVERITIES,
        channel=channel_of(actor.identity),
        reporter_id=(f"web:{secrets.token_hex(12)}" if actor.identity == ANONYMOUS_WEB
                     else actor.identity),
        actor=actor, now=now, year=ctx.local_date(now).year,
        locale=normalize_locale(draft.locale or ctx.settings.locale),
        promised=promised_by(ctx, valid.kind, now), filed=_file(ctx, valid))


def submit_report(
    *, ctx: Context, actor: Actor, draft: ReportDraft, idempotency_key: str | None = None
) -> Receipt:
    """Validate, store and acknowledge one report; the same idempotency key gives the same one.

    On SQLite, reports submitted at the same moment are written together, in one
    transaction (`storage.group_commit`); each is stored before its receipt is given.
    """
    plan = plan_submit(ctx=ctx, actor=actor, draft=draft, idempotency_key=idempotency_key)
    storing.ensure_reference_sequence(ctx, plan.year)
    return _answer(plan, storing.write(plan))


async def submit_report_async(
    *, ctx: Context, actor: Actor, draft: ReportDraft, idempotency_key: str | None = None
) -> Receipt:
    """`submit_report` for a door on the event loop: planned on the loop and written by
    `storing.write_async` (SQLite: the group commit, awaited; PostgreSQL: on the loop's
    async driver), with no worker thread per submit; handing each submit to a thread and
    back cost more CPU than any work of Meld's own. The rare rest runs in a thread: the
    first use of a year's sequence, a replayed key on PostgreSQL, the category model's
    first training, and all of it where the loop cannot write (`writes_on_loop`)."""
    if not storing.writes_on_loop(ctx.db) or not suggestions_ready(ctx):
        return await anyio.to_thread.run_sync(functools.partial(
            submit_report, ctx=ctx, actor=actor, draft=draft, idempotency_key=idempotency_key))
    plan = plan_submit(ctx=ctx, actor=actor, draft=draft, idempotency_key=idempotency_key)
    if ctx.db.dialect == "postgresql" and plan.year not in ctx.db.known_sequences:
        await anyio.to_thread.run_sync(storing.ensure_reference_sequence, ctx, plan.year)
    return _answer(plan, await storing.write_async(plan))


def _answer(plan: SubmitPlan, written: storing.Written) -> Receipt:
    """The receipt of a written plan: a new report's, or the replayed one's."""
    ctx, valid = plan.ctx, plan.valid
    if written.existing is not None:
        assert plan.request_hash is not None  # a replay has a key
        return _replayed(ctx, written.existing, plan.request_hash)
    ctx.outbox_signal.fire(written.channels)  # committed: the receipt may go out now
    return Receipt(
        reference=written.reference,
        status=Status.RECEIVED,
        feedback_by=plan.promised,
        formal_guidance=plan.formal,
        status_token=status_token_for(ctx, written.reference),
        created=True,
        email_notices=valid.email is not None,
        kind=valid.kind.value,
        category=plan.filed.category,
        subcategory=plan.filed.subcategory,
        category_source=plan.filed.source,
        **offered_suggestion(plan.filed.source, plan.filed.suggested,
                             plan.filed.suggested_sub),
    )


def _replayed(ctx: Context, existing: m.Report, req_hash: str) -> Receipt:
    if existing.request_hash != req_hash:
        raise Conflict("idempotency_key_reused")
    return make_receipt(ctx, existing, created=False)


# ---------------------------------------------------------------- reads


def receipt_for(*, ctx: Context, reference: str) -> Receipt:
    """The receipt of an existing report (shown again on its status page)."""
    with ctx.db.reading() as session:
        return make_receipt(ctx, load_report(session, reference), created=False)

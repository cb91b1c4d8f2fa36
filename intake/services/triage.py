"""The working group's triage: assess, assign, status, notes, redirect, duplicate,
close and reopen. Every operation checks the group role and is audited.
"""

from __future__ import annotations

from typing import Any

from intake.domain import model as domain
from intake.domain.model import (
    Actor,
    CategorySource,
    DomainError,
    FieldError,
    RedirectTarget,
    Severity,
    Status,
    ValidationFailed,
)
from intake.services.common import (
    MAX_SHORT_TEXT,
    add_message,
    change_status,
    check_free_text,
    check_subcategory,
    choice,
    clean_text,
    ensure_triage,
    guard_group_text,
    load_report,
    now_utc,
    record_audit,
    record_read,
    report_view,
    require_group,
    required_group_text,
    transaction,
)
from intake.services.context import Context
from intake.services.guidance import offer_formal_guidance, redirect_guidance
from intake.services.views import ReportView


def assess(
    *,
    ctx: Context,
    actor: Actor,
    reference: str,
    category: str | None = None,
    subcategory: str | None = None,
    assessed_severity: str | None = None,
    agreement_reference: str | None = None,
    guideline_breached: bool | None = None,
) -> ReportView:
    """The group's assessment: category, severity and breached guideline; starts triage.
    Assessed as significant or severe harm, the reporter gets the formal-reporting guidance
    once (unless they had it in the receipt)."""
    require_group(actor)
    errors: list[FieldError] = []
    severity = choice(Severity, assessed_severity, "assessed_severity", errors, False)
    locale = ctx.settings.locale
    subcategory = subcategory or None
    if category is not None:
        cat = ctx.taxonomy.category(category)
        if cat is None:
            errors.append(FieldError("category", "unknown_category"))
        elif subcategory:
            subcategory, problem = check_subcategory(ctx.taxonomy, cat.id, subcategory, locale)
            if problem is not None:
                errors.append(problem)
    agreement = clean_text(agreement_reference)
    errors += check_free_text("agreement_reference", agreement, max_chars=MAX_SHORT_TEXT,
                              warn=False)
    if errors:
        raise ValidationFailed(errors)
    with transaction(ctx) as session:
        report = load_report(session, reference, for_update=True)
        if category is None and subcategory:
            # a subcategory alone belongs to the report's present category
            subcategory, problem = check_subcategory(ctx.taxonomy, report.category_id,
                                                     subcategory, locale)
            if problem is not None:
                raise ValidationFailed([problem])
        ensure_triage(session, ctx, actor, report)
        changed: list[str] = []
        if category is not None:
            report.category_id = category
            report.subcategory_id = subcategory
            report.category_source = CategorySource.GROUP.value
            changed.append("category")
        elif subcategory:
            report.subcategory_id = subcategory
            report.category_source = CategorySource.GROUP.value
            changed.append("subcategory")
        if severity is not None:
            report.assessed_severity = severity.value
            changed.append("assessed_severity")
        if agreement is not None:
            report.agreement_reference = agreement
            changed.append("agreement_reference")
        if guideline_breached is not None:
            report.guideline_breached = guideline_breached
            changed.append("guideline_breached")
        elif agreement is not None:
            report.guideline_breached = True
        report.updated_at = now_utc(ctx)
        details: dict[str, Any] = {"fields": changed}
        if severity is not None and offer_formal_guidance(session, ctx, report):
            details["formal_guidance"] = True
        record_audit(session, actor, "assessed", report, **details)
        return report_view(session, report, for_group=True)


def assign(*, ctx: Context, actor: Actor, reference: str, assignee: str | None) -> ReportView:
    """Give the report to one member of the group (None to unassign)."""
    require_group(actor)
    value = guard_group_text("assignee", assignee, MAX_SHORT_TEXT)
    with transaction(ctx) as session:
        report = load_report(session, reference, for_update=True)
        report.assignee = value
        report.updated_at = now_utc(ctx)
        record_audit(session, actor, "assigned", report, assigned=value is not None)
        return report_view(session, report, for_group=True)


# Moves that need details go through their own operation.


_SIMPLE_TARGETS = frozenset({Status.TRIAGE, Status.IN_PROGRESS, Status.REJECTED})


def move_status(
    *, ctx: Context, actor: Actor, reference: str, status: str, message: str | None = None
) -> ReportView:
    """Move to triage, in_progress or rejected, optionally with words to the reporter."""
    require_group(actor)
    errors: list[FieldError] = []
    target = choice(Status, status, "status", errors)
    text = clean_text(message)
    errors += check_free_text("message", text, max_chars=ctx.settings.max_text_chars,
                              warn=False)
    if errors:
        raise ValidationFailed(errors)
    if target not in _SIMPLE_TARGETS:
        raise DomainError("status_needs_details", target=target.value)
    with transaction(ctx) as session:
        report = load_report(session, reference, for_update=True)
        if target == Status.TRIAGE and report.status == Status.CLOSED:
            raise DomainError("status_needs_details", target=target.value)
        if target != Status.TRIAGE:
            ensure_triage(session, ctx, actor, report)
        payload: dict[str, Any] = {}
        if text:
            msg = add_message(session, actor, report, "group", "status", text)
            payload["message_id"] = msg.id
            record_read(session, actor, report, "status_message")
        change_status(session, ctx, actor, report, target, **payload)
        return report_view(session, report, for_group=True)


def add_note(*, ctx: Context, actor: Actor, reference: str, text: str) -> ReportView:
    """An internal note for the group only; the reporter never sees it."""
    require_group(actor)
    body = required_group_text(ctx, "text", text)
    with transaction(ctx) as session:
        report = load_report(session, reference, for_update=True)
        add_message(session, actor, report, "internal", "note", body)
        record_audit(session, actor, "note_added", report)
        return report_view(session, report, for_group=True)


def redirect(
    *,
    ctx: Context,
    actor: Actor,
    reference: str,
    target: str,
    external_reference: str | None = None,
    message: str | None = None,
) -> ReportView:
    """Forward to a formal system (EQS, Compilo, TQM, melde.no): a reference, never content.
    The reporter is told what to do there and where (the target's guidance text and link
    from redirects.toml), with the external reference and the group's own message."""
    require_group(actor)
    errors: list[FieldError] = []
    redirect_to = choice(RedirectTarget, target, "target", errors)
    ext = clean_text(external_reference)
    errors += check_free_text("external_reference", ext, max_chars=MAX_SHORT_TEXT, warn=False)
    text = clean_text(message)
    errors += check_free_text("message", text, max_chars=ctx.settings.max_text_chars,
                              warn=False)
    if errors:
        raise ValidationFailed(errors)
    with transaction(ctx) as session:
        report = load_report(session, reference, for_update=True)
        ensure_triage(session, ctx, actor, report)
        report.redirect_target = redirect_to.value
        report.redirect_reference = ext
        payload: dict[str, Any] = redirect_guidance(ctx, report, redirect_to.value)
        if text:
            msg = add_message(session, actor, report, "group", "redirect", text)
            payload["message_id"] = msg.id
            record_read(session, actor, report, "redirect_message")
        change_status(session, ctx, actor, report, Status.REDIRECTED, target=redirect_to.value,
              external_reference=ext, **payload)
        return report_view(session, report, for_group=True)


def mark_duplicate(
    *, ctx: Context, actor: Actor, reference: str, duplicate_of: str
) -> ReportView:
    """Point a report at the one that already covers the same matter."""
    require_group(actor)
    with transaction(ctx) as session:
        report = load_report(session, reference, for_update=True)
        original = load_report(session, duplicate_of)
        if original.id == report.id:
            raise ValidationFailed([FieldError("duplicate_of", "duplicate_of_itself")])
        ensure_triage(session, ctx, actor, report)
        report.duplicate_of_id = original.id
        change_status(session, ctx, actor, report, Status.DUPLICATE,
              other_reference=original.reference)
        return report_view(session, report, for_group=True)


def close(
    *, ctx: Context, actor: Actor, reference: str, learning_point: str, measure: str
) -> ReportView:
    """Close with what was learned and what was done; both are required."""
    require_group(actor)
    errors: list[FieldError] = []
    lp = clean_text(learning_point)
    me = clean_text(measure)
    if lp is None:
        errors.append(FieldError("learning_point", "required"))
    if me is None:
        errors.append(FieldError("measure", "required"))
    limit = ctx.settings.max_text_chars
    errors += check_free_text("learning_point", lp, max_chars=limit, warn=False)
    errors += check_free_text("measure", me, max_chars=limit, warn=False)
    if errors:
        raise ValidationFailed(errors)
    with transaction(ctx) as session:
        report = load_report(session, reference, for_update=True)
        domain.check_transition(Status(report.status), Status.CLOSED)
        report.learning_point = lp
        report.measure = me
        change_status(session, ctx, actor, report, Status.CLOSED, learning_point=lp, measure=me)
        return report_view(session, report, for_group=True)


def reopen(*, ctx: Context, actor: Actor, reference: str) -> ReportView:
    """Take a closed report back into assessment."""
    require_group(actor)
    with transaction(ctx) as session:
        report = load_report(session, reference, for_update=True)
        if report.status != Status.CLOSED:
            raise domain.InvalidTransition(Status(report.status), Status.TRIAGE)
        report.closed_at = None
        change_status(session, ctx, actor, report, Status.TRIAGE, reopened=True)
        return report_view(session, report, for_group=True)

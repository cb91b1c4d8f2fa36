"""What the use cases share: the transaction, the audit record, text checks (the
identifier guard through `check_free_text`), loading a report and its views, status
changes and the notices they put in the outbox. Not called by doors directly, except
`check_free_text`, `deny` and `status_token_for` through the package.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from intake.domain import model as domain
from intake.domain import privacy as privacy_guard
from intake.domain.model import (
    Actor,
    Channel,
    FieldError,
    NotFound,
    PermissionDenied,
    Status,
    ValidationFailed,
)
from intake.domain.taxonomy import Taxonomy
from intake.services.context import Context
from intake.services.outbox_rows import OUTBOX_WRITTEN, mark_outbox_written, notify_followers
from intake.services.views import MessageView, Receipt, ReportView, offered_suggestion
from storage import models as m

REFERENCE_RE = re.compile(r"^MELD-(\d{4})-(\d{4,})$")


CONTROL_CATEGORIES = {"Cc", "Cf"}


ALLOWED_CONTROL = {"\n", "\r", "\t"}


MAX_SHORT_TEXT = 200


MAX_YEARS_BACK = 5


ANONYMOUS_WEB = "web:"  # an actor without identity; the report gets a fresh pseudonym


GROUP_CHANNEL = "group"  # outbox channel for notices to Forbedringsgruppen (e.g. a Slack channel)


def now_utc(ctx: Context) -> datetime:
    return ctx.clock()


@contextmanager
def transaction(ctx: Context) -> Iterator[Session]:
    """A write transaction whose rows are stamped with the context's clock."""
    with ctx.db.transaction() as session:
        session.info["now"] = ctx.clock()
        yield session
        wrote_notices = session.info.pop(OUTBOX_WRITTEN, False)
    if wrote_notices:  # committed: the worker may deliver now (mark_outbox_written)
        ctx.outbox_signal.fire()




def db_now(session: Session) -> datetime:
    return session.info.get("now") or datetime.now(UTC)


def require_group(actor: Actor) -> None:
    if not actor.is_group:
        raise PermissionDenied("group_only")


def require_reader(actor: Actor) -> None:
    """The group, or a reader (who may read what the group reads and change nothing)."""
    if not actor.reads_group:
        raise PermissionDenied("group_only")


def deny(*, ctx: Context, actor: Actor, action: str) -> PermissionDenied:
    """Audit a refused attempt at a group operation and return the error to raise or show."""
    with transaction(ctx) as session:
        record_audit(session, actor, "denied", None, attempted=action[:40])
    return PermissionDenied("group_only")


def record_audit(
    session: Session, actor: Actor, action: str, report: m.Report | None, **details: Any
) -> None:
    session.add(
        m.AuditEvent(
            at=db_now(session),
            actor_id=actor.identity,
            actor_role=actor.role.value,
            action=action,
            report_id=report.id if report is not None else None,
            details=details,
        )
    )


def status_token_for(ctx: Context, reference: str) -> str:
    """The reporter's private status-page token; derived, so a replay returns the same one."""
    digest = hmac.new(ctx.secret_key, f"status:{reference}".encode(), hashlib.sha256).digest()
    return digest[:24].hex()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def clean_text(value: str | None) -> str | None:
    """NFC-normalise and trim; None for empty."""
    if value is None:
        return None
    value = unicodedata.normalize("NFC", value).strip()
    return value or None


def has_control_chars(value: str) -> bool:
    return any(
        unicodedata.category(ch) in CONTROL_CATEGORIES and ch not in ALLOWED_CONTROL
        and ch not in "\u200b\u200c\u200d\u2060\ufeff"
        for ch in value
    )


def check_free_text(
    field_name: str, value: str | None, *, max_chars: int, warn: bool
) -> list[FieldError]:
    """Length, control characters and the patient-identifier guard for one free-text field."""
    errors: list[FieldError] = []
    if value is None:
        return errors
    if len(value) > max_chars:
        errors.append(FieldError(field_name, "too_long", params={"max": max_chars}))
        return errors
    seen: set[str] = set()
    for finding in privacy_guard.find_identifiers(value):
        if finding.refuse:
            if "national_id" not in seen:  # the most serious first: doors show one per field
                errors.insert(0, FieldError(field_name, "patient_identifier"))
        elif warn and finding.kind not in seen:
            errors.append(FieldError(field_name, f"possible_{finding.kind}", warning=True))
        seen.add(finding.kind)
    if "\x00" in value or has_control_chars(value):
        errors.append(FieldError(field_name, "control_characters"))
    return errors


def guard_group_text(field_name: str, value: str | None, max_chars: int) -> str | None:
    """For group texts: refuse identity numbers and bad characters (no warnings)."""
    value = clean_text(value)
    errors = check_free_text(field_name, value, max_chars=max_chars, warn=False)
    if errors:
        raise ValidationFailed(errors)
    return value


def required_group_text(ctx: Context, field_name: str, value: str | None) -> str:
    """A group text that must be there: guarded like guard_group_text, and not empty."""
    body = guard_group_text(field_name, value, ctx.settings.max_text_chars)
    if body is None:
        raise ValidationFailed([FieldError(field_name, "required")])
    return body


def choice(enum: type, value: str | None, field_name: str, errors: list[FieldError],
            required: bool = True) -> Any:
    if value in (None, ""):
        if required:
            errors.append(FieldError(field_name, "required"))
        return None
    try:
        return enum(value)
    except ValueError:
        errors.append(FieldError(field_name, "invalid_choice"))
        return None


def parse_date(value: str | date | None, errors: list[FieldError], ctx: Context) -> date | None:
    if value in (None, ""):
        errors.append(FieldError("occurred_on", "required"))
        return None
    if isinstance(value, date):
        parsed = value
    else:
        try:
            parsed = date.fromisoformat(str(value).strip())
        except ValueError:
            errors.append(FieldError("occurred_on", "invalid_date"))
            return None
    today = ctx.today()
    if parsed > today:
        errors.append(FieldError("occurred_on", "date_in_future"))
    elif parsed < today.replace(year=today.year - MAX_YEARS_BACK):
        errors.append(FieldError("occurred_on", "date_too_old", params={"years": MAX_YEARS_BACK}))
    return parsed


def check_subcategory(
    taxonomy: Taxonomy, category_id: str, subcategory: str, locale: str, *,
    active_only: bool = False,
) -> tuple[str, FieldError | None]:
    """The one rule for a (category, subcategory) pair, for reporters and the group alike:
    the subcategory must be one of the category's own. Returns the subcategory id to store
    and None, or the error at the `subcategory` field, which names both categories when the
    subcategory belongs to another one. Never drops a subcategory without saying so.

    A door may send the subcategory as "category/subcategory" (the chat doors' combined
    choice, the web form's lists): under the chosen category it is the subcategory; under
    another one it is refused like any subcategory of another category.
    """
    parent, slash, sub_id = subcategory.partition("/")
    if not slash:
        parent, sub_id = "", subcategory
    category = taxonomy.category(category_id)
    if category is not None and parent in ("", category.id):
        own = category.subcategory(sub_id)
        if own is not None:  # its own, unless withdrawn from the list
            if own.active or not active_only:
                return own.id, None
            return subcategory, FieldError("subcategory", "unknown_subcategory")
    # another category's subcategory: name where it belongs (the one named, else the first
    # category that has it), so the reporter sees what to change
    owners = [taxonomy.category(parent)] if parent else [
        c for c in taxonomy.categories if c.id != category_id]
    for owner in owners:
        found = owner.subcategory(sub_id) if owner is not None else None
        if owner is not None and found is not None and owner.id != category_id:
            return subcategory, FieldError("subcategory", "subcategory_of_other_category", params={
                "subcategory": found.label(locale), "owner": owner.label(locale),
                "category": taxonomy.category_label(category_id, locale)})
    return subcategory, FieldError("subcategory", "unknown_subcategory")


def feedback_by(ctx: Context, reported_at: datetime) -> date:
    return ctx.local_date(reported_at) + timedelta(days=ctx.settings.feedback_days)


def promised_by(ctx: Context, kind: str, reported_at: datetime) -> date | None:
    """The receipt's feedback-by date; none for good collaboration (nothing to answer)."""
    return None if kind == domain.Kind.GOOD_COLLABORATION else feedback_by(ctx, reported_at)


def make_receipt(ctx: Context, report: m.Report, created: bool) -> Receipt:
    return Receipt(
        reference=report.reference,
        status=Status(report.status),
        feedback_by=promised_by(ctx, report.kind, report.reported_at),
        formal_guidance=report.reported_severity in domain.SERIOUS_SEVERITIES,
        status_token=status_token_for(ctx, report.reference),
        created=created,
        email_notices=report.notify_email is not None,
        kind=report.kind,
        category=report.category_id,
        subcategory=report.subcategory_id,
        category_source=report.category_source,
        **offered_suggestion(report.category_source, report.suggested_category_id,
                             report.suggested_subcategory_id),
    )


def channel_of(identity: str) -> str:
    prefix = identity.split(":", 1)[0]
    return prefix if prefix in {c.value for c in Channel} else Channel.WEB.value


EMAIL_CHANNEL = "email"  # outbox channel of notices by e-mail (the address is on the report)


def email_recipient(reference: str) -> str:
    """The outbox recipient of a report's e-mail notices: the report, not the address, so
    the address lives in one place (reports.notify_email) and retention erases it there."""
    return f"{EMAIL_CHANNEL}:{reference}"


def reporter_notice_rows(
    *, report_id: int, reference: str, channel: str, reporter_id: str | None,
    notify_email: str | None, event: str, payload: dict[str, Any], now: datetime,
) -> list[dict[str, Any]]:
    """The outbox rows of one notice to a reporter: in the channel they used, and by e-mail
    when they gave an address. Plain dicts for a Core insert."""
    payload = {"reference": reference, **payload}
    rows: list[dict[str, Any]] = []
    base = {"report_id": report_id, "event": event, "created_at": now,
            "next_attempt_at": now, "attempts": 0}
    if reporter_id and channel != EMAIL_CHANNEL:  # a mailed report hears back by mail only
        rows.append({**base, "channel": channel, "recipient": reporter_id,
                     "payload": payload})
    if notify_email:
        rows.append({**base, "channel": EMAIL_CHANNEL, "recipient": email_recipient(reference),
                     "payload": dict(payload)})
    return rows


def notify_reporter(
    session: Session, report: m.Report, event: str, **payload: Any
) -> None:
    """Queue a notification to the reporter in the channel they used, and by e-mail when
    they asked for it (same transaction; the worker is woken after the commit)."""
    rows = reporter_notice_rows(
        report_id=report.id, reference=report.reference, channel=report.channel,
        reporter_id=report.reporter_id, notify_email=report.notify_email, event=event,
        payload=payload, now=db_now(session))
    for row in rows:
        session.add(m.OutboxMessage(**row))
    if rows:
        mark_outbox_written(session)


# ---------------------------------------------------------------- submit


def parse_reference(reference: str) -> str:
    ref = (reference or "").strip().upper()
    if not REFERENCE_RE.match(ref):
        raise ValidationFailed([FieldError("reference", "invalid_reference")])
    return ref


def load_report(session: Session, reference: str, *, for_update: bool = False) -> m.Report:
    ref = parse_reference(reference)
    stmt = select(m.Report).where(m.Report.reference == ref)
    if for_update:
        stmt = stmt.with_for_update()
    report = session.scalars(stmt).one_or_none()
    if report is None:
        raise NotFound("report_not_found", reference=ref)
    return report


def load_report_by_token(session: Session, ctx: Context, token: str, *,
                         for_update: bool = False) -> m.Report:
    """The report whose private status-page token this is (the token is the capability);
    NotFound for an unknown, malformed or forged one."""
    if not token or len(token) > 100:
        raise NotFound("report_not_found", reference="")
    stmt = select(m.Report).where(m.Report.status_token_hash == hash_token(token))
    if for_update:
        stmt = stmt.with_for_update()
    report = session.scalars(stmt).one_or_none()
    if report is None or not hmac.compare_digest(status_token_for(ctx, report.reference),
                                                 token):
        raise NotFound("report_not_found", reference="")
    return report


def report_view(session: Session, report: m.Report, *, for_group: bool) -> ReportView:
    plus = session.scalar(
        select(func.count()).select_from(m.PlusOne).where(m.PlusOne.report_id == report.id)
    )
    msgs = session.scalars(
        select(m.Message).where(m.Message.report_id == report.id).order_by(m.Message.id)
    ).all()
    dup_ref = None
    if report.duplicate_of_id is not None:
        dup_ref = session.scalar(
            select(m.Report.reference).where(m.Report.id == report.duplicate_of_id)
        )
    return ReportView(
        reference=report.reference,
        kind=report.kind,
        category=report.category_id,
        subcategory=report.subcategory_id,
        description=report.description,
        occurred_on=report.occurred_on,
        reported_at=report.reported_at,
        reported_severity=report.reported_severity,
        assessed_severity=report.assessed_severity if for_group else None,
        status=report.status,
        reporter_party=report.reporter_party,
        concerned_party=report.concerned_party,
        direction=report.direction,
        place=report.place_id,
        place_text=report.place_text,
        agreement_reference=report.agreement_reference if for_group else None,
        guideline_breached=report.guideline_breached if for_group else None,
        assignee=report.assignee if for_group else None,
        learning_point=report.learning_point,
        measure=report.measure,
        redirect_target=report.redirect_target,
        redirect_reference=report.redirect_reference,
        duplicate_of=dup_ref,
        channel=report.channel,
        reporter_id=report.reporter_id if for_group else None,
        plus_ones=plus or 0,
        messages=tuple(
            MessageView(x.id, x.direction, x.purpose, x.body,
                        x.author_id if for_group else None, x.created_at)
            for x in msgs
            if for_group or x.direction != "internal"
        ),
        locale=report.locale,
        reporter_unread_since=report.reporter_unread_since if for_group else None,
        notify_email=report.notify_email if for_group else None,
        withheld=report.withheld if for_group else None,
        public_title=report.public_title,
        category_source=report.category_source,
        suggested_category=report.suggested_category_id if for_group else None,
        suggested_subcategory=report.suggested_subcategory_id if for_group else None,
    )


def summary_view(r: m.Report | Row[Any], *, for_group: bool = True,
                 overdue: bool = False) -> ReportView:
    """A list row: no free text, no messages."""
    return ReportView(
        reference=r.reference, kind=r.kind, category=r.category_id, subcategory=r.subcategory_id,
        description=None, occurred_on=r.occurred_on, reported_at=r.reported_at,
        reported_severity=r.reported_severity, assessed_severity=r.assessed_severity,
        status=r.status, reporter_party=r.reporter_party, concerned_party=r.concerned_party,
        direction=r.direction, place=r.place_id, place_text=None,
        agreement_reference=r.agreement_reference, guideline_breached=r.guideline_breached,
        assignee=r.assignee, learning_point=None, measure=None,
        redirect_target=r.redirect_target, redirect_reference=r.redirect_reference,
        duplicate_of=None, channel=r.channel, reporter_id=r.reporter_id, plus_ones=0,
        messages=(), locale=r.locale,
        reporter_unread_since=r.reporter_unread_since if for_group else None,
        feedback_overdue=overdue and for_group,
        withheld=r.withheld if for_group else None,
        category_source=r.category_source,
        suggested_category=r.suggested_category_id if for_group else None,
        suggested_subcategory=r.suggested_subcategory_id if for_group else None,
    )


def change_status(
    session: Session,
    ctx: Context,
    actor: Actor,
    report: m.Report,
    to: Status,
    *,
    notify: bool = True,
    **payload: Any,
) -> None:
    """Apply one allowed status move: audit it and tell the reporter."""
    current = Status(report.status)
    domain.check_transition(current, to)
    report.status = to.value
    now = now_utc(ctx)
    report.updated_at = report.status_changed_at = now
    if to == Status.CLOSED:
        report.closed_at = now
    record_audit(session, actor, "status_changed", report, previous=current.value, status=to.value)
    if notify:
        if actor.is_group and report.first_feedback_at is None:
            report.first_feedback_at = now
        notify_reporter(session, report, "status_changed", status=to.value, **payload)
        notify_followers(session, report, to.value, now, **payload)


def record_read(session: Session, actor: Actor, report: m.Report, via: str) -> None:
    """The group has seen the reporter's messages: clear the unread mark, and log when (the
    digest of a past week reads these events to tell what was unread at its end)."""
    if report.reporter_unread_since is None:
        return
    report.reporter_unread_since = None
    record_audit(session, actor, m.UNREAD_CLEARED_ACTION, report, via=via)


def notify_group(session: Session, report: m.Report, event: str, **payload: Any) -> None:
    """Queue a notice to the working group's channel(s): codes and the reference only,
    never a report's or a message's text."""
    payload.setdefault("reference", report.reference)
    now = db_now(session)
    session.add(m.OutboxMessage(created_at=now, next_attempt_at=now, report_id=report.id,
                                channel=GROUP_CHANNEL, recipient=GROUP_CHANNEL, event=event,
                                payload=payload))
    mark_outbox_written(session)


def ensure_triage(session: Session, ctx: Context, actor: Actor, report: m.Report) -> None:
    """Operations on a fresh report start its assessment first."""
    if report.status == Status.RECEIVED:
        change_status(session, ctx, actor, report, Status.TRIAGE)


def add_message(
    session: Session, actor: Actor, report: m.Report, direction: str, purpose: str, body: str
) -> m.Message:
    msg = m.Message(report_id=report.id, author_id=actor.identity, created_at=db_now(session),
                    direction=direction,
                    purpose=purpose, body=body)
    session.add(msg)
    session.flush()
    return msg

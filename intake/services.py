"""The intake service: every door calls these functions. One transaction per operation.

Each operation checks the actor's role, applies the domain rules, writes an audit event
and any reporter notification (outbox row) in the same transaction as the change.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import Session

from intake import domain
from intake import privacy as privacy_guard
from intake.domain import (
    Actor,
    Channel,
    Conflict,
    DomainError,
    FieldError,
    Kind,
    NotFound,
    Party,
    PermissionDenied,
    RedirectTarget,
    Role,
    Severity,
    Status,
    ValidationFailed,
)
from intake.i18n import normalize_locale
from intake.settings import Settings
from intake.taxonomy import Taxonomy
from storage import models as m
from storage.db import Database

REFERENCE_RE = re.compile(r"^MELD-(\d{4})-(\d{4,})$")
_CONTROL_CHARS = {"Cc", "Cf"}
_ALLOWED_CONTROL = {"\n", "\r", "\t"}
MAX_SHORT_TEXT = 200
MAX_YEARS_BACK = 5
ANONYMOUS_WEB = "web:"  # an actor without identity; the report gets a fresh pseudonym
GROUP_CHANNEL = "group"  # outbox channel for notices to Forbedringsgruppen (e.g. a Slack channel)


@dataclass(frozen=True, slots=True)
class Context:
    """What every operation needs: the database, settings, taxonomy and a clock."""

    db: Database
    settings: Settings
    taxonomy: Taxonomy
    secret_key: bytes
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def today(self) -> date:
        return self.local_date(self.clock())

    def local_date(self, moment: datetime) -> date:
        """The calendar date of an instant in the configured time zone."""
        return moment.astimezone(ZoneInfo(self.settings.timezone)).date()


FORM_NO_IDS = "no_ids"  # the chat forms' required "no patient identifiers" checkbox
FORM_CONFIRM = "confirm_warnings"  # ... and their "send anyway" box after a warning


@dataclass(slots=True)
class ReportDraft:
    """A report as a door received it: plain strings, not yet validated."""

    kind: str | None = None
    category: str | None = None
    subcategory: str | None = None
    description: str | None = None
    occurred_on: str | date | None = None
    severity: str | None = None
    no_patient_identifiers: bool = False
    confirm_warnings: bool = False
    reporter_party: str | None = None
    concerned_party: str | None = None
    place: str | None = None
    place_text: str | None = None
    source_link: str | None = None
    locale: str | None = None

    @classmethod
    def from_chat_form(cls, values: Mapping[str, Any], *, source_link: str | None,
                       locale: str) -> ReportDraft:
        """The report form of the chat doors (Slack's modal, Teams' card), read into their
        shared field names: the draft's own, FORM_NO_IDS and FORM_CONFIRM."""
        return cls(
            kind=values["kind"], category=values["category"],
            subcategory=values["subcategory"], description=values["description"],
            occurred_on=values["occurred_on"], severity=values["severity"],
            no_patient_identifiers=values[FORM_NO_IDS],
            confirm_warnings=values[FORM_CONFIRM],
            reporter_party=values["reporter_party"], concerned_party=values["concerned_party"],
            place=values["place"], source_link=source_link, locale=locale,
        )


@dataclass(frozen=True, slots=True)
class Receipt:
    reference: str
    status: Status
    feedback_by: date
    formal_guidance: bool
    status_token: str
    created: bool


@dataclass(frozen=True, slots=True)
class MessageView:
    id: int
    direction: str
    purpose: str
    body: str | None
    author_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ReportView:
    """A report as one actor may see it (internal notes only for the group)."""

    reference: str
    kind: str
    category: str
    subcategory: str | None
    description: str | None
    occurred_on: date
    reported_at: datetime
    reported_severity: str
    assessed_severity: str | None
    status: str
    reporter_party: str | None
    concerned_party: str | None
    direction: str | None
    place: str | None
    place_text: str | None
    agreement_reference: str | None
    guideline_breached: bool | None
    assignee: str | None
    learning_point: str | None
    measure: str | None
    redirect_target: str | None
    redirect_reference: str | None
    duplicate_of: str | None
    channel: str
    reporter_id: str | None
    plus_ones: int
    messages: tuple[MessageView, ...]
    locale: str
    # the group's views: since when a reporter's message waits unread (see reporter_answer)
    reporter_unread_since: datetime | None = None

    @property
    def unread_from_reporter(self) -> bool:
        """The reporter has written something the group has not read yet."""
        return self.reporter_unread_since is not None


@dataclass(frozen=True, slots=True)
class ReportFilter:
    status: str | None = None
    kind: str | None = None
    category: str | None = None
    occurred_from: date | None = None
    occurred_to: date | None = None
    unread: bool = False  # only reports with an unread message from the reporter


@dataclass(frozen=True, slots=True)
class Page:
    items: tuple[ReportView, ...]
    next_cursor: int | None


# ---------------------------------------------------------------- helpers


def _now(ctx: Context) -> datetime:
    return ctx.clock()


@contextmanager
def _tx(ctx: Context) -> Iterator[Session]:
    """A write transaction whose rows are stamped with the context's clock."""
    with ctx.db.transaction() as session:
        session.info["now"] = ctx.clock()
        yield session


def _stamp(session: Session) -> datetime:
    return session.info.get("now") or datetime.now(UTC)


def _require_group(actor: Actor) -> None:
    if not actor.is_group:
        raise PermissionDenied("group_only")


def deny(*, ctx: Context, actor: Actor, action: str) -> PermissionDenied:
    """Audit a refused attempt at a group operation and return the error to raise or show."""
    with _tx(ctx) as session:
        _audit(session, actor, "denied", None, attempted=action[:40])
    return PermissionDenied("group_only")


def _audit(
    session: Session, actor: Actor, action: str, report: m.Report | None, **details: Any
) -> None:
    session.add(
        m.AuditEvent(
            at=_stamp(session),
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


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _clean_text(value: str | None) -> str | None:
    """NFC-normalise and trim; None for empty."""
    if value is None:
        return None
    value = unicodedata.normalize("NFC", value).strip()
    return value or None


def _has_control_chars(value: str) -> bool:
    return any(
        unicodedata.category(ch) in _CONTROL_CHARS and ch not in _ALLOWED_CONTROL
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
    if "\x00" in value or _has_control_chars(value):
        errors.append(FieldError(field_name, "control_characters"))
    return errors


def _guard_text(field_name: str, value: str | None, max_chars: int) -> str | None:
    """For group texts: refuse identity numbers and bad characters (no warnings)."""
    value = _clean_text(value)
    errors = check_free_text(field_name, value, max_chars=max_chars, warn=False)
    if errors:
        raise ValidationFailed(errors)
    return value


def _required_group_text(ctx: Context, field_name: str, value: str | None) -> str:
    """A group text that must be there: guarded like _guard_text, and not empty."""
    body = _guard_text(field_name, value, ctx.settings.max_text_chars)
    if body is None:
        raise ValidationFailed([FieldError(field_name, "required")])
    return body


def _choice(enum: type, value: str | None, field_name: str, errors: list[FieldError],
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


def _parse_date(value: str | date | None, errors: list[FieldError], ctx: Context) -> date | None:
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


@dataclass(slots=True)
class _Valid:
    kind: Kind
    category: str
    subcategory: str | None
    description: str
    occurred_on: date
    severity: Severity
    reporter_party: Party | None
    concerned_party: Party | None
    place: str | None
    place_text: str | None
    source_link: str | None


def validate_draft(ctx: Context, draft: ReportDraft) -> _Valid:
    """All submit rules in one place; raises ValidationFailed with every problem found."""
    errors: list[FieldError] = []
    kind = _choice(Kind, draft.kind, "kind", errors)
    severity = _choice(Severity, draft.severity, "severity", errors)
    reporter_party = _choice(Party, draft.reporter_party, "reporter_party", errors, False)
    concerned_party = _choice(Party, draft.concerned_party, "concerned_party", errors, False)

    category = ctx.taxonomy.category(draft.category or "")
    if not draft.category:
        errors.append(FieldError("category", "required"))
    elif category is None or not category.active:
        errors.append(FieldError("category", "unknown_category"))
    subcategory = draft.subcategory or None
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

    description = _clean_text(draft.description)
    if description is None:
        errors.append(FieldError("description", "required"))
    errors += check_free_text(
        "description", description, max_chars=ctx.settings.max_text_chars, warn=True
    )
    place_text = _clean_text(draft.place_text)
    errors += check_free_text("place_text", place_text, max_chars=MAX_SHORT_TEXT, warn=True)
    source_link = _clean_text(draft.source_link)
    if source_link and len(source_link) > 500:
        errors.append(FieldError("source_link", "too_long", params={"max": 500}))

    occurred_on = _parse_date(draft.occurred_on, errors, ctx)
    if not draft.no_patient_identifiers:
        errors.append(FieldError("no_patient_identifiers", "must_confirm_no_identifiers"))

    if draft.confirm_warnings:
        errors = [e for e in errors if not e.warning]
    if errors:
        raise ValidationFailed(errors)
    assert kind and severity and description and occurred_on and draft.category
    return _Valid(
        kind=kind,
        category=draft.category,
        subcategory=subcategory,
        description=description,
        occurred_on=occurred_on,
        severity=severity,
        reporter_party=reporter_party,
        concerned_party=concerned_party,
        place=place,
        place_text=place_text,
        source_link=source_link,
    )


def _request_hash(valid: _Valid) -> str:
    material = json.dumps(
        {k: str(getattr(valid, k)) for k in valid.__slots__}, sort_keys=True
    ).encode()
    return hashlib.sha256(material).hexdigest()


def _ensure_reference_sequence(ctx: Context, year: int) -> None:
    """PostgreSQL: one sequence per year, created once, outside the submit transaction."""
    db = ctx.db
    if db.dialect != "postgresql" or year in db.known_sequences:
        return
    try:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"CREATE SEQUENCE IF NOT EXISTS meld_reference_{int(year)}"))
    except (IntegrityError, ProgrammingError) as exc:
        # IF NOT EXISTS is not safe against a concurrent CREATE: the loser gets a unique
        # violation (23505, on the catalog) or duplicate_table (42P07). Either way it exists.
        if getattr(exc.orig, "sqlstate", None) not in ("23505", "42P07"):
            raise
    db.known_sequences.add(year)


def _next_reference(session: Session, year: int) -> str:
    """Allocate MELD-YYYY-NNNN.

    PostgreSQL takes the number from the year's sequence: no lock is held, so concurrent
    submits never wait on each other, and a rolled-back submit leaves a gap (tolerated).
    SQLite has one writer at a time anyway and bumps a counter row.
    """
    if session.get_bind().dialect.name == "postgresql":
        number = session.execute(
            text(f"SELECT nextval('meld_reference_{int(year)}')")
        ).scalar_one()
    else:
        stmt = sqlite.insert(m.ReferenceCounter).values(year=year, last=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=[m.ReferenceCounter.year],
            set_={"last": m.ReferenceCounter.last + 1},
        ).returning(m.ReferenceCounter.last)
        number = session.execute(stmt).scalar_one()
    return f"MELD-{year}-{number:04d}"


def _feedback_by(ctx: Context, reported_at: datetime) -> date:
    return ctx.local_date(reported_at) + timedelta(days=ctx.settings.feedback_days)


def _receipt(ctx: Context, report: m.Report, created: bool) -> Receipt:
    return Receipt(
        reference=report.reference,
        status=Status(report.status),
        feedback_by=_feedback_by(ctx, report.reported_at),
        formal_guidance=report.reported_severity in domain.SERIOUS_SEVERITIES,
        status_token=status_token_for(ctx, report.reference),
        created=created,
    )


def _channel_of(identity: str) -> str:
    prefix = identity.split(":", 1)[0]
    return prefix if prefix in {c.value for c in Channel} else Channel.WEB.value


def _notify_reporter(
    session: Session, report: m.Report, event: str, **payload: Any
) -> None:
    """Queue a notification to the reporter in the channel they used (same transaction)."""
    if not report.reporter_id:
        return
    payload.setdefault("reference", report.reference)
    now = _stamp(session)
    session.add(
        m.OutboxMessage(
            created_at=now,
            next_attempt_at=now,
            report_id=report.id,
            channel=report.channel,
            recipient=report.reporter_id,
            event=event,
            payload=payload,
        )
    )


# ---------------------------------------------------------------- submit


def submit_report(
    *, ctx: Context, actor: Actor, draft: ReportDraft, idempotency_key: str | None = None
) -> Receipt:
    """Validate, store and acknowledge one report; the same idempotency key gives the same one."""
    valid = validate_draft(ctx, draft)
    req_hash = _request_hash(valid)
    key = idempotency_key.strip()[:200] if idempotency_key and idempotency_key.strip() else None
    if key is not None and ("\x00" in key or _has_control_chars(key)):
        raise ValidationFailed([FieldError("idempotency_key", "control_characters")])
    formal = valid.severity in domain.SERIOUS_SEVERITIES
    channel = _channel_of(actor.identity)
    reporter_id = (
        f"web:{secrets.token_hex(12)}" if actor.identity == ANONYMOUS_WEB else actor.identity
    )
    now = _now(ctx)
    year = ctx.local_date(now).year
    _ensure_reference_sequence(ctx, year)
    try:
        with ctx.db.transaction() as session:
            if key is not None:
                existing = _by_key(session, key)
                if existing is not None:
                    return _replayed(ctx, existing, req_hash)
            reference = _next_reference(session, year)
            # Core inserts: the hot path of every door, three rows in one transaction.
            report_id = session.execute(
                insert(m.Report.__table__).returning(m.Report.__table__.c.id),
                {
                    "reference": reference,
                    "kind": valid.kind.value,
                    "category_id": valid.category,
                    "subcategory_id": valid.subcategory,
                    "description": valid.description,
                    "reporter_party": valid.reporter_party.value if valid.reporter_party
                    else None,
                    "concerned_party": valid.concerned_party.value if valid.concerned_party
                    else None,
                    "direction": domain.direction(valid.reporter_party, valid.concerned_party),
                    "place_id": valid.place,
                    "place_text": valid.place_text,
                    "occurred_on": valid.occurred_on,
                    "reported_at": now,
                    "reported_on": ctx.local_date(now),
                    "updated_at": now,
                    "reported_severity": valid.severity.value,
                    "status": Status.RECEIVED.value,
                    "status_changed_at": now,
                    "reporter_id": reporter_id,
                    "channel": channel,
                    "locale": normalize_locale(draft.locale or ctx.settings.locale),
                    "source_link": valid.source_link,
                    "idempotency_key": key,
                    "request_hash": req_hash,
                    "status_token_hash": _hash_token(status_token_for(ctx, reference)),
                },
            ).scalar_one()
            session.execute(
                insert(m.AuditEvent.__table__),
                {"at": now, "actor_id": actor.identity, "actor_role": actor.role.value,
                 "action": "submitted", "report_id": report_id,
                 "details": {"kind": valid.kind.value, "severity": valid.severity.value,
                             "channel": channel}},
            )
            session.execute(
                insert(m.OutboxMessage.__table__),
                [
                    {"report_id": report_id, "channel": channel, "recipient": reporter_id,
                     "event": "receipt", "created_at": now, "next_attempt_at": now,
                     "attempts": 0,
                     "payload": {"formal_guidance": formal, "reference": reference,
                                 "feedback_by": _feedback_by(ctx, now).isoformat()}},
                    # the working group's channel(s): coded fields only, never the text
                    {"report_id": report_id, "channel": GROUP_CHANNEL,
                     "recipient": GROUP_CHANNEL, "event": "new_report", "created_at": now,
                     "next_attempt_at": now, "attempts": 0,
                     "payload": {"reference": reference, "kind": valid.kind.value,
                                 "category": valid.category,
                                 "severity": valid.severity.value, "place": valid.place,
                                 "serious": formal}},
                ],
            )
        return Receipt(
            reference=reference,
            status=Status.RECEIVED,
            feedback_by=_feedback_by(ctx, now),
            formal_guidance=formal,
            status_token=status_token_for(ctx, reference),
            created=True,
        )
    except IntegrityError:
        # A concurrent submit with the same idempotency key won the race: return its receipt.
        if key is not None:
            with ctx.db.reading() as session:
                existing = _by_key(session, key)
            if existing is not None:
                return _replayed(ctx, existing, req_hash)
        raise


def _by_key(session: Session, key: str) -> m.Report | None:
    return session.scalars(select(m.Report).where(m.Report.idempotency_key == key)).one_or_none()


def _replayed(ctx: Context, existing: m.Report, req_hash: str) -> Receipt:
    if existing.request_hash != req_hash:
        raise Conflict("idempotency_key_reused")
    return _receipt(ctx, existing, created=False)


# ---------------------------------------------------------------- reads


def _parse_reference(reference: str) -> str:
    ref = (reference or "").strip().upper()
    if not REFERENCE_RE.match(ref):
        raise ValidationFailed([FieldError("reference", "invalid_reference")])
    return ref


def _load(session: Session, reference: str, *, for_update: bool = False) -> m.Report:
    ref = _parse_reference(reference)
    stmt = select(m.Report).where(m.Report.reference == ref)
    if for_update:
        stmt = stmt.with_for_update()
    report = session.scalars(stmt).one_or_none()
    if report is None:
        raise NotFound("report_not_found", reference=ref)
    return report


def _view(session: Session, report: m.Report, *, for_group: bool) -> ReportView:
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
    )


def get_report(*, ctx: Context, actor: Actor, reference: str,
               mark_read: bool = True) -> ReportView:
    """One report: the group sees everything (and the read is audited); a reporter only own.

    A group member's read shows the report with its messages, so it clears the unread mark
    (the view returned still carries the mark as it was, so the reader sees what was new).
    A door that only fills a form from the report (the assessment form) passes
    mark_read=False: that read shows no messages.
    """
    with _tx(ctx) as session:
        # a group read locks the row: a reporter's message cannot slip in between the view
        # and the clearing of the mark
        report = _load(session, reference, for_update=actor.is_group and mark_read)
        if actor.is_group:
            _audit(session, actor, "read", report)
            view = _view(session, report, for_group=True)
            if mark_read:
                _mark_read(session, actor, report, "read")
            return view
        if report.reporter_id != actor.identity:
            _audit(session, actor, "read_denied", report)
            denied = PermissionDenied("not_your_report")
        else:
            return _view(session, report, for_group=False)
    raise denied


def find_by_status_token(*, ctx: Context, token: str) -> tuple[Actor, ReportView]:
    """The reporter behind a private status link, and their view of the report."""
    if not token or len(token) > 100:
        raise NotFound("report_not_found", reference="")
    with ctx.db.reading() as session:
        report = session.scalars(
            select(m.Report).where(m.Report.status_token_hash == _hash_token(token))
        ).one_or_none()
        if report is None or not hmac.compare_digest(
            status_token_for(ctx, report.reference), token
        ):
            raise NotFound("report_not_found", reference="")
        actor = Actor(report.reporter_id or f"web:{_hash_token(token)[:24]}", Role.REPORTER)
        return actor, _view(session, report, for_group=False)


def list_reports(
    *,
    ctx: Context,
    actor: Actor,
    filters: ReportFilter | None = None,
    after: int | None = None,
    limit: int = 50,
) -> Page:
    """The group's queue, newest first, keyset-paginated on the report id."""
    _require_group(actor)
    filters = filters or ReportFilter()
    _check_filters(filters)
    limit = max(1, min(limit, 200))
    if after is not None:
        after = max(0, min(after, MAX_ROW_ID))  # a larger cursor overflows the id column
    stmt = select(m.Report).order_by(m.Report.id.desc()).limit(limit + 1)
    if filters.status:
        stmt = stmt.where(m.Report.status == filters.status)
    if filters.kind:
        stmt = stmt.where(m.Report.kind == filters.kind)
    if filters.category:
        stmt = stmt.where(m.Report.category_id == filters.category)
    if filters.occurred_from:
        stmt = stmt.where(m.Report.occurred_on >= filters.occurred_from)
    if filters.occurred_to:
        stmt = stmt.where(m.Report.occurred_on <= filters.occurred_to)
    if filters.unread:
        stmt = stmt.where(m.Report.reporter_unread_since.is_not(None))
    if after is not None:
        stmt = stmt.where(m.Report.id < after)
    with _tx(ctx) as session:
        rows = session.scalars(stmt).all()
        more = len(rows) > limit
        rows = rows[:limit]
        views = tuple(_summary(r) for r in rows)
        _audit(session, actor, "list", None, count=len(rows))
    return Page(items=views, next_cursor=rows[-1].id if more and rows else None)


MAX_ROW_ID = 2**31 - 1  # ids are INTEGER columns (int4 on PostgreSQL)


def _check_filters(filters: ReportFilter) -> None:
    """Unknown codes and control characters in list filters are a 422, never a 500."""
    errors: list[FieldError] = []
    _choice(Status, filters.status, "status", errors, False)
    _choice(Kind, filters.kind, "kind", errors, False)
    if filters.category and (len(filters.category) > 64 or _has_control_chars(filters.category)
                             or "\x00" in filters.category):
        errors.append(FieldError("category", "unknown_category"))
    if errors:
        raise ValidationFailed(errors)


def _summary(r: m.Report, *, for_group: bool = True) -> ReportView:
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
    )


def list_my_reports(*, ctx: Context, actor: Actor, limit: int = 50) -> tuple[ReportView, ...]:
    """A reporter's own reports, newest first."""
    with ctx.db.reading() as session:
        rows = session.scalars(
            select(m.Report)
            .where(m.Report.reporter_id == actor.identity)
            .order_by(m.Report.id.desc())
            .limit(limit)
        ).all()
        return tuple(_summary(r, for_group=False) for r in rows)


def last_group_messages(*, ctx: Context, actor: Actor) -> dict[str, str]:
    """The group's latest message to this reporter on each of their reports."""
    latest = (
        select(func.max(m.Message.id))
        .join(m.Report, m.Report.id == m.Message.report_id)
        .where(m.Report.reporter_id == actor.identity, m.Message.direction == "group")
        .group_by(m.Message.report_id)
    )
    with ctx.db.reading() as session:
        rows = session.execute(
            select(m.Report.reference, m.Message.body)
            .join(m.Message, m.Message.report_id == m.Report.id)
            .where(m.Message.id.in_(latest))
        ).all()
    return {reference: body or "" for reference, body in rows}


def last_group_activity(*, ctx: Context, actor: Actor) -> dict[str, datetime]:
    """When the group last told this reporter something, per report that has such news.

    News is what the status page shows the reporter: a message from the group (answer,
    question, status words) or a status notice delivered to the reporter.
    """
    mine = m.Report.reporter_id == actor.identity
    with ctx.db.reading() as session:
        messages = session.execute(
            select(m.Report.reference, func.max(m.Message.created_at))
            .join(m.Message, m.Message.report_id == m.Report.id)
            .where(mine, m.Message.direction == "group")
            .group_by(m.Report.reference)
        ).all()
        notices = session.execute(
            select(m.Report.reference, func.max(m.OutboxMessage.delivered_at))
            .join(m.OutboxMessage, m.OutboxMessage.report_id == m.Report.id)
            .where(mine, m.OutboxMessage.recipient == actor.identity,
                   m.OutboxMessage.event == "status_changed",
                   m.OutboxMessage.delivered_at.is_not(None))
            .group_by(m.Report.reference)
        ).all()
    latest: dict[str, datetime] = {}
    for reference, at in (*messages, *notices):
        if at is not None and (reference not in latest or at > latest[reference]):
            latest[reference] = at
    return latest


def receipt_for(*, ctx: Context, reference: str) -> Receipt:
    """The receipt of an existing report (shown again on its status page)."""
    with ctx.db.reading() as session:
        return _receipt(ctx, _load(session, reference), created=False)


def delivered_notices(
    *, ctx: Context, reference: str
) -> list[tuple[datetime, str, dict[str, Any], str | None]]:
    """Status notices already delivered to a web reporter: (when, event, payload, message)."""
    with ctx.db.reading() as session:
        report = _load(session, reference)
        rows = session.execute(
            select(m.OutboxMessage.delivered_at, m.OutboxMessage.event,
                   m.OutboxMessage.payload, m.Message.body)
            .outerjoin(m.Message,
                       m.Message.id == m.OutboxMessage.payload["message_id"].as_integer())
            .where(m.OutboxMessage.report_id == report.id,
                   m.OutboxMessage.channel == Channel.WEB.value,
                   m.OutboxMessage.delivered_at.is_not(None),
                   m.OutboxMessage.event == "status_changed")
            .order_by(m.OutboxMessage.id)
        ).all()
    out = []
    for when, event, payload, body in rows:
        data = dict(payload, reference=report.reference)
        out.append((when, event, data, body))
    return out


EXPORT_COLUMNS = (
    "reference", "kind", "category_id", "subcategory_id", "status", "occurred_on",
    "reported_at", "reported_severity", "assessed_severity", "reporter_party",
    "concerned_party", "direction", "place_id", "agreement_reference", "guideline_breached",
    "redirect_target", "channel", "first_feedback_at", "closed_at",
)


def export_rows(*, ctx: Context, actor: Actor, batch: int = 1000) -> Iterator[tuple[Any, ...]]:
    """Coded fields of every report (no free text, no reporter), streamed in id order."""
    _require_group(actor)
    with _tx(ctx) as session:
        _audit(session, actor, "export", None, format="csv")
    cols = [getattr(m.Report, c) for c in EXPORT_COLUMNS]
    last_id = 0
    while True:
        with ctx.db.reading() as session:
            rows = session.execute(
                select(m.Report.id, *cols)
                .where(m.Report.id > last_id)
                .order_by(m.Report.id)
                .limit(batch)
            ).all()
        if not rows:
            return
        for row in rows:
            yield tuple(row[1:])
        last_id = rows[-1][0]


# ---------------------------------------------------------------- triage


def _move(
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
    now = _now(ctx)
    report.updated_at = report.status_changed_at = now
    if to == Status.CLOSED:
        report.closed_at = now
    _audit(session, actor, "status_changed", report, previous=current.value, status=to.value)
    if notify:
        if actor.is_group and report.first_feedback_at is None:
            report.first_feedback_at = now
        _notify_reporter(session, report, "status_changed", status=to.value, **payload)


def _mark_read(session: Session, actor: Actor, report: m.Report, via: str) -> None:
    """The group has seen the reporter's messages: clear the unread mark, and log when (the
    digest of a past week reads these events to tell what was unread at its end)."""
    if report.reporter_unread_since is None:
        return
    report.reporter_unread_since = None
    _audit(session, actor, m.UNREAD_CLEARED_ACTION, report, via=via)


def _notify_group(session: Session, report: m.Report, event: str, **payload: Any) -> None:
    """Queue a notice to the working group's channel(s): codes and the reference only,
    never a report's or a message's text."""
    payload.setdefault("reference", report.reference)
    now = _stamp(session)
    session.add(m.OutboxMessage(created_at=now, next_attempt_at=now, report_id=report.id,
                                channel=GROUP_CHANNEL, recipient=GROUP_CHANNEL, event=event,
                                payload=payload))


def _ensure_triage(session: Session, ctx: Context, actor: Actor, report: m.Report) -> None:
    """Operations on a fresh report start its assessment first."""
    if report.status == Status.RECEIVED:
        _move(session, ctx, actor, report, Status.TRIAGE)


def _add_message(
    session: Session, actor: Actor, report: m.Report, direction: str, purpose: str, body: str
) -> m.Message:
    msg = m.Message(report_id=report.id, author_id=actor.identity, created_at=_stamp(session),
                    direction=direction,
                    purpose=purpose, body=body)
    session.add(msg)
    session.flush()
    return msg


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
    """The group's assessment: category, severity and breached guideline; starts triage."""
    _require_group(actor)
    errors: list[FieldError] = []
    severity = _choice(Severity, assessed_severity, "assessed_severity", errors, False)
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
    agreement = _clean_text(agreement_reference)
    errors += check_free_text("agreement_reference", agreement, max_chars=MAX_SHORT_TEXT,
                              warn=False)
    if errors:
        raise ValidationFailed(errors)
    with _tx(ctx) as session:
        report = _load(session, reference, for_update=True)
        if category is None and subcategory:
            # a subcategory alone belongs to the report's present category
            subcategory, problem = check_subcategory(ctx.taxonomy, report.category_id,
                                                     subcategory, locale)
            if problem is not None:
                raise ValidationFailed([problem])
        _ensure_triage(session, ctx, actor, report)
        changed: list[str] = []
        if category is not None:
            report.category_id = category
            report.subcategory_id = subcategory
            changed.append("category")
        elif subcategory:
            report.subcategory_id = subcategory
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
        report.updated_at = _now(ctx)
        _audit(session, actor, "assessed", report, fields=changed)
        return _view(session, report, for_group=True)


def assign(*, ctx: Context, actor: Actor, reference: str, assignee: str | None) -> ReportView:
    """Give the report to one member of the group (None to unassign)."""
    _require_group(actor)
    value = _guard_text("assignee", assignee, MAX_SHORT_TEXT)
    with _tx(ctx) as session:
        report = _load(session, reference, for_update=True)
        report.assignee = value
        report.updated_at = _now(ctx)
        _audit(session, actor, "assigned", report, assigned=value is not None)
        return _view(session, report, for_group=True)


# Moves that need details go through their own operation.
_SIMPLE_TARGETS = frozenset({Status.TRIAGE, Status.IN_PROGRESS, Status.REJECTED})


def move_status(
    *, ctx: Context, actor: Actor, reference: str, status: str, message: str | None = None
) -> ReportView:
    """Move to triage, in_progress or rejected, optionally with words to the reporter."""
    _require_group(actor)
    errors: list[FieldError] = []
    target = _choice(Status, status, "status", errors)
    text = _clean_text(message)
    errors += check_free_text("message", text, max_chars=ctx.settings.max_text_chars,
                              warn=False)
    if errors:
        raise ValidationFailed(errors)
    if target not in _SIMPLE_TARGETS:
        raise DomainError("status_needs_details", target=target.value)
    with _tx(ctx) as session:
        report = _load(session, reference, for_update=True)
        if target == Status.TRIAGE and report.status == Status.CLOSED:
            raise DomainError("status_needs_details", target=target.value)
        if target != Status.TRIAGE:
            _ensure_triage(session, ctx, actor, report)
        payload: dict[str, Any] = {}
        if text:
            msg = _add_message(session, actor, report, "group", "status", text)
            payload["message_id"] = msg.id
            _mark_read(session, actor, report, "status_message")
        _move(session, ctx, actor, report, target, **payload)
        return _view(session, report, for_group=True)


def add_note(*, ctx: Context, actor: Actor, reference: str, text: str) -> ReportView:
    """An internal note for the group only; the reporter never sees it."""
    _require_group(actor)
    body = _required_group_text(ctx, "text", text)
    with _tx(ctx) as session:
        report = _load(session, reference, for_update=True)
        _add_message(session, actor, report, "internal", "note", body)
        _audit(session, actor, "note_added", report)
        return _view(session, report, for_group=True)


def reply(*, ctx: Context, actor: Actor, reference: str, text: str) -> ReportView:
    """A message from the group to the reporter."""
    _require_group(actor)
    body = _required_group_text(ctx, "text", text)
    with _tx(ctx) as session:
        report = _load(session, reference, for_update=True)
        _ensure_triage(session, ctx, actor, report)
        msg = _add_message(session, actor, report, "group", "reply", body)
        _mark_read(session, actor, report, "reply")
        if report.first_feedback_at is None:
            report.first_feedback_at = _now(ctx)
        report.updated_at = _now(ctx)
        _audit(session, actor, "replied", report, message_id=msg.id)
        _notify_reporter(session, report, "reply", message_id=msg.id)
        return _view(session, report, for_group=True)


def request_info(*, ctx: Context, actor: Actor, reference: str, question: str) -> ReportView:
    """Ask the reporter a question; the report waits in needs_info for the answer."""
    _require_group(actor)
    body = _required_group_text(ctx, "question", question)
    with _tx(ctx) as session:
        report = _load(session, reference, for_update=True)
        _ensure_triage(session, ctx, actor, report)
        msg = _add_message(session, actor, report, "group", "question", body)
        _mark_read(session, actor, report, "question")
        _move(session, ctx, actor, report, Status.NEEDS_INFO, message_id=msg.id)
        return _view(session, report, for_group=True)


def reporter_answer(
    *, ctx: Context, actor: Actor, reference: str, text: str, confirm_warnings: bool = False
) -> ReportView:
    """The reporter writes back; an answer to a question puts the report back in triage.

    Any message from the reporter (an answer to a question or a message of their own, from
    any door) marks the report as having an unread message from the reporter
    (`reporter_unread_since`, the time of the first unread one), shown in the group's lists
    and in the weekly digest. The mark is cleared when a group member sees the messages:
    opens the whole report (`get_report`: the API's report, `vis`, `meld reports show`,
    the Vis button) or writes to the reporter (a reply, a question, or a status change
    with words to the reporter). Assessing, assigning, notes and other status changes leave
    it: they do not show the message. On a closed report the message also asks the group,
    through the outbox, whether to reopen it (`gjenåpne`): a closed report is in nobody's
    queue otherwise. One notice until the group has read the report: more messages before
    that only add to what is unread.
    """
    body = _clean_text(text)
    errors = check_free_text("text", body, max_chars=ctx.settings.max_text_chars, warn=True)
    if body is None:
        errors.append(FieldError("text", "required"))
    if confirm_warnings:
        errors = [e for e in errors if not e.warning]
    if errors:
        raise ValidationFailed(errors)
    assert body is not None
    with _tx(ctx) as session:
        report = _load(session, reference, for_update=True)
        if report.reporter_id != actor.identity:
            _audit(session, actor, "answer_denied", report)
            denied = PermissionDenied("not_your_report")
        else:
            msg = _add_message(session, actor, report, "reporter", "answer", body)
            _audit(session, actor, "reporter_answered", report, message_id=msg.id)
            if report.reporter_unread_since is None:
                report.reporter_unread_since = msg.created_at
                if report.status == Status.CLOSED:  # once until the group has read it
                    _notify_group(session, report, "reporter_message", status=report.status,
                                  category=report.category_id)
            if report.status == Status.NEEDS_INFO:
                _move(session, ctx, actor, report, Status.TRIAGE, notify=False)
            report.updated_at = _now(ctx)
            return _view(session, report, for_group=False)
    raise denied


def redirect(
    *,
    ctx: Context,
    actor: Actor,
    reference: str,
    target: str,
    external_reference: str | None = None,
) -> ReportView:
    """Forward to a formal system (EQS, Compilo, TQM, melde.no): a reference, never content."""
    _require_group(actor)
    errors: list[FieldError] = []
    redirect_to = _choice(RedirectTarget, target, "target", errors)
    ext = _clean_text(external_reference)
    errors += check_free_text("external_reference", ext, max_chars=MAX_SHORT_TEXT, warn=False)
    if errors:
        raise ValidationFailed(errors)
    with _tx(ctx) as session:
        report = _load(session, reference, for_update=True)
        _ensure_triage(session, ctx, actor, report)
        report.redirect_target = redirect_to.value
        report.redirect_reference = ext
        _move(session, ctx, actor, report, Status.REDIRECTED, target=redirect_to.value,
              external_reference=ext)
        return _view(session, report, for_group=True)


def mark_duplicate(
    *, ctx: Context, actor: Actor, reference: str, duplicate_of: str
) -> ReportView:
    """Point a report at the one that already covers the same matter."""
    _require_group(actor)
    with _tx(ctx) as session:
        report = _load(session, reference, for_update=True)
        original = _load(session, duplicate_of)
        if original.id == report.id:
            raise ValidationFailed([FieldError("duplicate_of", "duplicate_of_itself")])
        _ensure_triage(session, ctx, actor, report)
        report.duplicate_of_id = original.id
        _move(session, ctx, actor, report, Status.DUPLICATE,
              other_reference=original.reference)
        return _view(session, report, for_group=True)


def close(
    *, ctx: Context, actor: Actor, reference: str, learning_point: str, measure: str
) -> ReportView:
    """Close with what was learned and what was done; both are required."""
    _require_group(actor)
    errors: list[FieldError] = []
    lp = _clean_text(learning_point)
    me = _clean_text(measure)
    if lp is None:
        errors.append(FieldError("learning_point", "required"))
    if me is None:
        errors.append(FieldError("measure", "required"))
    limit = ctx.settings.max_text_chars
    errors += check_free_text("learning_point", lp, max_chars=limit, warn=False)
    errors += check_free_text("measure", me, max_chars=limit, warn=False)
    if errors:
        raise ValidationFailed(errors)
    with _tx(ctx) as session:
        report = _load(session, reference, for_update=True)
        domain.check_transition(Status(report.status), Status.CLOSED)
        report.learning_point = lp
        report.measure = me
        _move(session, ctx, actor, report, Status.CLOSED, learning_point=lp, measure=me)
        return _view(session, report, for_group=True)


def reopen(*, ctx: Context, actor: Actor, reference: str) -> ReportView:
    """Take a closed report back into assessment."""
    _require_group(actor)
    with _tx(ctx) as session:
        report = _load(session, reference, for_update=True)
        if report.status != Status.CLOSED:
            raise domain.InvalidTransition(Status(report.status), Status.TRIAGE)
        report.closed_at = None
        _move(session, ctx, actor, report, Status.TRIAGE, reopened=True)
        return _view(session, report, for_group=True)


def plus_one(*, ctx: Context, actor: Actor, reference: str) -> int:
    """'This happened to me too': one per person; returns the new count."""
    with _tx(ctx) as session:
        report = _load(session, reference)
        already = session.scalar(
            select(exists().where(m.PlusOne.report_id == report.id,
                                  m.PlusOne.actor_id == actor.identity))
        )
        if already:
            raise Conflict("already_plus_one")
        session.add(m.PlusOne(report_id=report.id, actor_id=actor.identity,
                              created_at=_stamp(session)))
        _audit(session, actor, "plus_one", report)
        session.flush()
        return session.scalar(
            select(func.count()).select_from(m.PlusOne).where(m.PlusOne.report_id == report.id)
        ) or 0


# ---------------------------------------------------------------- report links

REPORT_LINK_HOURS = 24


def _report_signature(ctx: Context, payload: str) -> str:
    return hmac.new(ctx.secret_key, f"report:{payload}".encode(), hashlib.sha256).hexdigest()[:32]


def report_link(*, ctx: Context, actor: Actor, period: str, suppress: bool = True) -> str:
    """A private link to the period's HTML report, valid for a day (for chat doors)."""
    from intake.periods import parse_period

    _require_group(actor)
    try:
        key = parse_period(period).key
    except ValueError:
        raise ValidationFailed([FieldError("period", "invalid_period")]) from None
    expires = int((_now(ctx) + timedelta(hours=REPORT_LINK_HOURS)).timestamp())
    payload = f"{key}.{int(suppress)}.{expires}"
    with _tx(ctx) as session:
        _audit(session, actor, "report_link", None, period=key, suppressed=suppress)
    token = f"{payload}.{_report_signature(ctx, payload)}"
    return f"{ctx.settings.base_url.rstrip('/')}/rapport/{token}"


def open_report_link(*, ctx: Context, token: str) -> tuple[str, bool]:
    """(period key, suppressed) of a valid, unexpired report link; NotFound otherwise."""
    payload, _, signature = (token or "")[:120].rpartition(".")
    parts = payload.split(".")
    if (len(parts) != 3 or not hmac.compare_digest(_report_signature(ctx, payload), signature)
            or not parts[2].isdigit() or int(parts[2]) < _now(ctx).timestamp()):
        raise NotFound("report_link_expired")
    return parts[0], parts[1] == "1"


# ---------------------------------------------------------------- tokens


def create_token(
    *, ctx: Context, name: str, role: str, valid_days: int | None = None
) -> str:
    """Make a bearer token for a group member or admin; only its hash is stored."""
    errors: list[FieldError] = []
    token_role = _choice(Role, role, "role", errors)
    clean = _clean_text(name)
    if clean is None:
        errors.append(FieldError("name", "required"))
    elif len(clean) > 100:
        errors.append(FieldError("name", "too_long", params={"max": 100}))
    if token_role == Role.REPORTER:
        errors.append(FieldError("role", "invalid_choice"))
    if errors:
        raise ValidationFailed(errors)
    token = "meld_" + secrets.token_urlsafe(32)
    now = _now(ctx)
    with _tx(ctx) as session:
        row = m.ApiToken(
            name=clean, role=token_role.value, token_hash=_hash_token(token), created_at=now,
            expires_at=now + timedelta(days=valid_days) if valid_days else None,
        )
        session.add(row)
        session.flush()
        session.add(m.AuditEvent(at=_stamp(session), actor_id="cli", actor_role=Role.ADMIN.value,
                                 action="token_created", details={"token_id": row.id,
                                                                  "role": row.role}))
    return token


def revoke_token(*, ctx: Context, name: str) -> int:
    """Revoke every active token with this name; returns how many."""
    with _tx(ctx) as session:
        rows = session.scalars(
            select(m.ApiToken).where(m.ApiToken.name == name, m.ApiToken.revoked_at.is_(None))
        ).all()
        for row in rows:
            row.revoked_at = _now(ctx)
            session.add(m.AuditEvent(at=_stamp(session), actor_id="cli",
                                     actor_role=Role.ADMIN.value, action="token_revoked",
                                     details={"token_id": row.id}))
        return len(rows)


def _audit_auth_failure(ctx: Context, row: m.ApiToken | None, reason: str) -> None:
    """A refused bearer token is a security event: who (if known) and why, never the token."""
    with _tx(ctx) as session:
        session.add(m.AuditEvent(
            at=_stamp(session),
            actor_id=f"token:{row.id}:{row.name}" if row is not None else "token:?",
            actor_role=row.role if row is not None else Role.REPORTER.value,
            action="auth_failed", details={"reason": reason},
        ))


def authenticate_token(*, ctx: Context, token: str) -> Actor:
    """The actor behind a bearer token, or PermissionDenied('invalid_token')."""
    if not token or len(token) > 200:
        _audit_auth_failure(ctx, None, "malformed")
        raise PermissionDenied("invalid_token")
    with ctx.db.reading() as session:
        row = session.scalars(
            select(m.ApiToken).where(m.ApiToken.token_hash == _hash_token(token))
        ).one_or_none()
    now = _now(ctx)
    if row is None or row.revoked_at is not None or (row.expires_at and row.expires_at <= now):
        reason = ("unknown" if row is None else "revoked" if row.revoked_at is not None
                  else "expired")
        _audit_auth_failure(ctx, row, reason)
        raise PermissionDenied("invalid_token")
    return Actor(identity=f"token:{row.id}:{row.name}", role=Role(row.role),
                 display_name=row.name)

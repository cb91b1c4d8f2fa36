"""A reporter submits a report: validation, the idempotent submit, the receipt.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import date

from sqlalchemy import insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import Session

from intake.domain import model as domain
from intake.domain.contact import normalize_email
from intake.domain.model import (
    Actor,
    Conflict,
    FieldError,
    Kind,
    Party,
    Severity,
    Status,
    ValidationFailed,
)
from intake.i18n import normalize_locale
from intake.services.common import (
    ANONYMOUS_WEB,
    GROUP_CHANNEL,
    MAX_SHORT_TEXT,
    channel_of,
    check_free_text,
    check_subcategory,
    choice,
    clean_text,
    has_control_chars,
    hash_token,
    load_report,
    make_receipt,
    now_utc,
    parse_date,
    promised_by,
    reporter_notice_rows,
    status_token_for,
)
from intake.services.context import Context
from intake.services.views import Receipt, ReportDraft
from storage import models as m


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
    email: str | None


def validate_draft(ctx: Context, draft: ReportDraft) -> _Valid:
    """All submit rules in one place; raises ValidationFailed with every problem found."""
    errors: list[FieldError] = []
    kind = choice(Kind, draft.kind, "kind", errors)
    # good collaboration asks no harm: whatever a form still holds, it is stored as none
    severity = (Severity.NONE if kind == Kind.GOOD_COLLABORATION
                else choice(Severity, draft.severity, "severity", errors))
    reporter_party = choice(Party, draft.reporter_party, "reporter_party", errors, False)
    concerned_party = choice(Party, draft.concerned_party, "concerned_party", errors, False)

    category = ctx.taxonomy.category(draft.category or "")
    if not draft.category:
        errors.append(FieldError("category", "required"))
    elif category is None or not category.active or category.system:
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

    occurred_on = parse_date(draft.occurred_on, errors, ctx)
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
        email=email,
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


def submit_report(
    *, ctx: Context, actor: Actor, draft: ReportDraft, idempotency_key: str | None = None
) -> Receipt:
    """Validate, store and acknowledge one report; the same idempotency key gives the same one."""
    valid = validate_draft(ctx, draft)
    req_hash = _request_hash(valid)
    key = idempotency_key.strip()[:200] if idempotency_key and idempotency_key.strip() else None
    if key is not None and ("\x00" in key or has_control_chars(key)):
        raise ValidationFailed([FieldError("idempotency_key", "control_characters")])
    formal = valid.severity in domain.SERIOUS_SEVERITIES
    channel = channel_of(actor.identity)
    reporter_id = (
        f"web:{secrets.token_hex(12)}" if actor.identity == ANONYMOUS_WEB else actor.identity
    )
    now = now_utc(ctx)
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
                    "status_token_hash": hash_token(status_token_for(ctx, reference)),
                    "notify_email": valid.email,
                },
            ).scalar_one()
            session.execute(
                insert(m.AuditEvent.__table__),
                {"at": now, "actor_id": actor.identity, "actor_role": actor.role.value,
                 "action": "submitted", "report_id": report_id,
                 "details": {"kind": valid.kind.value, "severity": valid.severity.value,
                             "channel": channel}},
            )
            promised = promised_by(ctx, valid.kind, now)
            receipt = reporter_notice_rows(
                report_id=report_id, reference=reference, channel=channel,
                reporter_id=reporter_id, notify_email=valid.email, event="receipt",
                payload={"formal_guidance": formal, "feedback_by": promised.isoformat()}
                if promised else {"formal_guidance": formal, "kind": valid.kind.value},
                now=now)
            session.execute(
                insert(m.OutboxMessage.__table__),
                [
                    *receipt,
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
        ctx.outbox_signal.fire()  # committed: the receipt may go out now
        return Receipt(
            reference=reference,
            status=Status.RECEIVED,
            feedback_by=promised,
            formal_guidance=formal,
            status_token=status_token_for(ctx, reference),
            created=True,
            email_notices=valid.email is not None,
            kind=valid.kind.value,
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
    return make_receipt(ctx, existing, created=False)


# ---------------------------------------------------------------- reads


def receipt_for(*, ctx: Context, reference: str) -> Receipt:
    """The receipt of an existing report (shown again on its status page)."""
    with ctx.db.reading() as session:
        return make_receipt(ctx, load_report(session, reference), created=False)

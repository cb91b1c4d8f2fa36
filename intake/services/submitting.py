"""A reporter submits a report: validation, the idempotent submit, the receipt.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import Session

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
from intake.services.suggesting import suggest_category
from intake.services.views import Receipt, ReportDraft
from storage import models as m
from storage.db import Database
from storage.group_commit import GroupCommit


@dataclass(slots=True)
class _Valid:
    kind: Kind
    category: str | None  # None: the reporter chose none (Meld suggests, or "uncategorized")
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
    return _Valid(
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


def _next_numbers(session: Session, year: int, count: int) -> list[int]:
    """`count` new numbers for references MELD-YYYY-NNNN, ascending.

    PostgreSQL takes them from the year's sequence: no lock is held, so concurrent submits
    never wait on each other, and a rolled-back submit leaves a gap (tolerated). SQLite has
    one writer at a time anyway and moves a counter row on by `count`.
    """
    if session.get_bind().dialect.name == "postgresql":
        if count == 1:  # the usual case: the plain statement, cheaper than the series
            return [session.execute(
                text(f"SELECT nextval('meld_reference_{int(year)}')")).scalar_one()]
        return sorted(session.execute(
            text(f"SELECT nextval('meld_reference_{int(year)}') "  # noqa: S608 (an int)
                 "FROM generate_series(1, :count)"), {"count": count}).scalars())
    stmt = sqlite.insert(m.ReferenceCounter).values(year=year, last=count)
    stmt = stmt.on_conflict_do_update(
        index_elements=[m.ReferenceCounter.year],
        set_={"last": m.ReferenceCounter.last + count},
    ).returning(m.ReferenceCounter.last)
    last = session.execute(stmt).scalar_one()
    return list(range(last - count + 1, last + 1))


def _next_reference(session: Session, year: int) -> str:
    """One new reference MELD-YYYY-NNNN (see `_next_numbers`)."""
    return f"MELD-{year}-{_next_numbers(session, year, 1)[0]:04d}"


@dataclass(frozen=True, slots=True)
class _Plan:
    """One validated submit, everything but its reference and id (given when written)."""

    ctx: Context
    valid: _Valid
    key: str | None
    request_hash: str
    formal: bool
    channel: str
    reporter_id: str
    actor: Actor
    now: datetime
    year: int
    locale: str
    promised: date | None
    filed: _Filed


@dataclass(frozen=True, slots=True)
class _Filed:
    """The category a report is filed under, who chose it, and Meld's suggestion."""

    category: str
    subcategory: str | None
    source: str  # CategorySource
    suggested: str | None = None
    suggested_sub: str | None = None
    # Meld's best categories for the text, best first (a receipt offers them to change to)
    alternatives: tuple[str, ...] = ()

    def receipt_payload(self) -> dict[str, Any]:
        """What a receipt says of the category (coded fields only)."""
        return {"category": self.category, "subcategory": self.subcategory,
                "category_source": self.source, "alternatives": list(self.alternatives)}


def _file(ctx: Context, valid: _Valid) -> _Filed:
    """The reporter's choice wins. Without one, Meld's suggestion from the text when it is
    likely enough (MELD_SUGGEST_MIN_SCORE), else "uncategorized" for the group to set. The
    suggestion is kept either way (the group sees it; it measures the suggestions)."""
    guesses = suggest_category(ctx, valid.description, limit=3)
    top = guesses[0] if guesses else None
    suggested = (top.category, top.subcategory) if top else (None, None)
    alternatives = tuple(g.category for g in guesses)
    if valid.category is not None:
        return _Filed(valid.category, valid.subcategory, CategorySource.REPORTER, *suggested,
                      alternatives)
    if top is not None and top.score >= ctx.settings.suggest_min_score:
        return _Filed(top.category, top.subcategory, CategorySource.SUGGESTED, *suggested,
                      alternatives)
    return _Filed(UNCATEGORIZED, None, CategorySource.NONE, *suggested, alternatives)


@dataclass(frozen=True, slots=True)
class _Written:
    """What writing a plan came to: a new report, or the one its idempotency key names."""

    reference: str
    existing: m.Report | None = None


def submit_report(
    *, ctx: Context, actor: Actor, draft: ReportDraft, idempotency_key: str | None = None
) -> Receipt:
    """Validate, store and acknowledge one report; the same idempotency key gives the same one.

    On SQLite, reports submitted at the same moment are written together, in one
    transaction (`storage.group_commit`); each is stored before its receipt is given.
    """
    valid = validate_draft(ctx, draft)
    key = idempotency_key.strip()[:200] if idempotency_key and idempotency_key.strip() else None
    if key is not None and ("\x00" in key or has_control_chars(key)):
        raise ValidationFailed([FieldError("idempotency_key", "control_characters")])
    now = now_utc(ctx)
    plan = _Plan(
        ctx=ctx, valid=valid, key=key, request_hash=_request_hash(valid),
        formal=valid.severity in domain.SERIOUS_SEVERITIES,
        channel=channel_of(actor.identity),
        reporter_id=(f"web:{secrets.token_hex(12)}" if actor.identity == ANONYMOUS_WEB
                     else actor.identity),
        actor=actor, now=now, year=ctx.local_date(now).year,
        locale=normalize_locale(draft.locale or ctx.settings.locale),
        promised=promised_by(ctx, valid.kind, now), filed=_file(ctx, valid))
    _ensure_reference_sequence(ctx, plan.year)
    written = _write(plan)
    if written.existing is not None:
        return _replayed(ctx, written.existing, plan.request_hash)
    ctx.outbox_signal.fire()  # committed: the receipt may go out now
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
    )


_WRITERS: weakref.WeakKeyDictionary[Database, GroupCommit[_Plan, _Written]] = (
    weakref.WeakKeyDictionary())
_WRITERS_LOCK = threading.Lock()


def _write(plan: _Plan) -> _Written:
    """SQLite (one writer, and every commit an fsync): submits at the same moment share
    one transaction. PostgreSQL: each in its own, concurrently (its commits are grouped by
    the server; and one transaction inserting reports of several categories would take the
    count rows' locks out of the one order that keeps triage changes free of deadlocks)."""
    if plan.ctx.db.dialect == "sqlite":
        return _writer(plan.ctx.db).run(plan)
    written = _write_plans([plan])[0]
    if isinstance(written, BaseException):
        raise written
    return written


def _writer(db: Database) -> GroupCommit[_Plan, _Written]:
    """The database's group commit for submits (one per Database, made on first use)."""
    with _WRITERS_LOCK:
        writer = _WRITERS.get(db)
        if writer is None:
            writer = _WRITERS[db] = GroupCommit(_write_plans)
        return writer


def _write_plans(plans: Sequence[_Plan]) -> list[_Written | BaseException]:
    """Write the plans in one transaction; if that fails (a key taken meanwhile by another
    process, say), write each alone, so that one plan's problem is only its own."""
    try:
        return _write_together(plans)
    except Exception as exc:
        if len(plans) > 1:
            return [r for p in plans for r in _write_plans([p])]
        return [_after_failure(plans[0], exc)]


def _after_failure(plan: _Plan, exc: Exception) -> _Written | BaseException:
    """A lone plan failed: if its idempotency key was taken by a concurrent submit (the
    unique index said so), that submit's report answers it; else the error stands."""
    if isinstance(exc, IntegrityError) and plan.key is not None:
        with plan.ctx.db.reading() as session:
            existing = _by_key(session, plan.key)
        if existing is not None:
            return _Written(existing.reference, existing)
    return exc


def _write_together(plans: Sequence[_Plan]) -> list[_Written | BaseException]:
    """One transaction: the plans whose key names a stored report are answered by it, the
    rest are inserted (reports, their audit events and outbox rows: three statements).
    A key given twice in the batch is written once; the later plans are answered by it
    after the commit."""
    db = plans[0].ctx.db
    results: list[_Written | BaseException | None] = [None] * len(plans)
    later: list[int] = []
    with db.transaction() as session:
        keys = {p.key for p in plans if p.key is not None}
        stored = ({r.idempotency_key: r for r in session.scalars(
            select(m.Report).where(m.Report.idempotency_key.in_(keys)))} if keys else {})
        fresh: list[int] = []
        fresh_keys: set[str] = set()
        for i, plan in enumerate(plans):
            if plan.key in stored:
                found = stored[plan.key]
                results[i] = _Written(found.reference, found)
            elif plan.key is not None and plan.key in fresh_keys:
                later.append(i)
            else:
                fresh.append(i)
                if plan.key is not None:
                    fresh_keys.add(plan.key)
        if fresh:
            _insert(session, [plans[i] for i in fresh], results, fresh)
    for i in later:
        results[i] = _write_plans([plans[i]])[0]
    return [r for r in results if r is not None]


def _insert(session: Session, plans: list[_Plan], results: list[Any],
            at: list[int]) -> None:
    """Insert the plans' reports, audit events and outbox rows (Core, three statements)."""
    references = [""] * len(plans)
    for year in sorted({p.year for p in plans}):
        positions = [i for i, p in enumerate(plans) if p.year == year]
        numbers = _next_numbers(session, year, len(positions))
        for i, number in zip(positions, numbers, strict=True):
            references[i] = f"MELD-{year}-{number:04d}"
    table = m.Report.__table__
    if len(plans) == 1:  # one row: a plain execute (executemany's batching costs more)
        ids = [session.execute(insert(table).returning(table.c.id),
                               _report_row(plans[0], references[0])).scalar_one()]
    else:
        ids = session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True),
            [_report_row(p, ref) for p, ref in zip(plans, references, strict=True)],
        ).scalars().all()
    audit = [{"at": p.now, "actor_id": p.actor.identity, "actor_role": p.actor.role.value,
              "action": "submitted", "report_id": report_id,
              "details": {"kind": p.valid.kind.value, "severity": p.valid.severity.value,
                          "channel": p.channel}}
             for p, report_id in zip(plans, ids, strict=True)]
    session.execute(insert(m.AuditEvent.__table__), audit[0] if len(audit) == 1 else audit)
    session.execute(insert(m.OutboxMessage.__table__), [
        row for p, report_id, ref in zip(plans, ids, references, strict=True)
        for row in _outbox_rows(p, report_id, ref)])
    for i, ref in zip(at, references, strict=True):
        results[i] = _Written(ref)


def _report_row(p: _Plan, reference: str) -> dict[str, Any]:
    valid = p.valid
    return {
        "reference": reference,
        "kind": valid.kind.value,
        "category_id": p.filed.category,
        "subcategory_id": p.filed.subcategory,
        "category_source": p.filed.source,
        "reported_category_id": valid.category,
        "reported_subcategory_id": valid.subcategory,
        "suggested_category_id": p.filed.suggested,
        "suggested_subcategory_id": p.filed.suggested_sub,
        "description": valid.description,
        "reporter_party": valid.reporter_party.value if valid.reporter_party else None,
        "concerned_party": valid.concerned_party.value if valid.concerned_party else None,
        "direction": domain.direction(valid.reporter_party, valid.concerned_party),
        "place_id": valid.place,
        "place_text": valid.place_text,
        "occurred_on": valid.occurred_on,
        "reported_at": p.now,
        "reported_on": p.ctx.local_date(p.now),
        "updated_at": p.now,
        "reported_severity": valid.severity.value,
        "status": Status.RECEIVED.value,
        "status_changed_at": p.now,
        "reporter_id": p.reporter_id,
        "channel": p.channel,
        "locale": p.locale,
        "source_link": valid.source_link,
        "idempotency_key": p.key,
        "request_hash": p.request_hash,
        "status_token_hash": hash_token(status_token_for(p.ctx, reference)),
        "notify_email": valid.email,
    }


def _outbox_rows(p: _Plan, report_id: int, reference: str) -> list[dict[str, Any]]:
    """The receipt to the reporter, and the new-report card to the group (coded fields
    only, never the text)."""
    valid = p.valid
    receipt = reporter_notice_rows(
        report_id=report_id, reference=reference, channel=p.channel,
        reporter_id=p.reporter_id, notify_email=valid.email, event="receipt",
        payload={"formal_guidance": p.formal, **(
            {"feedback_by": p.promised.isoformat()} if p.promised
            else {"kind": valid.kind.value}), **p.filed.receipt_payload()},
        now=p.now)
    return [*receipt, {
        "report_id": report_id, "channel": GROUP_CHANNEL, "recipient": GROUP_CHANNEL,
        "event": "new_report", "created_at": p.now, "next_attempt_at": p.now, "attempts": 0,
        "payload": {"reference": reference, "kind": valid.kind.value,
                    "category": p.filed.category, "severity": valid.severity.value,
                    "place": valid.place, "serious": p.formal}}]


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

"""Measures as tracked actions: what the group decided to do about one or more reports,
who owns it, by when, and where it stands (planned, in progress, done, dropped).

The group creates and updates them (every change audited, against each report it belongs
to, so it is on the reports' timelines); readers read them. The day a measure is due (or
later, if the service was down) its owner is reminded once in the group's chat channel;
a new due date re-arms the reminder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from intake.domain.model import Actor, FieldError, NotFound, Role, ValidationFailed
from intake.services.common import (
    choice,
    clean_text,
    db_now,
    has_control_chars,
    load_report,
    notify_group,
    record_audit,
    require_group,
    require_reader,
    required_group_text,
    transaction,
)
from intake.services.context import Context
from intake.services.promises import local_midnight
from storage import models as m

MEASURE_DUE_EVENT = "measure_due"
REMINDER_ACTOR = Actor("system:measures", Role.ADMIN)


class MeasureStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DROPPED = "dropped"


OPEN_MEASURES = (MeasureStatus.PLANNED.value, MeasureStatus.IN_PROGRESS.value)


@dataclass(frozen=True, slots=True)
class MeasureView:
    id: int
    description: str
    owner: str
    due_on: date
    status: str
    references: tuple[str, ...]
    overdue: bool


def _owner(value: str | None, errors: list[FieldError]) -> str | None:
    owner = clean_text(value)
    if owner is None:
        errors.append(FieldError("owner", "required"))
    elif len(owner) > 200:
        errors.append(FieldError("owner", "too_long", params={"max": 200}))
    elif has_control_chars(owner):
        errors.append(FieldError("owner", "control_characters"))
    return owner


def _due(value: str | date | None, errors: list[FieldError]) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        errors.append(FieldError("due_on", "invalid_date" if value else "required"))
        return None


def measure_views(session: object, rows: list[m.Measure],
                  today: date) -> tuple[MeasureView, ...]:
    ids = [r.id for r in rows]
    refs: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        for measure_id, reference in session.execute(  # type: ignore[attr-defined]
                select(m.MeasureReport.measure_id, m.Report.reference)
                .join(m.Report, m.Report.id == m.MeasureReport.report_id)
                .where(m.MeasureReport.measure_id.in_(ids))
                .order_by(m.Report.id)).all():
            refs[measure_id].append(reference)
    return tuple(MeasureView(r.id, r.description, r.owner, r.due_on, r.status,
                             tuple(refs[r.id]),
                             r.status in OPEN_MEASURES and r.due_on < today) for r in rows)


def create_measure(*, ctx: Context, actor: Actor, references: list[str], description: str,
                   owner: str, due_on: str | date) -> MeasureView:
    """A new measure (planned) for the given reports."""
    require_group(actor)
    errors: list[FieldError] = []
    who = _owner(owner, errors)
    due = _due(due_on, errors)
    try:
        text = required_group_text(ctx, "measure", description)
    except ValidationFailed as exc:
        errors = list(exc.errors) + errors
        text = None
    if errors:
        raise ValidationFailed(errors)
    assert text is not None and who is not None and due is not None
    with transaction(ctx) as session:
        reports = [load_report(session, ref) for ref in dict.fromkeys(references)]
        if not reports:
            raise ValidationFailed([FieldError("references", "required")])
        row = insert_measure(session, actor, reports, description=text, owner=who, due_on=due)
        return measure_views(session, [row], ctx.today())[0]


def owner_and_due(owner: str | None, due_on: str | date | None,
                  errors: list[FieldError]) -> tuple[str | None, date | None]:
    """A measure's owner and due date checked (problems added to `errors`)."""
    return _owner(owner, errors), _due(due_on, errors)


def insert_measure(session: Session, actor: Actor, reports: list[m.Report], *,
                   description: str, owner: str, due_on: date, **details: Any) -> m.Measure:
    """A new planned measure for `reports`, in the caller's transaction (checked texts),
    audited against each report (with `details`) so it is on the reports' timelines."""
    now = db_now(session)
    row = m.Measure(description=description, owner=owner, due_on=due_on,
                    status=MeasureStatus.PLANNED.value, created_by=actor.identity,
                    created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    for report in reports:
        session.add(m.MeasureReport(measure_id=row.id, report_id=report.id))
        record_audit(session, actor, "measure_created", report, measure_id=row.id, **details)
    session.flush()
    return row


def update_measure(*, ctx: Context, actor: Actor, measure_id: int, status: str | None = None,
                   owner: str | None = None, due_on: str | date | None = None) -> MeasureView:
    """Move a measure on (status), or give it another owner or due date."""
    require_group(actor)
    errors: list[FieldError] = []
    target = choice(MeasureStatus, status, "status", errors, False)
    who = _owner(owner, errors) if owner is not None else None
    due = _due(due_on, errors) if due_on not in (None, "") else None
    if errors:
        raise ValidationFailed(errors)
    with transaction(ctx) as session:
        row = session.get(m.Measure, measure_id, with_for_update=True)
        if row is None:
            raise NotFound("measure_not_found")
        changed: list[str] = []
        if target is not None and target.value != row.status:
            row.status = target.value
            changed.append("status")
        if who is not None and who != row.owner:
            row.owner = who
            changed.append("owner")
        if due is not None and due != row.due_on:
            row.due_on = due
            row.reminded_at = None  # a new date: remind again when it comes
            changed.append("due_on")
        if changed:
            row.updated_at = db_now(session)
            report_ids = session.scalars(select(m.MeasureReport.report_id).where(
                m.MeasureReport.measure_id == row.id)).all()
            for report in session.scalars(select(m.Report).where(m.Report.id.in_(report_ids))):
                record_audit(session, actor, "measure_updated", report, measure_id=row.id,
                             fields=changed, status=row.status)
        return measure_views(session, [row], ctx.today())[0]


def list_measures(*, ctx: Context, actor: Actor, reference: str | None = None,
                  status: str | None = None, overdue: bool = False) -> tuple[MeasureView, ...]:
    """Measures by due date (of one report, of one status, or the overdue ones)."""
    require_reader(actor)
    errors: list[FieldError] = []
    wanted = choice(MeasureStatus, status, "status", errors, False)
    if errors:
        raise ValidationFailed(errors)
    stmt = select(m.Measure).order_by(m.Measure.due_on, m.Measure.id)
    if wanted is not None:
        stmt = stmt.where(m.Measure.status == wanted.value)
    if overdue:
        stmt = stmt.where(m.Measure.status.in_(OPEN_MEASURES), m.Measure.due_on < ctx.today())
    with ctx.db.reading() as session:
        if reference is not None:
            report = load_report(session, reference)
            stmt = stmt.where(m.Measure.id.in_(select(m.MeasureReport.measure_id).where(
                m.MeasureReport.report_id == report.id)))
        return measure_views(session, list(session.scalars(stmt.limit(500))), ctx.today())


def send_measure_reminders(ctx: Context) -> int:
    """Remind the owners of open measures due today or earlier, once per due date, in the
    group's chat (the notice names the measure's number, owner, date and first report;
    never its text). Safe to run from several processes: each reminder is claimed."""
    today = ctx.today()
    sent = 0
    with ctx.db.reading() as session:
        due = session.scalars(select(m.Measure.id).where(
            m.Measure.status.in_(OPEN_MEASURES), m.Measure.due_on <= today,
            m.Measure.reminded_at.is_(None)).order_by(m.Measure.due_on).limit(200)).all()
    for measure_id in due:
        with transaction(ctx) as session:
            claimed = session.execute(
                update(m.Measure).where(m.Measure.id == measure_id,
                                        m.Measure.reminded_at.is_(None))
                .values(reminded_at=db_now(session))).rowcount == 1
            if not claimed:
                continue
            row = session.get(m.Measure, measure_id)
            report = session.scalars(
                select(m.Report).join(m.MeasureReport, m.MeasureReport.report_id == m.Report.id)
                .where(m.MeasureReport.measure_id == measure_id).order_by(m.Report.id)
                .limit(1)).first()
            if row is None or report is None:
                continue
            notify_group(session, report, MEASURE_DUE_EVENT, measure_id=row.id,
                         owner=row.owner, due_on=row.due_on.isoformat())
            record_audit(session, REMINDER_ACTOR, "measure_reminded", report,
                         measure_id=row.id)
            sent += 1
    return sent


def measure_counts(*, ctx: Context, actor: Actor, decided_from: date | None = None,
                   decided_to: date | None = None) -> dict[str, int]:
    """How many measures stand where now; with dates, those decided in that period (local
    dates, inclusive): the tertial report counts its period's measures."""
    require_reader(actor)
    stmt = select(m.Measure.status, func.count()).group_by(m.Measure.status)
    zone = ctx.settings.timezone
    if decided_from is not None:
        stmt = stmt.where(m.Measure.created_at >= local_midnight(decided_from, zone))
    if decided_to is not None:
        stmt = stmt.where(m.Measure.created_at
                          < local_midnight(decided_to + timedelta(days=1), zone))
    with ctx.db.reading() as session:
        rows = session.execute(stmt).all()
    return {status: int(n) for status, n in rows}


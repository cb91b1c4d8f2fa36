"""The parts of an incident analysis that are lists: the timeline's events (step 2), the
causes in the guide's categories (step 4), the measures (step 5: the board's measures,
linked to the analysis and to its reports) and further reports the analysis is about.

Same rules as `analysis`: the group changes (while the analysis is opened or in progress;
the first change moves an opened one to in progress), every change is audited in its
transaction, every text goes through the identifier guard.
"""

from __future__ import annotations

from datetime import date, time
from typing import Any

from sqlalchemy import delete

from intake.domain.analysis import CauseCategory
from intake.domain.model import Actor, FieldError, NotFound, ValidationFailed
from intake.services.analysis import (
    MAX_REPORTS,
    AnalysisCauseView,
    AnalysisEventView,
    audit_analysis,
    guarded_text,
    load_analysis,
    raise_if,
    reports_of,
    require_analysis_access,
    touch,
)
from intake.services.common import choice, load_report, transaction
from intake.services.context import Context
from intake.services.measures import (
    MeasureView,
    insert_measure,
    measure_views,
    owner_and_due,
)
from storage import models_analysis as ma

MAX_YEARS_BACK = 10


def _day(value: str | date | None, ctx: Context, errors: list[FieldError]) -> date | None:
    if isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat((value or "").strip())
        except ValueError:
            errors.append(FieldError("happened_on", "invalid_date" if value else "required"))
            return None
    today = ctx.today()
    if day > today:
        errors.append(FieldError("happened_on", "date_in_future"))
    elif day < today.replace(year=today.year - MAX_YEARS_BACK):
        errors.append(FieldError("happened_on", "date_too_old",
                                 params={"years": MAX_YEARS_BACK}))
    return day


def _time(value: str | time | None, errors: list[FieldError]) -> time | None:
    if value is None or isinstance(value, time):
        return value.replace(second=0, microsecond=0) if value else None
    text = value.strip()
    if not text:
        return None
    try:
        parsed = time.fromisoformat(text)
    except ValueError:
        errors.append(FieldError("happened_time", "invalid_time"))
        return None
    return parsed.replace(second=0, microsecond=0, tzinfo=None)


def add_event(*, ctx: Context, actor: Actor, analysis_id: int, happened_on: str | date,
              description: str, happened_time: str | time | None = None,
              confirm_warnings: bool = False) -> AnalysisEventView:
    """An event on the timeline: the day (and the time, if known) and what happened. The
    timeline is shown in time order, whatever order the events were added in."""
    require_analysis_access(ctx, actor, change=True, action="event")
    errors: list[FieldError] = []
    day = _day(happened_on, ctx, errors)
    at = _time(happened_time, errors)
    text = guarded_text("event_description", description, ctx.settings.max_text_chars,
                        errors, required=True)
    raise_if(errors, confirm_warnings)
    assert day is not None and text is not None
    with transaction(ctx) as session:
        row = load_analysis(session, analysis_id, for_update=True)
        touch(session, actor, row)
        event = ma.AnalysisEvent(analysis_id=row.id, happened_on=day, happened_time=at,
                                description=text, created_by=actor.identity,
                                created_at=row.updated_at)
        session.add(event)
        session.flush()
        audit_analysis(session, actor, "analysis_event_added", row, event_id=event.id,
                       happened_on=day.isoformat())
        return AnalysisEventView(event.id, day, at, text)


def _remove_part(ctx: Context, actor: Actor, analysis_id: int, table: Any, part_id: int,
                 what: str) -> None:
    """Remove one event or cause of an analysis (`what`: "event" or "cause"), audited."""
    require_analysis_access(ctx, actor, change=True, action=f"{what}_remove")
    with transaction(ctx) as session:
        row = load_analysis(session, analysis_id, for_update=True)
        touch(session, actor, row)
        gone = session.execute(delete(table).where(
            table.id == part_id, table.analysis_id == row.id)).rowcount
        if not gone:
            raise NotFound("analysis_part_not_found")
        audit_analysis(session, actor, f"analysis_{what}_removed", row,
                       **{f"{what}_id": part_id})


def remove_event(*, ctx: Context, actor: Actor, analysis_id: int, event_id: int) -> None:
    _remove_part(ctx, actor, analysis_id, ma.AnalysisEvent, event_id, "event")


def add_cause(*, ctx: Context, actor: Actor, analysis_id: int, category: str,
              description: str, confirm_warnings: bool = False) -> AnalysisCauseView:
    """A cause, in one of the guide's categories (`CauseCategory`), and what it was."""
    require_analysis_access(ctx, actor, change=True, action="cause")
    errors: list[FieldError] = []
    kind = choice(CauseCategory, category, "cause_category", errors)
    text = guarded_text("cause_description", description, ctx.settings.max_text_chars,
                        errors, required=True)
    raise_if(errors, confirm_warnings)
    assert kind is not None and text is not None
    with transaction(ctx) as session:
        row = load_analysis(session, analysis_id, for_update=True)
        touch(session, actor, row)
        cause = ma.AnalysisCause(analysis_id=row.id, category=kind.value, description=text,
                                created_by=actor.identity, created_at=row.updated_at)
        session.add(cause)
        session.flush()
        audit_analysis(session, actor, "analysis_cause_added", row, cause_id=cause.id,
                       category=kind.value)
        return AnalysisCauseView(cause.id, kind.value, text)


def remove_cause(*, ctx: Context, actor: Actor, analysis_id: int, cause_id: int) -> None:
    _remove_part(ctx, actor, analysis_id, ma.AnalysisCause, cause_id, "cause")


def add_analysis_measure(*, ctx: Context, actor: Actor, analysis_id: int, description: str,
                         owner: str, due_on: str | date,
                         confirm_warnings: bool = False) -> MeasureView:
    """A measure from the analysis: a board measure (planned) for every report of the
    analysis, linked to the analysis. It shows on the board and the reports' pages, its
    owner is reminded when it is due, and it counts in the tertial report."""
    require_analysis_access(ctx, actor, change=True, action="measure")
    errors: list[FieldError] = []
    text = guarded_text("measure_description", description, ctx.settings.max_text_chars,
                        errors, required=True)
    who, due = owner_and_due(owner, due_on, errors)
    raise_if(errors, confirm_warnings)
    assert text is not None and who is not None and due is not None
    with transaction(ctx) as session:
        row = load_analysis(session, analysis_id, for_update=True)
        touch(session, actor, row)
        measure = insert_measure(session, actor, reports_of(session, row.id),
                                 description=text, owner=who, due_on=due,
                                 analysis_id=row.id)
        session.add(ma.AnalysisMeasure(analysis_id=row.id, measure_id=measure.id))
        audit_analysis(session, actor, "analysis_measure_added", row, measure_id=measure.id)
        return measure_views(session, [measure], ctx.today())[0]


def add_analysis_report(*, ctx: Context, actor: Actor, analysis_id: int,
                        reference: str) -> None:
    """One more report the analysis is about (its measures made from now on cover it)."""
    require_analysis_access(ctx, actor, change=True, action="report")
    with transaction(ctx) as session:
        row = load_analysis(session, analysis_id, for_update=True)
        report = load_report(session, reference)
        linked = reports_of(session, row.id)
        if any(r.id == report.id for r in linked):
            return
        if len(linked) >= MAX_REPORTS:
            raise ValidationFailed([FieldError("references", "too_many",
                                               params={"max": MAX_REPORTS})])
        touch(session, actor, row)
        session.add(ma.AnalysisReport(analysis_id=row.id, report_id=report.id))
        audit_analysis(session, actor, "analysis_report_added", row, report)

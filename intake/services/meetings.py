"""The group's meetings and the agenda for the next one: everything since the last meeting.

The group sets the meeting dates. The agenda for a meeting lists what came in since the
meeting before it (new inputs, and how each has been answered so far), what is in process,
and the open measures due by the meeting (or overdue). Counting "since" starts at local
midnight of the last meeting's date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select

from intake.domain.model import Actor, FieldError, ValidationFailed
from intake.services.common import (
    db_now,
    record_audit,
    require_group,
    require_reader,
    summary_view,
    transaction,
)
from intake.services.context import Context
from intake.services.measures import OPEN_MEASURES, MeasureView, list_measures
from intake.services.promises import is_overdue, local_midnight
from intake.services.views import ReportView
from storage import models as m

IN_PROCESS = ("triage", "needs_info", "in_progress")
DEFAULT_GAP = timedelta(days=28)  # with no meeting before: the last four weeks
MAX_ITEMS = 500


@dataclass(frozen=True, slots=True)
class Agenda:
    meeting: date           # the meeting it is for
    since: date             # the meeting before it (or four weeks before)
    new: tuple[ReportView, ...]          # reported since, oldest first
    in_process: tuple[ReportView, ...]   # being assessed, waiting for the reporter, measures
    measures_due: tuple[MeasureView, ...]  # open, due by the meeting
    answered: dict[str, datetime]  # reference -> first feedback to the reporter (if any)


def add_meeting(*, ctx: Context, actor: Actor, held_on: str | date) -> date:
    """Set a meeting date (setting one twice is harmless)."""
    require_group(actor)
    try:
        day = held_on if isinstance(held_on, date) else date.fromisoformat(held_on.strip())
    except ValueError:
        raise ValidationFailed([FieldError("held_on", "invalid_date")]) from None
    with transaction(ctx) as session:
        if session.scalar(select(m.Meeting.id).where(m.Meeting.held_on == day)) is None:
            session.add(m.Meeting(held_on=day, created_by=actor.identity,
                                  created_at=db_now(session)))
            record_audit(session, actor, "meeting_set", None, held_on=day.isoformat())
    return day


def meetings(*, ctx: Context, actor: Actor) -> tuple[date, ...]:
    require_reader(actor)
    with ctx.db.reading() as session:
        return tuple(session.scalars(select(m.Meeting.held_on).order_by(m.Meeting.held_on)))


def agenda(*, ctx: Context, actor: Actor, meeting: date | None = None) -> Agenda:
    """The agenda for `meeting` (default: the next meeting from today, or today)."""
    require_reader(actor)
    today = ctx.today()
    dates = meetings(ctx=ctx, actor=actor)
    if meeting is None:
        meeting = next((d for d in dates if d >= today), today)
    since = max((d for d in dates if d < meeting), default=meeting - DEFAULT_GAP)
    start = local_midnight(since, ctx.settings.timezone)
    end = local_midnight(meeting + timedelta(days=1), ctx.settings.timezone)
    with transaction(ctx) as session:
        new = session.scalars(select(m.Report).where(
            m.Report.reported_at >= start, m.Report.reported_at < end)
            .order_by(m.Report.id).limit(MAX_ITEMS)).all()
        busy = session.scalars(select(m.Report).where(m.Report.status.in_(IN_PROCESS))
                               .order_by(m.Report.id).limit(MAX_ITEMS)).all()
        new_views = tuple(summary_view(r, overdue=is_overdue(ctx, r, today)) for r in new)
        answered = {r.reference: r.first_feedback_at for r in (*new, *busy)
                    if r.first_feedback_at is not None}
        busy_views = tuple(summary_view(r, overdue=is_overdue(ctx, r, today)) for r in busy)
        record_audit(session, actor, "list", None, count=len(new) + len(busy),
                     view="meeting")
    due = tuple(ms for ms in list_measures(ctx=ctx, actor=actor)
                if ms.status in OPEN_MEASURES and ms.due_on <= meeting)
    return Agenda(meeting=meeting, since=since, new=new_views, in_process=busy_views,
                  measures_due=due, answered=answered)

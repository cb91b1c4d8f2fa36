"""The feedback promise: every report has a feedback-by date (`common.feedback_by`), and the
service keeps it or says so.

`send_due_promise_notices` finds the reports still waiting for the group's first feedback
(WAITING_PREDICATE and `first_feedback_at IS NULL`; closed, redirected, rejected and
duplicate reports need none, nor does good collaboration, whose receipt promises no date)
and:

- the day before the date (feedback_by <= tomorrow, local time): reminds the group
  (outbox channel "group", event "feedback_reminder", with the assignee's identity so a
  chat door can mention them; the whole group when nobody is assigned);
- when the date has passed (today > feedback_by): tells the reporter honestly (event
  "feedback_overdue" with a new date, in their channel and by e-mail when they gave an
  address) and records the audit event "feedback_overdue" (codes only).

Each notice goes out once per report: the row `report_notices(report_id, notice)` is the
claim, inserted in the same transaction as the outbox rows (INSERT ... ON CONFLICT DO
NOTHING); a conflict means another replica or run did it. A report found past its date
without a reminder (downtime) gets the honest notice and no late reminder.

The candidates are read from the partial index of waiting reports (ix_reports_waiting, by
reported_at): the feedback-by date of a report is the local date of reported_at plus
feedback_days, so "date on or before D" is "reported before local midnight starting
D - feedback_days + 1".
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, TextClause, bindparam, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.domain.model import Actor, Kind, Role
from intake.services.common import (
    db_now,
    feedback_by,
    notify_group,
    notify_reporter,
    record_audit,
    transaction,
)
from intake.services.context import Context
from storage import models as m

log = logging.getLogger("meld.promises")

REMINDER = "reminder"
OVERDUE = "overdue"
REMINDER_EVENT = "feedback_reminder"
OVERDUE_EVENT = "feedback_overdue"
PROMISE_BATCH = 200  # reports handled per kind and run; the next run takes the rest

# who the audit log names for what the service does by itself
SYSTEM_ACTOR = Actor("system:promises", Role.ADMIN)


@dataclass(frozen=True, slots=True)
class PromiseRun:
    """What one run did (or, in a dry run, would do)."""

    reminders: int = 0
    overdue: int = 0
    reminded: tuple[str, ...] = ()   # references
    overdue_refs: tuple[str, ...] = ()
    more: bool = False               # a batch was full: run again for the rest
    dry_run: bool = False


def local_midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def reported_before_for(ctx: Context, last_date: date) -> datetime:
    """The instant before which a report's feedback-by date is on or before `last_date`."""
    first_day = last_date - timedelta(days=ctx.settings.feedback_days) + timedelta(days=1)
    return local_midnight(first_day, ctx.settings.timezone)


def is_overdue(ctx: Context, report: m.Report | Row[Any],
               today: date | None = None) -> bool:
    """The report's feedback-by date has passed and it still waits for first feedback."""
    if not _waits_for_feedback(report):
        return False
    return (today or ctx.today()) > feedback_by(ctx, report.reported_at)


WAITING_STATUSES = ("received", "triage", "in_progress")
# good collaboration is promised no feedback (its receipt thanks): never reminded or overdue
NO_PROMISE = Kind.GOOD_COLLABORATION.value


def _waits_for_feedback(report: m.Report | Row[Any]) -> bool:
    if report.first_feedback_at is not None or report.kind == NO_PROMISE:
        return False
    return report.status in WAITING_STATUSES


@functools.cache
def _candidates(dialect: str) -> TextClause:
    """Waiting reports without feedback, reported in [after, before), that have no
    `notice` yet, oldest first: read from ix_reports_waiting (its predicate repeated word
    for word, and named on SQLite, which fails loudly should the two stop matching)."""
    hint = "INDEXED BY ix_reports_waiting" if dialect == "sqlite" else ""
    stamp = m.Report.reported_at.type
    return text(
        f"SELECT reports.id, reports.reference FROM reports {hint} "  # noqa: S608 (constants)
        f"WHERE ({m.WAITING_PREDICATE}) AND first_feedback_at IS NULL "
        f"AND kind <> '{NO_PROMISE}' AND reported_at >= :after AND reported_at < :before "
        "AND NOT EXISTS (SELECT 1 FROM report_notices n WHERE n.report_id = reports.id "
        "AND n.notice = :notice) "
        "ORDER BY reported_at, reports.id LIMIT :limit"
    ).bindparams(bindparam("after", type_=stamp), bindparam("before", type_=stamp))


def _find(ctx: Context, notice: str, after: datetime, before: datetime,
          limit: int) -> list[tuple[int, str]]:
    with ctx.db.reading() as session:
        rows = session.execute(_candidates(ctx.db.dialect), {
            "after": after, "before": before, "notice": notice, "limit": limit}).all()
    return [(int(i), str(ref)) for i, ref in rows]


def claim_notice(session: Session, report_id: int, notice: str, **details: object) -> bool:
    """Insert report_notices(report_id, notice) in this transaction: True if this caller
    claimed it, False if the notice was claimed before (by this or another process)."""
    table = m.ReportNotice.__table__
    values = {"report_id": report_id, "notice": notice, "at": db_now(session),
              "details": details}
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = (insert(table).values(**values)
                .on_conflict_do_nothing(index_elements=["report_id", "notice"])
                .returning(table.c.report_id))
        return session.execute(stmt).scalar_one_or_none() is not None
    try:  # pragma: no cover - other databases: a unique violation means "done"
        with session.begin_nested():
            session.execute(table.insert().values(**values))
        return True
    except IntegrityError:  # pragma: no cover
        return False


def _load(session: Session, report_id: int) -> m.Report | None:
    return session.scalars(
        select(m.Report).where(m.Report.id == report_id).with_for_update()).one_or_none()


def _remind(ctx: Context, report_id: int, now: datetime, today: date) -> bool:
    with transaction(ctx) as session:
        session.info["now"] = now
        report = _load(session, report_id)
        if report is None or not _waits_for_feedback(report):
            return False
        due = feedback_by(ctx, report.reported_at)
        if due < today or due > today + timedelta(days=1):
            return False  # overdue already, or not yet in the window
        if not claim_notice(session, report.id, REMINDER, feedback_by=due.isoformat()):
            return False
        notify_group(session, report, REMINDER_EVENT, feedback_by=due.isoformat(),
                     days_left=(due - today).days, assignee=report.assignee)
        return True


def new_feedback_date(ctx: Context, due: date, today: date) -> date:
    """The new date promised when `due` has passed: feedback_extension_days after it, or
    after today when that is already past too (after downtime: never a date gone by)."""
    extension = timedelta(days=ctx.settings.feedback_extension_days)
    return due + extension if due + extension > today else today + extension


def _tell_overdue(ctx: Context, report_id: int, now: datetime, today: date) -> bool:
    with transaction(ctx) as session:
        session.info["now"] = now
        report = _load(session, report_id)
        if report is None or not _waits_for_feedback(report):
            return False
        due = feedback_by(ctx, report.reported_at)
        if not today > due:
            return False
        new_date = new_feedback_date(ctx, due, today)
        if not claim_notice(session, report.id, OVERDUE, feedback_by=due.isoformat(),
                            new_date=new_date.isoformat()):
            return False
        notify_reporter(session, report, OVERDUE_EVENT, new_date=new_date.isoformat())
        record_audit(session, SYSTEM_ACTOR, OVERDUE_EVENT, report,
                     feedback_by=due.isoformat(), new_date=new_date.isoformat())
        return True


def send_due_promise_notices(ctx: Context, now: datetime | None = None, *,
                             dry_run: bool = False,
                             batch: int = PROMISE_BATCH) -> PromiseRun:
    """Remind the group the day before a report's feedback-by date, and tell the reporter
    when it has passed without feedback: each notice once per report, whichever process
    or replica runs this (see the module's docstring). A dry run reports what is due and
    writes nothing. Database errors propagate (the scheduler logs and retries)."""
    now = now or ctx.clock()
    today = ctx.local_date(now)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    overdue_before = reported_before_for(ctx, today - timedelta(days=1))  # due < today
    remind_before = reported_before_for(ctx, today + timedelta(days=1))   # due <= tomorrow

    late = _find(ctx, OVERDUE, epoch, overdue_before, batch)
    # past its date already: the honest notice, no late reminder (so not in this range)
    soon = _find(ctx, REMINDER, overdue_before, remind_before, batch)
    more = len(late) >= batch or len(soon) >= batch
    if dry_run:
        return PromiseRun(len(soon), len(late), tuple(r for _, r in soon),
                          tuple(r for _, r in late), more, True)
    told = [ref for rid, ref in late if _tell_overdue(ctx, rid, now, today)]
    reminded = [ref for rid, ref in soon if _remind(ctx, rid, now, today)]
    if told or reminded:
        log.info("promises: %s reminders, %s overdue notices sent", len(reminded), len(told))
    return PromiseRun(len(reminded), len(told), tuple(reminded), tuple(told), more)

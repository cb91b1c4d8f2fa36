"""The period report's other figures, each from its own small statement: the median days
to first feedback (from an hour histogram), the reports whose first feedback came within
the promise, the answers to "Var svaret nyttig?", the trend per tertial over three years,
and the learning points and measures of the reports closed in the period (all of them: the
committee asks for every one). Only `period_report` and its tests import this.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Integer, String, case, cast, extract, func, select, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from intake.domain import periods
from intake.reporting.model import LearningPoint, Period, TrendPoint
from intake.reporting.period_counts import (
    APART,
    RC,
    R,
    occurred_in,
    rc_in,
    rc_sum,
    whole_months,
)
from storage import models as m

CLASS_DIM = "class"  # report_counts' keys by kind, category and subcategory

# ---------------------------------------------------------------- feedback


def _hours_to_feedback(dialect: str) -> ColumnElement[int]:
    """Whole hours from reported_at to first_feedback_at (never negative), as the triggers
    of report_counts compute them."""
    if dialect == "postgresql":
        seconds = extract("epoch", R.first_feedback_at - R.reported_at)
        return cast(func.greatest(0, func.floor(seconds / 3600)), Integer)
    seconds = (cast(func.strftime("%s", R.first_feedback_at), Integer)
               - cast(func.strftime("%s", R.reported_at), Integer))
    return func.max(0, seconds / 3600)


def _feedback_histogram(cur: Period, dialect: str, only: str | None = None) -> Any:
    """Rows (hours, reports) of the period's reports with feedback; with `only`, those of
    that kind alone, from the reports (APART: the ones to take out)."""
    if whole_months(cur) and only is None:
        return (select(RC.k1, func.sum(RC.n))
                .where(RC.dim == "feedback", rc_in(cur))
                .group_by(RC.k1)
                .having(func.sum(RC.n) != 0))
    hours = _hours_to_feedback(dialect)
    stmt = select(hours, func.count()).where(occurred_in(cur), R.first_feedback_at.is_not(None))
    return (stmt if only is None else stmt.where(R.kind == only)).group_by(hours)


def median_of_histogram(buckets: Iterable[tuple[int, int]]) -> float | None:
    """The median of values given as (value, how many), sorted or not; None when empty."""
    ordered = sorted((int(v), int(n)) for v, n in buckets if int(n) > 0)
    total = sum(n for _, n in ordered)
    if total == 0:
        return None
    wanted = ((total - 1) // 2, total // 2)  # 0-based positions of the middle one or two
    found: list[int] = []
    seen = 0
    for value, n in ordered:
        while len(found) < 2 and wanted[len(found)] < seen + n:
            found.append(value)
        seen += n
        if len(found) == 2:
            break
    return (found[0] + found[1]) / 2


def median_days(session: Any, dialect: str, cur: Period, n: int,
                apart: int = 0) -> float | None:
    """Median days (in whole hours) from reported_at to first_feedback_at in the period,
    of the `n` reports with feedback counted; `apart` more with feedback are taken out
    (good collaboration: its histogram subtracted, bucket by bucket)."""
    if n <= 0:
        return None
    buckets: dict[int, int] = {}
    for value, count in session.execute(_feedback_histogram(cur, dialect)).all():
        buckets[int(value)] = buckets.get(int(value), 0) + int(count)
    if apart > 0:
        for value, count in session.execute(_feedback_histogram(cur, dialect, APART)).all():
            buckets[int(value)] = buckets.get(int(value), 0) - int(count)
    hours = median_of_histogram(buckets.items())
    return None if hours is None else round(hours / 24, 4)


# ---------------------------------------------------------------- the promise


def offset_changes(zone: ZoneInfo, lo: datetime, hi: datetime) -> list[tuple[datetime, int]]:
    """The zone's UTC offset (minutes) at `lo`, then each change up to `hi`: (instant in
    UTC, offset from then on). Found day by day, each change to the second by halving."""

    def offset(seconds: int) -> int:
        delta = datetime.fromtimestamp(seconds, zone).utcoffset()
        return int(delta.total_seconds() // 60) if delta is not None else 0

    start, stop, day = int(lo.timestamp()), int(hi.timestamp()), 86_400
    changes = [(datetime.fromtimestamp(start, UTC), offset(start))]
    for t in range(start, stop, day):
        if offset(t + day) == changes[-1][1]:
            continue
        a, b = t, t + day  # offset(a) is the old one, offset(b) the new
        while b - a > 1:
            mid = (a + b) // 2
            a, b = (mid, b) if offset(mid) == changes[-1][1] else (a, mid)
        changes.append((datetime.fromtimestamp(b, UTC), offset(b)))
    return changes


def _local_day_sqlite(column: Any, changes: Sequence[tuple[datetime, int]],
                      *extra: str) -> ColumnElement[str]:
    """SQLite: the local calendar day ('YYYY-MM-DD') of a stored UTC time, shifted by the
    zone's offset at that time (a CASE over the offset changes), and `extra` modifiers."""
    shifts = [f"{minutes:+d} minutes" for _t, minutes in changes]
    if len(changes) == 1:
        shift: Any = shifts[0]
    else:
        shift = case(*((column < changes[i + 1][0], shifts[i])
                       for i in range(len(changes) - 1)), else_=shifts[-1])
    return func.date(column, shift, *extra)


def within_promise_statement(cur: Period, dialect: str, timezone: str, days: int,
                             until: datetime) -> Any:
    """One row: the period's reports whose first feedback came on or before the promised
    day (the local day of reported_at + `days`, in `timezone`). `until` bounds the offset
    changes SQLite needs (no stored time is later)."""
    if dialect == "postgresql":
        fed = cast(func.timezone(timezone, R.first_feedback_at), Date)
        promised = cast(func.timezone(timezone, R.reported_at), Date) + days
    else:
        lo = datetime.combine(cur.start - timedelta(days=2), datetime.min.time(), UTC)
        changes = offset_changes(ZoneInfo(timezone), lo, until)
        fed = _local_day_sqlite(R.first_feedback_at, changes)
        promised = _local_day_sqlite(R.reported_at, changes, f"+{int(days)} days")
    return (select(func.count())
            .select_from(m.Report.__table__)
            .where(occurred_in(cur), R.kind != APART, R.first_feedback_at.is_not(None),
                   fed <= promised))


# ---------------------------------------------------------------- "Var svaret nyttig?"


def ratings_statement(cur: Period) -> Any:
    """Rows (answer, reports) of the period's reports with an answer to "Var svaret
    nyttig?" (feedback_ratings is small: it drives, the reports are found by key)."""
    fr = m.FeedbackRating.__table__.c
    return (select(fr.answer, func.count())
            .select_from(m.FeedbackRating.__table__.join(m.Report.__table__,
                                                         R.id == fr.report_id))
            .where(occurred_in(cur), R.kind != APART)
            .group_by(fr.answer))


# ---------------------------------------------------------------- trend


def trend_statement(tertials: Sequence[Period]) -> Any:
    """One row: the number of reports in each tertial, summed from report_counts, and the
    first month with any report at all (NULL when there is none; the primary key starts
    with the month, so that is the first matching row). The counts by kind (`class`),
    good collaboration left out: it is counted apart."""
    counted = (RC.dim == CLASS_DIM, RC.k1 != APART)
    first_month = (select(func.min(RC.month))
                   .where(*counted, RC.n > 0)
                   .correlate(None)  # its own scan of report_counts, not the outer row
                   .scalar_subquery())
    return (
        select(*(rc_sum(rc_in(t), RC.n) for t in tertials), first_month)
        .where(*counted, RC.month.between(tertials[0].start, tertials[-1].end))
    )


def trend_points(tertials: Sequence[Period], row: Sequence[Any]) -> tuple[TrendPoint, ...]:
    """The trend: a tertial that ended before the month of the first report has no data
    (None), not zero reports; with no report at all, no tertial has data."""
    *counts, first = row
    if isinstance(first, str):  # SQLite gives MIN() of a date column as text
        first = date.fromisoformat(first)
    return tuple(
        TrendPoint(period=t.key,
                   count=None if first is None or t.end < first else int(n or 0))
        for t, n in zip(tertials, counts, strict=True))


# ---------------------------------------------------------------- learning points


def learning_statement(cur: Period, timezone: str, dialect: str = "sqlite") -> Any:
    """reference, category, learning point, measure and the local closing day: a date
    (PostgreSQL converts it) or, on SQLite, the hour of the stored UTC text
    ('YYYY-MM-DD HH'), turned into a local day once per hour in Python."""
    start, end = periods.utc_bounds(cur, timezone)
    closed = (cast(func.timezone(timezone, R.closed_at), Date) if dialect == "postgresql"
              else func.substr(type_coerce(R.closed_at, String), 1, 13))
    return (
        select(R.reference, R.category_id, R.learning_point, func.coalesce(R.measure, ""),
               closed)
        # closed_at is set only by closing and cleared by reopening, so the range alone
        # selects the closed reports, through ix_reports_closed_at (a status condition
        # made SQLite pick the (status, reported_at) index and scan the history)
        .where(R.closed_at >= start, R.closed_at < end, R.learning_point.is_not(None))
        .order_by(R.closed_at, R.reference)
    )


def learning_points_of(
    rows: Sequence[Any], taxonomy: Any, locale: str, timezone: str
) -> tuple[LearningPoint, ...]:
    """The learning points as the report lists them. Every closed report has one, so at a
    large hospital's volume there are thousands: labels are looked up once per category,
    and SQLite's UTC hours turned into local days once per hour (Oslo's offsets are whole
    hours); the loop itself only builds the tuples."""
    zone = ZoneInfo(timezone)
    labels = {c: taxonomy.category_label(c, locale) for c in {row[1] for row in rows}}
    days = {
        closed: closed if isinstance(closed, date)
        else datetime.fromisoformat(f"{closed}:00:00+00:00").astimezone(zone).date()
        for closed in {row[4] for row in rows}
    }
    new = LearningPoint
    return tuple(new(reference, labels[category_id], learning_point, measure, days[closed])
                 for reference, category_id, learning_point, measure, closed in rows)


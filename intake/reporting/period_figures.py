"""The period report's other figures, each from its own small statement: the median days
to first feedback (from an hour histogram), the trend per tertial over three years, and the
learning points and measures of the reports closed in the period (all of them: the
committee asks for every one). Only `period_report` and its tests import this.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Integer, String, cast, extract, func, select, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from intake.domain import periods
from intake.reporting.model import LearningPoint, Period, TrendPoint
from intake.reporting.period_counts import (
    RC,
    TOTAL_DIM,
    R,
    occurred_in,
    rc_in,
    rc_sum,
    whole_months,
)

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


def _feedback_histogram(cur: Period, dialect: str) -> Any:
    """Rows (hours, reports) of the period's reports with feedback."""
    if whole_months(cur):
        return (select(RC.k1, func.sum(RC.n))
                .where(RC.dim == "feedback", rc_in(cur))
                .group_by(RC.k1)
                .having(func.sum(RC.n) != 0))
    hours = _hours_to_feedback(dialect)
    return (select(hours, func.count())
            .where(occurred_in(cur), R.first_feedback_at.is_not(None))
            .group_by(hours))


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


def median_days(session: Any, dialect: str, cur: Period, n: int) -> float | None:
    """Median days (in whole hours) from reported_at to first_feedback_at in the period."""
    if n <= 0:
        return None
    hours = median_of_histogram(session.execute(_feedback_histogram(cur, dialect)).all())
    return None if hours is None else round(hours / 24, 4)


# ---------------------------------------------------------------- trend


def trend_statement(tertials: Sequence[Period]) -> Any:
    """One row: the number of reports in each tertial, summed from report_counts, and the
    first month with any report at all (NULL when there is none; the primary key starts
    with the month, so that is the first matching row)."""
    first_month = (select(func.min(RC.month))
                   .where(RC.dim == TOTAL_DIM, RC.n > 0)
                   .correlate(None)  # its own scan of report_counts, not the outer row
                   .scalar_subquery())
    return (
        select(*(rc_sum(rc_in(t), RC.n) for t in tertials), first_month)
        .where(RC.dim == TOTAL_DIM, RC.month.between(tertials[0].start, tertials[-1].end))
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


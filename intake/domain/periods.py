"""Reporting periods: tertials, years and ISO weeks (pure; no database).

A period is a span of inclusive calendar dates. Reports fall into a period by `occurred_on`
(a date), so "30 April 23:59 is T1, 1 May 00:00 is T2" is a question of the date alone;
timestamps such as `reported_at` or `closed_at` are first turned into their Europe/Oslo
date with `local_date`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from intake.i18n import N_, Translator

OSLO = "Europe/Oslo"
TERTIAL_MONTHS = {1: (1, 4), 2: (5, 8), 3: (9, 12)}  # first and last month of each tertial
MIN_YEAR, MAX_YEAR = 1900, 9998  # 9999 would compare with year 10000, which date lacks

_TERTIAL = re.compile(r"^(\d{4})-T(\d)$")
_YEAR = re.compile(r"^(\d{4})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{1,2})$")

TERTIAL_LABEL = N_("Tertial {n} {year}")
WEEK_LABEL = N_("week {week} {year}")
BAD_PERIOD = N_(
    "Unknown period “{key}”. Write a tertial (2026-T1), a year (2026) or an ISO week "
    "(2026-W10)."
)
NO_SUCH_WEEK = N_("{year} has no week {week}: ISO weeks run from 1 to {last}.")


@dataclass(frozen=True, slots=True)
class Period:
    """A reporting period, inclusive dates in Europe/Oslo (by occurred_on)."""

    key: str            # "2026-T1", "2026" (annual), "2026-W10" (ISO week)
    label: str          # "1. tertial 2026", "2026", "uke 10 2026"
    start: date         # first day, inclusive
    end: date           # last day, inclusive



def _tr(tr: Translator | None) -> Translator:
    return tr if tr is not None else Translator()


def weeks_in_year(year: int) -> int:
    """52 or 53: the ISO week of 28 December is always the year's last week."""
    return date(year, 12, 28).isocalendar().week


def _last_day_of_month(year: int, month: int) -> date:
    first_next = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return first_next - timedelta(days=1)


def tertial(year: int, n: int, tr: Translator | None = None) -> Period:
    """Tertial n (1: Jan-Apr, 2: May-Aug, 3: Sep-Dec) of a year."""
    first, last = TERTIAL_MONTHS[n]
    return Period(
        key=f"{year:04d}-T{n}",
        label=_tr(tr)(TERTIAL_LABEL, n=n, year=year),
        start=date(year, first, 1),
        end=_last_day_of_month(year, last),
    )


def annual(year: int) -> Period:
    """The calendar year."""
    return Period(key=f"{year:04d}", label=str(year), start=date(year, 1, 1),
                  end=date(year, 12, 31))


def iso_week(year: int, week: int, tr: Translator | None = None) -> Period:
    """ISO week (Monday to Sunday) of an ISO year; ValueError for a week the year lacks."""
    last = weeks_in_year(year)
    if not 1 <= week <= last:
        raise ValueError(_tr(tr)(NO_SUCH_WEEK, year=year, week=week, last=last))
    start = date.fromisocalendar(year, week, 1)
    return Period(
        key=f"{year:04d}-W{week:02d}",
        label=_tr(tr)(WEEK_LABEL, week=week, year=year),
        start=start,
        end=start + timedelta(days=6),
    )


def parse_period(key: str, tr: Translator | None = None) -> Period:
    """'2026-T1', '2026' or '2026-W10' as a Period; ValueError with a readable message."""
    text = (key or "").strip().upper()
    bad = ValueError(_tr(tr)(BAD_PERIOD, key=(key or "").strip()[:40]))
    if found := _TERTIAL.match(text):
        year, n = int(found.group(1)), int(found.group(2))
        if n not in TERTIAL_MONTHS or not MIN_YEAR <= year <= MAX_YEAR:
            raise bad
        return tertial(year, n, tr)
    if found := _YEAR.match(text):
        year = int(found.group(1))
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise bad
        return annual(year)
    if found := _WEEK.match(text):
        year, week = int(found.group(1)), int(found.group(2))
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise bad
        return iso_week(year, week, tr)
    raise bad


def period_kind(p: Period) -> str:
    """'tertial', 'year' or 'week' (from the key)."""
    if _TERTIAL.match(p.key):
        return "tertial"
    if _YEAR.match(p.key):
        return "year"
    if _WEEK.match(p.key):
        return "week"
    raise ValueError(f"not a period key: {p.key!r}")


def _year_of(p: Period) -> int:
    return int(p.key[:4])


def tertial_of(day: date, tr: Translator | None = None) -> Period:
    """The tertial a date falls in."""
    n = next(n for n, (first, last) in TERTIAL_MONTHS.items() if first <= day.month <= last)
    return tertial(day.year, n, tr)


def previous_period(p: Period, tr: Translator | None = None) -> Period:
    """The period just before: the tertial, year or ISO week before."""
    kind = period_kind(p)
    if kind == "tertial":
        n = int(p.key[-1])
        return tertial(_year_of(p) - 1, 3, tr) if n == 1 else tertial(_year_of(p), n - 1, tr)
    if kind == "year":
        return annual(_year_of(p) - 1)
    iso = (p.start - timedelta(days=7)).isocalendar()
    return iso_week(iso.year, iso.week, tr)


def year_ago(p: Period, tr: Translator | None = None) -> Period:
    """The same period a year earlier; week 53 becomes week 52 in a year without one."""
    kind = period_kind(p)
    year = _year_of(p) - 1
    if kind == "tertial":
        return tertial(year, int(p.key[-1]), tr)
    if kind == "year":
        return annual(year)
    week = int(p.key.split("-W")[1])
    return iso_week(year, min(week, weeks_in_year(year)), tr)


def trend_periods(p: Period, years: int = 3, tr: Translator | None = None) -> tuple[Period, ...]:
    """The `years * 3` tertials up to and including the one holding p's last day, oldest first.

    A tertial report for 2026-T1 gets 2023-T2 .. 2026-T1; the annual report for 2026 gets
    2024-T1 .. 2026-T3; a week gets the tertials up to the one it ends in.
    """
    last = tertial_of(p.end, tr)
    out = [last]
    while len(out) < years * 3:
        out.append(previous_period(out[-1], tr))
    return tuple(reversed(out))


def local_date(dt_utc: datetime, timezone: str = OSLO) -> date:
    """The calendar date of an instant in Europe/Oslo (aware datetimes only)."""
    if dt_utc.tzinfo is None:
        raise ValueError("naive datetime: give a timezone-aware (UTC) timestamp")
    return dt_utc.astimezone(ZoneInfo(timezone)).date()


def utc_bounds(p: Period, timezone: str = OSLO) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the period's local days (midnight Oslo to midnight Oslo)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(p.start, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(p.end + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def months_of(p: Period) -> tuple[tuple[int, int], ...]:
    """(year, month) of every calendar month the period touches, in order."""
    out: list[tuple[int, int]] = []
    year, month = p.start.year, p.start.month
    while (year, month) <= (p.end.year, p.end.month):
        out.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return tuple(out)

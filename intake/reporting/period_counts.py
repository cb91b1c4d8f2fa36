"""The period report's breakdowns as SQL: the counts of the period, the previous period
and the same period a year earlier, by kind, category, severity, direction, place and month.

Tertials and years are whole months, so they are read from `report_counts` (monthly counts
per dimension and key, kept by triggers; `counts_statements`); weeks are counted from
`reports` directly in one statement (`breakdown_statement`: PostgreSQL GROUPING SETS,
SQLite a materialised CTE and one GROUP BY per set). `collect` sums either set of rows (a
few hundred) into the counts per breakdown and key. Only the period report's modules
(`period_report`, `period_figures`) and their tests import this.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    and_,
    case,
    cast,
    extract,
    func,
    literal_column,
    null,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from intake.domain.model import Kind, Severity
from intake.reporting.model import Period
from storage import models as m

R = m.Report.__table__.c

# good collaboration is counted apart: its own section, never in the breakdowns' counts
APART = Kind.GOOD_COLLABORATION.value
MERGED_MINOR = "minor_or_none"  # the committee's "mindre alvorlig/ingen/ubetydelig konsekvens"
# the breakdowns, in the order the report shows them
BREAKDOWN_ORDER = ("kind", "category", "subcategory", "reported_severity", "assessed_severity",
                   "severity_merged", "direction", "place", "month")


@dataclass(frozen=True, slots=True)
class Counts:
    """The counts of one key in the current period, the previous one and a year earlier."""

    p: int = 0
    q: int = 0
    y: int = 0

    @property
    def any(self) -> bool:
        return bool(self.p or self.q or self.y)

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.p + other.p, self.q + other.q, self.y + other.y)

    def __sub__(self, other: Counts) -> Counts:
        return Counts(self.p - other.p, self.q - other.q, self.y - other.y)


@dataclass(slots=True)
class Totals:
    counts: Counts = field(default_factory=Counts)
    feedback: int = 0  # reports of the period with first_feedback_at set
    deviations: int = 0  # deviations of the period
    breached: int = 0  # ... of which guideline_breached is true


# The grouping sets of the one breakdown query. Each is coarse enough to stay small (at most
# kinds x subcategories rows) and the breakdowns are summed from them: kind, category and
# subcategory from "class"; reported, assessed and merged severity from "severity".
DIMS = ("kind", "category", "subcategory", "reported_severity", "assessed_severity",
        "direction", "place", "month")
GROUPING_SETS = {
    "class": ("kind", "category", "subcategory"),
    "severity": ("reported_severity", "assessed_severity"),
    "direction": ("direction",),
    "place": ("place",),
    "month": ("month",),
}


# ---------------------------------------------------------------- SQL


def _ranges(spans: Iterable[Period]) -> list[tuple[date, date]]:
    """The periods' date spans, overlapping or adjacent ones merged (fewer index ranges)."""
    merged: list[list[date]] = []
    for start, end in sorted((p.start, p.end) for p in spans):
        if merged and start.toordinal() <= merged[-1][1].toordinal() + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def occurred_in(p: Period) -> ColumnElement[bool]:
    return R.occurred_on.between(p.start, p.end)


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def _month(dialect: str) -> ColumnElement[int]:
    if dialect == "sqlite":  # dates are stored as 'YYYY-MM-DD'; cheaper than strftime
        return cast(func.substr(R.occurred_on, 6, 2), Integer)
    return cast(extract("month", R.occurred_on), Integer)


def _dimension_columns(dialect: str) -> dict[str, ColumnElement[Any]]:
    return {
        "kind": R.kind,
        "category": R.category_id,
        "subcategory": R.subcategory_id,
        "reported_severity": R.reported_severity,
        "assessed_severity": R.assessed_severity,
        "direction": R.direction,
        "place": R.place_id,
        "month": _month(dialect),
    }


def _measures(cur: Period, prev: Period, ago: Period) -> dict[str, ColumnElement[bool]]:
    """Per report: in the period, in the previous one, a year earlier; and the period's
    answered reports, deviations and deviations with a breached guideline."""
    in_cur = occurred_in(cur)
    deviation = R.kind == Kind.DEVIATION.value
    return {
        "p": in_cur,
        "q": occurred_in(prev),
        "y": occurred_in(ago),
        "fb": and_(in_cur, R.first_feedback_at.is_not(None)),
        "dev": and_(in_cur, deviation),
        "breach": and_(in_cur, deviation, R.guideline_breached.is_(True)),
    }


def _in_any(cur: Period, prev: Period, ago: Period) -> ColumnElement[bool]:
    return or_(*(R.occurred_on.between(a, b) for a, b in _ranges((cur, prev, ago))))


def breakdown_statement(cur: Period, prev: Period, ago: Period, dialect: str = "sqlite",
                        only: str | None = None) -> Any:
    """One statement; rows (set, *DIMS, p, q, y, fb, dev, breach), DIMS outside the set NULL.
    With `only`, the reports of that kind alone (APART: the counts kept apart).

    PostgreSQL: GROUP BY GROUPING SETS with COUNT(*) FILTER, one pass over the rows of the
    three periods. SQLite (no grouping sets): those rows once into a materialised CTE with
    0/1 flags, then one GROUP BY per set over it, UNION ALL.
    """
    dims = _dimension_columns(dialect)
    measures = _measures(cur, prev, ago)
    where = _in_any(cur, prev, ago) if only is None else and_(_in_any(cur, prev, ago),
                                                              R.kind == only)
    if dialect == "postgresql":
        counts = [func.count().filter(cond).label(name) for name, cond in measures.items()]
        sets = [tuple(dims[d] for d in members) for members in GROUPING_SETS.values()]
        return (
            select(func.grouping(*dims.values()).label("set"),
                   *(col.label(name) for name, col in dims.items()), *counts)
            .where(where)
            .group_by(func.grouping_sets(*(tuple_(*cols) for cols in sets)))
        )
    base = (
        select(*(col.label(name) for name, col in dims.items()),
               *(_flag(cond).label(name) for name, cond in measures.items()))
        .where(where)
        .cte("period_reports")
        .prefix_with("MATERIALIZED")  # read once, grouped once per set
    )
    parts = []
    for set_name, members in GROUPING_SETS.items():
        keys = [base.c[d] if d in members else null() for d in DIMS]
        parts.append(
            select(literal_column(f"'{set_name}'"), *keys,
                   *(func.sum(base.c[name]) for name in measures))
            .group_by(*(base.c[d] for d in members))
        )
    return union_all(*parts)


def grouping_masks() -> dict[int, str]:
    """PostgreSQL GROUPING(*DIMS) bit masks (1 = not grouped; first DIM = highest bit)."""
    width = len(DIMS)
    return {
        sum(1 << (width - 1 - i) for i, d in enumerate(DIMS) if d not in members): name
        for name, members in GROUPING_SETS.items()
    }


# ---------------------------------------------------------------- report_counts

RC = m.ReportCount.__table__.c
COUNTED_DIMS = {  # report_counts.dim -> the DIMS its keys k1, k2, k3 fill
    "class": ("kind", "category", "subcategory"),
    "severity": ("reported_severity", "assessed_severity"),
    "direction": ("direction",),
    "place": ("place",),
}
TOTAL_DIM = "direction"  # every report is counted once in each dim; this one has few keys


def whole_months(p: Period) -> bool:
    """True when the period is whole calendar months (tertials and years)."""
    return p.start.day == 1 and (p.end + timedelta(days=1)).day == 1


def rc_in(p: Period) -> ColumnElement[bool]:
    return RC.month.between(p.start.replace(day=1), p.end)


def rc_sum(condition: ColumnElement[bool], column: Any) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, column), else_=0)), 0)


def counts_statements(cur: Period, prev: Period, ago: Period) -> tuple[Any, Any]:
    """(per dim and key, per month): sums of report_counts for the three periods; rows
    (dim, k1, k2, k3, p, q, y, fb, dev, breach) and (month, p, q, y)."""
    in_cur, in_prev, in_ago = rc_in(cur), rc_in(prev), rc_in(ago)
    spans = or_(*(RC.month.between(a.replace(day=1), b) for a, b in _ranges((cur, prev, ago))))
    per_key = (
        select(RC.dim, RC.k1, RC.k2, RC.k3,
               rc_sum(in_cur, RC.n), rc_sum(in_prev, RC.n), rc_sum(in_ago, RC.n),
               rc_sum(in_cur, RC.fb), rc_sum(in_cur, RC.dev), rc_sum(in_cur, RC.breach))
        .where(RC.dim.in_(list(COUNTED_DIMS)), spans)
        .group_by(RC.dim, RC.k1, RC.k2, RC.k3)
        .having(func.sum(func.abs(RC.n)) != 0)
    )
    per_month = (
        select(RC.month, rc_sum(in_cur, RC.n), rc_sum(in_prev, RC.n), rc_sum(in_ago, RC.n))
        .where(RC.dim == TOTAL_DIM, spans)
        .group_by(RC.month)
    )
    return per_key, per_month


def counts_rows(per_key: Sequence[Any], per_month: Sequence[Any]) -> list[tuple[Any, ...]]:
    """report_counts sums as the rows of the breakdown statement: (set, *DIMS, measures)."""
    rows: list[tuple[Any, ...]] = []
    for dim, k1, k2, k3, *measures in per_key:
        keys = dict(zip(COUNTED_DIMS[dim], (k1 or None, k2 or None, k3 or None), strict=False))
        rows.append((dim, *(keys.get(d) for d in DIMS), *measures))
    for month, p, q, y in per_month:
        keys = {"month": month.month}
        rows.append(("month", *(keys.get(d) for d in DIMS), p, q, y, 0, 0, 0))
    return rows


# ---------------------------------------------------------------- summing the rows


def _merged(reported: str | None, assessed: str | None) -> str | None:
    """The committee's column: assessed severity where set, else reported; none+minor merged."""
    value = assessed or reported
    return MERGED_MINOR if value in (Severity.NONE.value, Severity.MINOR.value) else value


def collect(
    grouped: Sequence[Any], masks: dict[int, str] | None = None
) -> tuple[Totals, dict[str, dict[Any, Counts]]]:
    """Sum the grouping-set rows (a few hundred) into the breakdowns' counts per key; the
    set is named in the row, or a PostgreSQL GROUPING() bit mask looked up in `masks`."""
    totals = Totals()
    found: dict[str, dict[Any, Counts]] = {dim: {} for dim in BREAKDOWN_ORDER}

    def add(dim: str, key: Any, counts: Counts) -> None:
        found[dim][key] = found[dim].get(key, Counts()) + counts

    for row in grouped:
        set_name = masks[row[0]] if masks else row[0]
        keys = dict(zip(DIMS, row[1:1 + len(DIMS)], strict=True))
        p, q, y, fb, dev, breach = (int(v or 0) for v in row[1 + len(DIMS):])
        counts = Counts(p, q, y)
        if set_name == "class":
            add("kind", keys["kind"], counts)
            add("category", keys["category"], counts)
            add("subcategory", (keys["category"], keys["subcategory"]), counts)
            totals.counts += counts
            totals.feedback += fb
            totals.deviations += dev
            totals.breached += breach
        elif set_name == "severity":
            add("reported_severity", keys["reported_severity"], counts)
            add("assessed_severity", keys["assessed_severity"], counts)
            add("severity_merged",
                _merged(keys["reported_severity"], keys["assessed_severity"]), counts)
        else:
            key = keys[set_name]
            add(set_name, int(key) if set_name == "month" and key is not None else key, counts)
    return totals, found


def without(totals: Totals, found: dict[str, dict[Any, Counts]], apart: Totals,
            apart_found: dict[str, dict[Any, Counts]]) -> None:
    """Take the counts kept apart (`apart`, `apart_found`: `collect` of the APART rows) out
    of the breakdowns in place; a key left with no count at all is dropped."""
    totals.counts -= apart.counts
    totals.feedback -= apart.feedback
    totals.deviations -= apart.deviations
    totals.breached -= apart.breached
    for dim, keys in apart_found.items():
        for key, counts in keys.items():
            left = found[dim].get(key, Counts()) - counts
            if left.any:
                found[dim][key] = left
            else:
                found[dim].pop(key, None)


def apart_rows(
    session: Any, dialect: str, cur: Period, prev: Period, ago: Period
) -> tuple[list[Any], dict[int, str] | None]:
    """The breakdown rows of the reports counted apart (few), from the reports themselves."""
    rows = session.execute(breakdown_statement(cur, prev, ago, dialect, only=APART)).all()
    return list(rows), grouping_masks() if dialect == "postgresql" else None


def grouped_rows(
    session: Any, dialect: str, cur: Period, prev: Period, ago: Period
) -> tuple[list[Any], dict[int, str] | None]:
    """The breakdown rows and how to name their sets: from report_counts when the three
    periods are whole months, else from the reports themselves."""
    if all(whole_months(p) for p in (cur, prev, ago)):
        per_key, per_month = counts_statements(cur, prev, ago)
        return counts_rows(session.execute(per_key).all(),
                           session.execute(per_month).all()), None
    rows = session.execute(breakdown_statement(cur, prev, ago, dialect)).all()
    return list(rows), grouping_masks() if dialect == "postgresql" else None


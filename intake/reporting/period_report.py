"""The tertial/annual report for the committee: SQL aggregation only.

`build_period_report` reads no report rows for its counts:

1. the breakdowns of the period, the previous period and the same period a year earlier.
   Tertials and years are whole months, so they are read from `report_counts` (monthly
   counts per dimension and key, kept current by triggers on `reports` in the same
   transaction as every change; migration 0003): one GROUP BY over a few hundred rows per
   month, whatever the number of reports. Weeks are not whole months; they are counted
   from `reports` directly (`occurred_on BETWEEN ...`, index `ix_reports_occurred_on_kind`):
   PostgreSQL `GROUP BY GROUPING SETS` with `COUNT(*) FILTER (WHERE ...)` in one pass;
   SQLite (no grouping sets) a materialised CTE with 0/1 flags and one GROUP BY per set,
   UNION ALL. Five sets (kind x category x subcategory, reported x assessed severity,
   direction, place, month) give the nine breakdowns;
2. the median days to first feedback, in whole hours: a histogram of hours from reported
   to first feedback (the `feedback` rows of `report_counts`, or the same expression over
   `reports` for a week), the median taken from the sorted buckets;
3. the learning points and measures of the reports closed in the period (index on
   closed_at): one row per closed report, as the committee asks for all of them;
4. the trend: one row of sums over `report_counts`, one per tertial of the last three years,
   and the first month with a report: tertials before it have no data (None), not zero.

The export is audited in its own transaction first. Python loops only over aggregated
rows (a few hundred at most) and the learning points, never over report rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Date,
    Integer,
    String,
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
    type_coerce,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from intake.domain import periods
from intake.domain.model import Actor, Kind, PermissionDenied, Severity
from intake.i18n import N_, Translator
from intake.reporting.model import (
    Breakdown,
    LearningPoint,
    Period,
    PeriodReport,
    Row,
    TrendPoint,
)
from intake.services import Context
from intake.texts import KIND_LABELS, PARTY_LABELS, SEVERITY_LABELS, label
from storage import models as m

R = m.Report.__table__.c

TOP_PROBLEM_AREAS = 5
TREND_YEARS = 3

MERGED_MINOR = "minor_or_none"  # the committee's "mindre alvorlig/ingen/ubetydelig konsekvens"
NOT_ASSESSED = "not_assessed"
NOT_GIVEN = "not_given"

TITLES = {
    "kind": N_("Type of report"),
    "category": N_("Category"),
    "subcategory": N_("Category and subcategory"),
    "reported_severity": N_("Severity reported"),
    "assessed_severity": N_("Severity assessed"),
    "severity_merged": N_("Severity (assessed, else reported)"),
    "direction": N_("Direction"),
    "place": N_("Place"),
    "month": N_("Month"),
}
BREAKDOWN_ORDER = tuple(TITLES)
MERGED_MINOR_LABEL = N_("Minor, none or insignificant consequence")
NOT_ASSESSED_LABEL = N_("Not assessed")
NOT_GIVEN_LABEL = N_("Not given")
NO_SUBCATEGORY_LABEL = N_("{category}, no subcategory")

SEVERITY_ORDER = tuple(s.value for s in Severity)
MERGED_ORDER = (MERGED_MINOR, Severity.MODERATE.value, Severity.SIGNIFICANT.value,
                Severity.SEVERE.value, Severity.UNKNOWN.value)


@dataclass(frozen=True, slots=True)
class _Counts:
    """The counts of one key in the current period, the previous one and a year earlier."""

    p: int = 0
    q: int = 0
    y: int = 0

    @property
    def any(self) -> bool:
        return bool(self.p or self.q or self.y)

    def __add__(self, other: _Counts) -> _Counts:
        return _Counts(self.p + other.p, self.q + other.q, self.y + other.y)


@dataclass(slots=True)
class _Totals:
    counts: _Counts = field(default_factory=_Counts)
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


def _in(p: Period) -> ColumnElement[bool]:
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
    in_cur = _in(cur)
    deviation = R.kind == Kind.DEVIATION.value
    return {
        "p": in_cur,
        "q": _in(prev),
        "y": _in(ago),
        "fb": and_(in_cur, R.first_feedback_at.is_not(None)),
        "dev": and_(in_cur, deviation),
        "breach": and_(in_cur, deviation, R.guideline_breached.is_(True)),
    }


def _in_any(cur: Period, prev: Period, ago: Period) -> ColumnElement[bool]:
    return or_(*(R.occurred_on.between(a, b) for a, b in _ranges((cur, prev, ago))))


def _breakdown_statement(cur: Period, prev: Period, ago: Period, dialect: str = "sqlite") -> Any:
    """One statement; rows (set, *DIMS, p, q, y, fb, dev, breach), DIMS outside the set NULL.

    PostgreSQL: GROUP BY GROUPING SETS with COUNT(*) FILTER, one pass over the rows of the
    three periods. SQLite (no grouping sets): those rows once into a materialised CTE with
    0/1 flags, then one GROUP BY per set over it, UNION ALL.
    """
    dims = _dimension_columns(dialect)
    measures = _measures(cur, prev, ago)
    if dialect == "postgresql":
        counts = [func.count().filter(cond).label(name) for name, cond in measures.items()]
        sets = [tuple(dims[d] for d in members) for members in GROUPING_SETS.values()]
        return (
            select(func.grouping(*dims.values()).label("set"),
                   *(col.label(name) for name, col in dims.items()), *counts)
            .where(_in_any(cur, prev, ago))
            .group_by(func.grouping_sets(*(tuple_(*cols) for cols in sets)))
        )
    base = (
        select(*(col.label(name) for name, col in dims.items()),
               *(_flag(cond).label(name) for name, cond in measures.items()))
        .where(_in_any(cur, prev, ago))
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


def _grouping_masks() -> dict[int, str]:
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


def _rc_in(p: Period) -> ColumnElement[bool]:
    return RC.month.between(p.start.replace(day=1), p.end)


def _rc_sum(condition: ColumnElement[bool], column: Any) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, column), else_=0)), 0)


def _counts_statements(cur: Period, prev: Period, ago: Period) -> tuple[Any, Any]:
    """(per dim and key, per month): sums of report_counts for the three periods; rows
    (dim, k1, k2, k3, p, q, y, fb, dev, breach) and (month, p, q, y)."""
    in_cur, in_prev, in_ago = _rc_in(cur), _rc_in(prev), _rc_in(ago)
    spans = or_(*(RC.month.between(a.replace(day=1), b) for a, b in _ranges((cur, prev, ago))))
    per_key = (
        select(RC.dim, RC.k1, RC.k2, RC.k3,
               _rc_sum(in_cur, RC.n), _rc_sum(in_prev, RC.n), _rc_sum(in_ago, RC.n),
               _rc_sum(in_cur, RC.fb), _rc_sum(in_cur, RC.dev), _rc_sum(in_cur, RC.breach))
        .where(RC.dim.in_(list(COUNTED_DIMS)), spans)
        .group_by(RC.dim, RC.k1, RC.k2, RC.k3)
        .having(func.sum(func.abs(RC.n)) != 0)
    )
    per_month = (
        select(RC.month, _rc_sum(in_cur, RC.n), _rc_sum(in_prev, RC.n), _rc_sum(in_ago, RC.n))
        .where(RC.dim == TOTAL_DIM, spans)
        .group_by(RC.month)
    )
    return per_key, per_month


def _counts_rows(per_key: Sequence[Any], per_month: Sequence[Any]) -> list[tuple[Any, ...]]:
    """report_counts sums as the rows of the breakdown statement: (set, *DIMS, measures)."""
    rows: list[tuple[Any, ...]] = []
    for dim, k1, k2, k3, *measures in per_key:
        keys = dict(zip(COUNTED_DIMS[dim], (k1 or None, k2 or None, k3 or None), strict=False))
        rows.append((dim, *(keys.get(d) for d in DIMS), *measures))
    for month, p, q, y in per_month:
        keys = {"month": month.month}
        rows.append(("month", *(keys.get(d) for d in DIMS), p, q, y, 0, 0, 0))
    return rows


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
                .where(RC.dim == "feedback", _rc_in(cur))
                .group_by(RC.k1)
                .having(func.sum(RC.n) != 0))
    hours = _hours_to_feedback(dialect)
    return (select(hours, func.count())
            .where(_in(cur), R.first_feedback_at.is_not(None))
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


def _median_days(session: Any, dialect: str, cur: Period, n: int) -> float | None:
    """Median days (in whole hours) from reported_at to first_feedback_at in the period."""
    if n <= 0:
        return None
    hours = median_of_histogram(session.execute(_feedback_histogram(cur, dialect)).all())
    return None if hours is None else round(hours / 24, 4)


def _trend_statement(tertials: Sequence[Period]) -> Any:
    """One row: the number of reports in each tertial, summed from report_counts, and the
    first month with any report at all (NULL when there is none; the primary key starts
    with the month, so that is the first matching row)."""
    first_month = (select(func.min(RC.month))
                   .where(RC.dim == TOTAL_DIM, RC.n > 0)
                   .correlate(None)  # its own scan of report_counts, not the outer row
                   .scalar_subquery())
    return (
        select(*(_rc_sum(_rc_in(t), RC.n) for t in tertials), first_month)
        .where(RC.dim == TOTAL_DIM, RC.month.between(tertials[0].start, tertials[-1].end))
    )


def _trend_points(tertials: Sequence[Period], row: Sequence[Any]) -> tuple[TrendPoint, ...]:
    """The trend: a tertial that ended before the month of the first report has no data
    (None), not zero reports; with no report at all, no tertial has data."""
    *counts, first = row
    if isinstance(first, str):  # SQLite gives MIN() of a date column as text
        first = date.fromisoformat(first)
    return tuple(
        TrendPoint(period=t.key,
                   count=None if first is None or t.end < first else int(n or 0))
        for t, n in zip(tertials, counts, strict=True))


def _learning_statement(cur: Period, timezone: str, dialect: str = "sqlite") -> Any:
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


# ---------------------------------------------------------------- rows and labels


def _row(key: str, text: str, counts: _Counts, *, previous: bool = True) -> Row:
    return Row(key=key, label=text, count=counts.p,
               previous=counts.q if previous else None, year_ago=counts.y)


def _fixed_rows(
    order: Sequence[str], found: dict[str | None, _Counts], name: Any,
    null_key: str | None = None, null_label: str = "",
) -> list[Row]:
    """Rows for a fixed list of keys (zeros included), unexpected keys, then the NULL row
    (always, when the column may be NULL)."""
    rows = [_row(k, name(k), found.get(k, _Counts())) for k in order]
    rows += [_row(str(k), name(k), v) for k, v in sorted(found.items(), key=lambda kv: str(kv[0]))
             if k is not None and k not in order]
    if null_key is not None:
        rows.append(_row(null_key, null_label, found.get(None, _Counts())))
    return rows


def _by_count(found: dict[str | None, _Counts], name: Any, null_label: str) -> list[Row]:
    """Rows for keys with any count, most in the period first; the NULL row last."""
    keys = sorted((k for k, v in found.items() if k is not None and v.any),
                  key=lambda k: (-found[k].p, -found[k].q - found[k].y, name(k)))
    rows = [_row(k, name(k), found[k]) for k in keys]
    if None in found and found[None].any:
        rows.append(_row(NOT_GIVEN, null_label, found[None]))
    return rows


def _direction_label(value: str, tr: Translator) -> str:
    parts = value.split("->")
    if len(parts) != 2:
        return value
    return " → ".join(label(PARTY_LABELS, part, tr) for part in parts)


def _category_rows(ctx: Context, found: dict[str | None, _Counts], locale: str) -> list[Row]:
    """Every active category (zeros too), inactive ones with reports, then unknown ids."""
    rows: list[Row] = []
    known = set()
    for cat in ctx.taxonomy.categories:
        known.add(cat.id)
        counts = found.get(cat.id, _Counts())
        if cat.active or counts.any:
            rows.append(_row(cat.id, cat.label(locale), counts))
    rows += [_row(str(k), str(k), v) for k, v in sorted(found.items(), key=lambda kv: str(kv[0]))
             if k not in known]
    return rows


def _subcategory_rows(
    ctx: Context, found: dict[tuple[str, str | None], _Counts], tr: Translator
) -> list[Row]:
    """category/subcategory rows in taxonomy order; key 'cat/sub', or 'cat' without one."""
    locale = tr.locale
    rows: list[Row] = []
    seen: set[tuple[str, str | None]] = set()

    def add(cat_id: str, sub_id: str | None, text: str, always: bool) -> None:
        seen.add((cat_id, sub_id))
        counts = found.get((cat_id, sub_id), _Counts())
        if always or counts.any:
            rows.append(_row(f"{cat_id}/{sub_id}" if sub_id else cat_id, text, counts))

    for cat in ctx.taxonomy.categories:
        in_use = any(k[0] == cat.id and v.any for k, v in found.items())
        if not (cat.active or in_use):
            continue
        cat_label = cat.label(locale)
        if not cat.subcategories:
            add(cat.id, None, cat_label, True)
        else:
            for sub in cat.subcategories:
                add(cat.id, sub.id, f"{cat_label} – {sub.label(locale)}", cat.active and sub.active)
            add(cat.id, None, tr(NO_SUBCATEGORY_LABEL, category=cat_label), False)
        for (cat_id, sub_id), counts in sorted(
            ((k, v) for k, v in found.items() if k[0] == cat.id and k not in seen),
            key=lambda kv: str(kv[0][1]),
        ):
            seen.add((cat_id, sub_id))
            if counts.any:
                rows.append(_row(f"{cat_id}/{sub_id}", f"{cat_label} – {sub_id}", counts))
    for (cat_id, sub_id), counts in sorted(
        ((k, v) for k, v in found.items() if k not in seen), key=lambda kv: str(kv[0])
    ):
        key = f"{cat_id}/{sub_id}" if sub_id else str(cat_id)
        rows.append(_row(key, f"{cat_id} – {sub_id}" if sub_id else str(cat_id), counts))
    return rows


def _month_rows(cur: Period, found: dict[str | None, _Counts], tr: Translator) -> list[Row]:
    """Every month of the period; a year earlier is the same month, the previous period is
    compared month by month only in an annual report (a tertial's months differ)."""
    comparable = periods.period_kind(cur) == "year"
    rows = []
    for year, month in periods.months_of(cur):
        counts = found.get(month, _Counts())
        rows.append(_row(f"{year:04d}-{month:02d}", tr.date(date(year, month, 1), "LLLL y"),
                         counts, previous=comparable))
    return rows


# ---------------------------------------------------------------- the report


def _merged(reported: str | None, assessed: str | None) -> str | None:
    """The committee's column: assessed severity where set, else reported; none+minor merged."""
    value = assessed or reported
    return MERGED_MINOR if value in (Severity.NONE.value, Severity.MINOR.value) else value


def _collect(
    grouped: Sequence[Any], masks: dict[int, str] | None = None
) -> tuple[_Totals, dict[str, dict[Any, _Counts]]]:
    """Sum the grouping-set rows (a few hundred) into the breakdowns' counts per key; the
    set is named in the row, or a PostgreSQL GROUPING() bit mask looked up in `masks`."""
    totals = _Totals()
    found: dict[str, dict[Any, _Counts]] = {dim: {} for dim in BREAKDOWN_ORDER}

    def add(dim: str, key: Any, counts: _Counts) -> None:
        found[dim][key] = found[dim].get(key, _Counts()) + counts

    for row in grouped:
        set_name = masks[row[0]] if masks else row[0]
        keys = dict(zip(DIMS, row[1:1 + len(DIMS)], strict=True))
        p, q, y, fb, dev, breach = (int(v or 0) for v in row[1 + len(DIMS):])
        counts = _Counts(p, q, y)
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


def _learning_points(
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


def _grouped_rows(
    session: Any, dialect: str, cur: Period, prev: Period, ago: Period
) -> tuple[list[Any], dict[int, str] | None]:
    """The breakdown rows and how to name their sets: from report_counts when the three
    periods are whole months, else from the reports themselves."""
    if all(whole_months(p) for p in (cur, prev, ago)):
        per_key, per_month = _counts_statements(cur, prev, ago)
        return _counts_rows(session.execute(per_key).all(),
                            session.execute(per_month).all()), None
    rows = session.execute(_breakdown_statement(cur, prev, ago, dialect)).all()
    return list(rows), _grouping_masks() if dialect == "postgresql" else None


def _audit_export(ctx: Context, actor: Actor, period: Period) -> None:
    with ctx.db.transaction() as session:
        session.add(m.AuditEvent(
            at=ctx.clock(), actor_id=actor.identity, actor_role=actor.role.value,
            action="export", report_id=None,
            details={"kind": "period_report", "period": period.key},
        ))


def build_period_report(
    *,
    ctx: Context,
    actor: Actor,
    period: Period,
    suppress: bool = True,
    tr: Translator | None = None,
) -> PeriodReport:
    """The tertial/annual (or weekly) report: breakdowns with comparisons, learning points,
    feedback figures and the trend; group only, and the export is audited."""
    if not actor.is_group:
        raise PermissionDenied("group_only")
    tr = tr or Translator(ctx.settings.locale, ctx.settings.timezone)
    prev = periods.previous_period(period, tr)
    ago = periods.year_ago(period, tr)
    trend = periods.trend_periods(period, TREND_YEARS, tr)
    _audit_export(ctx, actor, period)

    dialect = ctx.db.dialect
    with ctx.db.reading() as session:
        totals, found = _collect(*_grouped_rows(session, dialect, period, prev, ago))
        median = _median_days(session, dialect, period, totals.feedback)
        learning = session.execute(
            _learning_statement(period, ctx.settings.timezone, dialect)).all()
        per_tertial = session.execute(_trend_statement(trend)).one()

    locale = tr.locale
    taxonomy = ctx.taxonomy

    def sev(value: str) -> str:
        return label(SEVERITY_LABELS, value, tr)

    def merged_label(value: str) -> str:
        return tr(MERGED_MINOR_LABEL) if value == MERGED_MINOR else sev(value)

    rows_of = {
        "kind": _fixed_rows([k.value for k in Kind], found["kind"],
                            lambda k: label(KIND_LABELS, k, tr)),
        "category": _category_rows(ctx, found["category"], locale),
        "subcategory": _subcategory_rows(ctx, found["subcategory"], tr),
        "reported_severity": _fixed_rows(SEVERITY_ORDER, found["reported_severity"], sev),
        "assessed_severity": _fixed_rows(SEVERITY_ORDER, found["assessed_severity"], sev,
                                         NOT_ASSESSED, tr(NOT_ASSESSED_LABEL)),
        "severity_merged": _fixed_rows(MERGED_ORDER, found["severity_merged"], merged_label),
        "direction": _by_count(found["direction"], lambda k: _direction_label(k, tr),
                               tr(NOT_GIVEN_LABEL)),
        "place": _by_count(found["place"], lambda k: taxonomy.place_label(k, locale),
                           tr(NOT_GIVEN_LABEL)),
        "month": _month_rows(period, found["month"], tr),
    }

    def compared(rows: Sequence[Row], attr: str, total: int) -> int | None:
        # the sum row has a comparison unless its rows have none (a tertial's months)
        return None if rows and all(getattr(r, attr) is None for r in rows) else total

    breakdowns = tuple(
        Breakdown(key=dim, title=tr(TITLES[dim]), rows=tuple(rows_of[dim]),
                  total=totals.counts.p,
                  total_previous=compared(rows_of[dim], "previous", totals.counts.q),
                  total_year_ago=compared(rows_of[dim], "year_ago", totals.counts.y))
        for dim in BREAKDOWN_ORDER
    )

    top = sorted((r for r in rows_of["subcategory"] if r.count > 0), key=lambda r: -r.count)
    total = totals.counts.p
    return PeriodReport(
        period=period,
        previous=prev,
        year_ago=ago,
        total=total,
        total_previous=totals.counts.q,
        total_year_ago=totals.counts.y,
        breakdowns=breakdowns,
        guideline_breached_share=(totals.breached / totals.deviations
                                  if totals.deviations else None),
        top_problem_areas=tuple(top[:TOP_PROBLEM_AREAS]),
        learning_points=_learning_points(learning, taxonomy, locale, ctx.settings.timezone),
        feedback_share=totals.feedback / total if total else None,
        median_days_to_feedback=median,
        trend=_trend_points(trend, per_tertial),
        suppressed=suppress,
    )

"""The tertial/annual report for the committee: SQL aggregation only.

`build_period_report` (imported by the CLI, the web pages, the stats API and the bench)
builds it from the statements of `period_counts` (1 below) and `period_figures` (2-4), and
labels its rows here. It reads no report rows for its counts:

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
   and the first month with a report: tertials before it have no data (None), not zero;
5. the promise: one count of the period's reports whose first feedback came on or before
   the promised day (the local day of reporting + feedback_days), and the answers to
   "Var svaret nyttig?" (feedback_ratings joined to the period's reports, by answer);
6. good collaboration is counted apart: when the kind counts show any, its own breakdown
   rows are read from the reports (`apart_rows`, few) and taken out of every breakdown and
   figure above (`without`), and make a section of their own (`good_collaboration`).

The export is audited in its own transaction first. Python loops only over aggregated
rows (a few hundred at most) and the learning points, never over report rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from intake.domain import periods
from intake.domain.model import PROBLEM_KINDS, Actor, PermissionDenied, Severity
from intake.i18n import N_, Translator
from intake.reporting.model import Breakdown, Period, PeriodReport, Row
from intake.reporting.period_counts import (
    APART,
    BREAKDOWN_ORDER,
    MERGED_MINOR,
    Counts,
    Totals,
    apart_rows,
    collect,
    grouped_rows,
    without,
)
from intake.reporting.period_figures import (
    learning_points_of,
    learning_statement,
    median_days,
    ratings_statement,
    trend_points,
    trend_statement,
    within_promise_statement,
)
from intake.services import Context
from intake.services.measures import list_measures, measure_counts
from intake.texts import (
    KIND_LABELS,
    MEASURE_STATUS_LABELS,
    PARTY_LABELS,
    RATING_LABELS,
    SEVERITY_LABELS,
    label,
)
from intake.texts_good import GOOD_BY_CATEGORY, GOOD_BY_PLACE
from storage import models as m

TOP_PROBLEM_AREAS = 5
TREND_YEARS = 3

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
MERGED_MINOR_LABEL = N_("Minor, none or insignificant consequence")
NOT_ASSESSED_LABEL = N_("Not assessed")
NOT_GIVEN_LABEL = N_("Not given")
NO_SUBCATEGORY_LABEL = N_("{category}, no subcategory")

SEVERITY_ORDER = tuple(s.value for s in Severity)
MERGED_ORDER = (MERGED_MINOR, Severity.MODERATE.value, Severity.SIGNIFICANT.value,
                Severity.SEVERE.value, Severity.UNKNOWN.value)


# ---------------------------------------------------------------- rows and labels


def _row(key: str, text: str, counts: Counts, *, previous: bool = True) -> Row:
    return Row(key=key, label=text, count=counts.p,
               previous=counts.q if previous else None, year_ago=counts.y)


def _fixed_rows(
    order: Sequence[str], found: dict[str | None, Counts], name: Any,
    null_key: str | None = None, null_label: str = "",
) -> list[Row]:
    """Rows for a fixed list of keys (zeros included), unexpected keys, then the NULL row
    (always, when the column may be NULL)."""
    rows = [_row(k, name(k), found.get(k, Counts())) for k in order]
    rows += [_row(str(k), name(k), v) for k, v in sorted(found.items(), key=lambda kv: str(kv[0]))
             if k is not None and k not in order]
    if null_key is not None:
        rows.append(_row(null_key, null_label, found.get(None, Counts())))
    return rows


def _by_count(found: dict[str | None, Counts], name: Any, null_label: str) -> list[Row]:
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


def _category_rows(ctx: Context, found: dict[str | None, Counts], locale: str) -> list[Row]:
    """Every active category (zeros too), inactive and system ones (e.g. "uncategorized")
    with reports, then unknown ids."""
    rows: list[Row] = []
    known = set()
    for cat in ctx.taxonomy.categories:
        known.add(cat.id)
        counts = found.get(cat.id, Counts())
        if (cat.active and not cat.system) or counts.any:
            rows.append(_row(cat.id, cat.label(locale), counts))
    rows += [_row(str(k), str(k), v) for k, v in sorted(found.items(), key=lambda kv: str(kv[0]))
             if k not in known]
    return rows


def _subcategory_rows(
    ctx: Context, found: dict[tuple[str, str | None], Counts], tr: Translator
) -> list[Row]:
    """category/subcategory rows in taxonomy order; key 'cat/sub', or 'cat' without one."""
    locale = tr.locale
    rows: list[Row] = []
    seen: set[tuple[str, str | None]] = set()

    def add(cat_id: str, sub_id: str | None, text: str, always: bool) -> None:
        seen.add((cat_id, sub_id))
        counts = found.get((cat_id, sub_id), Counts())
        if always or counts.any:
            rows.append(_row(f"{cat_id}/{sub_id}" if sub_id else cat_id, text, counts))

    for cat in ctx.taxonomy.categories:
        in_use = any(k[0] == cat.id and v.any for k, v in found.items())
        if not ((cat.active and not cat.system) or in_use):
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


def _month_rows(cur: Period, found: dict[str | None, Counts], tr: Translator) -> list[Row]:
    """Every month of the period; a year earlier is the same month, the previous period is
    compared month by month only in an annual report (a tertial's months differ)."""
    comparable = periods.period_kind(cur) == "year"
    rows = []
    for year, month in periods.months_of(cur):
        counts = found.get(month, Counts())
        rows.append(_row(f"{year:04d}-{month:02d}", tr.date(date(year, month, 1), "LLLL y"),
                         counts, previous=comparable))
    return rows


# ---------------------------------------------------------------- the report

def _audit_export(ctx: Context, actor: Actor, period: Period) -> None:
    with ctx.db.transaction() as session:
        session.add(m.AuditEvent(
            at=ctx.clock(), actor_id=actor.identity, actor_role=actor.role.value,
            action="export", report_id=None,
            details={"kind": "period_report", "period": period.key},
        ))


_LAST_INSTANT = datetime.max.replace(tzinfo=UTC) - timedelta(days=2)


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
    if not actor.reads_group:  # the committee reads it too
        raise PermissionDenied("group_only")
    tr = tr or Translator(ctx.settings.locale, ctx.settings.timezone)
    prev = periods.previous_period(period, tr)
    ago = periods.year_ago(period, tr)
    trend = periods.trend_periods(period, TREND_YEARS, tr)
    _audit_export(ctx, actor, period)

    dialect = ctx.db.dialect
    with ctx.db.reading() as session:
        totals, found = collect(*grouped_rows(session, dialect, period, prev, ago))
        # good collaboration is counted apart: its own counts (read only when there are
        # any) come out of every breakdown and figure, and make a section of their own
        apart, apart_found = Totals(), dict[str, dict[Any, Counts]]()
        if found["kind"].get(APART, Counts()).any:
            apart, apart_found = collect(*apart_rows(session, dialect, period, prev, ago))
            without(totals, found, apart, apart_found)
        median = median_days(session, dialect, period, totals.feedback, apart.feedback)
        learning = session.execute(
            learning_statement(period, ctx.settings.timezone, dialect)).all()
        per_tertial = session.execute(trend_statement(trend)).one()
        days = ctx.settings.feedback_days
        # no stored time is later (SQLite needs the zone's offset changes up to it)
        latest = max(ctx.clock(), datetime.combine(period.end, time(), UTC))
        until = latest + min(timedelta(days=400), _LAST_INSTANT - latest)  # year 9999 holds
        within, answers = 0, dict[str, int]()
        if totals.feedback:  # a closed report had feedback: no feedback, no answers
            within = int(session.execute(within_promise_statement(
                period, dialect, ctx.settings.timezone, days, until)).scalar() or 0)
            answers = {a: int(n) for a, n in session.execute(ratings_statement(period))}

    locale = tr.locale
    taxonomy = ctx.taxonomy
    decided = measure_counts(ctx=ctx, actor=actor, decided_from=period.start,
                             decided_to=period.end)

    def sev(value: str) -> str:
        return label(SEVERITY_LABELS, value, tr)

    def merged_label(value: str) -> str:
        return tr(MERGED_MINOR_LABEL) if value == MERGED_MINOR else sev(value)

    rows_of = {
        "kind": _fixed_rows([k.value for k in PROBLEM_KINDS], found["kind"],
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
        learning_points=learning_points_of(learning, taxonomy, locale, ctx.settings.timezone),
        feedback_share=totals.feedback / total if total else None,
        median_days_to_feedback=median,
        trend=trend_points(trend, per_tertial),
        suppressed=suppress,
        promise_days=days,
        feedback_count=totals.feedback,
        within_promise=within,
        within_promise_share=within / total if total else None,
        within_promise_of_feedback=within / totals.feedback if totals.feedback else None,
        ratings=tuple(Row(key=code, label=tr(text), count=answers.get(code, 0))
                      for code, text in RATING_LABELS.items()),
        rated=sum(answers.values()),
        measures=tuple(Row(key=code, label=tr(text), count=decided.get(code, 0))
                       for code, text in MEASURE_STATUS_LABELS.items()),
        overdue_measures=list_measures(ctx=ctx, actor=actor, overdue=True),
        good_collaboration=_good_collaboration(ctx, apart, apart_found, tr),
    )


def _good_collaboration(ctx: Context, apart: Totals, found: dict[str, dict[Any, Counts]],
                        tr: Translator) -> tuple[Breakdown, ...]:
    """Good collaboration's own section: its reports by category and by place, with the
    totals (nothing when the three periods had none)."""
    if not apart.counts.any:
        return ()
    locale, taxonomy, total = tr.locale, ctx.taxonomy, apart.counts
    return tuple(
        Breakdown(key=key, title=tr(title), rows=tuple(_by_count(
            found.get(dim, {}), name, tr(NOT_GIVEN_LABEL))),
            total=total.p, total_previous=total.q, total_year_ago=total.y)
        for key, dim, title, name in (
            ("good_collaboration_category", "category", GOOD_BY_CATEGORY,
             lambda k: taxonomy.category_label(k, locale)),
            ("good_collaboration_place", "place", GOOD_BY_PLACE,
             lambda k: taxonomy.place_label(k, locale)),
        ))


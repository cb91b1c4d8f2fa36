"""The data of a tertial/annual report, as the SQL aggregation returns it and renderers take it.

`period_report.build_period_report` fills these; `render_html` and `render_tables` turn
them into HTML, CSV and XLSX. Plain data only: no database, no formatting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from intake.domain.periods import Period


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a breakdown: a coded key, its label, the count, and comparisons."""

    key: str
    label: str
    count: int
    previous: int | None = None     # same key in the previous period (tertial or year)
    year_ago: int | None = None     # same key in the same period a year earlier


@dataclass(frozen=True, slots=True)
class Breakdown:
    """A table: e.g. by kind, by category, by reported severity. Rows add up to `total`;
    `total_previous` and `total_year_ago` are the reports of the comparison periods, for
    the sum row (None when the rows have no such comparison, as a tertial's months
    against the previous tertial)."""

    key: str            # "kind", "category", "subcategory", "reported_severity",
                        # "assessed_severity", "severity_merged", "direction", "place", "month"
                        # (good collaboration's: "good_collaboration_category", "..._place")
    title: str          # Norwegian heading
    rows: tuple[Row, ...]
    total: int
    total_previous: int | None = None
    total_year_ago: int | None = None


class LearningPoint(NamedTuple):
    """A closed report's learning point and measure. A NamedTuple, not a dataclass: a
    report may list tens of thousands, and a tuple is built four times faster."""

    reference: str
    category: str       # label
    learning_point: str
    measure: str
    closed_on: date


@dataclass(frozen=True, slots=True)
class TrendPoint:
    period: str         # "2024-T1"
    count: int | None   # None: no data, the tertial ended before the first report


@dataclass(frozen=True, slots=True)
class PeriodReport:
    period: Period
    previous: Period
    year_ago: Period
    total: int
    total_previous: int
    total_year_ago: int
    breakdowns: tuple[Breakdown, ...]
    guideline_breached_share: float | None      # of deviations, 0..1; None if no deviations
    top_problem_areas: tuple[Row, ...]          # category/subcategory with most reports
    learning_points: tuple[LearningPoint, ...]
    feedback_share: float | None                # reports with any feedback / all, 0..1
    median_days_to_feedback: float | None
    trend: tuple[TrendPoint, ...] = field(default_factory=tuple)  # per tertial, 3 years
    suppressed: bool = False                    # counts < 3 shown as "<3" when rendered
    # the promise: first feedback on or before the local day of reporting + promise_days
    promise_days: int | None = None
    feedback_count: int | None = None           # reports of the period with any feedback
    within_promise: int | None = None           # ... whose first feedback kept the promise
    within_promise_share: float | None = None   # within_promise / all reports, 0..1
    within_promise_of_feedback: float | None = None  # within_promise / feedback_count
    # "Var svaret nyttig?": one Row per answer (yes, partly, no; no comparisons), and the
    # number of the period's reports with an answer (the shares' denominator)
    ratings: tuple[Row, ...] = field(default_factory=tuple)
    rated: int = 0
    # measures decided in the period, by where they stand now (planned, in progress, done,
    # dropped), and every open measure past its due date when the report was made
    measures: tuple[Row, ...] = field(default_factory=tuple)
    overdue_measures: tuple[Any, ...] = field(default_factory=tuple)  # MeasureView
    # good collaboration, counted apart (never in the figures above): its reports by
    # category and by place, each with the totals; empty when the three periods had none
    good_collaboration: tuple[Breakdown, ...] = field(default_factory=tuple)

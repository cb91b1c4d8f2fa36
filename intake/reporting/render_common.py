"""What every rendering of a period report shares: the suppression rule, numbers in the
reader's locale, the comparison columns, titles.

HTML and XLSX go to the committee: when `report.suppressed` is set, every count of 1 or 2
is shown as "<3" (0 stays 0), and nothing else gives it away either: suppressed bars and
trend points are drawn at one fixed length, a change is not shown when one of its two
counts is suppressed, and a share is not shown when its numerator or denominator is.
CSV is for the working group and always carries the exact numbers.

The renderers only format; every number comes from the report as the SQL aggregation
built it. Output is deterministic for a given report (no clock, no randomness), so golden
tests are possible. The renderers are `render_html` (with `render_charts`) and
`render_tables` (CSV, XLSX); only they (and their tests) import this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from html import escape

from babel.numbers import format_decimal, format_percent

from intake.i18n import Translator
from intake.reporting.model import Period, PeriodReport, Row

SUPPRESSED_TEXT = "<3"
SUPPRESS_BELOW = 3
# suppressed bars and trend points are all drawn at this value, whatever the real 1 or 2
SUPPRESSED_PLOT_VALUE = 3
NOT_SHOWN = "–"

TERTIAL_KEY = re.compile(r"^(\d{4})-T([1-3])$")
_YEAR_KEY = re.compile(r"^\d{4}$")
_WEEK_KEY = re.compile(r"^\d{4}-W\d{2}$")


def is_hidden(count: int | None, suppressed: bool) -> bool:
    """True when this count must be shown as "<3" (1 or 2, and the report is suppressed)."""
    return suppressed and count is not None and 0 < count < SUPPRESS_BELOW


def deviation_count(report: PeriodReport) -> int | None:
    """Number of deviations in the period (the denominator of the guideline share)."""
    for breakdown in report.breakdowns:
        if breakdown.key == "kind":
            return next((r.count for r in breakdown.rows if r.key == "deviation"), 0)
    return None


def share_hidden(share: float | None, denominator: int | None, suppressed: bool) -> bool:
    """A share of a small group would give away a count below 3."""
    if share is None or denominator is None or not suppressed:
        return False
    return is_hidden(denominator, True) or is_hidden(round(share * denominator), True)


def same_comparison(report: PeriodReport) -> bool:
    """For an annual report the previous period and a year earlier are the same year."""
    return report.previous.key == report.year_ago.key


def _has(rows: Iterable[Row], attr: str) -> bool:
    return any(getattr(r, attr) is not None for r in rows)


def comparison_columns(report: PeriodReport, rows: Sequence[Row]) -> list[tuple[str, Period]]:
    """Which comparison columns a table gets: only those with data, and each period once."""
    columns: list[tuple[str, Period]] = []
    if _has(rows, "previous"):
        columns.append(("previous", report.previous))
    if _has(rows, "year_ago") and not (same_comparison(report) and columns):
        columns.append(("year_ago", report.year_ago))
    return columns


def _period_kind(period: Period) -> str:
    if TERTIAL_KEY.match(period.key):
        return "tertial"
    if _YEAR_KEY.match(period.key):
        return "year"
    if _WEEK_KEY.match(period.key):
        return "week"
    return "other"


def report_kicker(report: PeriodReport, tr: Translator) -> str:
    kind = _period_kind(report.period)
    if kind == "tertial":
        return tr("Tertial report from Forbedringsgruppen")
    if kind == "year":
        return tr("Annual report from Forbedringsgruppen")
    return tr("Report from Forbedringsgruppen")


def report_title(report: PeriodReport, tr: Translator) -> str:
    return tr("Collaboration deviations and suggestions: {period}", period=report.period.label)


def period_dates(period: Period, tr: Translator) -> str:
    return f"{tr.date(period.start)} – {tr.date(period.end)}"


class Numbers:
    """Counts, changes and shares in the translator's locale, with suppression applied."""

    def __init__(self, tr: Translator, suppressed: bool) -> None:
        self.tr = tr
        self.locale = tr.babel_locale
        self.suppressed = suppressed

    def hidden(self, count: int | None) -> bool:
        return is_hidden(count, self.suppressed)

    def count(self, count: int | None) -> str:
        if count is None:
            return NOT_SHOWN
        if self.hidden(count):
            return SUPPRESSED_TEXT
        return format_decimal(count, locale=self.locale)

    def change(self, now: int | None, before: int | None) -> str:
        """'+4 (+11 %)', '−2 (−50 %)', '±0'; '+3' when there was nothing before."""
        if now is None or before is None or self.hidden(now) or self.hidden(before):
            return NOT_SHOWN
        diff = now - before
        sign = "+" if diff > 0 else "−" if diff < 0 else "±"
        text = f"{sign}{format_decimal(abs(diff), locale=self.locale)}"
        if before > 0 and diff:
            text += f" ({sign}{format_percent(abs(diff) / before, locale=self.locale)})"
        return text

    def percent(self, share: float | None) -> str:
        if share is None:
            return NOT_SHOWN
        return format_percent(share, locale=self.locale)

    def decimal(self, value: float | None) -> str:
        if value is None:
            return NOT_SHOWN
        return format_decimal(value, format="#,##0.#", locale=self.locale)


def esc(text: object) -> str:
    """Text escaped for HTML and SVG, in element content and quoted attributes."""
    return escape(str(text), quote=True)


def trend_label(key: str) -> str:
    """'2026-T1' -> 'T1 2026'; any other key as it is."""
    m = TERTIAL_KEY.match(key)
    return f"T{m.group(2)} {m.group(1)}" if m else key


"""Render a tertial or annual report (`intake.reporting.model.PeriodReport`) as HTML, CSV or XLSX.

HTML and XLSX go to the committee: when `report.suppressed` is set, every count of 1 or 2
is shown as "<3" (0 stays 0), and nothing else gives it away either: suppressed bars and
trend points are drawn at one fixed length, a change is not shown when one of its two
counts is suppressed, and a share is not shown when its numerator or denominator is.
CSV is for the working group and always carries the exact numbers.

The renderers only format; every number comes from the report as the SQL aggregation
built it. Output is deterministic for a given report (no clock, no randomness), so golden
tests are possible.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable, Sequence
from datetime import date
from html import escape
from typing import Any

from babel.numbers import format_decimal, format_percent

from intake.i18n import N_, Translator
from intake.reporting.model import Breakdown, LearningPoint, Period, PeriodReport, Row, TrendPoint
from intake.reporting.spreadsheet import CSV_DIALECTS, STANDARD, CsvDialect, CsvWriter, xlsx_cell

SUPPRESSED_TEXT = "<3"
SUPPRESS_BELOW = 3
# suppressed bars and trend points are all drawn at this value, whatever the real 1 or 2
SUPPRESSED_PLOT_VALUE = 3
NOT_SHOWN = "–"
# a tertial of the trend before the first report: no data, which is not zero
TREND_NO_DATA = N_("No data before the first report (–).")

CSV_COLUMNS = ("section", "key", "label", "count", "previous", "year_ago")
CSV_LEARNING_COLUMNS = ("section", "reference", "category", "closed_on", "learning_point",
                        "measure")
CSV_TOTAL_KEY = "_total"

_TERTIAL_KEY = re.compile(r"^(\d{4})-T([1-3])$")
_YEAR_KEY = re.compile(r"^\d{4}$")
_WEEK_KEY = re.compile(r"^\d{4}-W\d{2}$")


# ---------------------------------------------------------------------------------------
# shared helpers


def is_hidden(count: int | None, suppressed: bool) -> bool:
    """True when this count must be shown as "<3" (1 or 2, and the report is suppressed)."""
    return suppressed and count is not None and 0 < count < SUPPRESS_BELOW


def _deviation_count(report: PeriodReport) -> int | None:
    """Number of deviations in the period (the denominator of the guideline share)."""
    for breakdown in report.breakdowns:
        if breakdown.key == "kind":
            return next((r.count for r in breakdown.rows if r.key == "deviation"), 0)
    return None


def _share_hidden(share: float | None, denominator: int | None, suppressed: bool) -> bool:
    """A share of a small group would give away a count below 3."""
    if share is None or denominator is None or not suppressed:
        return False
    return is_hidden(denominator, True) or is_hidden(round(share * denominator), True)


def _same_comparison(report: PeriodReport) -> bool:
    """For an annual report the previous period and a year earlier are the same year."""
    return report.previous.key == report.year_ago.key


def _has(rows: Iterable[Row], attr: str) -> bool:
    return any(getattr(r, attr) is not None for r in rows)


def _comparisons(report: PeriodReport, rows: Sequence[Row]) -> list[tuple[str, Period]]:
    """Which comparison columns a table gets: only those with data, and each period once."""
    columns: list[tuple[str, Period]] = []
    if _has(rows, "previous"):
        columns.append(("previous", report.previous))
    if _has(rows, "year_ago") and not (_same_comparison(report) and columns):
        columns.append(("year_ago", report.year_ago))
    return columns


def _period_kind(period: Period) -> str:
    if _TERTIAL_KEY.match(period.key):
        return "tertial"
    if _YEAR_KEY.match(period.key):
        return "year"
    if _WEEK_KEY.match(period.key):
        return "week"
    return "other"


def _kicker(report: PeriodReport, tr: Translator) -> str:
    kind = _period_kind(report.period)
    if kind == "tertial":
        return tr("Tertial report from Forbedringsgruppen")
    if kind == "year":
        return tr("Annual report from Forbedringsgruppen")
    return tr("Report from Forbedringsgruppen")


def _title(report: PeriodReport, tr: Translator) -> str:
    return tr("Collaboration deviations and suggestions: {period}", period=report.period.label)


def _date_range(period: Period, tr: Translator) -> str:
    return f"{tr.date(period.start)} – {tr.date(period.end)}"


class _Numbers:
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


# ---------------------------------------------------------------------------------------
# CSV (for the working group: exact numbers)


def _csv_period(period: Period) -> str:
    return f"{period.label} ({period.start.isoformat()} – {period.end.isoformat()})"


def render_csv(report: PeriodReport, tr: Translator,
               dialect: CsvDialect | str = STANDARD) -> str:
    """One CSV (minimal quoting, '\\n' line ends) with every number unsuppressed; comma
    and decimal point, or with `dialect="excel-nb"` semicolon and decimal comma (see
    `intake.reporting.spreadsheet`). Text a spreadsheet would run as a formula gets a leading
    apostrophe, in every cell.

    Sections in this order: `meta` (a note that the numbers are unsuppressed, the periods),
    one section per breakdown (its rows, then a `_total` row with the comparisons' sums
    too), `top_problem_areas`, `trend` (an empty count: no data, before the first report),
    `totals` (reports, guideline share, feedback share, median days), and after an empty
    line the learning points under their own header row.
    """
    dialect = CSV_DIALECTS[dialect] if isinstance(dialect, str) else dialect
    out = io.StringIO()
    w = CsvWriter(out, dialect, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    w.writerow(["meta", "note", tr("Unsuppressed numbers (counts below 3 included): for "
                                   "Forbedringsgruppen only, not for distribution."),
                "", "", ""])
    w.writerow(["meta", "period", _csv_period(report.period), "", "", ""])
    w.writerow(["meta", "previous", _csv_period(report.previous), "", "", ""])
    w.writerow(["meta", "year_ago", _csv_period(report.year_ago), "", "", ""])

    for breakdown in report.breakdowns:
        for row in breakdown.rows:
            w.writerow([breakdown.key, row.key, row.label, row.count, row.previous,
                        row.year_ago])
        w.writerow([breakdown.key, CSV_TOTAL_KEY, tr("Total"), breakdown.total,
                    breakdown.total_previous, breakdown.total_year_ago])

    for row in report.top_problem_areas:
        w.writerow(["top_problem_areas", row.key, row.label, row.count, row.previous,
                    row.year_ago])
    for point in report.trend:
        w.writerow(["trend", point.period, _trend_label(point.period), point.count, "", ""])

    w.writerow(["totals", "reports", tr("Reports in total"), report.total,
                report.total_previous, report.total_year_ago])
    w.writerow(["totals", "guideline_breached_share",
                tr("Share of deviations with a breached guideline"),
                dialect.fixed(report.guideline_breached_share, 4), "", ""])
    w.writerow(["totals", "feedback_share", tr("Share of reports with feedback to the reporter"),
                dialect.fixed(report.feedback_share, 4), "", ""])
    w.writerow(["totals", "median_days_to_feedback", tr("Median days to first feedback"),
                dialect.fixed(report.median_days_to_feedback, 1), "", ""])

    w.writerow([])
    w.writerow(CSV_LEARNING_COLUMNS)
    for lp in report.learning_points:
        w.writerow(["learning_point", lp.reference, lp.category, lp.closed_on.isoformat(),
                    lp.learning_point, lp.measure])
    return out.getvalue()


# ---------------------------------------------------------------------------------------
# HTML (for the committee; one self-contained file)


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _trend_label(key: str) -> str:
    m = _TERTIAL_KEY.match(key)
    return f"T{m.group(2)} {m.group(1)}" if m else key


_CSS = """
@page { size: A4; margin: 16mm 15mm 18mm 15mm; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: "Liberation Sans", Arial, "Helvetica Neue", Helvetica, sans-serif;
       font-size: 10.5pt; line-height: 1.4; color: #000; background: #fff; margin: 0; }
main { max-width: 180mm; margin: 0 auto; padding: 8mm 0; }
@media print { main { max-width: none; padding: 0; } }
h1 { font-size: 20pt; line-height: 1.2; margin: 0 0 2mm; text-wrap: balance; }
h2 { font-size: 14pt; margin: 0 0 3mm; padding-bottom: 1mm; border-bottom: 1.5pt solid #000;
     break-after: avoid; }
h3 { font-size: 11.5pt; margin: 6mm 0 2mm; break-after: avoid; }
p { margin: 0 0 2mm; }
.kicker { font-size: 10pt; text-transform: uppercase; letter-spacing: .06em; margin: 0 0 1mm; }
.dates { font-size: 11pt; margin: 0 0 4mm; }
.notice { border: 1pt solid #000; padding: 2mm 3mm; margin: 0 0 5mm; font-size: 9.5pt; }
.notice.strong { border-width: 2pt; font-weight: bold; }
section { margin: 0 0 6mm; }
section.page { break-before: page; }
.cards { display: grid; grid-template-columns: 1fr 1fr; gap: 3mm; margin: 0 0 6mm; }
.card { border: 0.75pt solid #555; padding: 3mm; break-inside: avoid; }
.card .big { font-size: 22pt; font-weight: bold; line-height: 1.1; }
.card .what { font-size: 10pt; margin-top: 1mm; }
.card .cmp { font-size: 9.5pt; margin-top: 1mm; color: #222; }
figure { margin: 0 0 5mm; break-inside: avoid; }
figcaption { font-size: 9pt; color: #333; margin-top: 1mm; }
svg { display: block; width: 100%; height: auto; overflow: visible; }
svg text { font-family: inherit; fill: #000; }
table { border-collapse: collapse; width: 100%; margin: 0 0 4mm; font-size: 9pt; }
table.fixed { table-layout: fixed; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
th, td { padding: 1.2mm 2mm; border-bottom: 0.5pt solid #888; vertical-align: top;
         text-align: left; }
thead th { border-bottom: 1.2pt solid #000; font-weight: bold; vertical-align: bottom; }
thead th.num { white-space: normal; }
tbody th { font-weight: normal; }
tr.sum th, tr.sum td { border-top: 1.2pt solid #000; border-bottom: none; font-weight: bold; }
tr.sum { break-before: avoid; }
.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.keep { break-inside: avoid; }
.lp td { font-size: 9.5pt; white-space: pre-line; }
.lp .ref { white-space: nowrap; font-weight: bold; }
.lp .meta { display: block; font-weight: normal; font-size: 8.5pt; color: #333; }
.muted { color: #333; font-size: 9pt; }
ol.top { margin: 0 0 4mm; padding-left: 6mm; }
"""

_BAR_FILL = "#2b5c8a"


def _svg_text(x: float, y: float, text: str, *, anchor: str = "start", size: float = 11,
              weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"'
            f'{" font-weight=" + chr(34) + weight + chr(34) if weight != "normal" else ""}>'
            f"{_e(text)}</text>")


def _truncate(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"


def bar_chart_svg(rows: Sequence[Row], nums: _Numbers, *, chart_id: str, title: str) -> str:
    """Horizontal bars with labels and counts, largest first; suppressed bars hatched at a
    fixed length so the chart does not give away whether a "<3" is 1 or 2."""
    def plot_value(count: int) -> int:
        return SUPPRESSED_PLOT_VALUE if nums.hidden(count) else count

    def sort_value(count: int) -> float:
        # every "<3" ranks between 3 and 0, in the given order: the order tells nothing either
        return SUPPRESSED_PLOT_VALUE - 0.5 if nums.hidden(count) else count

    ordered = [row for _, row in sorted(enumerate(rows),
                                        key=lambda p: (-sort_value(p[1].count), p[0]))]
    width, row_h, bar_h, char_w = 680, 22, 14, 5.9
    max_chars = 48
    label_w = min(300, max(90, int(max((len(_truncate(r.label, max_chars)) for r in ordered),
                                       default=10) * char_w) + 12))
    bar_max = width - label_w - 48
    top = 4
    height = top + row_h * max(len(ordered), 1) + 6
    scale_max = max(1, *(plot_value(r.count) for r in ordered))
    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-labelledby="{chart_id}-t">',
        f'<title id="{chart_id}-t">{_e(title)}</title>',
        f'<defs><pattern id="{chart_id}-hatch" width="5" height="5" '
        f'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        f'<rect width="5" height="5" fill="#fff"/>'
        f'<line x1="0" y1="0" x2="0" y2="5" stroke="{_BAR_FILL}" stroke-width="2.5"/>'
        f"</pattern></defs>",
    ]
    for i, row in enumerate(ordered):
        y = top + i * row_h
        mid = y + row_h / 2
        label = _truncate(row.label, max_chars)
        parts.append("<g>")
        if label != row.label:
            parts.append(f"<title>{_e(row.label)}</title>")
        parts.append(_svg_text(label_w - 8, mid + 4, label, anchor="end"))
        length = plot_value(row.count) / scale_max * bar_max
        if row.count > 0:
            fill = f"url(#{chart_id}-hatch)" if nums.hidden(row.count) else _BAR_FILL
            parts.append(f'<rect x="{label_w}" y="{mid - bar_h / 2:.1f}" width="{length:.1f}" '
                         f'height="{bar_h}" fill="{fill}" stroke="{_BAR_FILL}" '
                         f'stroke-width="0.75"/>')
        parts.append(_svg_text(label_w + length + 5, mid + 4, nums.count(row.count),
                               weight="bold"))
        parts.append("</g>")
    parts.append(f'<line x1="{label_w}" y1="{top - 2}" x2="{label_w}" '
                 f'y2="{height - 4}" stroke="#000" stroke-width="1"/>')
    parts.append("</svg>")
    return "".join(parts)


def _nice_step(max_value: float) -> int:
    raw = max(max_value / 4, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * magnitude >= raw:
            return max(1, int(m * magnitude))
    return int(10 * magnitude)  # pragma: no cover - the loop always returns


def _tertials_in(period: Period, points: Sequence[TrendPoint]) -> set[str]:
    """The trend's tertials that overlap the period (one for a tertial, three for a year)."""
    months = {1: (1, 4), 2: (5, 8), 3: (9, 12)}
    inside = set()
    for point in points:
        m = _TERTIAL_KEY.match(point.period)
        if m:
            year, (first, last) = int(m.group(1)), months[int(m.group(2))]
            starts, ends = (year, first), (year, last)
            if starts <= (period.end.year, period.end.month) and ends >= (
                    period.start.year, period.start.month):
                inside.add(point.period)
    return inside


def trend_svg(points: Sequence[TrendPoint], nums: _Numbers, *, current: set[str],
              chart_id: str, title: str) -> str:
    """Reports per tertial as a line with a labelled point each; the `current` ones ringed.
    A tertial without data (None: before the first report) gets no point and no line, only
    a "–" on the axis: it is no zero."""
    def plot_value(count: int | None) -> int | None:
        if count is None:
            return None
        return SUPPRESSED_PLOT_VALUE if nums.hidden(count) else count

    width, height = 680, 250
    left, right, top, bottom = 44, 16, 22, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [plot_value(p.count) for p in points]
    top_value = max((v for v in values if v is not None), default=1)
    step = _nice_step(top_value)
    y_max = max(step, math.ceil(top_value / step) * step)

    def x_at(i: int) -> float:
        if len(points) == 1:
            return left + plot_w / 2
        return left + 12 + i * (plot_w - 24) / (len(points) - 1)

    def y_at(v: float) -> float:
        return top + plot_h - v / y_max * plot_h

    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-labelledby="{chart_id}-t">',
             f'<title id="{chart_id}-t">{_e(title)}</title>']
    for tick in range(0, y_max + 1, step):
        y = y_at(tick)
        dash = "" if tick == 0 else ' stroke-dasharray="3 3"'
        colour = "#000" if tick == 0 else "#999"
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
                     f'stroke="{colour}" stroke-width="0.75"{dash}/>')
        parts.append(_svg_text(left - 6, y + 4, format_decimal(tick, locale=nums.locale),
                               anchor="end", size=10))
    # x axis: "T1 T2 T3" and the year once under its tertials
    years: list[tuple[str, list[int]]] = []
    for i, point in enumerate(points):
        m = _TERTIAL_KEY.match(point.period)
        tick_label, year = (f"T{m.group(2)}", m.group(1)) if m else (point.period, "")
        parts.append(_svg_text(x_at(i), top + plot_h + 16, tick_label, anchor="middle",
                               size=10))
        if years and years[-1][0] == year:
            years[-1][1].append(i)
        else:
            years.append((year, [i]))
    for n, (year, idx) in enumerate(years):
        if year:
            centre = (x_at(idx[0]) + x_at(idx[-1])) / 2
            parts.append(_svg_text(centre, top + plot_h + 32, year, anchor="middle", size=10,
                                   weight="bold"))
        if n > 0:
            x = (x_at(idx[0]) + x_at(idx[0] - 1)) / 2
            parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" '
                         f'y2="{top + plot_h + 36}" stroke="#bbb" stroke-width="0.75"/>')
    # one line per run of tertials with data: no line is drawn through a missing one
    runs: list[list[int]] = []
    for i, v in enumerate(values):
        if v is None:
            continue
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    for run in runs:
        if len(run) > 1:
            path = " ".join(f"{x_at(i):.1f},{y_at(values[i] or 0):.1f}" for i in run)
            parts.append(f'<polyline points="{path}" fill="none" stroke="#000" '
                         f'stroke-width="1.75"/>')
    for i, point in enumerate(points):
        value = values[i]
        if value is None:
            parts.append(_svg_text(x_at(i), y_at(0) - 6, NOT_SHOWN, anchor="middle", size=10))
            continue
        x, y = x_at(i), y_at(value)
        if point.period in current:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6.5" fill="#fff" '
                         f'stroke="#000" stroke-width="1.75"/>')
        fill = "#fff" if nums.hidden(point.count) else "#000"
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{fill}" '
                     f'stroke="#000" stroke-width="1.25"/>')
        parts.append(_svg_text(x, y - 10, nums.count(point.count), anchor="middle", size=10,
                               weight="bold" if point.period in current else "normal"))
    parts.append("</svg>")
    return "".join(parts)


def _el(tag: str, text: str, cls: str | None = None, **attrs: str) -> str:
    """<tag class=...>escaped text</tag>; attribute names use '_' for '-'."""
    attributes = "".join(f' {k.rstrip("_").replace("_", "-")}="{_e(v)}"'
                         for k, v in ({"class_": cls} | attrs).items() if v is not None)
    return f"<{tag}{attributes}>{_e(text)}</{tag}>"


def _num(text: str) -> str:
    return _el("td", text, "num")


# column widths (%) of a breakdown table by the number of comparisons, so all tables align
_COLUMNS = {0: (60, 22, 18), 1: (44, 14, 10, 14, 18), 2: (35, 10, 8, 10, 14, 10, 13)}
# a table this short is kept on one page
_KEEP_ROWS = 18


def _colgroup(widths: Sequence[int]) -> str:
    return "<colgroup>" + "".join(f'<col style="width:{w}%">' for w in widths) + "</colgroup>"


def _breakdown_table(breakdown: Breakdown, report: PeriodReport, nums: _Numbers,
                     tr: Translator) -> str:
    comparisons = _comparisons(report, breakdown.rows)
    share_head, change_head = tr("Share"), tr("Change")
    head = [_el("th", breakdown.title, scope="col"),
            _el("th", report.period.label, "num", scope="col"),
            _el("th", share_head, "num", scope="col")]
    for _attr, period in comparisons:
        head.append(_el("th", period.label, "num", scope="col"))
        head.append(_el("th", change_head, "num", scope="col"))
    body = []
    for row in breakdown.rows:
        share = (NOT_SHOWN if nums.hidden(row.count) or not breakdown.total
                 else nums.percent(row.count / breakdown.total))
        cells = [_el("th", row.label, scope="row"), _num(nums.count(row.count)), _num(share)]
        for attr, _period in comparisons:
            before = getattr(row, attr)
            cells += [_num(nums.count(before)), _num(nums.change(row.count, before))]
        body.append("<tr>" + "".join(cells) + "</tr>")
    total_cells = [_el("th", tr("Total"), scope="row"), _num(nums.count(breakdown.total)),
                   _num(nums.percent(1.0) if breakdown.total else NOT_SHOWN)]
    for attr, _period in comparisons:
        before = getattr(breakdown, f"total_{attr}")
        total_cells += [_num(nums.count(before)), _num(nums.change(breakdown.total, before))]
    body.append('<tr class="sum">' + "".join(total_cells) + "</tr>")
    keep = ' class="keep"' if len(breakdown.rows) <= _KEEP_ROWS else ""
    return (f'<div{keep}>{_el("h3", breakdown.title)}<table class="fixed">'
            f"{_colgroup(_COLUMNS[len(comparisons)])}"
            f"<thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(body)}</tbody>"
            "</table></div>")


def _key_figures(report: PeriodReport, nums: _Numbers, tr: Translator) -> str:
    cmp_lines = [_el("div", tr("vs {period}", period=report.previous.label) + ": "
                     + nums.change(report.total, report.total_previous), "cmp")]
    if not _same_comparison(report):
        cmp_lines.append(_el("div", tr("vs {period}", period=report.year_ago.label) + ": "
                             + nums.change(report.total, report.total_year_ago), "cmp"))

    def card(big: str, what: str, note: str = "", extra: Sequence[str] = ()) -> str:
        return ('<div class="card">' + _el("div", big, "big") + _el("div", what, "what")
                + "".join(extra) + (_el("div", note, "cmp") if note else "") + "</div>")

    def share_card(share: float | None, denominator: int | None, what: str,
                   empty: str) -> str:
        if share is None:
            return card(NOT_SHOWN, what, empty)
        if _share_hidden(share, denominator, nums.suppressed):
            return card(NOT_SHOWN, what, tr("Not shown: fewer than 3."))
        return card(nums.percent(share), what)

    median = report.median_days_to_feedback
    cards = [
        card(nums.count(report.total), tr("reports in the period"), extra=cmp_lines),
        share_card(report.guideline_breached_share, _deviation_count(report),
                   tr("of the deviations concerned a breached guideline in the "
                      "collaboration agreement"),
                   tr("No deviations in the period.")),
        share_card(report.feedback_share, report.total,
                   tr("of the reports got feedback to the reporter"),
                   tr("No reports in the period.")),
        card(nums.decimal(median), tr("days to first feedback (median)"),
             tr("No feedback given yet.") if median is None else ""),
    ]
    return '<div class="cards">' + "".join(cards) + "</div>"


def _top_problem_areas(report: PeriodReport, nums: _Numbers, tr: Translator) -> str:
    rows = report.top_problem_areas
    if not rows:
        return _el("p", tr("No reports in the period."), "muted")
    comparisons = _comparisons(report, rows)
    head = [_el("th", tr("Problem area"), scope="col"),
            _el("th", report.period.label, "num", scope="col")]
    head += [_el("th", p.label, "num", scope="col") for _a, p in comparisons]
    body = []
    for i, row in enumerate(rows, start=1):
        cells = [_el("th", f"{i}. {row.label}", scope="row"), _num(nums.count(row.count))]
        cells += [_num(nums.count(getattr(row, a))) for a, _p in comparisons]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<table><thead><tr>{''.join(head)}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def _learning_points(points: Sequence[LearningPoint], tr: Translator) -> str:
    if not points:
        return _el("p", tr("No learning points were recorded in the period."), "muted")
    body = []
    for lp in points:
        closed = tr("closed {date}", date=tr.date(lp.closed_on, "short"))
        body.append(
            f'<tr><td class="ref">{_e(lp.reference)}<span class="meta">{_e(lp.category)}'
            f"<br>{_e(closed)}</span></td>"
            + _el("td", lp.learning_point or NOT_SHOWN) + _el("td", lp.measure or NOT_SHOWN)
            + "</tr>")
    head = (_el("th", tr("Report"), scope="col") + _el("th", tr("Learning point"), scope="col")
            + _el("th", tr("Measure"), scope="col"))
    return ('<table class="lp"><colgroup><col style="width:22%"><col style="width:43%">'
            f'<col style="width:35%"></colgroup><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def render_html(report: PeriodReport, tr: Translator) -> str:
    """One self-contained, printable (A4) HTML document: inline CSS and SVG, no scripts,
    no external resources. Counts 1 and 2 become "<3" when `report.suppressed`."""
    nums = _Numbers(tr, report.suppressed)
    title = _title(report, tr)
    if report.suppressed:
        notice = _el("p", tr("Counts below 3 are shown as “<3”. A change or share is not "
                             "shown (–) when it would reveal a count below 3."), "notice")
    else:
        notice = _el("p", tr("Unsuppressed numbers (counts below 3 included): for "
                             "Forbedringsgruppen only, not for distribution."),
                     "notice strong")

    category = next((b for b in report.breakdowns if b.key == "category"), None)
    chart = ""
    if category is not None:
        chart_title = tr("Reports by category, {period}", period=report.period.label)
        svg = bar_chart_svg(category.rows, nums, chart_id="chart-category", title=chart_title)
        chart = _el("h3", chart_title) + f"<figure>{svg}</figure>"

    trend_title = tr("Reports per tertial, last three years")
    if any(point.count is not None for point in report.trend):
        svg = trend_svg(report.trend, nums, current=_tertials_in(report.period, report.trend),
                        chart_id="chart-trend", title=trend_title)
        caption_text = tr("The current period is ringed.")
        if any(point.count is None for point in report.trend):
            caption_text += " " + tr(TREND_NO_DATA)
        caption = _el("figcaption", caption_text)
        trend = _el("h3", trend_title) + f"<figure>{svg}{caption}</figure>"
    else:
        trend = _el("h3", trend_title) + _el("p", tr("No data."), "muted")

    if _same_comparison(report):
        compared = tr("Compared with {previous}.", previous=report.previous.label)
    else:
        compared = tr("Compared with {previous} and with {year_ago}.",
                      previous=report.previous.label, year_ago=report.year_ago.label)
    tables = "".join(_breakdown_table(b, report, nums, tr) for b in report.breakdowns)

    return "".join([
        "<!DOCTYPE html>\n",
        f'<html lang="{_e(tr.locale)}"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        _el("title", title), f"<style>{_CSS}</style></head><body><main>",
        # 1: summary and the categories
        '<section class="summary">',
        _el("p", _kicker(report, tr), "kicker"),
        _el("h1", tr("Collaboration deviations and suggestions: {period}",
                     period=report.period.label.replace(" ", "\xa0"))),
        _el("p", _date_range(report.period, tr), "dates"), notice,
        _el("h2", tr("Key figures")), _key_figures(report, nums, tr), chart,
        "</section>",
        # 2: trend and problem areas
        '<section class="page">',
        _el("h2", tr("Trends and problem areas")), trend,
        _el("h3", tr("Top problem areas")), _top_problem_areas(report, nums, tr),
        "</section>",
        # 3: a table per breakdown
        '<section class="page">',
        _el("h2", tr("Tables")), _el("p", compared, "muted"), tables,
        "</section>",
        # 4: learning points and measures
        '<section class="page">',
        _el("h2", tr("Learning points and measures")),
        _learning_points(report.learning_points, tr),
        "</section>",
        "</main></body></html>\n",
    ])


# ---------------------------------------------------------------------------------------
# XLSX (for the committee)


SHEET_NAME_MAX = 31  # Excel's limit
# a short sheet name where a breakdown's title is too long for a sheet tab (the title is
# still the heading of the sheet)
SHEET_NAMES = {"severity_merged": N_("Severity (assessed or reported)")}
_SHEET_SLASH = re.compile(r"[/\\]")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?]")
_SHEET_TRAILING = " ,;:.–-("


def _shorten(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, cut between words with "…" (and an open
    parenthesis closed); a first word longer than the limit is cut, as nothing else fits."""
    if len(text) <= limit:
        return text
    words = text.split(" ")
    for n in range(len(words) - 1, 0, -1):
        head = " ".join(words[:n]).rstrip(_SHEET_TRAILING)
        if not head:
            continue
        end = "…)" if head.count("(") > head.count(")") else "…"
        if len(head) + len(end) <= limit:
            return head + end
    return text[: limit - 1].rstrip(_SHEET_TRAILING) + "…"


def _sheet_name(title: str, taken: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, not starting or ending with
    an apostrophe, unique ignoring case. A longer name is shortened between words; a
    repeated one gets " (2)", " (3)", ..."""
    base = _SHEET_FORBIDDEN.sub(" ", _SHEET_SLASH.sub("-", title))
    base = " ".join(base.split()).strip("'").strip() or "Ark"
    name, n = _shorten(base, SHEET_NAME_MAX), 2
    while name.casefold() in taken:
        suffix = f" ({n})"
        name, n = _shorten(base, SHEET_NAME_MAX - len(suffix)) + suffix, n + 1
    taken.add(name.casefold())
    return name


def render_xlsx(report: PeriodReport, tr: Translator) -> bytes:
    """A workbook: "Oversikt", one sheet per breakdown, "Læringspunkter" (names via tr).

    Header rows bold; counts are numbers, or the text "<3" when suppressed; text cells
    are always stored as text (a learning point starting with "=" is no formula).
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    rule = Border(bottom=Side(style="thin"))
    right = Alignment(horizontal="right")
    wrap = Alignment(wrap_text=True, vertical="top")
    suppressed = report.suppressed
    no_data = tr("no data")

    def put(ws: Any, row: int, col: int, value: Any, *, header: bool = False,
            number_format: str | None = None) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and is_hidden(value,
                                                                                suppressed):
            value = SUPPRESSED_TEXT
        # text is a text cell, never a formula (intake.reporting.spreadsheet)
        cell = xlsx_cell(ws.cell(row=row, column=col), value)
        if value in (SUPPRESSED_TEXT, NOT_SHOWN, no_data):
            cell.alignment = right
        if header:
            cell.font = bold
            cell.border = rule
        if number_format:
            cell.number_format = number_format
        return cell

    def widths(ws: Any, from_row: int = 1, minimum: int = 8, maximum: int = 60) -> None:
        best: dict[int, int] = {}
        for row in ws.iter_rows(min_row=from_row):
            for cell in row:
                if cell.value is None:
                    continue
                text = (cell.value.strftime("%d.%m.%Y") if isinstance(cell.value, date)
                        else str(cell.value))
                best[cell.column] = max(best.get(cell.column, 0), len(text))
        for col, length in best.items():
            ws.column_dimensions[get_column_letter(col)].width = max(minimum,
                                                                     min(maximum, length + 2))

    def table(ws: Any, start: int, first_header: str, rows: Sequence[Row]) -> int:
        comparisons = _comparisons(report, rows)
        headers = [first_header, report.period.label, *(p.label for _a, p in comparisons)]
        for col, text in enumerate(headers, start=1):
            put(ws, start, col, text, header=True)
        r = start
        for row in rows:
            r += 1
            put(ws, r, 1, row.label)
            put(ws, r, 2, row.count)
            for col, (attr, _p) in enumerate(comparisons, start=3):
                value = getattr(row, attr)
                put(ws, r, col, NOT_SHOWN if value is None else value)
        return r

    wb = Workbook()
    taken: set[str] = set()
    ov = wb.active
    ov.title = _sheet_name(tr("Overview"), taken)
    put(ov, 1, 1, _title(report, tr)).font = Font(bold=True, size=14)
    put(ov, 2, 1, _kicker(report, tr))
    put(ov, 3, 1, _date_range(report.period, tr))
    put(ov, 4, 1, tr("Counts below 3 are shown as “<3”.") if suppressed else
        tr("Unsuppressed numbers (counts below 3 included): for Forbedringsgruppen only, "
           "not for distribution.")).font = Font(italic=True, bold=not suppressed)
    r = 6
    same = _same_comparison(report)
    totals_head = [tr("Key figures"), report.period.label, report.previous.label]
    totals_vals: list[Any] = [tr("Reports in total"), report.total, report.total_previous]
    if not same:
        totals_head.append(report.year_ago.label)
        totals_vals.append(report.total_year_ago)
    for col, text in enumerate(totals_head, start=1):
        put(ov, r, col, text, header=True)
    for col, value in enumerate(totals_vals, start=1):
        put(ov, r + 1, col, value)
    r += 2

    def share_value(share: float | None, denominator: int | None) -> Any:
        if share is None or _share_hidden(share, denominator, suppressed):
            return NOT_SHOWN
        return share

    for label_text, value, fmt in (
        (tr("Share of deviations with a breached guideline"),
         share_value(report.guideline_breached_share, _deviation_count(report)), "0%"),
        (tr("Share of reports with feedback to the reporter"),
         share_value(report.feedback_share, report.total), "0%"),
        (tr("Median days to first feedback"),
         NOT_SHOWN if report.median_days_to_feedback is None
         else report.median_days_to_feedback, "0.0"),
    ):
        put(ov, r, 1, label_text)
        put(ov, r, 2, value, number_format=None if isinstance(value, str) else fmt)
        r += 1
    r += 1
    r = table(ov, r, tr("Top problem areas"), report.top_problem_areas) + 2
    put(ov, r, 1, tr("Tertial"), header=True)
    put(ov, r, 2, tr("Reports"), header=True)
    for point in report.trend:
        r += 1
        put(ov, r, 1, _trend_label(point.period))
        put(ov, r, 2, no_data if point.count is None else point.count)
    widths(ov, from_row=6)

    for breakdown in report.breakdowns:
        short = SHEET_NAMES.get(breakdown.key)
        ws = wb.create_sheet(_sheet_name(tr(short) if short else breakdown.title, taken))
        last = table(ws, 1, breakdown.title, breakdown.rows)
        put(ws, last + 1, 1, tr("Total")).font = bold
        put(ws, last + 1, 2, breakdown.total).font = bold
        for col, (attr, _p) in enumerate(_comparisons(report, breakdown.rows), start=3):
            before = getattr(breakdown, f"total_{attr}")
            put(ws, last + 1, col, NOT_SHOWN if before is None else before).font = bold
        ws.freeze_panes = "B2"
        widths(ws)

    lp_ws = wb.create_sheet(_sheet_name(tr("Learning points"), taken))
    for col, text in enumerate((tr("Report"), tr("Category"), tr("Closed"),
                                tr("Learning point"), tr("Measure")), start=1):
        put(lp_ws, 1, col, text, header=True)
    for i, lp in enumerate(report.learning_points, start=2):
        put(lp_ws, i, 1, lp.reference).alignment = wrap
        put(lp_ws, i, 2, lp.category).alignment = wrap
        put(lp_ws, i, 3, lp.closed_on, number_format="DD.MM.YYYY").alignment = wrap
        put(lp_ws, i, 4, lp.learning_point).alignment = wrap
        put(lp_ws, i, 5, lp.measure).alignment = wrap
    lp_ws.freeze_panes = "A2"
    widths(lp_ws)

    wb.properties.creator = "Meld"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()

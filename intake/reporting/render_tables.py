"""A period report as tables: CSV for the working group (exact numbers, `render_csv`) and
an XLSX workbook for the committee (suppressed as in `render_common`, `render_xlsx`).

Imported by the CLI (`meld report`) and tests; the HTML document is `render_html`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from intake.i18n import N_, Translator
from intake.reporting.model import Period, PeriodReport, Row
from intake.reporting.render_common import (
    NOT_SHOWN,
    SUPPRESSED_TEXT,
    comparison_columns,
    deviation_count,
    is_hidden,
    period_dates,
    report_kicker,
    report_title,
    same_comparison,
    share_hidden,
    trend_label,
)
from intake.reporting.spreadsheet import CSV_DIALECTS, STANDARD, CsvDialect, CsvWriter, xlsx_cell

CSV_COLUMNS = ("section", "key", "label", "count", "previous", "year_ago")
CSV_LEARNING_COLUMNS = ("section", "reference", "category", "closed_on", "learning_point",
                        "measure")
CSV_TOTAL_KEY = "_total"


# ---------------------------------------------------------------------------------------
# CSV (for the working group: exact numbers)


def _promise_and_rating_figures(report: PeriodReport,
                                tr: Translator) -> list[tuple[str, str, int | float | None]]:
    """(key, label, value) of the promise kept and the answers to "Var svaret nyttig?":
    counts as int, shares as float (None: no denominator)."""
    if report.promise_days is None:
        return []
    days = report.promise_days
    rows: list[tuple[str, str, int | float | None]] = [
        ("feedback_within_promise", tr("Reports with feedback within the promise ({days} "
                                       "days)", days=days), report.within_promise),
        ("feedback_within_promise_share",
         tr("Share of all reports with feedback within the promise ({days} days)", days=days),
         report.within_promise_share),
        ("feedback_within_promise_share_of_feedback",
         tr("Share of the reports with feedback that got it within the promise ({days} days)",
            days=days), report.within_promise_of_feedback),
        ("rated", tr("Answers to \u201cWas the answer useful?\u201d"), report.rated),
    ]
    for row in report.ratings:
        rows.append((f"rating_{row.key}", tr("Answered \u201c{answer}\u201d", answer=row.label),
                     row.count))
        rows.append((f"rating_{row.key}_share",
                     tr("Share of the answers: \u201c{answer}\u201d", answer=row.label),
                     row.count / report.rated if report.rated else None))
    return rows


def _measure_figures(report: PeriodReport, tr: Translator) -> list[tuple[str, str, int]]:
    """(key, label, count) of the measures decided in the period by status, and the open
    ones past their due date when the report was made."""
    rows = [(f"measures_{row.key}", tr("Measures decided in the period: {status}",
                                       status=row.label), row.count)
            for row in report.measures]
    if report.measures:
        rows.append(("measures_overdue", tr("Open measures past their due date"),
                     len(report.overdue_measures)))
    return rows


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

    for breakdown in (*report.breakdowns, *report.good_collaboration):  # the latter apart
        for row in breakdown.rows:
            w.writerow([breakdown.key, row.key, row.label, row.count, row.previous,
                        row.year_ago])
        w.writerow([breakdown.key, CSV_TOTAL_KEY, tr("Total"), breakdown.total,
                    breakdown.total_previous, breakdown.total_year_ago])

    for row in report.top_problem_areas:
        w.writerow(["top_problem_areas", row.key, row.label, row.count, row.previous,
                    row.year_ago])
    for point in report.trend:
        w.writerow(["trend", point.period, trend_label(point.period), point.count, "", ""])

    w.writerow(["totals", "reports", tr("Reports in total"), report.total,
                report.total_previous, report.total_year_ago])
    w.writerow(["totals", "guideline_breached_share",
                tr("Share of deviations with a breached guideline"),
                dialect.fixed(report.guideline_breached_share, 4), "", ""])
    w.writerow(["totals", "feedback_share", tr("Share of reports with feedback to the reporter"),
                dialect.fixed(report.feedback_share, 4), "", ""])
    w.writerow(["totals", "median_days_to_feedback", tr("Median days to first feedback"),
                dialect.fixed(report.median_days_to_feedback, 1), "", ""])
    for key, text, value in [*_promise_and_rating_figures(report, tr),
                             *_measure_figures(report, tr)]:
        shown = value if isinstance(value, int) else dialect.fixed(value, 4)
        w.writerow(["totals", key, text, shown, "", ""])

    w.writerow([])
    w.writerow(CSV_LEARNING_COLUMNS)
    for lp in report.learning_points:
        w.writerow(["learning_point", lp.reference, lp.category, lp.closed_on.isoformat(),
                    lp.learning_point, lp.measure])
    return out.getvalue()


# ---------------------------------------------------------------------------------------
# XLSX (for the committee)


def _promise_and_rating_cells(report: PeriodReport, tr: Translator,
                              share_value: Any) -> list[tuple[str, Any, str]]:
    """The overview's rows for the promise and "Var svaret nyttig?": (label, value, number
    format); counts suppressed by `put`, shares by `share_value`."""
    denominators = {"feedback_within_promise_share": report.total,
                    "feedback_within_promise_share_of_feedback": report.feedback_count}
    out: list[tuple[str, Any, str]] = []
    for key, text, value in _promise_and_rating_figures(report, tr):
        if "share" in key:
            out.append((text, share_value(value, denominators.get(key, report.rated)), "0%"))
        else:
            out.append((text, NOT_SHOWN if value is None else value, "0"))
    out += [(text, value, "0") for _key, text, value in _measure_figures(report, tr)]
    return out


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
        comparisons = comparison_columns(report, rows)
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
    put(ov, 1, 1, report_title(report, tr)).font = Font(bold=True, size=14)
    put(ov, 2, 1, report_kicker(report, tr))
    put(ov, 3, 1, period_dates(report.period, tr))
    put(ov, 4, 1, tr("Counts below 3 are shown as “<3”.") if suppressed else
        tr("Unsuppressed numbers (counts below 3 included): for Forbedringsgruppen only, "
           "not for distribution.")).font = Font(italic=True, bold=not suppressed)
    r = 6
    same = same_comparison(report)
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
        if share is None or share_hidden(share, denominator, suppressed):
            return NOT_SHOWN
        return share

    for label_text, value, fmt in (
        (tr("Share of deviations with a breached guideline"),
         share_value(report.guideline_breached_share, deviation_count(report)), "0%"),
        (tr("Share of reports with feedback to the reporter"),
         share_value(report.feedback_share, report.total), "0%"),
        (tr("Median days to first feedback"),
         NOT_SHOWN if report.median_days_to_feedback is None
         else report.median_days_to_feedback, "0.0"),
        *_promise_and_rating_cells(report, tr, share_value),
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
        put(ov, r, 1, trend_label(point.period))
        put(ov, r, 2, no_data if point.count is None else point.count)
    widths(ov, from_row=6)

    for breakdown in (*report.breakdowns, *report.good_collaboration):  # the latter apart
        short = SHEET_NAMES.get(breakdown.key)
        ws = wb.create_sheet(_sheet_name(tr(short) if short else breakdown.title, taken))
        last = table(ws, 1, breakdown.title, breakdown.rows)
        put(ws, last + 1, 1, tr("Total")).font = bold
        put(ws, last + 1, 2, breakdown.total).font = bold
        for col, (attr, _p) in enumerate(comparison_columns(report, breakdown.rows), start=3):
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


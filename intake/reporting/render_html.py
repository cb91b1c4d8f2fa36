"""A period report as one self-contained, printable HTML document for the committee
(`render_html`): inline CSS, the charts of `render_charts`, the key figures, a table per
breakdown and the learning points; counts below 3 suppressed as `render_common` says.

Imported by the web page of a report, the CLI (`meld report`) and tests; CSV and XLSX are
`render_tables`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from intake.i18n import N_, Translator
from intake.reporting.model import Breakdown, LearningPoint, PeriodReport
from intake.reporting.render_charts import bar_chart_svg, tertials_in, trend_svg
from intake.reporting.render_common import (
    NOT_SHOWN,
    Numbers,
    comparison_columns,
    deviation_count,
    esc,
    period_dates,
    report_kicker,
    report_title,
    same_comparison,
    share_hidden,
)
from intake.texts_good import GOOD_SECTION_LEAD, GOOD_SECTION_TITLE

# a tertial of the trend before the first report: no data, which is not zero
TREND_NO_DATA = N_("No data before the first report (–).")

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


def _el(tag: str, text: str, cls: str | None = None, **attrs: str) -> str:
    """<tag class=...>escaped text</tag>; attribute names use '_' for '-'."""
    attributes = "".join(f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"'
                         for k, v in ({"class_": cls} | attrs).items() if v is not None)
    return f"<{tag}{attributes}>{esc(text)}</{tag}>"


def _num(text: str) -> str:
    return _el("td", text, "num")


# column widths (%) of a breakdown table by the number of comparisons, so all tables align
_COLUMNS = {0: (60, 22, 18), 1: (44, 14, 10, 14, 18), 2: (35, 10, 8, 10, 14, 10, 13)}
# a table this short is kept on one page
_KEEP_ROWS = 18


def _colgroup(widths: Sequence[int]) -> str:
    return "<colgroup>" + "".join(f'<col style="width:{w}%">' for w in widths) + "</colgroup>"


def _breakdown_table(breakdown: Breakdown, report: PeriodReport, nums: Numbers,
                     tr: Translator) -> str:
    comparisons = comparison_columns(report, breakdown.rows)
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


def _key_figures(report: PeriodReport, nums: Numbers, tr: Translator) -> str:
    cmp_lines = [_el("div", tr("vs {period}", period=report.previous.label) + ": "
                     + nums.change(report.total, report.total_previous), "cmp")]
    if not same_comparison(report):
        cmp_lines.append(_el("div", tr("vs {period}", period=report.year_ago.label) + ": "
                             + nums.change(report.total, report.total_year_ago), "cmp"))

    def card(big: str, what: str, note: str = "", extra: Sequence[str] = ()) -> str:
        return ('<div class="card">' + _el("div", big, "big") + _el("div", what, "what")
                + "".join(extra) + (_el("div", note, "cmp") if note else "") + "</div>")

    def share_card(share: float | None, denominator: int | None, what: str,
                   empty: str) -> str:
        if share is None:
            return card(NOT_SHOWN, what, empty)
        if share_hidden(share, denominator, nums.suppressed):
            return card(NOT_SHOWN, what, tr("Not shown: fewer than 3."))
        return card(nums.percent(share), what)

    median = report.median_days_to_feedback
    cards = [
        card(nums.count(report.total), tr("reports in the period"), extra=cmp_lines),
        share_card(report.guideline_breached_share, deviation_count(report),
                   tr("of the deviations concerned a breached guideline in the "
                      "collaboration agreement"),
                   tr("No deviations in the period.")),
        share_card(report.feedback_share, report.total,
                   tr("of the reports got feedback to the reporter"),
                   tr("No reports in the period.")),
        card(nums.decimal(median), tr("days to first feedback (median)"),
             tr("No feedback given yet.") if median is None else ""),
        *_promise_and_rating_cards(report, nums, tr, card),
    ]
    return '<div class="cards">' + "".join(cards) + "</div>"


def _promise_and_rating_cards(report: PeriodReport, nums: Numbers, tr: Translator,
                              card: Any) -> list[str]:
    """The promise kept (of all reports, and of those with feedback) and the answers to
    "Var svaret nyttig?", each answer's count and share of the answers."""
    if report.promise_days is None:  # a report built without these figures
        return []

    def share(value: float | None, denominator: int | None) -> str:
        hidden = share_hidden(value, denominator, nums.suppressed)
        return NOT_SHOWN if hidden else nums.percent(value)

    of_fed = tr("{share} of the reports with feedback",
                share=share(report.within_promise_of_feedback, report.feedback_count))
    promise = card(share(report.within_promise_share, report.total),
                   tr("of the reports got feedback within the promise ({days} days)",
                      days=report.promise_days),
                   of_fed if report.feedback_count else tr("No feedback given yet."))
    lines = [_el("div", f"{row.label}: {nums.count(row.count)} "
                 f"({share(row.count / report.rated if report.rated else None, report.rated)})",
                 "cmp") for row in report.ratings]
    rating = card(nums.count(report.rated), tr("answers to \u201cWas the answer useful?\u201d"),
                  "" if report.rated else tr("No answers yet."),
                  extra=lines if report.rated else ())
    return [promise, rating]


def _top_problem_areas(report: PeriodReport, nums: Numbers, tr: Translator) -> str:
    rows = report.top_problem_areas
    if not rows:
        return _el("p", tr("No reports in the period."), "muted")
    comparisons = comparison_columns(report, rows)
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
            f'<tr><td class="ref">{esc(lp.reference)}<span class="meta">{esc(lp.category)}'
            f"<br>{esc(closed)}</span></td>"
            + _el("td", lp.learning_point or NOT_SHOWN) + _el("td", lp.measure or NOT_SHOWN)
            + "</tr>")
    head = (_el("th", tr("Report"), scope="col") + _el("th", tr("Learning point"), scope="col")
            + _el("th", tr("Measure"), scope="col"))
    return ('<table class="lp"><colgroup><col style="width:22%"><col style="width:43%">'
            f'<col style="width:35%"></colgroup><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def _measures(report: PeriodReport, tr: Translator) -> str:
    """Measures decided in the period by where they stand, and the overdue ones."""
    rows = "".join(f"<tr>{_el('th', row.label, scope='row')}{_num(str(row.count))}</tr>"
                   for row in report.measures)
    out = [_el("h3", tr("Measures decided in the period, by status")),
           f"<table><tbody>{rows}</tbody></table>",
           _el("h3", tr("Measures past their due date"))]
    if not report.overdue_measures:
        out.append(_el("p", tr("No open measure is past its due date."), "muted"))
        return "".join(out)
    head = (_el("th", tr("No."), scope="col") + _el("th", tr("Owner"), scope="col")
            + _el("th", tr("Due date"), scope="col") + _el("th", tr("Reports"), scope="col"))
    body = "".join(
        "<tr>" + _el("td", str(ms.id)) + _el("td", ms.owner)
        + _el("td", tr.date(ms.due_on, "short")) + _el("td", ", ".join(ms.references))
        + "</tr>" for ms in report.overdue_measures)
    out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    return "".join(out)


def render_html(report: PeriodReport, tr: Translator) -> str:
    """One self-contained, printable (A4) HTML document: inline CSS and SVG, no scripts,
    no external resources. Counts 1 and 2 become "<3" when `report.suppressed`."""
    nums = Numbers(tr, report.suppressed)
    title = report_title(report, tr)
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
        svg = trend_svg(report.trend, nums, current=tertials_in(report.period, report.trend),
                        chart_id="chart-trend", title=trend_title)
        caption_text = tr("The current period is ringed.")
        if any(point.count is None for point in report.trend):
            caption_text += " " + tr(TREND_NO_DATA)
        caption = _el("figcaption", caption_text)
        trend = _el("h3", trend_title) + f"<figure>{svg}{caption}</figure>"
    else:
        trend = _el("h3", trend_title) + _el("p", tr("No data."), "muted")

    if same_comparison(report):
        compared = tr("Compared with {previous}.", previous=report.previous.label)
    else:
        compared = tr("Compared with {previous} and with {year_ago}.",
                      previous=report.previous.label, year_ago=report.year_ago.label)
    tables = "".join(_breakdown_table(b, report, nums, tr) for b in report.breakdowns)
    good = ""
    if report.good_collaboration:  # counted apart: a section of its own, never above
        good = "".join([
            '<section class="page">', _el("h2", tr(GOOD_SECTION_TITLE)),
            _el("p", tr(GOOD_SECTION_LEAD), "muted"),
            *(_breakdown_table(b, report, nums, tr) for b in report.good_collaboration),
            "</section>"])

    return "".join([
        "<!DOCTYPE html>\n",
        f'<html lang="{esc(tr.locale)}"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        _el("title", title), f"<style>{_CSS}</style></head><body><main>",
        # 1: summary and the categories
        '<section class="summary">',
        _el("p", report_kicker(report, tr), "kicker"),
        _el("h1", tr("Collaboration deviations and suggestions: {period}",
                     period=report.period.label.replace(" ", "\xa0"))),
        _el("p", period_dates(report.period, tr), "dates"), notice,
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
        # 3b: good collaboration, counted apart
        good,
        # 4: learning points and measures
        '<section class="page">',
        _el("h2", tr("Learning points and measures")),
        _learning_points(report.learning_points, tr),
        _measures(report, tr),
        "</section>",
        "</main></body></html>\n",
    ])


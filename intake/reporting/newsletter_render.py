"""The tertial newsletter as one self-contained, printable HTML page (`render_html`): inline
CSS, no script, no external asset, so the page at /nyhetsbrev/{slug} is the same document
when saved, mailed or printed.

What it shows is the `NewsletterView`: the title and introduction, the counts per category
with the trend against the previous tertial (1 and 2 shown as "fewer than 3", and then no
trend), and the included learning points and measures by category, good collaboration in
a section of its own. Never a reference, a reporter, an assignee, a measure's owner or a
date of a single event: the view holds none of them but the references' internal ids,
which are not rendered. Deterministic for a given view (no clock).
"""

from __future__ import annotations

from collections.abc import Sequence

from intake.i18n import N_, Translator
from intake.reporting.newsletter import (
    DEVIATIONS,
    GOOD_SECTION,
    CategoryCount,
    Item,
    NewsletterView,
)
from intake.reporting.render_common import esc, period_dates
from intake.texts import MEASURE_STATUS_LABELS, label
from intake.texts_newsletter import shown_change, shown_count

KICKER = N_("Newsletter from Forbedringsgruppen")
DRAFT_BANNER = N_("Draft: not published. The group may still change it.")
APPROVED_BANNER = N_("Approved by {name}, not yet published.")
SECTION_TITLES = {
    DEVIATIONS: N_("Deviations, suggestions and input"),
    GOOD_SECTION: N_("Good collaboration (counted apart)"),
}
SECTION_LEADS = {
    DEVIATIONS: N_("Reports of deviations, improvement suggestions and input that "
                   "Forbedringsgruppen closed in {period}, by category."),
    GOOD_SECTION: N_("Reports of collaboration that worked, closed in {period}. They are "
                     "counted here only, never among the deviations."),
}
COUNT_HEADS = (N_("Category"), N_("Closed in {period}"), N_("Previous tertial ({period})"),
               N_("Change"))
TOTAL = N_("Total")
NUM = ' class="num"'
LEARNING_POINT = N_("Learning point")
MEASURE = N_("Measure")
TRACKED_MEASURE = N_("Measure ({status})")
NO_ITEMS = N_("No learning points from this section in the newsletter.")
ABOUT_COUNTS = N_(
    "How to read the numbers: a report counts in the tertial in which it was closed. The "
    "change compares with the previous tertial ({previous}). A number below 3 is shown as "
    "“fewer than 3”, and then no change is shown either.")
ABOUT_TEXT = N_(
    "The learning points and measures are Forbedringsgruppen's own words. The newsletter "
    "holds no report's text and nothing that points to a patient or to the person who "
    "reported.")

CSS = """
@page { size: A4; margin: 16mm 15mm 18mm 15mm; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: "Liberation Sans", Arial, "Helvetica Neue", Helvetica, sans-serif;
       font-size: 11pt; line-height: 1.45; color: #111; background: #fff; margin: 0; }
main { max-width: 175mm; margin: 0 auto; padding: 8mm 5mm; }
@media print { main { max-width: none; padding: 0; } }
h1 { font-size: 22pt; line-height: 1.2; margin: 0 0 2mm; }
h2 { font-size: 15pt; margin: 8mm 0 3mm; padding-bottom: 1mm; border-bottom: 1.5pt solid #111;
     break-after: avoid; }
h3 { font-size: 12pt; margin: 5mm 0 2mm; break-after: avoid; }
p { margin: 0 0 2.5mm; }
.kicker { font-size: 10pt; text-transform: uppercase; letter-spacing: .06em; margin: 0 0 1mm; }
.dates { margin: 0 0 5mm; color: #333; }
.intro { font-size: 12pt; }
.banner { border: 2pt solid #8a1c1c; color: #8a1c1c; padding: 2mm 3mm; font-weight: bold; }
table { border-collapse: collapse; width: 100%; margin: 0 0 3mm; font-size: 10pt; }
caption { text-align: left; font-weight: bold; margin-bottom: 1mm; }
th, td { padding: 1.2mm 2mm; border-bottom: 0.5pt solid #888; text-align: left;
         vertical-align: top; }
thead th { border-bottom: 1.2pt solid #111; }
tbody th { font-weight: normal; }
tr.sum th, tr.sum td { border-top: 1.2pt solid #111; border-bottom: none; font-weight: bold; }
.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
thead th.num { white-space: normal; }
.table { overflow-x: auto; }
@media screen and (max-width: 600px) {
  body { font-size: 10.5pt; }
  h1 { font-size: 18pt; }
  table { font-size: 9pt; }
  th, td { padding: 1mm 1.2mm; }
  .num { white-space: normal; }
}
ul.items { list-style: none; margin: 0 0 3mm; padding: 0; }
ul.items li { border-left: 3pt solid #2b5f8a; padding: 1mm 0 1mm 3mm; margin: 0 0 2.5mm;
              break-inside: avoid; }
ul.items p { margin: 0 0 1mm; white-space: pre-line; }
.muted { color: #333; font-size: 9.5pt; }
footer { margin-top: 8mm; border-top: 0.5pt solid #888; padding-top: 2mm; }
"""


def _paragraphs(text: str | None, cls: str | None = None) -> str:
    attr = f' class="{cls}"' if cls else ""
    return "".join(f"<p{attr}>{esc(part.strip())}</p>"
                   for part in (text or "").split("\n\n") if part.strip())


def _count_table(rows: Sequence[CategoryCount], view: NewsletterView, tr: Translator,
                 caption: str) -> str:
    heads = [tr(COUNT_HEADS[0]), tr(COUNT_HEADS[1], period=view.period_label),
             tr(COUNT_HEADS[2], period=view.previous_label), tr(COUNT_HEADS[3])]
    head = "".join(f'<th scope="col"{NUM if i else ""}>{esc(h)}</th>'
                   for i, h in enumerate(heads))
    body = []
    for row in rows:
        body.append(f'<tr><th scope="row">{esc(row.label)}</th>'
                    f'<td class="num">{esc(shown_count(row.count, tr))}</td>'
                    f'<td class="num">{esc(shown_count(row.previous, tr))}</td>'
                    f'<td class="num">{esc(shown_change(row.count, row.previous, tr))}</td>'
                    "</tr>")
    now, before = sum(r.count for r in rows), sum(r.previous for r in rows)
    body.append(f'<tr class="sum"><th scope="row">{esc(tr(TOTAL))}</th>'
                f'<td class="num">{esc(shown_count(now, tr))}</td>'
                f'<td class="num">{esc(shown_count(before, tr))}</td>'
                f'<td class="num">{esc(shown_change(now, before, tr))}</td></tr>')
    return (f'<div class="table"><table><caption>{esc(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def item_lines(item: Item, tr: Translator) -> list[tuple[str, str]]:
    """(label, text) of an item, as every rendering shows it."""
    lines = []
    if item.learning_point:
        lines.append((tr(LEARNING_POINT), item.learning_point))
    if item.measure:
        if item.measure_status:
            status = label(MEASURE_STATUS_LABELS, item.measure_status, tr).lower()
            lines.append((tr(TRACKED_MEASURE, status=status), item.measure))
        else:
            lines.append((tr(MEASURE), item.measure))
    return lines


def entries(items: list[Item], tr: Translator) -> list[list[tuple[str, str]]]:
    """The (label, text) lines of a category's items, as every rendering shows them: items
    with the same learning point are one entry, the point once and each measure under it
    (once), in the order the points first appear; a tracked measure is an entry alone."""
    found: dict[str, list[tuple[str, str]]] = {}
    out: list[list[tuple[str, str]]] = []
    for item in items:
        lines = item_lines(item, tr)
        if not item.learning_point:
            out.append(lines)
            continue
        entry = found.get(item.learning_point)
        if entry is None:
            found[item.learning_point] = lines
            out.append(lines)
        else:
            entry.extend(line for line in lines[1:] if line not in entry)
    return out


def _items(groups: list[tuple[str, list[Item]]], tr: Translator) -> str:
    if not groups:
        return _paragraphs(tr(NO_ITEMS), "muted")
    out = []
    for category, items in groups:
        shown = "".join(
            "<li>" + "".join(f"<p><strong>{esc(name)}:</strong> {esc(text)}</p>"
                             for name, text in lines) + "</li>"
            for lines in entries(items, tr))
        out.append(f"<h3>{esc(category)}</h3><ul class=\"items\">{shown}</ul>")
    return "".join(out)


def _section(view: NewsletterView, section: str, tr: Translator) -> str:
    rows = view.content.counts if section == DEVIATIONS else view.content.good_counts
    groups = view.items_of(section)
    if section == GOOD_SECTION and not rows and not groups:
        return ""
    title = tr(SECTION_TITLES[section])
    parts = [f'<section aria-labelledby="s-{section}"><h2 id="s-{section}">{esc(title)}</h2>',
             _paragraphs(tr(SECTION_LEADS[section], period=view.period_label))]
    if rows:
        parts.append(_count_table(rows, view, tr, title))
    parts.append(_items(groups, tr))
    parts.append("</section>")
    return "".join(parts)


def banner(view: NewsletterView, tr: Translator) -> str | None:
    if view.status == "draft":
        return tr(DRAFT_BANNER)
    if view.status == "approved":
        return tr(APPROVED_BANNER, name=view.approved_by or "")
    return None


def dates_line(view: NewsletterView, tr: Translator) -> str:
    from intake.domain.periods import parse_period

    line = period_dates(parse_period(view.tertial, tr), tr)
    if view.published_at is not None:
        line += " · " + tr("Published {date}", date=tr.date(tr.local_date(view.published_at)))
    return line


def render_html(view: NewsletterView, tr: Translator) -> str:
    """The newsletter as one HTML document (UTF-8, inline CSS, no script)."""
    title = view.title(tr)
    note = banner(view, tr)
    body = [f'<p class="kicker">{esc(tr(KICKER))} · {esc(view.period_label)}</p>',
            f"<h1>{esc(title)}</h1>",
            f'<p class="dates">{esc(dates_line(view, tr))}</p>']
    if note:
        body.append(f'<p class="banner" role="note">{esc(note)}</p>')
    body.append(_paragraphs(view.introduction, "intro"))
    body.append(_section(view, DEVIATIONS, tr))
    body.append(_section(view, GOOD_SECTION, tr))
    body.append("<footer>" + _paragraphs(tr(ABOUT_COUNTS, previous=view.previous_label),
                                         "muted")
                + _paragraphs(tr(ABOUT_TEXT), "muted") + "</footer>")
    return (f'<!doctype html>\n<html lang="{esc(tr.locale)}">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(p for p in body if p) + "\n</main>\n</body>\n</html>\n")

"""An incident analysis's report, as the guide's step 6 asks for: one document with the
analysis's own sections in the guide's order, as self-contained printable HTML (A4) and as
PDF (fpdf2). Both are rendered from the same outline (`outline`), so they say the same.

What goes in: the analysis's sections, its timeline, causes and measures, and the reports
it is about by reference and coded fields (kind, category, date, severity, status). Never
a report's free text: the doctors' descriptions stay in Meld.

The PDF uses the core Helvetica font, which holds Latin-1 only (æ, ø and å among them);
other characters are written as their nearest plain equivalents (`latin1`).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

from fpdf import FPDF, FontFace

from intake.domain.analysis import CauseCategory, GuideStep
from intake.domain.taxonomy import Taxonomy
from intake.i18n import N_, Translator
from intake.reporting.render_common import esc
from intake.texts import KIND_LABELS, MEASURE_STATUS_LABELS, SEVERITY_LABELS, STATUS_LABELS, label
from intake.texts_analysis import STEP_LABELS, cause_label, status_label

NOT_WRITTEN = N_("Not written yet.")


@dataclass(frozen=True, slots=True)
class Part:
    """One piece of a section: a paragraph ("text"), name-value pairs ("fields") or a table
    ("table": `heads` and `rows`)."""

    kind: str
    text: str = ""
    pairs: tuple[tuple[str, str], ...] = ()
    heads: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    widths: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Section:
    heading: str
    parts: tuple[Part, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Outline:
    kicker: str
    title: str
    facts: tuple[tuple[str, str], ...]
    sections: tuple[Section, ...]


def _text(value: str | None, tr: Translator) -> Part:
    return Part("text", text=value or tr(NOT_WRITTEN))


def outline(analysis: Any, taxonomy: Taxonomy, tr: Translator) -> Outline:
    """The report's content from `analysis` (a services.AnalysisView)."""
    a = analysis
    facts = [(tr("Reference"), a.reference), (tr("Status"), status_label(a.status, tr)),
             (tr("Opened"), tr.date(tr.local_date(a.created_at)))]
    if a.completed_at is not None:
        facts.append((tr("Report written"), tr.date(tr.local_date(a.completed_at))))
    reports = tuple(
        (r.reference, label(KIND_LABELS, r.kind, tr),
         taxonomy.category_label(r.category, tr.locale), tr.date(r.occurred_on, "short"),
         label(SEVERITY_LABELS, r.assessed_severity or r.reported_severity, tr),
         label(STATUS_LABELS, r.status, tr))
        for r in a.reports)
    mandate = (Part("fields", pairs=((tr("Mandate"), a.mandate or tr(NOT_WRITTEN)),
                                     (tr("Team (roles and functions)"),
                                      a.team or tr(NOT_WRITTEN)))),
               Part("table", heads=(tr("Report"), tr("Kind"), tr("Category"), tr("Occurred"),
                                    tr("Severity"), tr("Status")),
                    rows=reports, widths=(22, 16, 22, 13, 15, 12)))
    events = tuple(
        (tr.date(e.happened_on, "short")
         + (f" {e.happened_time.strftime('%H:%M')}" if e.happened_time else ""),
         e.description) for e in a.events)
    timeline = (Part("table", heads=(tr("When"), tr("What happened")), rows=events,
                     widths=(22, 78)),) if events else (Part("text", text=tr("No events.")),)
    order = {c.value: i for i, c in enumerate(CauseCategory)}
    causes = tuple((cause_label(c.category, tr), c.description)
                   for c in sorted(a.causes, key=lambda c: (order.get(c.category, 99), c.id)))
    cause_parts = (Part("table", heads=(tr("Category"), tr("Cause")), rows=causes,
                        widths=(30, 70)),) if causes else (Part("text", text=tr("No causes.")),)
    measures = tuple((str(ms.id), ms.description, ms.owner,
                      tr.date(ms.due_on, "short"), label(MEASURE_STATUS_LABELS, ms.status, tr))
                     for ms in a.measures)
    measure_parts = (Part("table", heads=(tr("No."), tr("Measure"), tr("Owner"),
                                          tr("Due date"), tr("Status")),
                          rows=measures, widths=(10, 46, 18, 13, 13)),) if measures else (
        Part("text", text=tr("No measures.")),)
    written = (tr("The report was written {date}.",
                  date=tr.date(tr.local_date(a.completed_at)))
               if a.completed_at is not None else tr("The report is not marked as written."))
    sections = (
        Section(tr(STEP_LABELS[GuideStep.MANDATE]), mandate),
        Section(tr(STEP_LABELS[GuideStep.TIMELINE]), timeline),
        Section(tr(STEP_LABELS[GuideStep.COMPARISON]), (
            Part("fields", pairs=((tr("What happened"), a.what_happened or tr(NOT_WRITTEN)),
                                  (tr("What should have happened"),
                                   a.what_should_have_happened or tr(NOT_WRITTEN)))),)),
        Section(tr(STEP_LABELS[GuideStep.CAUSES]), cause_parts),
        Section(tr(STEP_LABELS[GuideStep.MEASURES]), measure_parts),
        Section(tr(STEP_LABELS[GuideStep.REPORT]), (Part("text", text=written),)),
        Section(tr(STEP_LABELS[GuideStep.FOLLOW_UP]), (_text(a.follow_up, tr),)),
    )
    return Outline(kicker=tr("Incident analysis {reference}", reference=a.reference),
                   title=a.title, facts=tuple(facts), sections=sections)


# ---------------------------------------------------------------- HTML

_CSS = """
@page { size: A4; margin: 18mm 16mm; }
* { box-sizing: border-box; }
body { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; font-size: 10.5pt;
       line-height: 1.4; color: #000; background: #fff; margin: 0; }
main { max-width: 178mm; margin: 0 auto; padding: 8mm 0; }
@media print { main { max-width: none; padding: 0; } }
h1 { font-size: 19pt; line-height: 1.2; margin: 0 0 3mm; }
h2 { font-size: 13pt; margin: 6mm 0 2mm; padding-bottom: 1mm; border-bottom: 1.2pt solid #000;
     break-after: avoid; }
.kicker { font-size: 10pt; text-transform: uppercase; letter-spacing: .05em; margin: 0; }
dl { margin: 0 0 3mm; } dt { font-weight: bold; margin-top: 2mm; }
dd { margin: 0; white-space: pre-wrap; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 1mm 4mm; }
dl.facts dt { margin: 0; } dl.facts dd { white-space: normal; }
p { margin: 0 0 2mm; white-space: pre-wrap; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0 3mm; font-size: 9.5pt; }
thead { display: table-header-group; } tr { break-inside: avoid; }
th, td { text-align: left; vertical-align: top; padding: 1.2mm 2mm;
         border-bottom: 0.5pt solid #888; white-space: pre-wrap; }
thead th { border-bottom: 1.2pt solid #000; }
"""


def render_analysis_html(doc: Outline, tr: Translator) -> str:
    """One self-contained HTML document (inline CSS, no script, no link, no image)."""
    out = [f'<!doctype html>\n<html lang="{"nb" if tr.locale == "nb" else "en"}">\n<head>'
           f'<meta charset="utf-8"><title>{esc(doc.kicker)}: {esc(doc.title)}</title>'
           f"<style>{_CSS}</style></head>\n<body><main>",
           f'<p class="kicker">{esc(doc.kicker)}</p>', f"<h1>{esc(doc.title)}</h1>",
           '<dl class="facts">'
           + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in doc.facts) + "</dl>"]
    for section in doc.sections:
        out.append(f"<section><h2>{esc(section.heading)}</h2>")
        for part in section.parts:
            out.append(_html_part(part))
        out.append("</section>")
    out.append("</main></body></html>\n")
    return "\n".join(out)


def _html_part(part: Part) -> str:
    if part.kind == "fields":
        return "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>"
                                for k, v in part.pairs) + "</dl>"
    if part.kind == "table":
        head = "".join(f'<th scope="col">{esc(h)}</th>' for h in part.heads)
        body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
                       for row in part.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f"<p>{esc(part.text)}</p>"


# ---------------------------------------------------------------- PDF

# characters outside Latin-1 that Norwegian text commonly holds, and what to write instead
_PLAIN = {
    "\u2013": "-", "\u2014": "-", "\u2012": "-", "\u2010": "-", "\u2011": "-", "\u2212": "-",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u2026": "...", "\u2022": "-", "\u2023": "-", "\u2043": "-", "\u2192": "->",
    "\u2190": "<-", "\u2264": "<=", "\u2265": ">=", "\u2260": "!=", "\u2248": "~",
    "\u20ac": "EUR", "\u2122": "(TM)", "\u2009": " ", "\u202f": " ", "\u200b": "",
    "\u200c": "", "\u200d": "", "\u2060": "", "\ufeff": "", "\u2002": " ", "\u2003": " ",
    "\u0152": "OE", "\u0153": "oe", "\u2116": "No.",
}


def latin1(text: str) -> str:
    """`text` in Latin-1: typographic dashes, quotes and ellipses as plain ones, accented
    letters without their accent, anything else as "?"."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        if ord(ch) < 256:
            out.append(ch)
        elif ch in _PLAIN:
            out.append(_PLAIN[ch])
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", ch) if ord(c) < 256
                           and not unicodedata.combining(c))
            out.append(base or "?")
    return "".join(out)


class _Pdf(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 5, latin1(f"{self.footer_text} - {self.page_no()}"), align="C")


def render_analysis_pdf(doc: Outline, tr: Translator) -> bytes:
    """The same document as PDF, A4."""
    pdf = _Pdf(format="A4", unit="mm")
    pdf.footer_text = doc.kicker
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_title(latin1(f"{doc.kicker}: {doc.title}"))
    pdf.set_creator("Meld")
    pdf.set_lang("nb" if tr.locale == "nb" else "en")
    pdf.add_page()
    width = pdf.epw
    pdf.set_font("Helvetica", size=9)
    pdf.multi_cell(width, 5, latin1(doc.kicker.upper()), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 18)
    pdf.multi_cell(width, 8, latin1(doc.title), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    for name, value in doc.facts:
        _pair(pdf, name, value, width)
    for section in doc.sections:
        pdf.ln(4)
        pdf.set_font("Helvetica", "B", 13)
        pdf.multi_cell(width, 7, latin1(section.heading), new_x="LMARGIN", new_y="NEXT")
        pdf.set_draw_color(0, 0, 0)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
        pdf.ln(2)
        for part in section.parts:
            _pdf_part(pdf, part, width)
    return bytes(pdf.output())


def _pair(pdf: FPDF, name: str, value: str, width: float) -> None:
    pdf.set_font("Helvetica", "B", 10)
    pdf.multi_cell(width, 5, latin1(name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    pdf.multi_cell(width, 5, latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)


def _pdf_part(pdf: FPDF, part: Part, width: float) -> None:
    if part.kind == "fields":
        for name, value in part.pairs:
            _pair(pdf, name, value, width)
        return
    if part.kind == "table":
        if not part.rows:
            return
        pdf.set_font("Helvetica", size=9)
        with pdf.table(col_widths=part.widths or None, text_align="LEFT",
                       headings_style=FontFace(emphasis="BOLD"), line_height=4.5,
                       padding=1) as table:
            for row in (part.heads, *part.rows):
                cells = table.row()
                for value in row:
                    cells.cell(latin1(value))
        pdf.ln(2)
        return
    pdf.set_font("Helvetica", size=10)
    pdf.multi_cell(width, 5, latin1(part.text), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)

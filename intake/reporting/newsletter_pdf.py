"""The tertial newsletter as a PDF (`render_pdf`), with fpdf2: A4, the same content and the
same suppression as the HTML page (`newsletter_render`), for print and for mail.

fpdf2's core font (Helvetica) is Latin-1 only: Norwegian letters are in it, but dashes,
quotation marks, the ellipsis, the minus sign and the like are not, so every text goes
through `latin1` first (typographic characters to their plain look-alikes, accents kept
where Latin-1 has them, anything else decomposed or replaced by "?"). No font file to ship,
and the text can be read back (tests do, with pypdf).
"""

from __future__ import annotations

import unicodedata

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from intake.i18n import Translator
from intake.reporting.newsletter import DEVIATIONS, GOOD_SECTION, CategoryCount, NewsletterView
from intake.reporting.newsletter_render import (
    ABOUT_COUNTS,
    ABOUT_TEXT,
    COUNT_HEADS,
    KICKER,
    NO_ITEMS,
    SECTION_LEADS,
    SECTION_TITLES,
    TOTAL,
    banner,
    dates_line,
    entries,
)
from intake.texts_newsletter import shown_change, shown_count

FONT = "Helvetica"
TRANSLITERATE = {
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2018": "'", "\u2019": "'",
    "\u201a": "'", "\u2026": "...", "\u2022": "*", "\u00a0": " ", "\u202f": " ",
    "\u2009": " ", "\u2192": "->", "\u2264": "<=", "\u2265": ">=", "\u00b1": "\u00b1",
    "\u20ac": "EUR", "\u2122": "(TM)", "\u200b": "", "\u200c": "", "\u200d": "",
    "\u2060": "", "\ufeff": "",
}
LINE = 5.2  # mm per line of body text


def latin1(text: str) -> str:
    """The text in Latin-1 (what the core font can draw), by look-alikes (see above)."""
    out = []
    for ch in text:
        ch = TRANSLITERATE.get(ch, ch)
        try:
            ch.encode("latin-1")
        except UnicodeEncodeError:
            plain = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode(
                "latin-1")
            ch = "".join(c for c in plain if not unicodedata.combining(c)) or "?"
        out.append(ch)
    return "".join(out)


class _Pdf(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.set_text_color(80, 80, 80)
        self.cell(0, 5, latin1(f"{self.footer_text} · {self.page_no()}"), align="C")


def _heading(pdf: FPDF, text: str, size: float, *, rule: bool = False) -> None:
    if pdf.will_page_break(size * 0.5 + 14):  # a heading keeps a few lines below it
        pdf.add_page()
    pdf.set_font(FONT, "B", size)
    pdf.multi_cell(0, size * 0.5, latin1(text), align="L", new_x=XPos.LMARGIN,
                   new_y=YPos.NEXT)
    if rule:
        y = pdf.get_y() + 0.8
        pdf.set_line_width(0.5)
        pdf.line(pdf.l_margin, y, pdf.w - pdf.r_margin, y)
        pdf.set_line_width(0.2)
        pdf.set_y(y + 2)
    else:
        pdf.ln(1)


def _paragraph(pdf: FPDF, text: str | None, size: float = 10.5, style: str = "") -> None:
    for part in (text or "").split("\n\n"):
        if part.strip():
            pdf.set_font(FONT, style, size)
            pdf.multi_cell(0, LINE, latin1(part.strip()), align="L", new_x=XPos.LMARGIN,
                           new_y=YPos.NEXT)
            pdf.ln(1.5)


def _counts(pdf: FPDF, rows: tuple[CategoryCount, ...], view: NewsletterView,
            tr: Translator) -> None:
    heads = [tr(COUNT_HEADS[0]), tr(COUNT_HEADS[1], period=view.period_label),
             tr(COUNT_HEADS[2], period=view.previous_label), tr(COUNT_HEADS[3])]
    now, before = sum(r.count for r in rows), sum(r.previous for r in rows)
    lines = [(r.label, r.count, r.previous) for r in rows] + [(tr(TOTAL), now, before)]
    pdf.set_font(FONT, size=9.5)
    with pdf.table(col_widths=(70, 38, 44, 28), text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
                   line_height=4.8, first_row_as_headings=True,
                   borders_layout="HORIZONTAL_LINES") as table:
        head = table.row()
        for text in heads:
            head.cell(latin1(text))
        for name, count, previous in lines:
            row = table.row()
            row.cell(latin1(name))
            row.cell(latin1(shown_count(count, tr)))
            row.cell(latin1(shown_count(previous, tr)))
            row.cell(latin1(shown_change(count, previous, tr)))
    pdf.ln(2)


def _section(pdf: FPDF, view: NewsletterView, section: str, tr: Translator) -> None:
    rows = view.content.counts if section == DEVIATIONS else view.content.good_counts
    groups = view.items_of(section)
    if section == GOOD_SECTION and not rows and not groups:
        return
    pdf.ln(3)
    _heading(pdf, tr(SECTION_TITLES[section]), 14, rule=True)
    _paragraph(pdf, tr(SECTION_LEADS[section], period=view.period_label))
    if rows:
        _counts(pdf, rows, view, tr)
    if not groups:
        _paragraph(pdf, tr(NO_ITEMS), 9.5)
    for category, items in groups:
        pdf.ln(1)
        _heading(pdf, category, 11.5)
        for lines in entries(items, tr):
            for name, text in lines:
                pdf.set_font(FONT, "B", 10.5)
                pdf.write(LINE, latin1(f"{name}: "))
                pdf.set_font(FONT, "", 10.5)
                pdf.write(LINE, latin1(text))
                pdf.ln(LINE)
            pdf.ln(2.5)


def render_pdf(view: NewsletterView, tr: Translator) -> bytes:
    """The newsletter as PDF bytes."""
    title = view.title(tr)
    pdf = _Pdf(format="A4", unit="mm")
    pdf.footer_text = f"{tr(KICKER)} · {view.period_label}"
    pdf.set_margins(16, 16, 16)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_title(latin1(title))
    pdf.set_author("Forbedringsgruppen")
    pdf.set_creator("Meld")
    pdf.set_lang(tr.locale)
    pdf.add_page()
    pdf.set_text_color(17, 17, 17)
    pdf.set_font(FONT, size=9)
    pdf.cell(0, 5, latin1(f"{tr(KICKER)} · {view.period_label}").upper(),
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _heading(pdf, title, 20)
    _paragraph(pdf, dates_line(view, tr), 10)
    note = banner(view, tr)
    if note:
        pdf.set_text_color(138, 28, 28)
        _paragraph(pdf, note, 10.5, "B")
        pdf.set_text_color(17, 17, 17)
    _paragraph(pdf, view.introduction, 11.5)
    _section(pdf, view, DEVIATIONS, tr)
    _section(pdf, view, GOOD_SECTION, tr)
    pdf.ln(4)
    pdf.set_text_color(60, 60, 60)
    _paragraph(pdf, tr(ABOUT_COUNTS, previous=view.previous_label), 9)
    _paragraph(pdf, tr(ABOUT_TEXT), 9)
    return bytes(pdf.output())

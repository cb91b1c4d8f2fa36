"""The meeting agenda as a Word document (python-docx), to attach to the minutes: the same
three parts as the meeting view (new since the last meeting and how each was answered, in
process, the measures due), A4 with tables the minute-taker can edit."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from docx import Document
from docx.shared import Mm

from intake.i18n import Translator


def agenda_docx(*, agenda: Any, new: Sequence[dict[str, Any]], busy: Sequence[dict[str, Any]],
                tr: Translator) -> bytes:
    """`agenda` is services.Agenda; `new` and `busy` its rows as the board shows them."""
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Mm(18))
    doc.core_properties.title = tr("Meeting {date}", date=tr.date(agenda.meeting))
    doc.add_heading(tr("Meeting {date}", date=tr.date(agenda.meeting)), level=1)
    doc.add_paragraph(tr("Everything since the last meeting ({date}).",
                         date=tr.date(agenda.since)))
    heads = (tr("Reference"), tr("Received"), tr("Category"), tr("Status"), tr("Answered"))
    for title, rows in ((tr("New since the last meeting"), new), (tr("In process"), busy)):
        doc.add_heading(f"{title} ({len(rows)})", level=2)
        if not rows:
            doc.add_paragraph(tr("None."))
            continue
        table = doc.add_table(rows=1, cols=len(heads))
        table.style = "Table Grid"
        for cell, text in zip(table.rows[0].cells, heads, strict=True):
            cell.text = text
        for row in rows:
            cells = table.add_row().cells
            values = (row["reference"], row["received"], row["category"], row["status"],
                      row["answered"] or tr("Not yet"))
            for cell, text in zip(cells, values, strict=True):
                cell.text = text
    measures = agenda.measures_due
    doc.add_heading(f"{tr('Measures due by the meeting')} ({len(measures)})", level=2)
    if not measures:
        doc.add_paragraph(tr("None."))
    for ms in measures:
        doc.add_paragraph(
            f"{tr('No. {number}', number=ms.id)} · {ms.owner} · "
            f"{tr('due {date}', date=tr.date(ms.due_on, 'short'))} · {', '.join(ms.references)}",
            style="List Bullet")
        doc.add_paragraph(ms.description)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()

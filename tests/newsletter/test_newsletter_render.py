"""The newsletter as HTML and PDF: the learning points and counts are there, suppressed
below 3 (the trend too), good collaboration in its own section, and nothing of the
reports themselves: no description, no reporter, no assignee, no measure owner, no
reference, no date of a single event. The PDF is read back with pypdf."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

from intake import services
from intake.i18n import Translator
from intake.reporting.newsletter_pdf import latin1, render_pdf
from intake.reporting.newsletter_render import render_html
from tests.newsletter.conftest import ASSIGNEE, GROUP, OWNER, SECRET, TERTIAL, Tertials, seed

NB = Translator("nb")


def published(t: Tertials) -> services.NewsletterView:  # type: ignore[name-defined]
    seed(t)
    services.edit_newsletter(ctx=t.ctx, actor=GROUP, tertial=TERTIAL,
                             title="Dette lærte vi – første tertial",
                             introduction="Takk til alle som meldte “avvik” og ros…")
    services.approve_newsletter(ctx=t.ctx, actor=GROUP, tertial=TERTIAL)
    return services.publish_newsletter(ctx=t.ctx, actor=GROUP, tertial=TERTIAL).view


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def forbidden(t: Tertials) -> list[str]:
    """What the newsletter must never hold."""
    return [SECRET, "pasienten ventet", ASSIGNEE, OWNER, "73 86 10 00", "2. mars",
            "2026-03-02", "Kari Gruppeleder", *t.references, *t.reporters]


def test_the_html_holds_the_learning_and_nothing_of_the_reports(tertials: Tertials) -> None:
    view = published(tertials)
    html = render_html(view, NB)
    for text in forbidden(tertials):
        assert text not in html, text
    assert "<script" not in html and "http" not in html.split("</style>")[0]
    assert "<title>Dette lærte vi – første tertial</title>" in html
    assert "Epikrisen sendes elektronisk samme dag som utskrivning." in html
    assert "Ny sjekkliste ved utskrivning." in html
    assert "Tiltak (planlagt):</strong> Felles mal for epikrise innføres." in html
    # the counts: Epikrise 6 (4 before, +2); Legemidler 2 and 1 suppressed, and the trend
    cells = dict(re.findall(r'<th scope="row">([^<]+)</th>((?:<td class="num">[^<]*</td>)+)',
                            html))
    def row(name: str) -> list[str]:
        return re.findall(r">([^<]*)</td>", cells[name])
    assert row("Epikrise") == ["6", "4", "+2"]
    assert row("Legemidler") == ["færre enn 3", "færre enn 3", "–"]
    assert row("Henvisning") == ["3", "5", "−2"]
    assert row("Oppfølging og ansvar") == ["færre enn 3", "0", "–"]
    assert row("Tilgjengelighet (svar, vakthavende, telefon)") == ["3", "0", "+3"]
    totals = re.findall(r'<tr class="sum"><th scope="row">Sum</th>(.*?)</tr>', html)
    assert [re.findall(r">([^<]*)</td>", t) for t in totals] == [["12", "10", "+2"],
                                                                  ["3", "0", "+3"]]
    # good collaboration stands in a section of its own, after the deviations
    deviations = html.index("Avvik, forbedringsforslag og innspill")
    good = html.index("Godt samarbeid (telles for seg)")
    assert deviations < good < html.index("Rask telefon fra sykehuset ga trygg overføring")


def test_the_pdf_holds_the_same_and_nothing_of_the_reports(tertials: Tertials) -> None:
    view = published(tertials)
    data = render_pdf(view, NB)
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    flat = " ".join(text.split())
    for forbidden_text in forbidden(tertials):
        assert forbidden_text not in flat, forbidden_text
    assert "Dette lærte vi - første tertial" in flat  # the dash made Latin-1
    assert 'Takk til alle som meldte "avvik" og ros...' in flat
    assert "Epikrisen sendes elektronisk samme dag som utskrivning." in flat
    assert "Legemidler færre enn 3 færre enn 3 -" in flat
    assert "Epikrise 6 4 +2" in flat
    assert "Godt samarbeid (telles for seg)" in flat
    info = PdfReader(io.BytesIO(data)).metadata
    assert info is not None and info.title == "Dette lærte vi - første tertial"


def test_a_draft_says_so(tertials: Tertials) -> None:
    seed(tertials)
    view = services.newsletter(ctx=tertials.ctx, actor=GROUP, tertial=TERTIAL)
    assert "Utkast: ikke publisert." in render_html(view, NB)
    assert "Utkast: ikke publisert." in pdf_text(render_pdf(view, NB))
    assert view.title(NB) == "Dette har vi lært: 1. tertial 2026"


def test_latin1_keeps_norwegian_and_replaces_the_rest() -> None:
    assert latin1("Blåbærsyltetøy – “godt” … 3 − 1 → ✓ Ωmega é") == (
        'Blåbærsyltetøy - "godt" ... 3 - 1 -> ? ?mega é')


def test_one_learning_point_with_several_measures_is_one_entry() -> None:
    """Reports closed with the same learning point but other measures: the point is shown
    once, with each measure under it (once), in HTML and in PDF alike."""
    from intake.reporting.newsletter import Content, Item, NewsletterView

    def item(key: str, point: str | None, measure: str, status: str | None = None) -> Item:
        return Item(key=key, section="deviations", category_id="epikrise", category="Epikrise",
                    learning_point=point, measure=measure, measure_status=status,
                    findings=(), report_ids=(1,))

    point = "Epikrisen sendes samme dag som utskrivning."
    items = (item("lp:a", point, "Ny sjekkliste."), item("lp:b", "Svar på prøver følges opp.",
                                                          "Tema på samhandlingsmøtet."),
             item("lp:c", point, "Foreløpig epikrise sendes."),
             item("lp:d", point, "Ny sjekkliste."),
             item("measure:7", None, "Felles mal for epikrise.", "planned"))
    view = NewsletterView(tertial="2026-T1", period_label="1. tertial 2026",
                          previous_label="3. tertial 2025", custom_title=None, introduction=None,
                          status="published", revision=1, slug="s",
                          content=Content(tertial="2026-T1", previous_tertial="2025-T3",
                                          items=items),
                          included=frozenset(i.key for i in items))
    html = render_html(view, NB)
    text = " ".join(pdf_text(render_pdf(view, NB)).split())
    for shown in (html, text):
        assert shown.count(point) == 1
        assert shown.count("Ny sjekkliste.") == 1
        assert "Foreløpig epikrise sendes." in shown and "Tema på samhandlingsmøtet." in shown
        assert "Felles mal for epikrise." in shown
    # the point's measures follow it, before the next point
    at = html.index(point)
    assert at < html.index("Ny sjekkliste.") < html.index("Foreløpig epikrise sendes.") \
        < html.index("Svar på prøver følges opp.")

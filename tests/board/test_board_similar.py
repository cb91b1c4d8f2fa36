"""The board's report page: similar reports with a one-click duplicate, the public title,
and the search box on full-text search (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

from sqlalchemy import select

from intake import services
from storage import models as m
from tests.board.conftest import ADMIN, Board, csrf
from tests.mailbox.mails import national_id

ROW_REF = re.compile(r'href="/gruppe/sak/(MELD-\d{4}-\d+)"')


def similar_section(html: str) -> str:
    found = re.search(r'<h2 id="lignende">.*?(?=<h2 id="historikk">)', html, re.S)
    assert found, "the report page has a similar-reports section"
    return found.group(0)


def test_similar_reports_and_a_one_click_duplicate(board: Board) -> None:
    first = board.report(description="Henvisningen til ortopedisk ble returnert uten "
                                     "begrunnelse.", category="referral",
                         subcategory="rejected_or_returned", place="stolav_ortopedi")
    unrelated = board.report(description="Parkeringsautomaten tar ikke kort.",
                             category="other", subcategory=None, place=None)
    again = board.report(description="Henvisning returnert fra ortopedi, ingen forklaring på "
                                     "avvisningen.", category="referral",
                         subcategory="rejected_or_returned", place="stolav_ortopedi")
    c = board.signed_in()
    page = c.get(f"/gruppe/sak/{again}").text
    section = similar_section(page)
    assert first in section and unrelated not in section
    assert "samme underkategori, sted og retning; tekst ligner" in section
    assert "(åpen)" in section
    assert "Henvisningen til ortopedisk" not in section  # coded fields only, no text
    r = c.post(f"/gruppe/sak/{again}/duplicate",
               data={"csrf": csrf(page), "duplicate_of": first})
    assert r.status_code == 303
    view = services.get_report(ctx=board.ctx, actor=ADMIN, reference=again)
    assert (view.status, view.duplicate_of) == ("duplicate", first)
    with board.ctx.db.reading() as session:
        similar_reads = session.scalars(select(m.AuditEvent.action).where(
            m.AuditEvent.action == "similar")).all()
    assert similar_reads  # the similar list is a read of the report, audited


def test_the_public_title_form(board: Board) -> None:
    reference = board.report()
    c = board.signed_in()
    token = csrf(c.get(f"/gruppe/sak/{reference}").text)
    refused = c.post(f"/gruppe/sak/{reference}/title",
                     data={"csrf": token, "public_title": f"Epikrise {national_id()}"})
    assert refused.status_code == 422
    assert "Epikrise " in refused.text  # what was typed is kept
    r = c.post(f"/gruppe/sak/{reference}/title",
               data={"csrf": token, "public_title": "Epikrise mangler etter utskrivning"})
    assert r.status_code == 303
    page = c.get(f"/gruppe/sak/{reference}").text
    assert "Offentlig tittel" in page and "Epikrise mangler etter utskrivning" in page
    assert services.suggestions(ctx=board.ctx, category="discharge_summary",
                                text="epikrise")[0].reference == reference


def test_a_reader_sees_similar_reports_but_no_duplicate_button(board: Board) -> None:
    first = board.report(description="Epikrise manglet etter utskriving fra medisinsk.")
    second = board.report(description="Epikrisen manglet etter utskrivning, medisinsk.")
    page = board.signed_in(name="Leser", role="reader").get(f"/gruppe/sak/{second}").text
    section = similar_section(page)
    assert first in section
    assert f"/gruppe/sak/{second}/duplicate" not in page
    assert f"/gruppe/sak/{second}/title" not in page


def test_the_search_box_finds_inflected_words(board: Board) -> None:
    plural = board.report(description="Epikrisene kom aldri frem til fastlegen.")
    board.report(description="Henvisning returnert.", category="referral",
                 subcategory="incomplete")
    c = board.signed_in()
    assert ROW_REF.findall(c.get("/gruppe", params={"q": "epikrise"}).text) == [plural]

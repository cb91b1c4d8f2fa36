"""The web door in three steps, over HTTP on both databases: the text and the confirmation
file a report; the live suggestion's fragment; the status page's "Endre kategorien" (the
reporter only, with the form's CSRF token, refused once the group assessed it); the place
and parties proposed from this browser's last report (a cookie of codes only)."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from intake import services
from intake.domain.model import Actor, Role
from storage import models as m
from tests.doors.conftest import Door, csrf_of

TEXT = "Henvisningen ble returnert fra sykehuset uten begrunnelse."
GROUP = Actor("cli", Role.ADMIN)


def _three_steps(door: Door, browser: httpx.Client | None = None,
                 **more: str) -> tuple[httpx.Client, str]:
    """Load the form, write, confirm, send; the browser and its status page's path."""
    browser = browser or door.client()
    csrf = csrf_of(browser.get("/").text)
    r = browser.post("/send", data={"csrf": csrf, "description": TEXT,
                                    "no_patient_identifiers": "on", **more})
    assert r.status_code == 303, r.text
    return browser, r.headers["location"].split("?")[0]


def _stored(door: Door) -> m.Report:
    with door.ctx.db.reading() as session:
        return session.scalars(select(m.Report).order_by(m.Report.id.desc()).limit(1)).one()


def test_text_and_confirmation_file_it_and_the_status_page_says_so(door: Door) -> None:
    browser, status = _three_steps(door)
    report = _stored(door)
    assert (report.kind, report.reported_severity) == ("deviation", "unknown")
    # left to the group by default, with Meld's suggestion kept
    assert (report.category_id, report.category_source) == ("uncategorized", "none")
    assert report.suggested_category_id == "referral"
    page = browser.get(status + "?ny=1").text
    assert 'action="' + status + '/kategori"' in page
    assert "Ikke kategorisert" in page and "Forbedringsgruppen velger kategorien" in page


def test_the_status_page_takes_the_suggestion_in_one_click(door: Door) -> None:
    browser, status = _three_steps(door)
    report = _stored(door)
    choice = f"{report.suggested_category_id}/{report.suggested_subcategory_id}"
    page = browser.get(status + "?ny=1").text
    form = re.search(r'<form method="post" action="([^"]+)" class="take-suggestion">(.*?)'
                     r'</form>', page, re.S)
    assert form is not None and form.group(1) == status + "/kategori"
    assert f'name="category" value="{choice}"' in form.group(2)
    assert "Meld foreslår: Henvisning ›" in form.group(2)
    assert re.search(r"<button type=\"submit\">Velg Henvisning › [^<]+</button>", form.group(2))
    # one click: the form as it stands
    r = browser.post(status + "/kategori", data={"csrf": csrf_of(page), "category": choice})
    assert r.status_code == 303
    report = _stored(door)
    assert (report.category_id, report.category_source) == ("referral", "reporter")
    assert report.subcategory_id == report.suggested_subcategory_id
    # taken: nothing more to offer
    assert 'class="take-suggestion"' not in browser.get(status).text


def test_the_reporter_changes_the_category_on_the_status_page(door: Door) -> None:
    browser, status = _three_steps(door)
    page = browser.get(status).text
    csrf = csrf_of(page)
    r = browser.post(status + "/kategori", data={"csrf": csrf,
                                                 "category": "medication/med_list"})
    assert r.status_code == 303
    report = _stored(door)
    assert (report.category_id, report.subcategory_id, report.category_source) == (
        "medication", "med_list", "reporter")
    assert "Legemidler › Legemiddelliste" in browser.get(status).text
    # a forged choice is refused with the page and its words, not a 500
    r = browser.post(status + "/kategori", data={"csrf": csrf, "category": "nope"})
    assert r.status_code == 422 and 'id="change-category-error"' in r.text
    # without the form's token nothing changes
    r = door.client().post(status + "/kategori", data={"csrf": "x", "category": "referral"})
    assert r.status_code in (400, 403)
    assert _stored(door).category_id == "medication"
    # once the group has set the category, the reporter's change is refused and said
    services.assess(ctx=door.ctx, actor=GROUP, reference=report.reference,
                    category="referral")
    page = browser.get(status).text
    assert 'action="' + status + '/kategori"' not in page  # no form offered any more
    r = browser.post(status + "/kategori", data={"csrf": csrf, "category": "other"})
    assert r.status_code == 409 and "allerede satt kategorien" in r.text
    assert _stored(door).category_id == "referral"


def test_the_category_fragment_suggests_with_the_words_it_rests_on(door: Door) -> None:
    r = door.client().get("/meld/kategori", params={"text": TEXT})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert "Meld foreslår" in r.text and 'data-category="referral"' in r.text
    assert "ut fra ordene" in r.text
    # the buttons are hidden until the script shows them (nothing to press without it)
    assert re.search(r'<button type="button"[^>]* hidden>', r.text)
    empty = door.client().get("/meld/kategori", params={"text": "Hei på deg"})
    assert empty.status_code == 200 and "Meld foreslår" not in empty.text
    long = door.client().get("/meld/kategori", params={"text": "epikrise " * 2000})
    assert long.status_code == 200


def test_the_next_form_proposes_the_last_place_and_parties(door: Door) -> None:
    browser, _status = _three_steps(door, place="melhus", reporter_party="gp",
                                    concerned_party="hospital")
    assert browser.cookies.get("meld_last") is not None
    assert "Henvisning" not in browser.cookies.get("meld_last", "")  # codes only
    page = browser.get("/").text
    assert 'value="melhus" selected' in page
    assert re.search(r'<option value="gp" selected>', page)
    assert "fylt ut fra forrige melding" in page
    # a forged cookie proposes nothing it does not know
    stranger = door.client(cookies={"meld_last": "mars|boss|<script>"})
    page = stranger.get("/").text
    assert "fylt ut fra forrige melding" not in page and "<script>" not in page.split(
        "<body")[1].split('src="/static/meld.js"')[0]
    # a new browser is asked nothing it did not choose
    assert "fylt ut fra forrige melding" not in door.client().get("/").text

"""Three steps in a real browser (headless Chromium): write what happened, tick the
confirmation, send. Meld suggests the category as the doctor types (announced in a live
region); a report sent without one is left uncategorized for the group, and the receipt
says so, offers Meld's suggestion in one click and lets the doctor choose another;
keyboard-only use works, and without JavaScript the form still files the report."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from storage import models as m
from tests.browser.conftest import ONE_WIDTH, Meld, axe_violations

NO_IDS = "Teksten inneholder ingen pasientidentifiserende opplysninger"
TEXT = "Epikrisen mangler fortsatt, pasienten ble skrevet ut for ti dager siden."


def stored(meld: Meld, reference: str) -> m.Report:
    with meld.ctx.db.reading() as session:
        return session.scalars(select(m.Report).where(m.Report.reference == reference)).one()


def test_three_interactions_from_page_load_to_the_receipt(meld: Meld, page: Any,
                                                          axe_source: str) -> None:
    started = time.perf_counter()
    page.goto(meld.url + "/")
    page.get_by_label("Hva skjedde?").fill(TEXT)  # 1
    page.get_by_label(NO_IDS).check()  # 2
    page.get_by_role("button", name="Send meldingen").click()  # 3
    page.wait_for_url("**/status/**")
    elapsed = (time.perf_counter() - started) * 1000
    print(f"\nthree steps: page load to receipt in {elapsed:.0f} ms")
    reference = page.locator("h1").inner_text()
    assert "Takk! Meldingen din er mottatt" in page.content()
    report = stored(meld, reference)
    assert (report.category_id, report.category_source) == ("uncategorized", "none")
    assert report.suggested_category_id == "discharge_summary"
    assert report.reported_severity == "unknown" and report.kind == "deviation"
    # the receipt says it waits for the group, and takes Meld's suggestion in one click
    facts = page.locator(".facts").inner_text()
    assert "Ikke kategorisert" in facts and "Forbedringsgruppen velger kategorien" in facts
    assert "Meld foreslår: Epikrise" in facts
    assert axe_violations(page, axe_source) == []
    page.get_by_role("button", name="Velg Epikrise").click()
    page.wait_for_url("**#kategori")
    assert "Epikrise" in page.locator(".facts").inner_text()
    report = stored(meld, reference)
    assert (report.category_id, report.category_source) == ("discharge_summary", "reporter")
    # and the doctor changes it to another in two clicks
    page.get_by_label("Endre kategorien").select_option("referral/unanswered")
    page.get_by_role("button", name="Lagre kategorien").click()
    assert "Henvisning › Ikke besvart" in page.locator(".facts").inner_text()
    report = stored(meld, reference)
    assert (report.category_id, report.subcategory_id, report.category_source) == (
        "referral", "unanswered", "reporter")


@ONE_WIDTH
def test_the_suggestion_is_announced_and_chosen_with_one_click(
        meld: Meld, page: Any, axe_source: str) -> None:
    page.goto(meld.url + "/")
    region = page.locator("#category-suggestion")
    assert region.get_attribute("aria-live") == "polite"
    assert region.get_attribute("role") == "status"
    page.get_by_label("Hva skjedde?").press_sequentially(
        "Henvisningen ble returnert fra sykehuset uten begrunnelse", delay=5)
    button = region.get_by_role("button", name="Bruk: Henvisning")
    button.wait_for()
    assert "Meld foreslår" in region.inner_text()
    assert "ut fra ordene" in region.inner_text()
    violations = axe_violations(page, axe_source)
    assert violations == []
    button.click()
    assert page.get_by_label("Kategori", exact=True).input_value() == "referral"
    assert page.locator("#more-details").get_attribute("open") is not None
    # the choice is said in the live region, and focus goes to the list it was set in
    assert "Kategori valgt: Henvisning" in region.inner_text()
    assert page.evaluate("document.activeElement.id") == "category"
    page.get_by_label(NO_IDS).check()
    page.get_by_role("button", name="Send meldingen").click()
    page.wait_for_url("**/status/**")
    report = stored(meld, page.locator("h1").inner_text())
    assert (report.category_id, report.category_source) == ("referral", "reporter")
    assert violations == []


def _tab_to(page: Any, element_id: str, limit: int = 40) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


@ONE_WIDTH
def test_keyboard_only(meld: Meld, page: Any) -> None:
    page.goto(meld.url + "/")
    _tab_to(page, "description")
    page.keyboard.type(TEXT)
    _tab_to(page, "no_patient_identifiers")
    page.keyboard.press("Space")
    assert page.get_by_label(NO_IDS).is_checked()
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.type") == "submit":
            break
    assert page.evaluate("document.activeElement.textContent.trim()") == "Send meldingen"
    page.keyboard.press("Enter")
    page.wait_for_url("**/status/**")
    report = stored(meld, page.locator("h1").inner_text())
    assert (report.category_id, report.suggested_category_id) == (
        "uncategorized", "discharge_summary")
    # the suggestion is taken from the keyboard too
    page.get_by_role("button", name="Velg Epikrise").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**#kategori")
    assert stored(meld, report.reference).category_id == "discharge_summary"
    # the optional part opens from the keyboard too
    page.goto(meld.url + "/")
    page.locator("#more-details summary").focus()
    page.keyboard.press("Enter")
    assert page.locator("#more-details").get_attribute("open") is not None
    assert page.get_by_label("Kategori", exact=True).is_visible()


def test_without_javascript_the_three_steps_still_file_it(meld: Meld, chromium: Any) -> None:
    plain = chromium.new_context(locale="nb-NO", java_script_enabled=False)
    try:
        page = plain.new_page()
        page.goto(meld.url + "/")
        # no live suggestion without the script: the buttons stay hidden
        assert page.locator("#category-suggestion button:visible").count() == 0
        page.get_by_label("Hva skjedde?").fill(TEXT)
        page.get_by_label(NO_IDS).check()
        page.get_by_role("button", name="Send meldingen").click()
        assert "/status/" in page.url
        report = stored(meld, page.locator("h1").inner_text())
        assert (report.category_source, report.suggested_category_id) == (
            "none", "discharge_summary")
        # the receipt's one-click suggestion is a plain form
        page.get_by_role("button", name="Velg Epikrise").click()
        assert stored(meld, report.reference).category_id == "discharge_summary"
        # a refused form (no confirmation) shows the suggestion made by the server
        page.goto(meld.url + "/")
        page.get_by_label("Hva skjedde?").fill(TEXT)
        page.get_by_role("button", name="Send meldingen").click()
        assert "Meld foreslår" in page.locator("#category-suggestion").inner_text()
        assert page.get_by_label("Hva skjedde?").input_value() == TEXT
    finally:
        plain.close()


@ONE_WIDTH
def test_place_and_parties_are_proposed_from_the_last_report(meld: Meld, page: Any) -> None:
    page.goto(meld.url + "/")
    page.get_by_label("Hva skjedde?").fill(TEXT)
    page.locator("#more-details summary").click()
    page.get_by_label("Hvor? (sykehusavdeling eller kommune)").select_option("melhus")
    page.get_by_label("Jeg jobber i").select_option("gp")
    page.get_by_label(NO_IDS).check()
    page.get_by_role("button", name="Send meldingen").click()
    page.wait_for_url("**/status/**")
    page.goto(meld.url + "/")
    assert "fylt ut fra forrige melding" in page.locator("#more-details summary").inner_text()
    page.locator("#more-details summary").click()
    assert page.get_by_label("Hvor? (sykehusavdeling eller kommune)").input_value() == "melhus"
    assert page.get_by_label("Jeg jobber i").input_value() == "gp"
    # three steps again: the proposed place goes with it
    page.get_by_label("Hva skjedde?").fill(TEXT)
    page.get_by_label(NO_IDS).check()
    page.get_by_role("button", name="Send meldingen").click()
    page.wait_for_url("**/status/**")
    assert stored(meld, page.locator("h1").inner_text()).place_id == "melhus"

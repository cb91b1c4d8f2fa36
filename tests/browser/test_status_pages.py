"""The receipt, the status page and "Mine meldinger" in a browser, on a phone and a desktop."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from intake import services
from intake.domain.model import Actor, Role
from tests.browser.conftest import (
    ONE_WIDTH,
    Meld,
    axe_violations,
    open_form,
    overflow,
    running_meld,
    sync_api,
)
from tests.fakes import FakeClock

GROUP = Actor(identity="token:0:browser-tests", role=Role.TRIAGER, display_name="tests")
NO_IDS = "Teksten inneholder ingen pasientidentifiserende opplysninger"
# a long word and a long sentence: the pages must wrap them, not widen
LONG_TEXT = ("Epikrisen_fra_medisinsk_klinikk_kom_aldri_fram_til_fastlegen_etter_utskriving " * 3
             + "og pasienten fikk derfor ikke riktig oppfølging av legemiddelendringene.")


def _file_report(meld: Meld, page: Any, text: str = LONG_TEXT) -> str:
    """Fill in and send the form; returns the reference (the page is on the receipt)."""
    open_form(page, meld.url)
    page.get_by_label("Forbedringsforslag").check()
    page.get_by_label("Kategori").select_option("discharge_notice")
    page.get_by_label("Mer presist (valgfritt)").select_option(
        "discharge_notice/ready_for_discharge_notice")
    page.get_by_label("Hva skjedde?").fill(text)
    page.get_by_label("Hvor? (sykehusavdeling eller kommune)").select_option("melhus")
    page.get_by_label("Ukjent").check()
    page.get_by_label(NO_IDS).check()
    page.get_by_role("button", name="Send meldingen").click()
    page.wait_for_url("**/status/**")
    return page.locator("h1").inner_text()


def _wait_for(page: Any, url: str, selector: str, text: str, timeout: float = 10) -> None:
    """Reload until the outbox worker has delivered what shows `text` under `selector`."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(url)
        found = page.locator(selector)
        if found.count() and text in found.inner_text():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} did not appear under {selector} in {timeout} s")
        time.sleep(0.2)


def test_receipt_prints_the_private_link_with_a_copy_button(
        meld: Meld, context: Any, page: Any) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=meld.url)
    reference = _file_report(meld, page)
    status_url = page.url.removesuffix("?ny=1")
    receipt = page.locator(".receipt")
    assert f"mottatt med referanse {reference}" in receipt.inner_text()
    link = receipt.get_by_role("link", name=status_url)
    assert link.is_visible()
    assert link.get_attribute("href") == status_url
    assert "Alle som har lenken, kan lese meldingen" in receipt.inner_text()

    button = receipt.get_by_role("button", name="Kopier lenken")
    assert button.is_visible()
    button.click()
    sync_api.expect(page.locator("#copy-status")).to_have_text("Lenken er kopiert.")
    assert page.evaluate("navigator.clipboard.readText()") == status_url

    # the link leads back to the report from another browser
    other = context.browser.new_context(locale="nb-NO")
    try:
        there = other.new_page()
        there.goto(status_url)
        assert there.locator("h1").inner_text() == reference
        assert there.locator(".receipt").count() == 0  # the receipt is shown once only
    finally:
        other.close()


@ONE_WIDTH
def test_without_javascript_the_link_is_there_and_the_copy_button_is_not(
        meld: Meld, chromium: Any, page: Any) -> None:
    _file_report(meld, page)
    status_url = page.url.removesuffix("?ny=1")
    plain = chromium.new_context(locale="nb-NO", java_script_enabled=False)
    try:
        no_js = plain.new_page()
        no_js.goto(page.url)  # the receipt page itself, as a browser without scripts shows it
        assert no_js.locator(".receipt").get_by_role("link", name=status_url).is_visible()
        assert no_js.get_by_role("button", name="Kopier lenken").count() == 0  # hidden
    finally:
        plain.close()


def test_no_page_is_wider_than_the_screen(meld: Meld, page: Any) -> None:
    reference = _file_report(meld, page)
    assert overflow(page) == 0, "receipt"
    status_url = page.url.removesuffix("?ny=1")
    services.reply(ctx=meld.ctx, actor=GROUP, reference=reference, text=LONG_TEXT)
    services.move_status(ctx=meld.ctx, actor=GROUP, reference=reference,
                         status="in_progress", message=LONG_TEXT)
    _wait_for(page, status_url, "ol.timeline", "tiltak")
    assert overflow(page) == 0, "status page with news and conversation"
    _file_report(meld, page, "Ingen varsel om utskrivningsklar pasient til hjemmetjenesten.")
    page.goto(meld.url + "/mine")
    assert page.locator("tbody tr").count() == 2
    assert overflow(page) == 0, "/mine"
    open_form(page, meld.url)
    page.get_by_role("button", name="Send meldingen").click()
    page.wait_for_load_state()
    assert page.locator("#error-summary").is_visible()
    assert overflow(page) == 0, "the form with its errors"


def test_a_status_message_is_shown_once(meld: Meld, page: Any) -> None:
    reference = _file_report(meld, page, "Varsel om utskrivningsklar pasient kom for sent.")
    status_url = page.url.removesuffix("?ny=1")
    words = "Vi har tatt saken opp med klinikken og lager en ny rutine."
    services.move_status(ctx=meld.ctx, actor=GROUP, reference=reference,
                         status="in_progress", message=words)
    answer = "Takk, vi ser på dette sammen med hjemmetjenesten."
    services.reply(ctx=meld.ctx, actor=GROUP, reference=reference, text=answer)
    _wait_for(page, status_url, "ol.timeline", words)
    main = page.locator("main").inner_text()
    assert main.count(words) == 1, "the status words are under two headings"
    assert words in page.locator("ol.timeline").inner_text()  # with the news it explains
    assert main.count(answer) == 1
    assert answer in page.locator("ol.dialog").inner_text()  # an answer is conversation


@pytest.fixture
def clocked(sqlite_url: str) -> Any:
    """Meld on a clock the test moves (visits to /mine and the group's answers)."""
    clock = FakeClock(now=datetime.now(UTC).replace(microsecond=0))
    with running_meld(sqlite_url, clock=clock) as meld:
        yield meld, clock


def test_mine_marks_reports_with_news_since_the_last_visit(clocked: Any, page: Any) -> None:
    meld, clock = clocked
    first = _file_report(meld, page, "Utskrevet uten varsel til kommunen.")
    second = _file_report(meld, page, "Utskrivningsrapporten manglet.")

    def marked() -> set[str]:
        page.goto(meld.url + "/mine")
        rows = page.locator("tbody tr.has-news")
        return {rows.nth(i).get_by_role("link").inner_text() for i in range(rows.count())}

    assert marked() == set()  # nothing from the group yet
    clock.advance(minutes=1)
    services.reply(ctx=meld.ctx, actor=GROUP, reference=first, text="Vi ser på saken.")
    clock.advance(minutes=1)
    assert marked() == {first}
    row = page.locator("tbody tr.has-news")
    assert "Nytt" in row.inner_text()
    assert "Meldinger med nytt siden forrige besøk: 1." in page.locator("main").inner_text()
    clock.advance(minutes=5)
    assert marked() == {first}  # a reload within the same visit keeps the mark

    clock.advance(hours=3)  # a later visit: what was shown last time is no longer news
    assert marked() == set()
    clock.advance(minutes=1)
    services.move_status(ctx=meld.ctx, actor=GROUP, reference=second, status="triage",
                         message="Vi trenger litt mer tid.")
    clock.advance(minutes=1)
    assert marked() == {second}
    assert page.locator("tbody tr").count() == 2


def test_status_and_mine_pass_axe(meld: Meld, page: Any, axe_source: str) -> None:
    reference = _file_report(meld, page)
    assert axe_violations(page, axe_source) == []
    services.reply(ctx=meld.ctx, actor=GROUP, reference=reference, text="Takk for meldingen.")
    page.goto(page.url.removesuffix("?ny=1"))
    page.get_by_label("Skriv til Forbedringsgruppen").fill("Ring meg på 918 76 543.")
    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_load_state()
    assert page.locator("#text-error p.warning").count() == 1
    assert axe_violations(page, axe_source) == []
    page.goto(meld.url + "/mine")
    assert axe_violations(page, axe_source) == []

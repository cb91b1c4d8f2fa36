"""A doctor files a report in a real browser (headless Chromium) and finds it in the CLI."""

from __future__ import annotations

from faker import Faker

from intake.cli.main import main
from tests.browser.conftest import Meld, open_form

NO_IDS = "Teksten inneholder ingen pasientidentifiserende opplysninger"


def test_a_report_filed_in_the_browser_reaches_the_group(meld: Meld, page, capsys) -> None:
    open_form(page, meld.url)
    page.get_by_label("Avvik").check()
    page.get_by_label("Kategori").select_option("referral")
    page.get_by_label("Hva skjedde?").fill(
        "Henvisning ble returnert uten begrunnelse. Pasient 12345678901 ventet."
    )
    page.get_by_label("Hvor? (sykehusavdeling eller kommune)").select_option("melhus")
    page.get_by_label("Moderat skade").check()
    page.get_by_label(NO_IDS).check()
    page.get_by_role("button", name="Send meldingen").click()
    # an 11-digit number that passes no identity-number rule is not refused
    assert "/status/" in page.url, "a plain 11-digit order number was refused"
    ref = page.locator("h1").inner_text()
    assert ref.startswith("MELD-")
    assert "Takk! Meldingen din er mottatt" in page.content()

    # the same browser lists it under "Mine meldinger"
    page.get_by_role("link", name="Mine meldinger").click()
    assert page.get_by_role("link", name=ref).is_visible()

    # an identity number is refused and the text stays in the form
    open_form(page, meld.url)
    fnr = Faker("no_NO").ssn()
    text = f"Epikrise mangler for pasient {fnr[:6]} {fnr[6:]} etter utskriving."
    page.get_by_label("Hva skjedde?").fill(text)
    page.get_by_label("Kategori").select_option("discharge_summary")
    page.get_by_label("Ingen eller ubetydelig konsekvens").check()
    page.get_by_label(NO_IDS).check()
    page.get_by_role("button", name="Send meldingen").click()
    assert "/status/" not in page.url
    assert page.get_by_label("Hva skjedde?").input_value() == text
    assert "fødselsnummer" in page.locator("#description-error").inner_text()

    assert main(["reports", "list"], settings=meld.settings) == 0
    listed = capsys.readouterr().out
    assert ref in listed and "Henvisning" in listed
    assert listed.count("MELD-") == 1  # the refused one was never stored

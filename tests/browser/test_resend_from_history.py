"""Back, then "Send meldingen" again: the same receipt, never a second report.

The browser keeps the blank form (Cache-Control: private, no-cache; the form posts to
/send, so the POST does not drop the stored page), so Back shows the very page that was
sent, with its submission id, and the service's idempotent submit answers with the first
receipt.
"""

from __future__ import annotations

from typing import Any

from storage import models as m
from tests.browser.conftest import ONE_WIDTH, Meld, open_form

TEXT = "Henvisningen manglet opplysninger om legemidlene."


def _fill(page: Any, text: str = TEXT) -> None:
    if page.locator("#more-details").get_attribute("open") is None:
        page.locator("#more-details summary").click()
    page.get_by_label("Avvik").check()
    page.get_by_label("Kategori").select_option("referral")
    page.get_by_label("Mer presist (valgfritt)").select_option("referral/incomplete")
    page.get_by_label("Hva skjedde?").fill(text)
    page.get_by_label("Moderat skade").check()
    page.get_by_label("Teksten inneholder ingen pasientidentifiserende opplysninger").check()


def _send(page: Any) -> None:
    page.get_by_role("button", name="Send meldingen").click()
    page.wait_for_load_state()


def test_back_and_send_again_gives_the_same_receipt(meld: Meld, page: Any) -> None:
    open_form(page, meld.url)
    _fill(page)
    _send(page)
    first = page.url
    assert "/status/" in first and first.endswith("?ny=1")
    reference = page.locator("h1").inner_text()

    page.go_back()
    assert page.url == meld.url + "/"
    # the browser shows the page that was sent, with what was written in it
    assert page.get_by_label("Hva skjedde?").input_value() == TEXT
    assert page.get_by_label("Mer presist (valgfritt)").input_value() == "referral/incomplete"
    _send(page)

    assert page.url == first
    assert page.locator("h1").inner_text() == reference
    assert f"mottatt med referanse {reference}" in page.locator(".receipt").inner_text()
    assert meld.references() == [reference]
    assert meld.count(m.AuditEvent) == 1  # one "submitted", not two


@ONE_WIDTH
def test_back_edit_and_send_says_so_then_files_a_new_report(meld: Meld, page: Any) -> None:
    open_form(page, meld.url)
    _fill(page)
    _send(page)
    reference = page.locator("h1").inner_text()

    page.go_back()
    page.get_by_label("Hva skjedde?").fill(TEXT + " Det gjaldt også mars.")
    _send(page)
    # not a conflict page nor a silent second report: the form, kept, with a notice
    assert "/status/" not in page.url
    alert = page.get_by_role("alert")
    assert "allerede sendt" in alert.inner_text()
    assert page.get_by_label("Hva skjedde?").input_value() == TEXT + " Det gjaldt også mars."
    assert meld.references() == [reference]

    _send(page)  # asked for: a new report
    assert "/status/" in page.url
    second = page.locator("h1").inner_text()
    assert second != reference
    assert meld.references() == [reference, second]


@ONE_WIDTH
def test_a_new_visit_gets_a_new_form(meld: Meld, page: Any) -> None:
    """Only history shows the stored page: following a link asks Meld for a new one."""
    open_form(page, meld.url)
    _fill(page)
    _send(page)
    page.get_by_role("link", name="Meld", exact=True).click()
    page.wait_for_load_state()
    assert page.get_by_label("Hva skjedde?").input_value() == ""
    _fill(page, "En annen sak: epikrisen kom til feil fastlege.")
    _send(page)
    assert "/status/" in page.url
    assert len(meld.references()) == 2

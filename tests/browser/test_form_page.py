"""The report form as a person meets it: lists, marks, questions, errors and warnings."""

from __future__ import annotations

from typing import Any

from storage import models as m
from tests.browser.conftest import ONE_WIDTH, Meld, axe_violations, open_form

NO_IDS = "Teksten inneholder ingen pasientidentifiserende opplysninger"
PHONE_TEXT = "Ring vakthavende på 918 76 543 om epikrisen."
REQUIRED = "(må fylles ut)"

_SUBCATEGORY_CHOICES = """() => Array.from(document.querySelectorAll('#subcategory option'))
    .filter(o => o.value && !o.hidden && !o.disabled && !o.parentElement.hidden)
    .map(o => o.value)"""


def _subcategories(meld: Meld, category: str) -> list[str]:
    cat = meld.ctx.taxonomy.category(category)
    return [f"{category}/{s.id}" for s in cat.subcategories if s.active]


def _send(page: Any) -> None:
    page.get_by_role("button", name="Send meldingen").click()
    page.wait_for_load_state()


def test_only_the_chosen_categorys_subcategories_are_offered(meld: Meld, page: Any) -> None:
    open_form(page, meld.url)
    field = page.locator("#subcategory-field")
    assert field.is_hidden()  # no category yet: nothing to narrow down
    page.get_by_label("Kategori").select_option("referral")
    assert field.is_visible()
    assert page.evaluate(_SUBCATEGORY_CHOICES) == _subcategories(meld, "referral")
    page.get_by_label("Mer presist (valgfritt)").select_option("referral/incomplete")

    # another category: its own list, and the choice made under the first one is gone
    page.get_by_label("Kategori").select_option("discharge_summary")
    assert page.evaluate(_SUBCATEGORY_CHOICES) == _subcategories(meld, "discharge_summary")
    assert page.get_by_label("Mer presist (valgfritt)").input_value() == ""

    # a category without subcategories: no field
    assert not meld.ctx.taxonomy.category("reachability").subcategories
    page.get_by_label("Kategori").select_option("reachability")
    assert field.is_hidden()


def test_without_javascript_every_list_shows_and_a_mismatch_is_refused_at_its_field(
        meld: Meld, chromium: Any, width: int) -> None:
    context = chromium.new_context(viewport={"width": width, "height": 900}, locale="nb-NO",
                                   java_script_enabled=False)
    try:
        page = context.new_page()
        open_form(page, meld.url)
        groups = page.locator("#subcategory optgroup")
        with_subs = [c for c in meld.ctx.taxonomy.active_categories() if c.subcategories]
        assert groups.count() == len(with_subs)
        assert page.locator("#subcategory-field").is_visible()
        # the severity question also speaks to a suggestion when no script can swap it
        assert "For et forslag eller et spørsmål" in page.locator("fieldset").nth(1).inner_text()

        page.get_by_label("Kategori").select_option("discharge_summary")
        page.get_by_label("Mer presist (valgfritt)").select_option("referral/rejected_or_returned")
        page.get_by_label("Hva skjedde?").fill("Epikrisen ble sendt til feil mottaker.")
        page.get_by_label("Mindre alvorlig").check()
        page.get_by_label(NO_IDS).check()
        _send(page)

        assert meld.count(m.Report) == 0
        select = page.locator("#subcategory")
        assert select.get_attribute("aria-invalid") == "true"
        assert "subcategory-error" in (select.get_attribute("aria-describedby") or "").split()
        assert page.locator("#subcategory-error").inner_text().strip()
        # the choice is kept for the reporter to see and change, and the summary points at it
        assert select.input_value() == "referral/rejected_or_returned"
        assert page.locator("#error-summary a[href='#subcategory']").count() == 1
        # autofocus: focus is on the summary without any script
        assert page.evaluate("document.activeElement.id") == "error-summary"
    finally:
        context.close()


def test_required_fields_are_marked(meld: Meld, page: Any) -> None:
    open_form(page, meld.url)
    # the text and the confirmation, and nothing else
    for label in ("Hva skjedde?", NO_IDS):
        control = page.get_by_label(label)
        assert control.evaluate("e => e.required"), label
        assert REQUIRED in control.evaluate("e => e.labels[0].innerText"), label
    for label in ("Kategori", "Når skjedde det?", "Mer presist (valgfritt)",
                  "Sted med egne ord (valgfritt)", "Jeg jobber i"):
        control = page.get_by_label(label, exact=True)
        assert not control.evaluate("e => e.required"), label
        assert REQUIRED not in control.evaluate("e => e.labels[0].innerText"), label
    for name in ("kind", "severity"):
        radios = page.locator(f"input[name={name}]")
        assert not any(radios.nth(i).evaluate("e => e.required")
                       for i in range(radios.count()))
        group = page.locator(f"fieldset:has(input[name={name}])")
        assert group.get_attribute("aria-required") is None
        assert REQUIRED not in group.locator("legend").inner_text()


def test_the_severity_question_fits_the_kind(meld: Meld, page: Any) -> None:
    open_form(page, meld.url)
    legend = page.locator("fieldset:has(input[name=severity]) legend")
    assert legend.inner_text().startswith("Hvor alvorlig var det for pasienten?")
    page.get_by_label("Forbedringsforslag").check()
    assert legend.inner_text().startswith(
        "Hvis ingenting endres, hvor alvorlig kan det bli for pasientene?")
    page.get_by_label("Innspill eller spørsmål").check()
    assert legend.inner_text().startswith("Hvis ingenting endres")
    page.get_by_label("Avvik").check()
    assert legend.inner_text().startswith("Hvor alvorlig var det for pasienten?")


def test_a_refused_form_focuses_its_summary_whose_links_reach_the_fields(
        meld: Meld, page: Any) -> None:
    page.goto(meld.url + "/")
    page.get_by_label("Forbedringsforslag").check()
    _send(page)
    assert page.title().startswith("Feil:")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    summary = page.locator("#error-summary")
    links = summary.locator("a")
    targets = [links.nth(i).get_attribute("href") for i in range(links.count())]
    # only the text and the confirmation are required
    assert targets == ["#description", "#no_patient_identifiers"]
    for target in targets:
        assert page.locator(target).count() == 1, target
    # each line names its field
    assert "Hva skjedde?" in links.nth(0).inner_text()
    textarea = page.locator("#description")
    assert textarea.get_attribute("aria-invalid") == "true"
    assert "description-error" in (textarea.get_attribute("aria-describedby") or "").split()

    links.nth(1).click()
    assert page.evaluate("document.activeElement.id") == "no_patient_identifiers"
    label = page.locator("label.confirm")
    assert label.is_visible()
    box = label.bounding_box()
    assert box is not None and 0 <= box["y"] < page.viewport_size["height"]


def test_skip_link_leads_to_the_content(meld: Meld, page: Any) -> None:
    page.goto(meld.url + "/")
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert skip.is_visible()
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


@ONE_WIDTH
def test_no_request_fails_and_the_favicon_is_served(meld: Meld, page: Any) -> None:
    failed: list[str] = []
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    page.on("requestfailed", lambda r: failed.append(f"failed {r.url}"))
    open_form(page, meld.url)
    page.wait_for_load_state("networkidle")
    assert failed == []
    icons = page.locator("link[rel=icon]")
    assert icons.count() >= 1
    for i in range(icons.count()):
        r = page.request.get(meld.url + icons.nth(i).get_attribute("href"))
        assert r.status == 200 and r.headers["content-type"].startswith("image/")
    r = page.request.get(meld.url + "/favicon.ico")  # asked for by browsers on their own
    assert r.status == 200 and r.headers["content-type"] == "image/x-icon"
    assert r.body()[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_the_phone_warning_is_a_warning_confirmed_beside_it(meld: Meld, page: Any) -> None:
    open_form(page, meld.url)
    page.get_by_label("Kategori").select_option("discharge_summary")
    page.get_by_label("Hva skjedde?").fill(PHONE_TEXT)
    page.get_by_label("Mindre alvorlig").check()
    page.get_by_label(NO_IDS).check()
    _send(page)
    assert meld.count(m.Report) == 0

    messages = page.locator("#description-error")
    warning = messages.locator("p.warning")
    assert warning.count() == 1 and "telefonnummer" in warning.inner_text()
    assert messages.locator("p.error").count() == 0
    # it looks like a warning: not the error colour, not the error summary's frame
    error_red = "rgb(179, 38, 30)"
    assert warning.evaluate("e => getComputedStyle(e).color") != error_red
    assert warning.evaluate("e => getComputedStyle(e).borderLeftColor") != error_red
    assert "warnings-only" in (page.locator("#error-summary").get_attribute("class") or "")
    assert page.title().startswith("Sjekk:")
    description = page.get_by_label("Hva skjedde?")
    assert description.get_attribute("aria-invalid") is None  # nothing is wrong yet
    assert "description-error" in (description.get_attribute("aria-describedby") or "")

    # the confirmation is right under the warning, not at the far end of the form
    confirm = messages.get_by_label("Jeg har sjekket advarslene over")
    assert confirm.count() == 1
    warning_box, confirm_box = warning.bounding_box(), confirm.bounding_box()
    assert warning_box is not None and confirm_box is not None
    assert 0 <= confirm_box["y"] - (warning_box["y"] + warning_box["height"]) < 60
    confirm.check()
    _send(page)
    assert "/status/" in page.url
    assert meld.count(m.Report) == 1


def test_the_form_passes_axe(meld: Meld, page: Any, axe_source: str) -> None:
    open_form(page, meld.url)
    assert axe_violations(page, axe_source) == []
    page.get_by_label("Hva skjedde?").fill(PHONE_TEXT)
    _send(page)  # errors and a warning on the page
    assert axe_violations(page, axe_source) == []

"""The group's board in Chromium: signing in with a one-time link, triage end to end with
the keyboard, a reader who gets no forms, and axe-core on the list, a report page and the
sign-in page, at a phone's and a desktop's width."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from intake import services
from intake.domain.model import Actor, Role
from tests.board.entra_fake import CLIENT_ID, CLIENT_SECRET, TENANT, FakeEntra
from tests.browser.conftest import (
    ONE_WIDTH,
    Meld,
    axe_violations,
    overflow,
    running_meld,
    sync_api,
)
from tests.integration.helpers import draft

expect = sync_api.expect
ADMIN = Actor("cli:admin", Role.ADMIN)
REPORTER = Actor("web:browser-reporter", Role.REPORTER)


def report(meld: Meld) -> str:
    return services.submit_report(ctx=meld.ctx, actor=REPORTER, draft=draft()).reference


def sign_in(meld: Meld, page: Any, role: str = "triager", name: str = "Kari Lege") -> None:
    link = services.create_login_link(ctx=meld.ctx, actor=ADMIN, name=name, role=role)
    page.goto(link)
    page.get_by_role("button", name="Logg inn").click()
    expect(page).to_have_url(re.compile(r"/gruppe$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Meldinger")


@ONE_WIDTH
def test_triage_a_report_end_to_end_with_the_keyboard(meld: Meld, page: Any) -> None:
    reference = report(meld)
    page.goto(f"{meld.url}/gruppe/sak/{reference}")
    expect(page).to_have_url(re.compile(r"/gruppe/logg-inn\?neste="))  # signed out: no data
    assert reference not in page.content()
    sign_in(meld, page)
    page.get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(reference)

    # change the status with the keyboard only: focus the select, choose, Enter on the button
    page.get_by_label("Ny status").focus()
    page.keyboard.press("ArrowDown")  # the first choice (triage) stays; nothing typed
    page.get_by_label("Ny status").select_option("triage")
    page.get_by_role("button", name="Endre status").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Lagret.")

    page.get_by_label("Notat (bare gruppen ser det)").fill("Ringt avdelingen.")
    page.get_by_role("button", name="Lagre notatet").click()
    page.get_by_label("Svar", exact=True).fill("Takk, vi følger opp.")
    page.get_by_role("button", name="Send svaret").click()
    page.get_by_label("Ny status").select_option("in_progress")
    page.get_by_role("button", name="Endre status").click()
    expect(page.get_by_role("status")).to_have_text("Lagret.")
    # a refused close keeps what was typed
    page.get_by_label("Læringspunkt").fill("Epikrise samme dag.")
    page.get_by_role("button", name="Lukk meldingen").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_label("Læringspunkt")).to_have_value("Epikrise samme dag.")
    page.get_by_role("textbox", name="Tiltak", exact=True).fill("Rutine gjennomgått.")
    page.get_by_role("button", name="Lukk meldingen").click()
    expect(page.get_by_role("status")).to_have_text("Lagret.")
    history = page.locator("ol.timeline")
    for words in ("Ringt avdelingen.", "Takk, vi følger opp.", "Status endret"):
        expect(history).to_contain_text(words)
    view = services.get_report(ctx=meld.ctx, actor=ADMIN, reference=reference)
    assert (view.status, view.learning_point) == ("closed", "Epikrise samme dag.")

    page.get_by_role("button", name="Logg ut").click()
    expect(page).to_have_url(re.compile(r"/gruppe/logg-inn$"))
    page.goto(f"{meld.url}/gruppe")
    expect(page).to_have_url(re.compile(r"/gruppe/logg-inn\?neste="))


@ONE_WIDTH
def test_a_reader_gets_no_forms(meld: Meld, page: Any) -> None:
    reference = report(meld)
    sign_in(meld, page, role="reader", name="Utvalgsmedlem")
    expect(page.get_by_text("(bare lesetilgang)")).to_be_visible()
    page.get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(reference)
    assert page.get_by_role("button", name="Lagre notatet").count() == 0
    assert page.locator(f'form[action^="/gruppe/sak/{reference}/"]').count() == 0
    # a change posted anyway, with the reader's own session and token, is refused
    token = page.locator('input[name="csrf"]').first.get_attribute("value")
    refused = page.request.post(f"{meld.url}/gruppe/sak/{reference}/note",
                                form={"csrf": token or "", "note": "Fra leseren"})
    assert refused.status == 403
    assert services.get_report(ctx=meld.ctx, actor=ADMIN, reference=reference).messages == ()


@ONE_WIDTH
def test_a_reporters_browser_does_not_open_the_board(meld: Meld, page: Any) -> None:
    reference = report(meld)
    page.goto(meld.url)  # the reporter's form: this browser now has the reporter's cookie
    assert any(c["name"] == "meld_session" for c in page.context.cookies())
    page.goto(f"{meld.url}/gruppe")
    expect(page).to_have_url(re.compile(r"/gruppe/logg-inn\?neste="))
    assert reference not in page.content()


def test_the_board_passes_axe_and_fits_the_screen(meld: Meld, page: Any,
                                                  axe_source: str) -> None:
    reference = report(meld)
    services.add_note(ctx=meld.ctx, actor=ADMIN, reference=reference, text="Internt.")
    page.goto(f"{meld.url}/gruppe/logg-inn")
    assert axe_violations(page, axe_source) == []
    sign_in(meld, page)
    assert axe_violations(page, axe_source) == []
    assert overflow(page) == 0
    page.get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(reference)
    assert axe_violations(page, axe_source) == []
    assert overflow(page) == 0
    # a refused form: the error is announced and the page still passes
    page.get_by_role("button", name="Send svaret").click()  # no answer written
    expect(page.get_by_role("alert")).to_be_visible()
    assert axe_violations(page, axe_source) == []
    # the meeting view and the measures
    services.create_measure(ctx=meld.ctx, actor=ADMIN, references=[reference],
                            description="Ny rutine.", owner="Per", due_on=meld.ctx.today())
    for link, heading in (("Møte", re.compile(r"^Møte ")), ("Tiltak", "Tiltak")):
        page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name=link).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        assert axe_violations(page, axe_source) == []
        assert overflow(page) == 0


def test_sign_in_with_entra_id_through_the_provider(sqlite_url: str, tmp_path: Path,
                                                    chromium: Any) -> None:
    """Chromium goes to the board, to the (fake) Entra sign-in over HTTPS and back."""
    with FakeEntra(tmp_path) as entra, running_meld(
            sqlite_url, entra_tenant_id=TENANT, entra_client_id=CLIENT_ID,
            entra_client_secret=CLIENT_SECRET, entra_authority_url=entra.url,
            entra_ca_bundle=entra.ca_path) as meld:
        reference = report(meld)
        # the provider's certificate comes from a test CA the browser does not know
        context = chromium.new_context(locale="nb-NO", ignore_https_errors=True)
        try:
            page = context.new_page()
            page.goto(f"{meld.url}/gruppe/sak/{reference}")
            page.get_by_role("link", name="Logg inn med jobbkontoen (Entra ID)").click()
            expect(page).to_have_url(f"{meld.url}/gruppe/sak/{reference}")
            expect(page.get_by_role("heading", level=1)).to_have_text(reference)
            expect(page.get_by_text("Kari Lege")).to_be_visible()
            assert entra.authorize_requests[-1]["code_challenge_method"] == "S256"
        finally:
            context.close()

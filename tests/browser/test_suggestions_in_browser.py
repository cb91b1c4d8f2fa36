"""Suggestions while a report is written, in Chromium: they appear as the category, place
and text are filled in, carry the group's title only, pass axe, and "Dette har skjedd meg
også" counts a +1 and gives a follow page."""

from __future__ import annotations

from typing import Any

from intake import services
from intake.domain.model import Actor, Role
from storage import models as m
from tests.browser.conftest import ONE_WIDTH, Meld, axe_violations, open_form, sync_api
from tests.integration.helpers import draft

expect = sync_api.expect
GROUP = Actor("cli:group", Role.TRIAGER)
HIDDEN = "Sykepleier Hansen glemte epikrisen på post 3"
TITLE = "Epikrise sendes ikke etter utskrivning"


def titled(meld: Meld) -> str:
    reference = services.submit_report(
        ctx=meld.ctx, actor=Actor("slack:UOTHER", Role.REPORTER),
        draft=draft(description=HIDDEN, confirm_warnings=True)).reference
    services.set_public_title(ctx=meld.ctx, actor=GROUP, reference=reference, title=TITLE)
    return reference


@ONE_WIDTH
def test_suggestions_appear_while_writing_and_me_too_counts(meld: Meld, page: Any,
                                                            axe_source: str) -> None:
    reference = titled(meld)
    open_form(page, meld.url)
    region = page.locator("#suggestions")
    expect(region).to_be_empty()
    page.get_by_label("Kategori").select_option("discharge_summary")
    page.get_by_label("Hva skjedde?").fill("Epikrisen kom aldri til fastlegen")
    expect(region.get_by_text(TITLE)).to_be_visible()
    assert HIDDEN not in page.content()
    assert axe_violations(page, axe_source) == []
    page.get_by_label("Kategori").select_option("referral")  # another category: none fit
    expect(region.get_by_text(TITLE)).to_have_count(0)
    page.get_by_label("Kategori").select_option("discharge_summary")
    region.get_by_role("button", name=f"Dette har skjedd meg også: {TITLE}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Takk: det teller")
    assert meld.count(m.PlusOne) == 1 and meld.count(m.Report) == 1
    page.get_by_role("link", name="/fulgt/").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    assert reference in page.content() and HIDDEN not in page.content()
    assert axe_violations(page, axe_source) == []

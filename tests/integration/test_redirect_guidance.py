"""Forwarding and serious reports come with guidance (SQLite and PostgreSQL): the reporter is
told per target what to do and where (redirects.toml: text and link), with the external
reference and the group's own words, on the status page and in a Slack DM; and the
formal-reporting guidance once after the group assessed a report as serious.
"""

from __future__ import annotations

import asyncio
import html
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.chat.commands import run_command
from bot.slack.notifier import SlackNotifier, escape_mrkdwn, slack_client
from intake import services
from intake.app import create_app
from intake.delivery.outbox import OutboxWorker, WebStatusNotifier
from intake.domain.model import Actor, RedirectTarget, Role, ValidationFailed
from intake.domain.taxonomy import load_taxonomy
from intake.i18n import Translator
from intake.texts import FORMAL_GUIDANCE
from storage import models as m
from tests.fakes import FakeClock
from tests.integration.helpers import draft
from tests.slack_fake import FakeSlack, fake_slack_fixture

fake_slack = pytest.fixture(fake_slack_fixture)

WEB = Actor("web:", Role.REPORTER)
SLACK = Actor("slack:U123", Role.REPORTER)
GROUP = Actor("slack:UGROUP", Role.TRIAGER)
NB = Translator("nb")
SHIPPED = load_taxonomy().redirects
IDENTITY_NUMBER = "12034423421"  # a valid fødselsnummer shape: the guard refuses it


def drain(ctx: services.Context, clock: FakeClock, slack: FakeSlack | None = None) -> int:
    notifiers: dict = {"web": WebStatusNotifier()}
    if slack is not None:
        client = slack_client("xoxb-test", base_url=slack.url, timeout=2.0)
        notifiers["slack"] = SlackNotifier(client)
    return asyncio.run(OutboxWorker(db=ctx.db, notifiers=notifiers, clock=clock).drain())


def status_page(ctx: services.Context, reference: str) -> str:
    """The reporter's status page, as the web door serves it."""
    token = services.status_token_for(ctx, reference)
    transport = httpx.ASGITransport(app=create_app(ctx.settings, ctx=ctx))

    async def get() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://meld") as client:
            return await client.get(f"/status/{token}")

    page = asyncio.run(get())
    assert page.status_code == 200
    return html.unescape(page.text)


def posted(slack: FakeSlack) -> list[dict]:
    return [{"text": c.params["text"], "blocks": c.json_param("blocks")}
            for c in slack.calls_to("chat.postMessage") if c.status == 200]


def notices(ctx: services.Context, event: str) -> list[m.OutboxMessage]:
    with ctx.db.reading() as s:
        return list(s.scalars(select(m.OutboxMessage).where(m.OutboxMessage.event == event)
                              .order_by(m.OutboxMessage.id)))


def claims(ctx: services.Context) -> list[tuple[str, dict]]:
    with ctx.db.reading() as s:
        return [(r.notice, dict(r.details)) for r in s.scalars(select(m.ReportNotice))]


# ---------------------------------------------------------------- forwarding


@pytest.mark.parametrize("target", [t.value for t in RedirectTarget])
def test_each_target_guidance_and_link_reach_the_web_reporter(ctx, clock, target) -> None:
    guide = SHIPPED.guide(target)
    assert guide is not None
    ref = services.submit_report(ctx=ctx, actor=WEB, draft=draft()).reference
    services.redirect(ctx=ctx, actor=GROUP, reference=ref, target=target,
                      external_reference="SAK-2026-77",
                      message="Vi har sendt saken videre; ring oss gjerne.")
    drain(ctx, clock)
    page = status_page(ctx, ref)
    assert guide.guidance_nb in page
    assert "SAK-2026-77" in page
    assert "Vi har sendt saken videre; ring oss gjerne." in page
    if guide.link:
        assert f'<a href="{guide.link}" rel="noopener noreferrer">{guide.nb}</a>' in page
    else:
        assert 'class="links"' not in page
    # the outbox row records what was sent, in the report's language
    (row,) = [r for r in notices(ctx, "status_changed") if r.payload["status"] == "redirected"]
    assert row.payload["guidance"] == guide.guidance_nb
    assert row.payload.get("links") == ([[guide.nb, guide.link]] if guide.link else None)


def test_a_slack_reporter_gets_guidance_link_reference_and_message(ctx, clock,
                                                                   fake_slack) -> None:
    ref = services.submit_report(ctx=ctx, actor=SLACK, draft=draft()).reference
    drain(ctx, clock, fake_slack)
    fake_slack.calls.clear()
    services.redirect(ctx=ctx, actor=GROUP, reference=ref, target="melde_no",
                      external_reference="2026/118", message="Si fra om du trenger hjelp <3")
    drain(ctx, clock, fake_slack)
    *_triage, dm = posted(fake_slack)
    guide = SHIPPED.guide("melde_no")
    assert escape_mrkdwn(guide.guidance_nb) in dm["text"]
    assert "2026/118" in dm["text"]
    assert f"<https://www.melde.no/|{guide.nb}>" in dm["text"]
    links = [b for b in dm["blocks"] if b.get("block_id") == "meld_links"]
    assert links[0]["text"]["text"] == f"<https://www.melde.no/|{guide.nb}>"
    quoted = [b["text"]["text"] for b in dm["blocks"]
              if b.get("block_id", "").startswith("meld_message_")]
    assert quoted == [">Si fra om du trenger hjelp &lt;3"]  # the group's words, escaped
    # the plain url is not repeated in the notice's own words
    notice = next(b for b in dm["blocks"] if b.get("block_id") == "meld_notice_0")
    assert "https://" not in notice["text"]["text"]


def test_an_identity_number_in_the_message_is_refused_and_nothing_changes(ctx) -> None:
    ref = services.submit_report(ctx=ctx, actor=SLACK, draft=draft()).reference
    with pytest.raises(ValidationFailed) as err:
        services.redirect(ctx=ctx, actor=GROUP, reference=ref, target="eqs",
                          message=f"Gjelder pasient {IDENTITY_NUMBER}")
    assert [(e.field, e.code) for e in err.value.errors] == [("message", "patient_identifier")]
    view = services.get_report(ctx=ctx, actor=GROUP, reference=ref)
    assert view.status == "received" and view.redirect_target is None
    assert not [x for x in view.messages if x.direction == "group"]
    # the chat command says so, in words
    result = run_command(ctx=ctx, actor=GROUP, tr=NB,
                         text=f"videresend {ref} eqs 2026-1 Pasient {IDENTITY_NUMBER}")
    assert not result.ok and "fødselsnummer" in result.text


def test_the_chat_command_forms_reach_the_service(ctx) -> None:
    one = services.submit_report(ctx=ctx, actor=SLACK, draft=draft()).reference
    two = services.submit_report(ctx=ctx, actor=SLACK, draft=draft()).reference
    three = services.submit_report(ctx=ctx, actor=SLACK, draft=draft()).reference
    result = run_command(ctx=ctx, actor=GROUP, tr=NB,
                         text=f"videresend {one} eqs EQS-2026-118 Meld den også i EQS, takk.")
    assert result.ok, result.text
    assert "Melderen får vite hva hen skal gjøre der og hvor, med meldingen din." in result.text
    assert run_command(ctx=ctx, actor=GROUP, tr=NB,
                       text=f"videresend {two} tqm Vi har sendt den videre.").ok
    assert run_command(ctx=ctx, actor=GROUP, tr=NB,
                       text=f"videresend {three} annet Fylkeslegen -- 2 saker er slått "
                            "sammen.").ok
    got = {}
    for ref in (one, two, three):
        view = services.get_report(ctx=ctx, actor=GROUP, reference=ref)
        said = [x.body for x in view.messages if x.direction == "group"]
        got[ref] = (view.redirect_target, view.redirect_reference, said)
    assert got == {
        one: ("eqs", "EQS-2026-118", ["Meld den også i EQS, takk."]),
        two: ("tqm", None, ["Vi har sendt den videre."]),
        three: ("other", "Fylkeslegen", ["2 saker er slått sammen."]),
    }


def test_a_site_file_replaces_a_targets_link(ctx, clock, tmp_path: Path) -> None:
    (tmp_path / "redirects.toml").write_text(
        '[eqs]\nlink = "https://intranett.stolav.example/eqs/meld-hendelse"\n',
        encoding="utf-8")
    site = services.Context(db=ctx.db, settings=ctx.settings,
                            taxonomy=load_taxonomy(tmp_path), secret_key=ctx.secret_key,
                            clock=clock)
    ref = services.submit_report(ctx=site, actor=WEB, draft=draft()).reference
    services.redirect(ctx=site, actor=GROUP, reference=ref, target="eqs")
    drain(site, clock)
    page = status_page(site, ref)
    assert 'href="https://intranett.stolav.example/eqs/meld-hendelse"' in page
    assert 'href="https://stolav.no/"' not in page
    assert SHIPPED.guide("eqs").guidance_nb in page  # the texts stay as shipped


def test_the_message_is_stored_trimmed_and_carried_by_id(ctx) -> None:
    ref = services.submit_report(ctx=ctx, actor=WEB, draft=draft()).reference
    view = services.redirect(ctx=ctx, actor=GROUP, reference=ref, target="compilo",
                             message="  Meld den i Compilo.  ")
    assert [(x.direction, x.purpose, x.body) for x in view.messages] == [
        ("group", "redirect", "Meld den i Compilo.")]
    (row,) = [r for r in notices(ctx, "status_changed") if r.payload["status"] == "redirected"]
    assert row.payload["message_id"] == view.messages[0].id


# ---------------------------------------------------------------- formal guidance


def test_formal_guidance_once_after_the_group_assesses_it_as_serious(ctx, clock,
                                                                     fake_slack) -> None:
    ref = services.submit_report(ctx=ctx, actor=SLACK, draft=draft(severity="minor")).reference
    services.assess(ctx=ctx, actor=GROUP, reference=ref, assessed_severity="moderate")
    assert notices(ctx, "formal_guidance") == []
    services.assess(ctx=ctx, actor=GROUP, reference=ref, assessed_severity="severe")
    services.assess(ctx=ctx, actor=GROUP, reference=ref, assessed_severity="significant")
    services.assess(ctx=ctx, actor=GROUP, reference=ref, assessed_severity="minor")
    services.assess(ctx=ctx, actor=GROUP, reference=ref, assessed_severity="severe")
    (row,) = notices(ctx, "formal_guidance")
    assert row.payload["links"] == [list(pair) for pair in SHIPPED.formal_links("nb")]
    assert claims(ctx) == [("formal_guidance", {"sent_with": "assessment"})]

    drain(ctx, clock, fake_slack)
    (dm,) = [p for p in posted(fake_slack) if escape_mrkdwn(NB(FORMAL_GUIDANCE)) in p["text"]]
    assert f"Forbedringsgruppen har lest meldingen din {ref}." in dm["text"]
    assert "<https://www.melde.no/|melde.no (Helsetilsynet)>" in dm["text"]
    assert "<https://stolav.no/|EQS (St. Olavs kvalitetssystem)>" in dm["text"]


def test_no_second_guidance_when_the_receipt_had_it(ctx) -> None:
    ref = services.submit_report(ctx=ctx, actor=SLACK, draft=draft(severity="severe")).reference
    (receipt,) = notices(ctx, "receipt")
    assert receipt.payload["formal_guidance"] is True
    services.assess(ctx=ctx, actor=GROUP, reference=ref, assessed_severity="significant")
    assert notices(ctx, "formal_guidance") == []
    assert claims(ctx) == [("formal_guidance", {"sent_with": "receipt"})]


def test_the_web_status_page_shows_the_formal_guidance_with_links(ctx, clock) -> None:
    ref = services.submit_report(ctx=ctx, actor=WEB, draft=draft()).reference
    services.assess(ctx=ctx, actor=GROUP, reference=ref, assessed_severity="severe")
    drain(ctx, clock)
    page = status_page(ctx, ref)
    assert NB(FORMAL_GUIDANCE) in page
    assert ('<a href="https://www.melde.no/" rel="noopener noreferrer">'
            "melde.no (Helsetilsynet)</a>") in page
    # the status page says it once, even though the status notice came too
    assert page.count(NB(FORMAL_GUIDANCE)) == 1

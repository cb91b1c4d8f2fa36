"""Teams: a forwarding notice and the formal guidance arrive as a card with the target's
guidance text, the group's words and a button per link (Action.OpenUrl), through the real
door, outbox and the fake Bot Connector."""

from __future__ import annotations

from intake import services
from intake.domain.model import Actor, Role
from tests.teams.conftest import GROUP, TeamsHarness

GROUP_ACTOR = Actor(identity=f"teams:{GROUP}", role=Role.TRIAGER)


def personal_cards(teams: TeamsHarness) -> list[dict]:
    return [s.body["attachments"][0]["content"] for s in teams.ms.sent
            if "personal" in s.conversation and s.body.get("attachments")]


def texts(card: dict) -> list[str]:
    return [run["text"] for b in card["body"] if b["type"] == "RichTextBlock"
            for run in b["inlines"]]


def test_forwarding_and_formal_guidance_cards(teams_both: TeamsHarness) -> None:
    teams = teams_both
    teams.message("meld")  # the reporter's personal chat is known
    teams.wait_replies()
    reference = teams.seed_report()
    redirects = teams.ctx.taxonomy.redirects
    services.redirect(ctx=teams.ctx, actor=GROUP_ACTOR, reference=reference, target="eqs",
                      external_reference="EQS-2026-5", message="Meld den i EQS også.")
    teams.ms.sent.clear()
    teams.drain()
    *_triage, card = personal_cards(teams)
    eqs = redirects.guide("eqs")
    assert eqs.guidance_nb in texts(card)
    assert "Meld den i EQS også." in texts(card)
    assert any("EQS-2026-5" in t for t in texts(card))
    assert card["actions"][0] == {"type": "Action.OpenUrl", "title": eqs.nb, "url": eqs.link}
    assert not any("https://" in t for t in texts(card))  # the link is the button

    other = teams.seed_report()
    services.assess(ctx=teams.ctx, actor=GROUP_ACTOR, reference=other,
                    assessed_severity="significant")
    teams.ms.sent.clear()
    teams.drain()
    formal = [c for c in personal_cards(teams)
              if any(t.startswith("Forbedringsgruppen har lest") for t in texts(c))]
    assert len(formal) == 1
    urls = [a["url"] for a in formal[0]["actions"] if a["type"] == "Action.OpenUrl"]
    assert urls == [url for _name, url in redirects.formal_links("nb")]

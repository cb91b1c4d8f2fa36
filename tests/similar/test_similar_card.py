"""A new report's card in the group's channel names the open report it most probably is
about again ("Ligner på MELD-2026-0042 (åpen)"), with a button marking it a duplicate.

Through the real doors: the app on uvicorn with Slack (fake Web API, signed requests) and
Teams (fake Bot Connector, RSA-signed JWTs) on. The earlier report is stored through the
service, the new one is sent through the door's own form, and the card is built when the
outbox delivers it.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import select

from bot.slack import views
from bot.teams import similar_card
from intake import services
from intake.domain.model import Actor, Role
from storage import models as m
from tests.bot.conftest import (
    GROUP_USER,
    OUTSIDER,
    TRIAGE_CHANNEL,
    SlackDoor,
    block_action,
    report_values,
    view_submission,
)
from tests.doors.conftest import _join_stopped_servers, yesterday  # noqa: F401 (autouse)
from tests.integration.helpers import draft
from tests.similarity_cases import CASES, Case
from tests.teams.conftest import GROUP, TRIAGE, TeamsHarness, form_data
from tests.teams.conftest import OUTSIDER as TEAMS_OUTSIDER

# an earlier report, and a new one about the same (a referral returned without a reason)
EARLIER = next(c for c in CASES if c.group == "ref_returned")
AGAIN = "Henvisningen til ortopedisk poliklinikk ble returnert uten begrunnelse, igjen."
# a new report about something else altogether
UNRELATED = next(c for c in CASES if c.group == "oncall_phone")
SIMILAR_NB = "Ligner på"
DENIED_NB = "Bare Forbedringsgruppen kan gjøre dette."
REASONS_NB = "samme underkategori, sted og retning; tekst ligner"


def store_earlier(ctx: services.Context, case: Case = EARLIER) -> str:
    """The earlier report, sent from the web (as tests/similar/conftest.store_case, dated
    yesterday: the door's clock is the real one)."""
    receipt = services.submit_report(
        ctx=ctx, actor=Actor("web:reporter-earlier", Role.REPORTER),
        draft=draft(kind=case.kind, category=case.category, subcategory=case.subcategory,
                    place=case.place, description=case.text, reporter_party=case.reporter,
                    concerned_party=case.concerned, occurred_on=yesterday(),
                    confirm_warnings=True))
    return receipt.reference


def report_row(ctx: services.Context, reference: str) -> m.Report:
    with ctx.db.reading() as session:
        return session.scalars(select(m.Report).where(m.Report.reference == reference)).one()


def newest_reference(ctx: services.Context) -> str:
    with ctx.db.reading() as session:
        return session.scalars(select(m.Report.reference).order_by(m.Report.id.desc())).first()


# ---------------------------------------------------------------- Slack


def slack_card(sd: SlackDoor, reference: str) -> dict[str, Any]:
    """The card posted to the triage channel for this report."""
    found = [c for c in sd.fake.calls_to("chat.postMessage")
             if c.status == 200 and c.params.get("channel") == TRIAGE_CHANNEL
             and c.params.get("text") == f"Ny melding {reference}"]
    assert len(found) == 1, [c.params.get("text") for c in found]
    blocks = found[0].json_param("blocks")
    assert isinstance(blocks, list)
    return {"text": found[0].params["text"], "blocks": blocks}


def slack_send(sd: SlackDoor, view_id: str, *, category: str, place: str | None,
               description: str) -> str:
    """A report sent through Slack's modal; the outbox delivered; its reference."""
    ack = sd.submit_view(view_submission(
        "meld_report", report_values(category=category, place=place, description=description,
                                     confirm_warnings=True), view_id=view_id))
    assert ack == {"response_action": "clear"}, ack
    sd.drain()
    return newest_reference(sd.ctx)


def duplicate_button(card: dict[str, Any]) -> dict[str, Any]:
    [button] = [b["accessory"] for b in card["blocks"]
                if b.get("accessory", {}).get("action_id") == views.DUPLICATE_ACTION]
    return button


def wait_answer(sd: SlackDoor, count: int = 1) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while len(sd.response_url_calls()) < count and time.monotonic() < deadline:
        time.sleep(0.005)
    calls = sd.response_url_calls()
    assert len(calls) == count, [c.method for c in calls]
    return calls[-1].params


def test_slack_card_names_the_earlier_report_and_the_button_marks_the_duplicate(
        slack: SlackDoor) -> None:
    earlier = store_earlier(slack.ctx)
    new = slack_send(slack, "V0SIMILAR1", category="referral/rejected_or_returned",
                     place=EARLIER.place, description=AGAIN)
    card = slack_card(slack, new)
    shown = json.dumps(card, ensure_ascii=False)
    assert f"{SIMILAR_NB} {earlier} (åpen)" in shown
    assert REASONS_NB in shown
    assert "Status: Mottatt" in shown
    # nothing of either report's text: coded fields and references only
    assert EARLIER.text[:40] not in shown and AGAIN[:40] not in shown
    assert "ortopedisk poliklinikk" not in shown
    # the earlier report's card, delivered in the same run, names no later report
    assert SIMILAR_NB not in json.dumps(slack_card(slack, earlier), ensure_ascii=False)
    button = duplicate_button(card)
    assert button["text"]["text"] == f"Marker som duplikat av {earlier}"
    # the card's own buttons are still there
    actions = [e["action_id"] for b in card["blocks"] if b["type"] == "actions"
               for e in b["elements"]]
    assert actions == ["triage_show", "triage_assess", "triage_reply"]

    url = slack.response_url()
    r = slack.interact(block_action(views.DUPLICATE_ACTION, button["value"], user=GROUP_USER,
                                    response_url=url))
    assert r.status_code == 200, r.text
    answer = wait_answer(slack)
    assert answer["text"] == f"{new} er markert som duplikat av {earlier}."
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    row, original = report_row(slack.ctx, new), report_row(slack.ctx, earlier)
    assert (row.status, row.duplicate_of_id) == ("duplicate", original.id)
    assert original.status == "received"  # the earlier report is left as it was

    # pressed again (the card keeps its button): told why not, nothing changes
    r = slack.interact(block_action(views.DUPLICATE_ACTION, button["value"], user=GROUP_USER,
                                    response_url=slack.response_url()))
    assert r.status_code == 200, r.text
    again = wait_answer(slack, 2)
    assert again["text"] == "En melding med status «Duplikat» kan ikke flyttes til «Duplikat»."
    assert report_row(slack.ctx, new).status == "duplicate"


def test_slack_card_of_an_unrelated_report_is_unchanged(slack: SlackDoor) -> None:
    store_earlier(slack.ctx)
    new = slack_send(slack, "V0UNRELAT1", category=UNRELATED.category,
                     place=UNRELATED.place, description=UNRELATED.text)
    card = slack_card(slack, new)
    shown = json.dumps(card, ensure_ascii=False)
    assert SIMILAR_NB not in shown and "duplikat" not in shown
    assert [b["type"] for b in card["blocks"]] == ["section", "actions"]
    assert not any("accessory" in b for b in card["blocks"])


def test_slack_duplicate_button_refuses_a_non_member(slack: SlackDoor) -> None:
    earlier = store_earlier(slack.ctx)
    new = slack_send(slack, "V0SIMILAR2", category="referral/rejected_or_returned",
                     place=EARLIER.place, description=AGAIN)
    button = duplicate_button(slack_card(slack, new))
    r = slack.interact(block_action(views.DUPLICATE_ACTION, button["value"], user=OUTSIDER,
                                    response_url=slack.response_url()))
    assert r.status_code == 200, r.text
    answer = wait_answer(slack)
    assert answer["text"] == DENIED_NB and answer["response_type"] == "ephemeral"
    assert report_row(slack.ctx, new).status == "received"
    assert report_row(slack.ctx, new).duplicate_of_id is None
    assert report_row(slack.ctx, earlier).status == "received"
    assert [(e.actor_id, e.details) for e in slack.audit("denied")] == [
        (f"slack:{OUTSIDER}", {"attempted": "slack:card"})]


# ---------------------------------------------------------------- Teams




def teams_send(h: TeamsHarness, key: str, *, category: str, place: str | None,
               description: str) -> str:
    """A report sent through the Teams chat form; the outbox delivered; its reference."""
    h.submit_form(form_data(key=key, category=category, place=place, description=description,
                            confirm_warnings="true"))
    h.drain()
    return newest_reference(h.ctx)


def teams_card(h: TeamsHarness, reference: str) -> dict[str, Any]:
    found = [s.card for s in h.ms.sent if s.conversation == TRIAGE and s.card is not None
             and s.card["body"][0]["text"].startswith(f"{reference} ·")]
    assert len(found) == 1, len(found)
    card = found[0]
    assert card is not None
    return card


def teams_duplicate_action(card: dict[str, Any]) -> dict[str, Any]:
    [action] = [a for element in card["body"] if element.get("type") == "ActionSet"
                for a in element["actions"]]
    return action


def press(h: TeamsHarness, action: dict[str, Any], user: str) -> dict[str, Any]:
    """The Action.Execute as Teams sends it: an adaptiveCard/action invoke."""
    body = h.invoke("adaptiveCard/action",
                    {"action": {"type": "Action.Execute", "verb": action["verb"],
                                "data": action["data"]}, "trigger": "manual"},
                    user=user, conversation="channel")
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.activity.message"
    return body


def test_teams_card_names_the_earlier_report_and_the_button_marks_the_duplicate(
        teams: TeamsHarness) -> None:
    earlier = store_earlier(teams.ctx)
    new = teams_send(teams, "similar-1", category="referral/rejected_or_returned",
                     place=EARLIER.place, description=AGAIN)
    card = teams_card(teams, new)
    shown = json.dumps(card, ensure_ascii=False)
    assert f"{SIMILAR_NB} {earlier} (åpen)" in shown
    assert REASONS_NB in shown
    assert EARLIER.text[:40] not in shown and AGAIN[:40] not in shown
    assert "ortopedisk poliklinikk" not in shown
    assert [a["data"]["meld"] for a in card["actions"]] == ["show", "assess", "reply"]
    assert SIMILAR_NB not in json.dumps(teams_card(teams, earlier), ensure_ascii=False)
    action = teams_duplicate_action(card)
    assert action["type"] == "Action.Execute" and action["verb"] == similar_card.DUPLICATE_VERB
    assert action["title"] == f"Marker som duplikat av {earlier}"

    body = press(teams, action, GROUP)
    assert body["value"] == f"{new} er markert som duplikat av {earlier}."
    row, original = report_row(teams.ctx, new), report_row(teams.ctx, earlier)
    assert (row.status, row.duplicate_of_id) == ("duplicate", original.id)
    assert original.status == "received"


def test_teams_card_of_an_unrelated_report_is_unchanged(teams: TeamsHarness) -> None:
    store_earlier(teams.ctx)
    new = teams_send(teams, "unrelated-1", category=UNRELATED.category,
                     place=UNRELATED.place, description=UNRELATED.text)
    card = teams_card(teams, new)
    shown = json.dumps(card, ensure_ascii=False)
    assert SIMILAR_NB not in shown and "duplikat" not in shown
    assert [e["type"] for e in card["body"]] == ["TextBlock", "FactSet"]


def test_teams_duplicate_button_refuses_a_non_member(teams: TeamsHarness) -> None:
    store_earlier(teams.ctx)
    new = teams_send(teams, "similar-2", category="referral/rejected_or_returned",
                     place=EARLIER.place, description=AGAIN)
    action = teams_duplicate_action(teams_card(teams, new))
    body = press(teams, action, TEAMS_OUTSIDER)
    assert body["value"] == DENIED_NB
    row = report_row(teams.ctx, new)
    assert (row.status, row.duplicate_of_id) == ("received", None)
    assert [(e.actor_id, e.details) for e in teams.audit("denied")] == [
        (f"teams:{TEAMS_OUTSIDER}", {"attempted": "teams:card"})]

"""The chat forms' suggestions and "Dette har skjedd meg også" (intake.services.public).

Through the real doors: the app on uvicorn with Slack (fake Web API recording views.update,
signed requests) and Teams (fake Bot Connector, RSA-signed JWTs) on, on SQLite and
PostgreSQL. Another reporter's open report has a public title written by the group; a
reporter filling in the form sees that title and coded fields (never the other report's
text), and its button records a +1 with the form's date and place and makes them follow
it. An untitled report and a closed one are never suggested.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from bot.slack import views
from bot.teams import cards
from bot.teams import suggestions as teams_suggestions
from intake import services
from intake.domain.model import Actor, Role
from storage import models as m
from tests.bot.conftest import (
    OUTSIDER,
    REPORTER,
    SlackDoor,
    report_values,
    view_submission,
)
from tests.bot.slack_shapes import form_change, me_too_press, modal_action
from tests.doors.conftest import _join_stopped_servers, yesterday  # noqa: F401 (autouse)
from tests.integration.helpers import draft
from tests.slack_fake import Call
from tests.teams.conftest import REPORTER as TEAMS_REPORTER
from tests.teams.conftest import TeamsHarness, card_texts, find_input, form_data

GROUP = Actor("web:group-member", Role.TRIAGER)
TITLE = "Epikrise mangler ved utskriving"
# the other reporter's own words: never shown to anyone else
OTHER_TEXT = "Pasienten fra sengepost 4 ble skrevet ut uten at brevet var sendt."
TYPED = "Epikrise manglet ved utskriving; fastlegen fikk ingen beskjed."
PLACE = "stolav_medisinsk"
ME_TOO_NB = "Dette har skjedd meg også"
HEAD_NB = "Er dette meldt allerede?"
THANKS_NB = "Takk: det teller"
FOLLOW_NB = "Du får beskjed i chatten når statusen endres"
ALREADY_NB = "Du har allerede sagt at dette har skjedd deg også."
SETTLE = 0.3  # seconds for a listener that should not update the modal to have done so


@dataclass(frozen=True)
class Seeded:
    titled: str
    untitled: str
    closed: str


def seed(ctx: services.Context) -> Seeded:
    """Three reports of another reporter in one category and place: one open with a public
    title, one open without, one closed with a title."""
    refs = [services.submit_report(
        ctx=ctx, actor=Actor(f"web:other-{i}", Role.REPORTER),
        draft=draft(description=OTHER_TEXT, occurred_on=yesterday(), place=PLACE)).reference
        for i in range(3)]
    titled, untitled, closed = refs
    for ref in (titled, closed):
        services.set_public_title(ctx=ctx, actor=GROUP, reference=ref, title=TITLE)
    services.move_status(ctx=ctx, actor=GROUP, reference=closed, status="in_progress")
    services.close(ctx=ctx, actor=GROUP, reference=closed, learning_point="Sjekkliste.",
                   measure="Rutinen er endret.")
    return Seeded(titled, untitled, closed)


def plus_ones(ctx: services.Context, reference: str) -> list[tuple[Any, ...]]:
    with ctx.db.reading() as session:
        return [tuple(row) for row in session.execute(
            select(m.PlusOne.actor_id, m.PlusOne.occurred_on, m.PlusOne.place_id)
            .join(m.Report, m.Report.id == m.PlusOne.report_id)
            .where(m.Report.reference == reference))]


def followers(ctx: services.Context, reference: str) -> list[tuple[Any, ...]]:
    with ctx.db.reading() as session:
        return [tuple(row) for row in session.execute(
            select(m.ReportFollower.actor_id, m.ReportFollower.channel,
                   m.ReportFollower.token_hash)
            .join(m.Report, m.Report.id == m.ReportFollower.report_id)
            .where(m.Report.reference == reference))]


def plus_one_count(ctx: services.Context, reference: str) -> int:
    with ctx.db.reading() as session:
        return session.scalars(select(m.Report.plus_one_count)
                               .where(m.Report.reference == reference)).one()


# ---------------------------------------------------------------- Slack


def updates(sd: SlackDoor, count: int) -> list[Call]:
    """The first `count` views.update calls (waits for them)."""
    return sd.wait_for("views.update", count)[:count]


def shown(call: Call) -> str:
    return json.dumps(call.json_param("view"), ensure_ascii=False)


def blocks_of(call: Call) -> dict[str, dict[str, Any]]:
    view = call.json_param("view")
    return {b["block_id"]: b for b in view["blocks"] if "block_id" in b}


def me_too_buttons(call: Call) -> list[dict[str, Any]]:
    return [b["accessory"] for b in call.json_param("view")["blocks"]
            if b.get("accessory", {}).get("action_id") == views.ME_TOO_ACTION]


def test_slack_choosing_the_category_shows_the_title_and_never_the_text(
        slack: SlackDoor, caplog: pytest.LogCaptureFixture) -> None:
    # Meld's own log at every level (slack_sdk's request bodies, at DEBUG, are kept above
    # that by bot.slack.notifier when the server's log level is set, before the app is built)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="meld")
    seeded = seed(slack.ctx)
    # the reporter has chosen the category and place; no text yet
    values = report_values(description=None, severity=None)
    r = slack.interact(modal_action(form_change("category", values), values, user=REPORTER,
                                    view_id="V0SUGGEST1"))
    assert r.status_code == 200 and not r.content  # acked at once, updated after
    [call] = updates(slack, 1)
    assert call.params["view_id"] == "V0SUGGEST1"
    assert call.params["hash"] == "1600000000.V0SUGGEST1"  # the view as it was seen
    view = call.json_param("view")
    assert view["callback_id"] == views.REPORT_CALLBACK and view["submit"]
    text = shown(call)
    assert TITLE in text and HEAD_NB in text
    assert "Avvik · Epikrise · St. Olavs – Medisinsk klinikk · Mottatt" in text  # codes
    assert OTHER_TEXT[:30] not in text and "web:other" not in text
    [button] = me_too_buttons(call)
    assert (button["value"], button["text"]["text"]) == (seeded.titled, ME_TOO_NB)
    assert seeded.untitled not in text and seeded.closed not in text
    assert json.loads(view["private_metadata"]) == {"shown": [seeded.titled]}
    # what the reporter entered is kept: the same input blocks, with their values
    blocks = blocks_of(call)
    assert blocks["category"]["element"]["initial_option"]["value"] == "discharge_summary/missing"
    assert blocks["place"]["element"]["initial_option"]["value"] == PLACE
    assert blocks["occurred_on"]["element"]["initial_date"] == yesterday()
    assert blocks["reporter_party"]["element"]["initial_option"]["value"] == "gp"
    assert "initial_options" in blocks[views.NO_IDS]["element"]
    assert blocks["category"]["dispatch_action"] is True
    # nothing of either text in the log; no error
    assert caplog.records and OTHER_TEXT[:30] not in caplog.text
    assert TITLE not in caplog.text
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR]

    # another place: nothing to suggest there (the update clears the suggestions)
    other = report_values(description=None, place="melhus")
    slack.interact(modal_action(form_change("place", other), other, user=REPORTER,
                                view_id="V0SUGGEST1",
                                metadata={"shown": [seeded.titled]}))
    second = updates(slack, 2)[1]
    assert TITLE not in shown(second) and not me_too_buttons(second)
    assert blocks_of(second)["place"]["element"]["initial_option"]["value"] == "melhus"


def test_slack_typing_updates_the_modal_only_when_the_suggestions_change(
        slack: SlackDoor) -> None:
    seeded = seed(slack.ctx)
    typed = report_values(description=TYPED)
    slack.interact(modal_action(form_change("description", typed), typed, user=REPORTER,
                                view_id="V0TYPING1"))
    [first] = updates(slack, 1)
    assert [b["value"] for b in me_too_buttons(first)] == [seeded.titled]
    assert blocks_of(first)["description"]["element"]["initial_value"] == TYPED
    # one more character, the same suggestion shown: no update
    more = report_values(description=TYPED + " I")
    slack.interact(modal_action(form_change("description", more), more, user=REPORTER,
                                view_id="V0TYPING1", metadata={"shown": [seeded.titled]}))
    # words like no title: the suggestion goes
    other = report_values(description="Telefonen på legevakten ble ikke besvart")
    slack.interact(modal_action(form_change("description", other), other, user=REPORTER,
                                view_id="V0TYPING1", metadata={"shown": [seeded.titled]}))
    second = updates(slack, 2)[1]
    assert not me_too_buttons(second)
    time.sleep(SETTLE)
    assert len(slack.fake.calls_to("views.update")) == 2


def test_slack_me_too_counts_follows_and_thanks_then_says_already(slack: SlackDoor) -> None:
    seeded = seed(slack.ctx)
    values = report_values(description=TYPED)
    press = modal_action(me_too_press(seeded.titled), values, user=OUTSIDER,
                         view_id="V0METOO1", metadata={"shown": [seeded.titled]})
    r = slack.interact(press)
    assert r.status_code == 200 and not r.content
    [thanks] = updates(slack, 1)
    assert thanks.params["view_id"] == "V0METOO1"
    text = shown(thanks)
    assert THANKS_NB in text and FOLLOW_NB in text
    assert f"{seeded.titled} teller nå 1 som har opplevd det samme." in text
    assert "submit" not in thanks.json_param("view")  # nothing more to send
    # the +1 with the form's date and place, and the reporter follows the report in Slack
    assert [(a, str(d), p) for a, d, p in plus_ones(slack.ctx, seeded.titled)] == [
        (f"slack:{OUTSIDER}", yesterday(), PLACE)]
    assert followers(slack.ctx, seeded.titled) == [(f"slack:{OUTSIDER}", "slack", None)]
    assert plus_one_count(slack.ctx, seeded.titled) == 1
    assert len(slack.reports()) == 3  # no new report: the form's text is not stored

    # pressed again (from a form opened before): told why, and the form stays as entered
    slack.interact(press)
    again = updates(slack, 2)[1]
    text = shown(again)
    assert ALREADY_NB in text
    assert "1 andre også" in text  # the suggestion, now counting the first press
    assert blocks_of(again)["description"]["element"]["initial_value"] == TYPED
    assert len(plus_ones(slack.ctx, seeded.titled)) == 1


def test_slack_me_too_on_a_closed_or_untitled_report_counts_nothing(slack: SlackDoor) -> None:
    seeded = seed(slack.ctx)
    values = report_values()
    for n, ref in enumerate((seeded.closed, seeded.untitled)):
        slack.interact(modal_action(me_too_press(ref), values, user=OUTSIDER,
                                    view_id=f"V0GONE{n}"))
        call = updates(slack, n + 1)[n]
        assert f"Fant ingen melding med referanse {ref}." in shown(call)
        assert THANKS_NB not in shown(call)
        assert plus_ones(slack.ctx, ref) == [] and followers(slack.ctx, ref) == []


def test_slack_form_with_suggestions_shown_is_still_sent_as_a_new_report(
        slack: SlackDoor) -> None:
    """The reporter saw a suggestion and sent their own report anyway."""
    seeded = seed(slack.ctx)
    meta = {"shown": [seeded.titled], "link": "https://meld-test.slack.com/archives/C1/p1"}
    ack = slack.submit_view(view_submission(
        "meld_report", report_values(description=TYPED), view_id="V0SENDANYWAY",
        private_metadata=json.dumps(meta)))
    assert ack == {"response_action": "clear"}
    report = slack.reports()[-1]
    assert (report.description, report.source_link) == (TYPED, meta["link"])
    assert plus_ones(slack.ctx, seeded.titled) == []


def test_slack_blank_form_dispatches_category_place_and_text(slack: SlackDoor) -> None:
    r = slack.command("/meld", "", user=REPORTER)
    assert r.status_code == 200
    blocks = {b["block_id"]: b for b in slack.opened_view()["blocks"]}
    assert [k for k, b in blocks.items() if b.get("dispatch_action")] == [
        "category", "description", "place"]
    assert blocks["description"]["element"]["dispatch_action_config"] == {
        "trigger_actions_on": ["on_character_entered"]}
    assert all(b["element"]["action_id"] == views.FORM_ACTION for b in blocks.values())


# ---------------------------------------------------------------- Teams




def execute(h: TeamsHarness, verb: str, data: dict[str, Any]) -> dict[str, Any]:
    """An Action.Execute of the chat form (its inputs merged into the data, as Teams does);
    the card that replaces the form."""
    body = h.invoke("adaptiveCard/action", {"action": {"type": "Action.Execute", "verb": verb,
                                                       "data": data}, "trigger": "manual"})
    assert body["statusCode"] == 200 and body["type"] == cards.CARD_TYPE, body
    return body["value"]


def me_too_actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for element in card["body"]:
        for item in element.get("items", []):
            if item.get("type") == "ActionSet":
                found += item["actions"]
    return found


def test_teams_form_has_find_similar_with_its_own_key(teams: TeamsHarness) -> None:
    teams.message("meld")
    teams.wait_replies()
    card = teams.ms.wait_sent(1)[0].card
    assert card is not None
    send, find = card["actions"]
    assert (send["verb"], find["verb"]) == (cards.SUBMIT_VERB, cards.SUGGEST_VERB)
    assert find["title"] == "Finn lignende saker"
    assert find["data"]["key"] == send["data"]["key"] and len(find["data"]["key"]) >= 20


def test_teams_find_similar_shows_the_title_and_keeps_the_form(teams: TeamsHarness) -> None:
    seeded = seed(teams.ctx)
    data = form_data(meld="suggest", key="suggest-key-1", description=TYPED)
    card = execute(teams, cards.SUGGEST_VERB, data)
    texts = card_texts(card)
    assert TITLE in texts and HEAD_NB in texts
    assert "Avvik · Epikrise · St. Olavs – Medisinsk klinikk · Mottatt" in texts
    assert OTHER_TEXT[:30] not in json.dumps(card, ensure_ascii=False)
    assert "web:other" not in json.dumps(card)
    assert seeded.untitled not in json.dumps(card) and seeded.closed not in json.dumps(card)
    [action] = me_too_actions(card)
    assert (action["type"], action["verb"], action["title"]) == (
        "Action.Execute", teams_suggestions.ME_TOO_VERB, ME_TOO_NB)
    assert action["data"] == {"meld": "me_too", "reference": seeded.titled,
                              "key": "suggest-key-1"}
    # the form as it was filled in, with the same key
    assert find_input(card, "description")[1]["value"] == TYPED
    assert find_input(card, "category")[1]["value"] == "discharge_summary/missing"
    assert find_input(card, "place")[1]["value"] == PLACE
    assert find_input(card, "severity")[1]["value"] == "minor"
    assert [a["data"]["key"] for a in card["actions"]] == ["suggest-key-1"] * 2
    assert len(teams.reports()) == 3  # nothing was sent

    # another category: nothing to suggest, and it says so
    other = execute(teams, cards.SUGGEST_VERB, form_data(meld="suggest", category="referral"))
    assert "Ingen lignende saker." in card_texts(other) and not me_too_actions(other)


def test_teams_me_too_counts_follows_and_thanks_then_says_already(
        teams: TeamsHarness) -> None:
    seeded = seed(teams.ctx)
    card = execute(teams, cards.SUGGEST_VERB, form_data(meld="suggest", description=TYPED))
    [action] = me_too_actions(card)
    pressed = form_data(description=TYPED) | action["data"]
    thanks = execute(teams, action["verb"], pressed)
    texts = card_texts(thanks)
    assert THANKS_NB in texts and FOLLOW_NB in texts
    assert f"{seeded.titled} teller nå 1 som har opplevd det samme." in texts
    assert "actions" not in thanks
    actor = f"teams:{TEAMS_REPORTER}"
    assert [(a, str(d), p) for a, d, p in plus_ones(teams.ctx, seeded.titled)] == [
        (actor, yesterday(), PLACE)]
    assert followers(teams.ctx, seeded.titled) == [(actor, "teams", None)]
    assert len(teams.reports()) == 3  # no new report: the form's text is not stored

    again = execute(teams, action["verb"], pressed)
    texts = card_texts(again)
    assert ALREADY_NB in texts and "1 andre også" in texts
    assert find_input(again, "description")[1]["value"] == TYPED
    assert plus_one_count(teams.ctx, seeded.titled) == 1


def test_teams_me_too_on_a_closed_report_counts_nothing(teams: TeamsHarness) -> None:
    seeded = seed(teams.ctx)
    for ref in (seeded.closed, seeded.untitled):
        card = execute(teams, teams_suggestions.ME_TOO_VERB,
                       form_data(meld="me_too", reference=ref))
        assert f"Fant ingen melding med referanse {ref}." in card_texts(card)
        assert plus_ones(teams.ctx, ref) == [] and followers(teams.ctx, ref) == []


def test_teams_dialog_form_suggests_and_counts_too(teams: TeamsHarness) -> None:
    """The message action's dialog: Action.Submit, answered as the dialog's next step."""
    seeded = seed(teams.ctx)
    body = teams.invoke("composeExtension/submitAction",
                        {"data": form_data(meld="suggest", description=TYPED, key="dlg-1")})
    card = body["task"]["value"]["card"]["content"]
    assert TITLE in card_texts(card)
    assert [a["type"] for a in card["actions"]] == ["Action.Submit"] * 2
    [action] = me_too_actions(card)
    assert action["type"] == "Action.Submit" and action["data"]["meld"] == "me_too"
    body = teams.invoke("composeExtension/submitAction",
                        {"data": form_data(description=TYPED) | action["data"]})
    assert THANKS_NB in card_texts(body["task"]["value"]["card"]["content"])
    assert len(plus_ones(teams.ctx, seeded.titled)) == 1

"""Three steps in Slack: write what happened, tick "no patient data", send.

Through the real door (signed requests, the app on uvicorn, the fake Slack Web API): the
modal is stored with only its text and the box; the receipt DM says the report is left
uncategorized for the group, names Meld's suggestion with a one-click "Velg <forslag>"
and offers "Endre kategorien"; choosing there (a signed block_actions request) changes
the category for the reporter only, until the group has assessed it.
A reporter who reported before finds the form proposing the place and parties of the
last report.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from bot.slack.notifier import CHANGE_CATEGORY_ACTION, TAKE_SUGGESTION_ACTION, render
from intake import services
from intake.delivery.outbox import Notification
from intake.domain.model import Actor, Conflict, PermissionDenied, Role
from intake.domain.taxonomy import load_taxonomy
from intake.i18n import Translator
from intake.texts import domain_error_text, error_text
from intake.texts_filing import (
    ALL_CATEGORIES_GROUP,
    CATEGORY_HINT,
    CHANGE_CATEGORY,
    CHOOSE_SUGGESTION,
    LET_GROUP_CHOOSE,
    PLACE_HINT_REMEMBERED,
    SUGGESTIONS_GROUP,
    category_line,
    changed_line,
)
from tests.bot.conftest import (
    APP_ID,
    DESCRIPTION,
    GROUP_USER,
    OUTSIDER,
    REPORTER,
    SlackDoor,
    checkbox_state,
    slack_settings,
    slack_team,
    slack_user,
    start_slack_door,
    stop_slack_door,
    text_state,
    view_submission,
)
from tests.integration.helpers import uncategorized_offer
from tests.slack_fake import BOT_USER_ID, FakeSlack

NB = Translator("nb")
TAX = load_taxonomy()
GROUP = Actor(identity=f"slack:{GROUP_USER}", role=Role.TRIAGER)
NOT_YOURS_NB = domain_error_text(PermissionDenied("not_your_report"), NB)
ASSESSED_NB = domain_error_text(Conflict("category_assessed"), NB)


def blocks_by_id(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in view["blocks"] if "block_id" in b}


def untouched_state(view: dict[str, Any]) -> dict[str, Any]:
    """state.values as Slack sends them for a modal nobody changed: each input block with
    its initial option, date or value (or nothing)."""
    state: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        element = block["element"]
        entry: dict[str, Any] = {"type": element["type"]}
        if element["type"] in ("static_select", "radio_buttons"):
            entry["selected_option"] = element.get("initial_option")
        elif element["type"] == "checkboxes":
            entry["selected_options"] = element.get("initial_options") or []
        elif element["type"] == "datepicker":
            entry["selected_date"] = element.get("initial_date")
        else:
            entry["value"] = element.get("initial_value")
        state[block["block_id"]] = {"value": entry}
    return state


def opened_modal(slack: SlackDoor, user: str = REPORTER, text: str = "",
                 index: int = 0) -> dict[str, Any]:
    r = slack.command("/meld", text, user=user)
    assert r.status_code == 200 and r.text == "", r.text
    return slack.opened_view(index)


def dms(slack: SlackDoor, user: str = REPORTER) -> list[dict[str, Any]]:
    return [c.params for c in slack.fake.calls_to("chat.postMessage")
            if c.params.get("channel") == f"D{user}" and c.status == 200]


def receipt_select(dm: dict[str, Any]) -> dict[str, Any]:
    [block] = [b for b in dm["blocks"] if b.get("block_id") == "meld_category"]
    assert block["type"] == "section"
    return block


def option_values(select: dict[str, Any]) -> list[str]:
    return [o["value"] for g in select["option_groups"] for o in g["options"]]


def choose(slack: SlackDoor, value: str, user: str = REPORTER, *,
           button: bool = False) -> str:
    """The reporter picks an option of the receipt's select (a signed block_actions
    request, shaped as Slack sends a static_select in a message), or with `button`
    clicks "Velg <forslag>" of that value; what Meld answers at the response_url."""
    url = slack.response_url()
    action: dict[str, Any] = (
        {"type": "button", "action_id": TAKE_SUGGESTION_ACTION,
         "block_id": "meld_take_suggestion", "value": value,
         "text": {"type": "plain_text", "text": "Velg", "emoji": False},
         "action_ts": "1772450001.000300"} if button else
        {"type": "static_select", "action_id": CHANGE_CATEGORY_ACTION,
         "block_id": "meld_category",
         "selected_option": {"text": {"type": "plain_text", "text": "x",
                                      "emoji": False}, "value": value},
         "placeholder": {"type": "plain_text", "text": "Endre kategorien",
                         "emoji": False},
         "action_ts": "1772450001.000200"})
    payload = {
        "type": "block_actions", "user": slack_user(user), "api_app_id": APP_ID,
        "token": "verification-token",
        "container": {"type": "message", "message_ts": "1772450000.000009",
                      "channel_id": f"D{user}", "is_ephemeral": False},
        "trigger_id": "3333.5555.select", "team": slack_team(), "enterprise": None,
        "is_enterprise_install": False, "channel": {"id": f"D{user}",
                                                    "name": "directmessage"},
        "message": {"type": "message", "user": BOT_USER_ID, "bot_id": "B0MELDBOT",
                    "text": "Takk!", "ts": "1772450000.000009"},
        "state": {"values": {}}, "response_url": url,
        "actions": [action],
    }
    r = slack.interact(payload)
    assert r.status_code == 200, r.text
    assert r.content in (b"", b"{}") or r.json() == {}  # a bare ack
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        calls = [c for c in slack.response_url_calls() if url.endswith(c.method)]
        if calls:
            said = calls[0].params
            assert said["response_type"] == "ephemeral"
            assert said["replace_original"] is False
            return str(said["text"])
        time.sleep(0.005)
    raise AssertionError("no answer on the response_url")


def as_group(slack: SlackDoor, reference: str) -> services.ReportView:
    return services.get_report(ctx=slack.ctx, actor=GROUP, reference=reference,
                               mark_read=False)


# ---------------------------------------------------------------- the modal


def test_the_modal_asks_only_the_text_and_the_box(slack: SlackDoor) -> None:
    view = opened_modal(slack)
    blocks = blocks_by_id(view)
    required = {b for b, block in blocks.items()
                if block["type"] == "input" and not block.get("optional")}
    # the kind is preselected (a deviation) and the date is today: nothing to do there
    assert required == {"kind", "description", "occurred_on", "no_ids"}
    assert blocks["kind"]["element"]["initial_option"]["value"] == "deviation"
    assert blocks["occurred_on"]["element"]["initial_date"] == slack.ctx.today().isoformat()
    assert blocks["category"]["hint"]["text"] == NB(CATEGORY_HINT)
    assert NB(CATEGORY_HINT) != CATEGORY_HINT  # translated
    assert blocks["severity"]["optional"] is True
    # someone new: nothing is proposed
    for block in ("place", "reporter_party", "concerned_party"):
        assert "initial_option" not in blocks[block]["element"], block
    assert "hint" not in blocks["place"]


def test_text_and_box_alone_are_stored_and_the_receipt_offers_the_category(
    slack_both: SlackDoor,
) -> None:
    slack = slack_both
    view = opened_modal(slack)
    state = untouched_state(view)
    state["description"] = text_state(DESCRIPTION)
    state["no_ids"] = checkbox_state(True)
    started = time.perf_counter()
    ack = slack.submit_view(view_submission("meld_report", state, view_id="V0THREE01"))
    ms = (time.perf_counter() - started) * 1000
    # the view submission is acked (in the HTTP answer) only once the report is stored
    assert ack == {"response_action": "clear"}, ack
    print(f"slack: text-only modal submitted, stored and acked in {ms:.0f} ms "
          f"({slack.ctx.db.engine.dialect.name})")
    [report] = slack.reports()
    assert (report.kind, report.reported_severity, report.occurred_on) == (
        "deviation", "unknown", slack.ctx.today())
    # left to the group, with Meld's suggestion kept (never filed under it by default)
    assert (report.category_id, report.category_source) == ("uncategorized", "none")
    assert report.suggested_category_id == "discharge_summary"
    assert report.reported_category_id is None
    assert (report.place_id, report.reporter_party, report.concerned_party) == (
        None, None, None)
    ref = report.reference

    assert slack.drain() == 2
    [dm] = dms(slack)
    line, offered = uncategorized_offer(report)
    assert offered[1].startswith("Epikrise")
    # the suggestion in one click, right under the line
    [take] = [b for b in dm["blocks"] if b.get("block_id") == "meld_take_suggestion"]
    [button] = take["elements"]
    assert (button["type"], button["action_id"], button["value"]) == (
        "button", TAKE_SUGGESTION_ACTION, f"{ref}|{offered[0]}")
    assert button["text"]["text"] == NB(CHOOSE_SUGGESTION, category=offered[1])
    assert button["text"]["text"].startswith("Velg Epikrise")
    block = receipt_select(dm)
    assert block["text"]["text"] == line
    assert line in dm["text"]
    select = block["accessory"]
    assert select["type"] == "static_select"
    assert select["action_id"] == CHANGE_CATEGORY_ACTION
    assert select["placeholder"]["text"] == NB(CHANGE_CATEGORY) == "Endre kategorien"
    labels = [g["label"]["text"] for g in select["option_groups"]]
    assert labels[-1] == NB(ALL_CATEGORIES_GROUP)
    assert labels[0] in (NB(SUGGESTIONS_GROUP), NB(ALL_CATEGORIES_GROUP))
    values = option_values(select)
    assert len(values) == len(set(values))  # each choice once
    assert all(v.startswith(f"{ref}|") and len(v) <= 150 for v in values)
    assert f"{ref}|" in values  # let the group choose
    assert f"{ref}|referral/unanswered" in values and f"{ref}|referral" in values
    texts = [o["text"]["text"] for g in select["option_groups"] for o in g["options"]]
    assert NB(LET_GROUP_CHOOSE) in texts and all(len(t) <= 75 for t in texts)
    # the answer button stays last, as on every notice
    assert dm["blocks"][-1]["elements"][0]["action_id"] == "meld_answer"

    # the reporter takes Meld's suggestion with the button
    said = choose(slack, button["value"], button=True)
    category, _, subcategory = offered[0].partition("/")
    assert said == changed_line(TAX, ref, category, subcategory or None, NB)
    seen = as_group(slack, ref)
    assert (seen.category, seen.subcategory, seen.category_source) == (
        category, subcategory or None, "reporter")

    # the reporter chooses a subcategory in the DM
    said = choose(slack, f"{ref}|referral/unanswered")
    assert said == changed_line(TAX, ref, "referral", "unanswered", NB)
    seen = as_group(slack, ref)
    assert (seen.category, seen.subcategory, seen.category_source) == (
        "referral", "unanswered", "reporter")

    # another reporter cannot change it
    said = choose(slack, f"{ref}|medication", user=OUTSIDER)
    assert said == NOT_YOURS_NB
    assert as_group(slack, ref).category == "referral"

    # "let the group choose"
    said = choose(slack, f"{ref}|")
    assert said == changed_line(TAX, ref, "uncategorized", None, NB)
    seen = as_group(slack, ref)
    assert (seen.category, seen.subcategory, seen.category_source) == (
        "uncategorized", None, "none")

    # once the group has assessed the category, it is the group's
    services.assess(ctx=slack.ctx, actor=GROUP, reference=ref, category="discharge_summary",
                    subcategory="missing")
    said = choose(slack, f"{ref}|referral")
    assert said == ASSESSED_NB and ASSESSED_NB.startswith("Forbedringsgruppen har")
    seen = as_group(slack, ref)
    assert (seen.category, seen.subcategory, seen.category_source) == (
        "discharge_summary", "missing", "group")
    assert [e.actor_id for e in slack.audit("category_changed")] == [f"slack:{REPORTER}"] * 3


def test_a_submission_with_only_the_two_blocks_is_stored(slack: SlackDoor) -> None:
    """Whatever else a (client's) modal leaves out, the text and the box are enough."""
    state = {"description": text_state(DESCRIPTION), "no_ids": checkbox_state(True)}
    ack = slack.submit_view(view_submission("meld_report", state, view_id="V0THREE02"))
    assert ack == {"response_action": "clear"}, ack
    [report] = slack.reports()
    assert (report.kind, report.occurred_on) == ("deviation", slack.ctx.today())


def test_the_box_and_the_text_are_still_required(slack: SlackDoor) -> None:
    view = opened_modal(slack)
    state = untouched_state(view)
    ack = slack.submit_view(view_submission("meld_report", state, view_id="V0THREE03"))
    assert ack["response_action"] == "errors", ack
    assert set(ack["errors"]) == {"description", "no_ids"}
    assert slack.reports() == []


def test_the_reporters_choice_in_the_modal_gets_no_select(slack: SlackDoor) -> None:
    view = opened_modal(slack)
    state = untouched_state(view)
    state.update(description=text_state(DESCRIPTION), no_ids=checkbox_state(True),
                 category={"value": {"type": "static_select", "selected_option": {
                     "text": {"type": "plain_text", "text": "Epikrise"},
                     "value": "discharge_summary"}}})
    assert slack.submit_view(view_submission("meld_report", state)) == {
        "response_action": "clear"}
    [report] = slack.reports()
    assert (report.category_id, report.category_source) == ("discharge_summary", "reporter")
    slack.drain()
    [dm] = dms(slack)
    assert "meld_category" not in {b.get("block_id") for b in dm["blocks"]}


def test_a_report_left_to_the_group_says_so(sqlite_url: str, fake_slack: FakeSlack) -> None:
    """A text with no telling words has no suggestion: "uncategorized", and the DM offers
    every category, the first choice being to leave it to the group; nothing to take."""
    sd = start_slack_door(slack_settings(sqlite_url, fake_slack), fake_slack)
    try:
        state = {"description": text_state("Hei, dette er bare en prøve."),
                 "no_ids": checkbox_state(True)}
        assert sd.submit_view(view_submission("meld_report", state)) == {
            "response_action": "clear"}
        [report] = sd.reports()
        assert (report.category_id, report.category_source) == ("uncategorized", "none")
        assert report.suggested_category_id is None
        sd.drain()
        [dm] = dms(sd)
        block = receipt_select(dm)
        assert block["text"]["text"] == category_line(
            TAX, {"category_source": "none"}, NB)
        assert f"{report.reference}|" in option_values(block["accessory"])
        assert "meld_take_suggestion" not in {b.get("block_id") for b in dm["blocks"]}
    finally:
        stop_slack_door(sd)


def test_a_group_that_opts_in_files_under_the_suggestion(sqlite_url: str,
                                                         fake_slack: FakeSlack) -> None:
    """MELD_SUGGEST_MIN_SCORE set: a likely enough suggestion is filed, and the DM says
    Meld chose it (changeable), with nothing more to take."""
    sd = start_slack_door(slack_settings(sqlite_url, fake_slack, suggest_min_score=0.5),
                          fake_slack)
    try:
        state = {"description": text_state(DESCRIPTION), "no_ids": checkbox_state(True)}
        assert sd.submit_view(view_submission("meld_report", state)) == {
            "response_action": "clear"}
        [report] = sd.reports()
        assert (report.category_id, report.category_source) == (
            "discharge_summary", "suggested")
        sd.drain()
        [dm] = dms(sd)
        assert "Meld foreslo den ut fra teksten din" in receipt_select(dm)["text"]["text"]
        assert "meld_take_suggestion" not in {b.get("block_id") for b in dm["blocks"]}
    finally:
        stop_slack_door(sd)


def test_the_database_down_answers_the_select(dead_slack: SlackDoor) -> None:
    said = choose(dead_slack, "MELD-2026-0001|referral")
    assert said == error_text("database_unavailable", NB)


# ---------------------------------------------------------------- defaults from the last report


def test_the_modal_proposes_place_and_parties_of_the_last_report(slack: SlackDoor) -> None:
    slack.seed_report(place="melhus", reporter_party="municipality",
                      concerned_party="hospital")
    view = opened_modal(slack, text="Epikrisen kom ikke fram")
    blocks = blocks_by_id(view)
    assert blocks["place"]["element"]["initial_option"]["value"] == "melhus"
    assert blocks["place"]["hint"]["text"] == NB(PLACE_HINT_REMEMBERED)
    assert blocks["reporter_party"]["element"]["initial_option"]["value"] == "municipality"
    assert blocks["concerned_party"]["element"]["initial_option"]["value"] == "hospital"
    # the /meld text is kept beside them
    assert blocks["description"]["element"]["initial_value"] == "Epikrisen kom ikke fram"
    # the initial option is one of the options, as Slack requires
    options = [o for g in blocks["place"]["element"]["option_groups"] for o in g["options"]]
    assert blocks["place"]["element"]["initial_option"] in options

    # another reporter, next: the cached blank form was not changed by the first
    other = blocks_by_id(opened_modal(slack, user=OUTSIDER, index=1))
    assert "initial_option" not in other["place"]["element"]
    assert "hint" not in other["place"]

    # submitted as proposed (Slack sends the initial options as chosen), they are stored
    state = untouched_state(view)
    state["no_ids"] = checkbox_state(True)
    assert slack.submit_view(view_submission("meld_report", state, view_id="V0THREE04")) \
        == {"response_action": "clear"}
    latest = slack.reports()[-1]
    assert (latest.place_id, latest.reporter_party, latest.concerned_party) == (
        "melhus", "municipality", "hospital")


@pytest.mark.parametrize("how", ["global_shortcut", "home_button"])
def test_the_other_doors_to_the_form_propose_them_too(slack: SlackDoor, how: str) -> None:
    slack.seed_report(place="melhus")
    if how == "global_shortcut":
        r = slack.interact({
            "type": "shortcut", "token": "verification-token",
            "action_ts": "1772450000.000300", "team": slack_team(),
            "user": slack_user(REPORTER), "is_enterprise_install": False, "enterprise": None,
            "callback_id": "meld_global", "trigger_id": "7777.2.shortcut"})
    else:
        r = slack.interact({
            "type": "block_actions", "user": slack_user(REPORTER), "api_app_id": APP_ID,
            "token": "verification-token", "container": {"type": "view", "view_id": "VHOME1"},
            "trigger_id": "7777.3.home", "team": slack_team(), "enterprise": None,
            "is_enterprise_install": False,
            "actions": [{"action_id": "meld_new", "block_id": "home", "type": "button",
                         "text": {"type": "plain_text", "text": "Ny melding"},
                         "action_ts": "1772450001.000300"}]})
    assert r.status_code == 200, r.text
    view = slack.opened_view()
    assert blocks_by_id(view)["place"]["element"]["initial_option"]["value"] == "melhus"


def test_with_the_database_down_the_modal_still_opens(dead_slack: SlackDoor) -> None:
    view = opened_modal(dead_slack, text="Epikrisen kom ikke")
    blocks = blocks_by_id(view)
    assert blocks["description"]["element"]["initial_value"] == "Epikrisen kom ikke"
    assert "initial_option" not in blocks["place"]["element"]


# ---------------------------------------------------------------- the DM, rendered


def _receipt(payload: dict[str, Any], reference: str = "MELD-2026-0042") -> Notification:
    return Notification(id=1, channel="slack", recipient="slack:U123", event="receipt",
                        payload={"reference": reference, "formal_guidance": False,
                                 "feedback_by": "2026-03-16", **payload},
                        reference=reference, locale="nb", message=None, attempt=1)


def test_the_receipt_select_lists_suggestions_first_and_validates() -> None:
    note = _receipt({"category": "referral", "subcategory": None,
                     "category_source": "suggested",
                     "alternatives": ["referral", "medication", "nonexistent"]})
    text, blocks = render(note, NB, TAX)  # to_dict() validated every block
    [block] = [b for b in blocks if b.get("block_id") == "meld_category"]
    groups = block["accessory"]["option_groups"]
    assert [g["label"]["text"] for g in groups] == ["Forslag fra Meld", "Alle kategorier"]
    assert [o["value"] for o in groups[0]["options"]] == [
        "MELD-2026-0042|referral", "MELD-2026-0042|medication", "MELD-2026-0042|"]
    rest = [o["value"] for o in groups[1]["options"]]
    assert "MELD-2026-0042|referral" not in rest and "MELD-2026-0042|referral/unanswered" in rest
    assert "Henvisning" in block["text"]["text"] and "Henvisning" in text
    # without the taxonomy (the old notifier) or for the reporter's own choice: no select
    assert "meld_category" not in json.dumps(render(note, NB)[1])
    chosen = _receipt({"category": "referral", "category_source": "reporter"})
    assert "meld_category" not in json.dumps(render(chosen, NB, TAX)[1])
    # another notice never has it
    other = Notification(id=2, channel="slack", recipient="slack:U123", event="status_changed",
                         payload={"reference": "MELD-2026-0042", "status": "triage",
                                  "category_source": "suggested"},
                         reference="MELD-2026-0042", locale="nb", message=None, attempt=1)
    assert "meld_category" not in json.dumps(render(other, NB, TAX)[1])

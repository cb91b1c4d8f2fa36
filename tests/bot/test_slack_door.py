"""The Slack door over real HTTP: signed Slack requests to the real app, a fake Web API.

Every test starts `create_app(...)` with Slack on (HTTP mode) behind uvicorn on loopback,
with a FakeSlack as the Web API. Requests carry Slack's signature headers; listeners that
work after the ack are observed through the Web API calls FakeSlack records.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from faker import Faker

from bot.slack.notifier import quote_mrkdwn
from intake import services
from intake.domain.model import Actor, Role
from tests.bot.conftest import (
    DESCRIPTION,
    GROUP_USER,
    OUTSIDER,
    REPORTER,
    TRIAGE_CHANNEL,
    SlackDoor,
    block_action,
    report_values,
    sign,
    slack_settings,
    slack_team,
    slack_user,
    start_slack_door,
    stop_slack_door,
    text_state,
    view_submission,
)
from tests.doors.conftest import csrf_of, settings_for, start_door
from tests.slack_fake import FakeSlack

DENIED_NB = "Bare Forbedringsgruppen kan gjøre dette."
RECEIPT_NB = "Takk! Meldingen din er mottatt med referanse"
PHONE_TEXT = "Fastlegen ringte avdelingen på 918 23 456 uten å få svar om epikrisen."
GROUP = Actor(identity=f"slack:{GROUP_USER}", role=Role.TRIAGER)


def said(r: Any) -> str:
    """What a slash command's ack says (Bolt answers ack(text=...) as plain text)."""
    assert r.status_code == 200, r.text
    return str(r.text)


def blocks_by_id(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in view["blocks"] if "block_id" in b}


def all_text(obj: Any) -> str:
    """Every string in a (JSON) structure, for 'does this view mention X' checks."""
    return json.dumps(obj, ensure_ascii=False)


def submit_report_modal(slack: SlackDoor, *, view_id: str = "V0SUBMIT01", user: str = REPORTER,
                        metadata: str = "{}", **values: Any) -> dict[str, Any]:
    return slack.submit_view(view_submission("meld_report", report_values(**values),
                                             view_id=view_id, user=user,
                                             private_metadata=metadata))


def posted_to(slack: SlackDoor, channel: str) -> list[dict[str, Any]]:
    return [c.params for c in slack.fake.calls_to("chat.postMessage")
            if c.params.get("channel") == channel and c.status == 200]


# ---------------------------------------------------------------- 1. opening the report modal


def test_meld_command_acks_before_it_opens_the_prefilled_modal(slack: SlackDoor) -> None:
    # Slack takes its time over views.open: the ack may not wait for it (nor for the
    # form's defaults, read after the ack). How fast the ack is, make bench measures.
    slack.fake.fail("views.open", hang=5)
    r = slack.command("/meld", "Epikrisen kom ikke fram", user=REPORTER)
    assert r.status_code == 200, r.text
    assert r.text == ""  # a bare ack: nothing is said in the channel
    assert all(not c.response for c in slack.fake.calls_to("views.open")), \
        "the ack waited for views.open"
    view = slack.opened_view()
    call = slack.fake.calls_to("views.open")[0]
    assert call.params["trigger_id"].endswith(".command")
    assert call.token == "xoxb-test"
    assert view["type"] == "modal"
    assert view["callback_id"] == "meld_report"
    assert blocks_by_id(view)["description"]["element"]["initial_value"] == \
        "Epikrisen kom ikke fram"
    assert json.loads(view["private_metadata"]) == {}


def test_global_shortcut_opens_the_empty_modal(slack: SlackDoor) -> None:
    r = slack.interact({
        "type": "shortcut", "token": "verification-token", "action_ts": "1772450000.000300",
        "team": slack_team(), "user": slack_user(REPORTER), "is_enterprise_install": False,
        "enterprise": None, "callback_id": "meld_global", "trigger_id": "7777.1.shortcut",
    })
    assert r.status_code == 200, r.text
    view = slack.opened_view()
    assert slack.fake.calls_to("views.open")[0].params["trigger_id"] == "7777.1.shortcut"
    assert view["callback_id"] == "meld_report"
    assert "initial_value" not in blocks_by_id(view)["description"]["element"]


def message_shortcut(slack: SlackDoor, text: str) -> dict[str, Any]:
    return {
        "type": "message_action", "token": "verification-token",
        "action_ts": "1772450000.000400", "team": slack_team(), "user": slack_user(REPORTER),
        "channel": {"id": "C0LEGEVAKT", "name": "legevakt"}, "is_enterprise_install": False,
        "enterprise": None, "callback_id": "meld_message", "trigger_id": "8888.1.message",
        "message_ts": "1772449000.000200",
        "message": {"client_msg_id": "5b4c1d2e-0000-4000-8000-000000000001",
                    "type": "message", "text": text, "user": "U0OTHER1",
                    "ts": "1772449000.000200", "team": "T0MELD001", "blocks": []},
        "response_url": slack.response_url(),
    }


def test_message_shortcut_prefills_text_and_keeps_the_permalink(slack: SlackDoor) -> None:
    text = "Henvisningen ble returnert uten begrunnelse."
    r = slack.interact(message_shortcut(slack, text))
    assert r.status_code == 200, r.text
    view = slack.opened_view()
    link_call = slack.wait_for("chat.getPermalink")[0]
    assert link_call.params["channel"] == "C0LEGEVAKT"
    assert link_call.params["message_ts"] == "1772449000.000200"
    link = "https://meld-test.slack.com/archives/C0LEGEVAKT/p1772449000000200"
    assert view["callback_id"] == "meld_report"
    assert blocks_by_id(view)["description"]["element"]["initial_value"] == text
    assert json.loads(view["private_metadata"]) == {"link": link}
    # the link travels with the submission and is stored with the report
    ack = submit_report_modal(slack, metadata=view["private_metadata"], description=text)
    assert ack == {"response_action": "clear"}
    [report] = slack.reports()
    assert report.source_link == link


@pytest.mark.parametrize("how", ["slash_command", "message_shortcut"])
def test_slack_escaping_is_undone_in_the_prefilled_text(slack: SlackDoor, how: str) -> None:
    # Slack sends typed &, < and > as &amp; &lt; &gt; in command text and message text.
    escaped = "Ventetid &gt; 4 timer &amp; ingen &lt;beskjed&gt; til fastlegen"
    if how == "slash_command":
        assert slack.command("/meld", escaped, user=REPORTER).status_code == 200
    else:
        assert slack.interact(message_shortcut(slack, escaped)).status_code == 200
    view = slack.opened_view()
    assert blocks_by_id(view)["description"]["element"]["initial_value"] == \
        "Ventetid > 4 timer & ingen <beskjed> til fastlegen"


# ---------------------------------------------------------------- 2. submitting a report


def test_valid_submission_is_stored_and_acknowledged_in_slack(slack_both: SlackDoor) -> None:
    slack = slack_both
    ack = submit_report_modal(slack)
    assert ack == {"response_action": "clear"}
    [report] = slack.reports()
    assert report.reporter_id == f"slack:{REPORTER}"
    assert report.channel == "slack"
    assert report.description == DESCRIPTION
    assert (report.category_id, report.subcategory_id) == ("discharge_summary", "missing")
    assert report.idempotency_key == "slack:V0SUBMIT01"
    ref = report.reference

    assert slack.drain() == 2
    [opened] = slack.fake.calls_to("conversations.open")
    assert opened.params["users"] == REPORTER
    [dm] = posted_to(slack, f"D{REPORTER}")
    assert ref in dm["text"] and RECEIPT_NB in dm["text"]
    assert RECEIPT_NB in all_text(dm["blocks"])
    dm_buttons = [e for b in dm["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [(b["action_id"], b["value"]) for b in dm_buttons] == [("meld_answer", ref)]
    [card] = posted_to(slack, TRIAGE_CHANNEL)
    assert ref in card["text"]
    buttons = [e for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {(b["action_id"], b["value"]) for b in buttons} == {
        ("triage_show", ref), ("triage_assess", ref), ("triage_reply", ref)}
    # the card is coded fields only: the free text stays out of the channel
    assert "Epikrise manglet" not in all_text(card)
    assert "fastlegen fikk ingen beskjed" not in all_text(card)


def test_good_collaboration_needs_no_severity_and_is_thanked(slack: SlackDoor) -> None:
    assert blocks_by_id(slack_modal_of(slack))["severity"]["optional"] is True
    ack = submit_report_modal(slack, kind="good_collaboration", severity=None,
                              description="Legevakten fikk beskjed i god tid. Takk!")
    assert ack == {"response_action": "clear"}
    [report] = slack.reports()
    assert (report.kind, report.reported_severity) == ("good_collaboration", "none")
    assert slack.drain() == 2
    [dm] = posted_to(slack, f"D{REPORTER}")
    assert "Takk for at du forteller oss hva som fungerte!" in dm["text"]
    assert RECEIPT_NB not in dm["text"] and "senest" not in dm["text"]
    # the group's card says what it is, and shows no severity
    [card] = posted_to(slack, TRIAGE_CHANNEL)
    text = all_text(card["blocks"])
    assert "Godt samarbeid: noe som fungerte. Ikke et avvik; telles for seg." in text
    assert "Ingen eller ubetydelig konsekvens" not in text


def slack_modal_of(slack: SlackDoor) -> dict[str, Any]:
    """The report modal /meld opens."""
    assert slack.command("/meld", "", user=REPORTER).status_code == 200
    return slack.opened_view()


# ---------------------------------------------------------------- 3. validation in the modal


def test_missing_fields_come_back_as_errors_on_their_blocks(slack: SlackDoor) -> None:
    # only the text and the no-identifiers box are required: the category and the
    # severity may be left empty (filed under Meld's suggestion, of unknown severity)
    ack = submit_report_modal(slack, severity=None, category=None, no_ids=False,
                              description="")
    assert ack["response_action"] == "errors", ack
    assert set(ack["errors"]) == {"no_ids", "description"}
    assert ack["errors"]["description"] == "Dette feltet må fylles ut."
    assert slack.reports() == []
    ack = submit_report_modal(slack, severity=None, category=None)
    assert ack == {"response_action": "clear"}, ack
    [report] = slack.reports()
    assert report.reported_severity == "unknown"
    assert report.category_source in ("suggested", "none")


def test_national_identity_number_is_refused_in_norwegian(slack: SlackDoor) -> None:
    faker = Faker("no_NO")
    faker.seed_instance(20260302)
    ssn = faker.ssn()
    ack = submit_report_modal(slack, description=f"Gjelder pasient {ssn}, epikrise manglet.")
    assert ack["response_action"] == "errors", ack
    assert "fødselsnummer" in ack["errors"]["description"]
    assert ssn not in all_text(ack)
    assert slack.reports() == []
    assert slack.door.stored_nothing()


def test_phone_number_asks_for_confirmation_and_keeps_the_input(slack: SlackDoor) -> None:
    ack = submit_report_modal(slack, view_id="V0PHONE01", description=PHONE_TEXT)
    assert ack["response_action"] == "update", ack
    view = ack["view"]
    assert view["callback_id"] == "meld_report"
    blocks = blocks_by_id(view)
    assert "confirm_warnings" in blocks
    assert blocks["description"]["element"]["initial_value"] == PHONE_TEXT
    assert blocks["severity"]["element"]["initial_option"]["value"] == "minor"
    assert blocks["category"]["element"]["initial_option"]["value"] == \
        "discharge_summary/missing"
    assert "telefonnummer" in all_text(view)
    assert slack.reports() == []
    # the same view (Slack keeps the id on update), now with the box ticked
    ack = submit_report_modal(slack, view_id="V0PHONE01", description=PHONE_TEXT,
                              confirm_warnings=True)
    assert ack == {"response_action": "clear"}
    [report] = slack.reports()
    assert report.description == PHONE_TEXT


# ---------------------------------------------------------------- 4. double delivery


def test_the_same_submission_twice_stores_one_report(slack: SlackDoor) -> None:
    assert submit_report_modal(slack, view_id="V0TWICE01") == {"response_action": "clear"}
    assert submit_report_modal(slack, view_id="V0TWICE01") == {"response_action": "clear"}
    assert len(slack.reports()) == 1
    assert slack.drain() == 2  # one receipt, one card
    assert len(posted_to(slack, f"D{REPORTER}")) == 1


# ---------------------------------------------------------------- 5. database down


def test_database_down_keeps_the_modal_with_a_norwegian_error(dead_slack: SlackDoor) -> None:
    ack = submit_report_modal(dead_slack)
    assert ack["response_action"] == "errors", ack
    assert "databasen" in ack["errors"]["description"]
    time.sleep(0.2)
    assert dead_slack.fake.calls_to("conversations.open") == []
    assert dead_slack.fake.calls_to("chat.postMessage") == []


@pytest.mark.parametrize(("user", "expected"), [
    (GROUP_USER, "databasen"),      # a member learns the database is down
    (OUTSIDER, DENIED_NB),          # an outsider is refused as always (audit skipped, logged)
])
def test_triage_with_the_database_down_answers_in_norwegian(dead_slack: SlackDoor,
                                                             user: str, expected: str) -> None:
    started = time.monotonic()
    r = dead_slack.command("/triage", "liste", user=user)
    assert r.status_code == 200, r.text
    assert time.monotonic() - started < 2.5
    assert expected in said(r)


# ---------------------------------------------------------------- 6. /triage


def test_triage_by_a_non_member_is_refused_and_audited(slack: SlackDoor) -> None:
    ref = slack.seed_report()
    for user in (OUTSIDER, REPORTER):
        r = slack.command("/triage", f"vis {ref}", user=user)
        assert r.status_code == 200, r.text
        assert said(r) == DENIED_NB
    denied = slack.audit("denied")
    assert [(e.actor_id, e.actor_role, e.details) for e in denied] == [
        (f"slack:{OUTSIDER}", "reporter", {"attempted": "slack:/triage"}),
        (f"slack:{REPORTER}", "reporter", {"attempted": "slack:/triage"}),
    ]
    time.sleep(0.1)
    assert slack.fake.calls_to("views.open") == []


def test_triage_commands_by_the_group(slack_both: SlackDoor) -> None:
    slack = slack_both
    ref = slack.seed_report()

    r = slack.command("/triage", "hjelp")
    assert said(r).startswith("Kommandoer for Forbedringsgruppen")
    r = slack.command("/triage", "liste")
    assert ref in said(r)

    # svar: Slack's escaping is undone before the text is stored
    r = slack.command("/triage", f"svar {ref} Vi ser på det &lt;nå&gt; &amp; svarer snart")
    assert r.status_code == 200 and ref in said(r)
    [msg] = slack.messages()
    assert (msg.direction, msg.author_id) == ("group", f"slack:{GROUP_USER}")
    assert msg.body == "Vi ser på det <nå> & svarer snart"
    slack.drain()
    replies = [p for p in posted_to(slack, f"D{REPORTER}") if "har svart" in p["text"]]
    assert len(replies) == 1
    assert f"Forbedringsgruppen har svart på {ref}" in replies[0]["text"]
    assert quote_mrkdwn("Vi ser på det <nå> & svarer snart") in replies[0]["text"]
    assert any(b.get("type") == "actions" for b in replies[0]["blocks"])

    r = slack.command("/triage", f"tildel {ref} <@{GROUP_USER}|kari>")
    assert ref in said(r)
    assert slack.reports()[0].assignee == f"slack:{GROUP_USER}"

    r = slack.command("/triage", f"status {ref} tiltak")
    assert r.status_code == 200 and ref in said(r)
    assert slack.reports()[0].status == "in_progress"

    # vis, vurder and lukk open modals (the ack itself says nothing)
    r = slack.command("/triage", f"vis {ref}")
    assert r.status_code == 200 and r.text == ""
    detail = slack.opened_view(0)
    assert detail["title"]["text"] == ref
    assert DESCRIPTION in all_text(detail)

    slack.command("/triage", f"vurder {ref}")
    assess = slack.opened_view(1)
    assert assess["callback_id"] == "triage_assess"
    assert json.loads(assess["private_metadata"]) == {"reference": ref}

    slack.command("/triage", f"lukk {ref}")
    close = slack.opened_view(2)
    assert close["callback_id"] == "triage_close"
    assert json.loads(close["private_metadata"]) == {"reference": ref}
    assert {"learning_point", "measure"} <= set(blocks_by_id(close))

    ack = slack.submit_view(view_submission(
        "triage_close", {"learning_point": text_state("Epikrise sendes før utskriving."),
                         "measure": text_state("Sjekkliste innført på sengeposten.")},
        view_id="V0CLOSE01", private_metadata=close["private_metadata"], user=GROUP_USER))
    assert ack == {"response_action": "clear"}
    report = slack.reports()[0]
    assert report.status == "closed"
    assert report.learning_point == "Epikrise sendes før utskriving."
    assert report.measure == "Sjekkliste innført på sengeposten."

    r = slack.command("/triage", "tull og tøys")
    text = said(r)
    assert text.startswith("Ukjent kommando «tull»")
    assert "Kommandoer for Forbedringsgruppen" in text


def test_close_modal_by_a_non_member_is_refused(slack: SlackDoor) -> None:
    ref = slack.seed_report()
    ack = slack.submit_view(view_submission(
        "triage_close", {"learning_point": text_state("x"), "measure": text_state("y")},
        private_metadata=json.dumps({"reference": ref}), user=OUTSIDER))
    assert ack["response_action"] == "errors"
    assert DENIED_NB in all_text(ack["errors"])
    assert slack.reports()[0].status == "received"
    assert [e.details for e in slack.audit("denied")] == [{"attempted": "slack:modal"}]


# ---------------------------------------------------------------- the group as a Slack user group


@pytest.fixture
def group_slack(sqlite_url: str, fake_slack: FakeSlack) -> Iterator[SlackDoor]:
    """Forbedringsgruppen as a Slack user group (S0GROUP), no configured member ids."""
    fake_slack.usergroups["S0GROUP"] = ["UMEMBER1"]
    settings = slack_settings(sqlite_url, fake_slack, slack_group_members="",
                              slack_group_usergroup="S0GROUP")
    sd = start_slack_door(settings, fake_slack)
    try:
        yield sd
    finally:
        stop_slack_door(sd)


def test_user_group_members_may_triage(group_slack: SlackDoor) -> None:
    assert said(group_slack.command("/triage", "hjelp", user="UMEMBER1")).startswith(
        "Kommandoer for Forbedringsgruppen")
    assert said(group_slack.command("/triage", "hjelp", user=OUTSIDER)) == DENIED_NB
    [lookup] = group_slack.fake.calls_to("usergroups.users.list")  # cached: asked once
    assert lookup.params["usergroup"] == "S0GROUP"


def test_user_group_is_looked_up_shortly_after_boot(group_slack: SlackDoor,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # time.monotonic() counts from boot on Linux: a host (or CI VM) up for less than
    # MEMBERS_TTL (300 s) must still look the group up on the first command.
    import types

    import bot.slack.listeners as listeners

    offset = time.monotonic() - 30.0  # as if the machine booted 30 s ago
    monkeypatch.setattr(listeners, "time",
                        types.SimpleNamespace(monotonic=lambda: time.monotonic() - offset))
    r = group_slack.command("/triage", "hjelp", user="UMEMBER1")
    assert said(r).startswith("Kommandoer for Forbedringsgruppen")


def test_user_group_lookup_failure_still_answers(group_slack: SlackDoor) -> None:
    group_slack.fake.fail("usergroups.users.list", error="missing_scope")
    started = time.monotonic()
    r = group_slack.command("/triage", "hjelp", user="UMEMBER1")
    assert r.status_code == 200, f"{r.status_code}: {r.text}"  # never a 500 to Slack
    assert time.monotonic() - started < 2.5
    assert said(r)  # the user is told something (a refusal or "try again")


# ---------------------------------------------------------------- 7. card buttons


def test_card_buttons_open_modals_for_the_group(slack: SlackDoor) -> None:
    ref = slack.seed_report()
    for i, action in enumerate(("triage_show", "triage_assess", "triage_reply")):
        r = slack.interact(block_action(action, ref, user=GROUP_USER,
                                        response_url=slack.response_url(),
                                        trigger_id=f"9999.{i}.card"))
        assert r.status_code == 200, r.text
        slack.wait_for("views.open", i + 1)
    calls = slack.fake.calls_to("views.open")
    assert [c.params["trigger_id"] for c in calls] == ["9999.0.card", "9999.1.card",
                                                       "9999.2.card"]
    show, assess, reply = (c.json_param("view") for c in calls)
    assert show["title"]["text"] == ref and DESCRIPTION in all_text(show)
    assert assess["callback_id"] == "triage_assess"
    assert reply["callback_id"] == "triage_reply"
    assert json.loads(reply["private_metadata"])["reference"] == ref

    # the assessment modal, submitted, is stored
    ack = slack.submit_view(view_submission(
        "triage_assess", {"category": {"value": {"type": "static_select", "selected_option": {
            "value": "referral/rejected_or_returned",
            "text": {"type": "plain_text", "text": "Henvisning"}}}},
            "assessed_severity": {"value": {"type": "static_select", "selected_option": {
                "value": "moderate", "text": {"type": "plain_text", "text": "Moderat"}}}},
            "agreement_reference": text_state("Samarbeidsavtalen 4.2")},
        view_id="V0ASSESS1", private_metadata=assess["private_metadata"], user=GROUP_USER))
    assert ack == {"response_action": "clear"}, ack
    report = slack.reports()[0]
    assert (report.category_id, report.subcategory_id, report.assessed_severity,
            report.agreement_reference, report.status) == (
        "referral", "rejected_or_returned", "moderate", "Samarbeidsavtalen 4.2", "triage")

    # the reply modal, submitted, reaches the reporter
    ack = slack.submit_view(view_submission(
        "triage_reply", {"text": text_state("Takk, vi har tatt det opp med sykehuset.")},
        view_id="V0REPLY01", private_metadata=reply["private_metadata"], user=GROUP_USER))
    assert ack == {"response_action": "clear"}
    [msg] = slack.messages()
    assert (msg.direction, msg.body) == ("group", "Takk, vi har tatt det opp med sykehuset.")
    assert slack.response_url_calls() == []


@pytest.mark.parametrize("action", ["triage_show", "triage_assess", "triage_reply"])
def test_card_buttons_refuse_a_non_member(slack: SlackDoor, action: str) -> None:
    ref = slack.seed_report()
    url = slack.response_url()
    r = slack.interact(block_action(action, ref, user=OUTSIDER, response_url=url))
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 5
    while not slack.response_url_calls() and time.monotonic() < deadline:
        time.sleep(0.005)
    [call] = slack.response_url_calls()
    assert url.endswith(call.method)
    assert call.params["text"] == DENIED_NB
    assert call.params["response_type"] == "ephemeral"
    assert call.params["replace_original"] is False
    assert [(e.actor_id, e.details) for e in slack.audit("denied")] == [
        (f"slack:{OUTSIDER}", {"attempted": "slack:card"})]
    assert slack.fake.calls_to("views.open") == []


# ---------------------------------------------------------------- 8. the reporter's answer


def test_reporter_answers_from_the_dm_button(slack: SlackDoor) -> None:
    ref = slack.seed_report()
    r = slack.interact(block_action("meld_answer", ref, user=REPORTER,
                                    response_url=slack.response_url()))
    assert r.status_code == 200, r.text
    view = slack.opened_view()
    assert view["callback_id"] == "meld_answer"
    meta = json.loads(view["private_metadata"])
    assert meta["reference"] == ref
    assert "Skriv til Forbedringsgruppen" in all_text(view)

    # a phone number: the modal is updated with a confirm box, the text kept
    ack = slack.submit_view(view_submission("meld_answer", {"text": text_state(PHONE_TEXT)},
                                            view_id="V0ANSWER1",
                                            private_metadata=view["private_metadata"]))
    assert ack["response_action"] == "update", ack
    blocks = blocks_by_id(ack["view"])
    assert "confirm_warnings" in blocks
    assert blocks["text"]["element"]["initial_value"] == PHONE_TEXT
    assert json.loads(ack["view"]["private_metadata"])["reference"] == ref
    assert slack.messages() == []

    values = {"text": text_state(PHONE_TEXT), "confirm_warnings": {"value": {
        "type": "checkboxes", "selected_options": [{"value": "yes", "text": {
            "type": "plain_text", "text": "ok"}}]}}}
    ack = slack.submit_view(view_submission("meld_answer", values, view_id="V0ANSWER1",
                                            private_metadata=ack["view"]["private_metadata"]))
    assert ack == {"response_action": "clear"}
    [msg] = slack.messages()
    assert (msg.direction, msg.author_id, msg.body) == (
        "reporter", f"slack:{REPORTER}", PHONE_TEXT)


def test_answer_on_someone_elses_report_is_refused(slack: SlackDoor) -> None:
    ref = slack.seed_report()
    ack = slack.submit_view(view_submission(
        "meld_answer", {"text": text_state("Dette er mitt svar.")}, user=OUTSIDER,
        private_metadata=json.dumps({"reference": ref, "title": "Svar", "label": "x"})))
    assert ack["response_action"] == "errors"
    assert "Du kan bare se dine egne meldinger." in ack["errors"]["text"]
    assert slack.messages() == []


# ---------------------------------------------------------------- 9. App Home


def home_event(user: str) -> dict[str, Any]:
    return {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": "home",
            "event_ts": f"{time.time():.6f}"}


def test_app_home_lists_my_reports_and_the_groups_last_reply(slack: SlackDoor) -> None:
    mine = slack.seed_report()
    other = slack.seed_report(user=OUTSIDER)
    services.reply(ctx=slack.ctx, actor=GROUP, reference=mine, text="Første svar.")
    services.reply(ctx=slack.ctx, actor=GROUP, reference=mine, text="Vi har rettet rutinen.")
    r = slack.event(home_event(REPORTER), event_id="Ev0HOME001")
    assert r.status_code == 200, r.text
    [call] = slack.wait_for("views.publish")
    assert call.params["user_id"] == REPORTER
    view = call.json_param("view")
    assert view["type"] == "home"
    text = all_text(view)
    assert "Mine meldinger" in text
    assert mine in text and other not in text
    assert "Vi har rettet rutinen." in text and "Første svar." not in text


# ---------------------------------------------------------------- 10. Events API retries


def test_a_retried_event_is_acknowledged_but_not_run_twice(slack: SlackDoor) -> None:
    assert slack.event(home_event(REPORTER), event_id="Ev0RETRY01").status_code == 200
    slack.wait_for("views.publish", 1)
    r = slack.event(home_event(REPORTER), event_id="Ev0RETRY01",
                    headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert r.status_code == 200, r.text
    assert slack.event(home_event(OUTSIDER), event_id="Ev0OTHER01").status_code == 200
    calls = slack.wait_for("views.publish", 2)
    time.sleep(0.2)  # a wrongly re-run retry would publish by now
    calls = slack.fake.calls_to("views.publish")
    assert [c.params["user_id"] for c in calls] == [REPORTER, OUTSIDER]
    # a retry whose first delivery never arrived is the first we see: it is processed
    r = slack.event(home_event(GROUP_USER), event_id="Ev0LOST001",
                    headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"})
    assert r.status_code == 200
    calls = slack.wait_for("views.publish", 3)
    assert calls[2].params["user_id"] == GROUP_USER


# ---------------------------------------------------------------- 11. the signature guard


def _meld_body() -> bytes:
    return (b"token=x&team_id=T0MELD001&user_id=UREPORT1&command=%2Fmeld&text=hei"
            b"&trigger_id=1.2.guard&response_url=http%3A%2F%2F127.0.0.1%3A9%2Fx&api_app_id=A1")


def _now() -> str:
    return str(int(time.time()))


GUARD_CASES: dict[str, Any] = {
    "non_numeric_timestamp": lambda b: {"X-Slack-Request-Timestamp": "abc",
                                        "X-Slack-Signature": sign(b, "abc")},
    "fifty_digit_timestamp": lambda b: {"X-Slack-Request-Timestamp": "9" * 50,
                                        "X-Slack-Signature": sign(b, "9" * 50)},
    "negative_timestamp": lambda b: {"X-Slack-Request-Timestamp": "-1",
                                     "X-Slack-Signature": sign(b, "-1")},
    "far_future_12_digits": lambda b: {"X-Slack-Request-Timestamp": "999999999999",
                                       "X-Slack-Signature": sign(b, "999999999999")},
    "missing_headers": lambda b: {},
    "missing_signature": lambda b: {"X-Slack-Request-Timestamp": _now()},
    "missing_timestamp": lambda b: {"X-Slack-Signature": sign(b, _now())},
    "malformed_signature": lambda b: {"X-Slack-Request-Timestamp": _now(),
                                      "X-Slack-Signature": "v0=not-hex"},
    "other_scheme": lambda b: {"X-Slack-Request-Timestamp": _now(),
                               "X-Slack-Signature": "v1=" + sign(b, _now())[3:]},
    "wrong_signature": lambda b: {"X-Slack-Request-Timestamp": _now(),
                                  "X-Slack-Signature": "v0=" + "0" * 64},
    "wrong_secret": lambda b: {"X-Slack-Request-Timestamp": _now(),
                               "X-Slack-Signature": sign(b, _now(), "another-secret")},
    "stale_timestamp": lambda b: {"X-Slack-Request-Timestamp": str(int(time.time()) - 600),
                                  "X-Slack-Signature": sign(b, str(int(time.time()) - 600))},
    "future_timestamp": lambda b: {"X-Slack-Request-Timestamp": str(int(time.time()) + 600),
                                   "X-Slack-Signature": sign(b, str(int(time.time()) + 600))},
}


def test_signature_guard_refuses_bad_requests_with_401(slack: SlackDoor) -> None:
    body = _meld_body()
    results = {}
    for name, make in GUARD_CASES.items():
        headers = {"Content-Type": "application/x-www-form-urlencoded", **make(body)}
        r = slack.http.post("/slack/events", content=body, headers=headers)
        results[name] = r.status_code
    assert results == dict.fromkeys(GUARD_CASES, 401)
    # a signed body that was changed on the way
    ts = _now()
    r = slack.http.post("/slack/events", content=body + b"&x=1", headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(body, ts)})
    assert r.status_code == 401
    time.sleep(0.1)
    assert slack.fake.calls_to("views.open") == []
    # and the same body, signed properly, goes through
    assert slack.post(body, "application/x-www-form-urlencoded").status_code == 200
    slack.wait_for("views.open")


# ---------------------------------------------------------------- 12. Slack off


@pytest.fixture
def plain_door(sqlite_url: str) -> Iterator[Any]:
    d = start_door(settings_for(sqlite_url))
    try:
        yield d
    finally:
        d.close()
        d.server.stop(wait=False)


def test_without_a_bot_token_there_is_no_slack_route(plain_door: Any) -> None:
    client = plain_door.client()
    body = _meld_body()
    ts = _now()
    r = client.post("/slack/events", content=body, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(body, ts)})
    assert r.status_code == 404
    assert plain_door.app.state.slack is None
    page = client.get("/")
    assert page.status_code == 200
    csrf_of(page.text)  # the web form is served


def test_without_a_signing_secret_there_is_no_http_route(sqlite_url: str,
                                                         fake_slack: FakeSlack) -> None:
    settings = slack_settings(sqlite_url, fake_slack, slack_signing_secret=None)
    sd = start_slack_door(settings, fake_slack)
    try:
        r = sd.command("/meld", "hei")
        assert r.status_code == 404
        assert sd.door.app.state.slack is not None  # Slack is on (Socket Mode would carry it)
    finally:
        stop_slack_door(sd)

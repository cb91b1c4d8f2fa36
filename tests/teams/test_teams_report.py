"""Reporting in Teams: the chat form, errors and warnings, retries, the message action."""

from __future__ import annotations

from faker import Faker

from intake.domain.model import Channel
from tests.teams.conftest import (
    DESCRIPTION,
    REPORTER,
    TeamsHarness,
    card_texts,
    find_input,
    form_data,
)


def test_meld_in_personal_chat_opens_the_form_with_its_own_key(teams: TeamsHarness) -> None:
    r = teams.message("meld")
    assert r.status_code == 200
    teams.wait_replies()
    sent = teams.ms.wait_sent(1)[0]
    assert sent.method == "POST"
    assert sent.path.endswith("/activities/f%3Aactivity-1")  # a reply to the message
    card = sent.card
    assert card is not None and card["version"] == "1.5"
    ids = {e.get("id") for e in card["body"]}
    assert {"kind", "category", "description", "occurred_on", "severity", "no_ids"} <= ids
    action = card["actions"][0]
    assert action["type"] == "Action.Execute" and action["verb"] == "meld_submit"
    assert len(action["data"]["key"]) >= 20
    assert "Ny melding" in card_texts(card)  # bokmål
    # a second form gets another key
    teams.message("ny")
    teams.wait_replies()
    second = teams.ms.wait_sent(2)[1].card
    assert second is not None and second["actions"][0]["data"]["key"] != action["data"]["key"]


def test_other_words_in_personal_chat_get_the_welcome_card(teams: TeamsHarness) -> None:
    teams.message("hei")
    teams.wait_replies()
    card = teams.ms.wait_sent(1)[0].card
    assert card is not None and card["actions"][0]["verb"] == "meld_open"
    # its button opens the form, answered in the invoke response
    body = teams.invoke("adaptiveCard/action",
                        {"action": {"type": "Action.Execute", "verb": "meld_open",
                                    "data": {"meld": "open"}}})
    assert body["value"]["actions"][0]["verb"] == "meld_submit"


def test_welcome_card_when_the_bot_is_installed(teams: TeamsHarness) -> None:
    activity = teams.activity("conversationUpdate",
                              membersAdded=[{"id": "28:11111111-2222-3333-4444-555555555555"}])
    assert teams.post(activity).status_code == 200
    teams.wait_replies()
    sent = teams.ms.wait_sent(1)[0]
    assert sent.path == f"/v3/conversations/a%3Apersonal-{REPORTER}/activities"
    assert sent.card is not None and sent.card["actions"][0]["verb"] == "meld_open"


def test_a_submitted_form_is_stored_before_the_answer(teams_both: TeamsHarness) -> None:
    teams = teams_both
    card = teams.submit_form(form_data())
    [report] = teams.reports()
    assert report.reference in card_texts(card)
    assert report.channel == Channel.TEAMS.value
    assert report.reporter_id == f"teams:{REPORTER}"
    assert (report.category_id, report.subcategory_id) == ("discharge_summary", "missing")
    assert report.description == DESCRIPTION


def test_a_retried_submit_with_a_new_activity_id_makes_one_report(teams: TeamsHarness) -> None:
    first = teams.submit_form(form_data(key="retry-key"))
    second = teams.submit_form(form_data(key="retry-key"))  # new activity id, same form key
    assert len(teams.reports()) == 1
    assert card_texts(first) == card_texts(second)
    teams.submit_form(form_data(key="another-form"))
    assert len(teams.reports()) == 2


def test_errors_are_shown_beside_the_field_and_the_text_is_kept(teams: TeamsHarness) -> None:
    card = teams.submit_form(form_data(category=None, occurred_on="not a date",
                                       no_ids="false"))
    assert teams.reports() == []
    i, _ = find_input(card, "occurred_on")
    assert card["body"][i + 1]["type"] == "TextBlock"
    assert card["body"][i + 1]["color"] == "Attention"
    # the category may be left empty (Meld suggests one): no error beside it
    k, _ = find_input(card, "category")
    assert card["body"][k + 1].get("color") != "Attention"
    j, _ = find_input(card, "no_ids")
    assert card["body"][j + 1]["color"] == "Attention"
    _, description = find_input(card, "description")
    assert description["value"] == DESCRIPTION
    assert card["actions"][0]["data"]["key"] == "form-key-1"  # the same form


def test_a_national_identity_number_is_refused_and_not_stored(teams: TeamsHarness) -> None:
    ssn = Faker("no_NO").ssn()
    text = f"Pasient {ssn} fikk ikke epikrise."
    card = teams.submit_form(form_data(description=text))
    assert teams.reports() == []
    i, description = find_input(card, "description")
    assert description["value"] == text  # kept so the reporter can fix it
    assert "fødselsnummer" in card["body"][i + 1]["text"].lower()


def test_warnings_need_a_confirm_and_then_the_report_is_stored(teams: TeamsHarness) -> None:
    text = "Ring meg på 91234567 om epikrisen som manglet."
    card = teams.submit_form(form_data(description=text))
    assert teams.reports() == []
    _, confirm = find_input(card, "confirm_warnings")
    assert confirm["type"] == "Input.Toggle"
    assert card["body"][1]["color"] == "Warning"
    teams.submit_form(form_data(description=text, confirm_warnings="true"))
    assert len(teams.reports()) == 1


def test_the_message_action_opens_the_form_prefilled(teams: TeamsHarness) -> None:
    value = {
        "commandId": "meld_message", "commandContext": "message",
        "messagePayload": {
            "id": "1700000000001", "messageType": "message",
            "body": {"contentType": "html",
                     "content": "<p>Epikrisen kom <b>aldri</b> fram &amp; ingen ringte.</p>"},
            "linkToMessage": "https://teams.microsoft.com/l/message/19:x/1700000000001",
            "from": {"user": {"id": "someone", "displayName": "Ola"}},
        },
    }
    body = teams.invoke("composeExtension/fetchTask", value, conversation="channel")
    task = body["task"]
    assert task["type"] == "continue"
    card = task["value"]["card"]["content"]
    _, description = find_input(card, "description")
    assert description["value"] == "Epikrisen kom aldri fram & ingen ringte."
    action = card["actions"][0]
    assert action["type"] == "Action.Submit"
    assert action["data"]["link"].startswith("https://teams.microsoft.com/l/message/")
    data = dict(form_data(key=action["data"]["key"], description=description["value"]),
                link=action["data"]["link"])
    answer = teams.invoke("composeExtension/submitAction",
                          {"commandId": "meld_message", "data": data}, conversation="channel")
    [report] = teams.reports()
    assert answer["task"]["type"] == "message"
    assert report.reference in answer["task"]["value"]
    assert report.source_link == action["data"]["link"]
    # a message-extension retry (5 s) with the same form: still one report
    teams.invoke("composeExtension/submitAction", {"commandId": "meld_message", "data": data},
                 conversation="channel")
    assert len(teams.reports()) == 1


def test_message_action_errors_keep_the_dialog_open(teams: TeamsHarness) -> None:
    answer = teams.invoke("composeExtension/submitAction",
                          {"commandId": "meld_message",
                           "data": form_data(severity=None, no_ids="false")},
                          conversation="channel")
    assert answer["task"]["type"] == "continue"
    card = answer["task"]["value"]["card"]["content"]
    i, _ = find_input(card, "no_ids")
    assert card["body"][i + 1]["color"] == "Attention"
    # the severity may be left empty (stored as unknown): no error beside it
    k, _ = find_input(card, "severity")
    assert card["body"][k + 1].get("color") != "Attention"
    assert teams.reports() == []
    answer = teams.invoke("composeExtension/submitAction",
                          {"commandId": "meld_message",
                           "data": form_data(severity=None)}, conversation="channel")
    assert answer["task"]["type"] == "message"
    [report] = teams.reports()
    assert report.reported_severity == "unknown"


def test_the_report_text_is_never_logged(teams: TeamsHarness, caplog) -> None:
    import logging

    with caplog.at_level(logging.DEBUG):
        teams.submit_form(form_data(description="Hemmelig tekst om epikrise 123"))
        teams.message("meld")
        teams.wait_replies()
    assert "Hemmelig" not in caplog.text


def test_with_the_database_down_the_form_says_so_and_keeps_the_text(
        tmp_path, sqlite_template, ms) -> None:
    import shutil

    from tests.teams.conftest import _start, _stop, teams_settings

    folder = tmp_path / "gone"
    folder.mkdir()
    shutil.copy(sqlite_template, folder / "meld.db")
    h = _start(teams_settings(f"sqlite:///{folder}/meld.db", ms), ms)
    shutil.rmtree(folder)
    try:
        card = h.submit_form(form_data())
        i, description = find_input(card, "description")
        assert description["value"] == DESCRIPTION
        assert "database" in card["body"][i + 1]["text"].lower() or \
            "databasen" in card["body"][i + 1]["text"].lower()
        assert h.message("meld").status_code == 200  # the chat still answers
        h.wait_replies()
        assert h.ms.wait_sent(1)[0].card is not None
    finally:
        _stop(h)


def test_an_activity_without_an_entra_user_stores_nothing(teams: TeamsHarness) -> None:
    activity = teams.activity("invoke", name="composeExtension/submitAction",
                              value={"commandId": "meld_message", "data": form_data()})
    del activity["from"]["aadObjectId"]
    r = teams.post(activity)
    assert r.status_code == 200 and r.json()["task"]["type"] == "message"
    activity = teams.activity("invoke", name="adaptiveCard/action",
                              value={"action": {"verb": "meld_submit", "data": form_data()}})
    del activity["from"]["aadObjectId"]
    assert teams.post(activity).json()["statusCode"] == 200
    assert teams.reports() == []


def test_with_the_database_down_a_command_says_so(tmp_path, sqlite_template, ms) -> None:
    import shutil

    from tests.teams.conftest import GROUP, _start, _stop, teams_settings

    folder = tmp_path / "gone"
    folder.mkdir()
    shutil.copy(sqlite_template, folder / "meld.db")
    h = _start(teams_settings(f"sqlite:///{folder}/meld.db", ms), ms)
    shutil.rmtree(folder)
    try:
        assert h.message("<at>Meld</at> liste", user=GROUP,
                         conversation="channel").status_code == 200
        h.wait_replies()
        [answer] = h.ms.wait_sent(1)
        assert "database" in answer.body["text"].lower()
    finally:
        _stop(h)


def test_meld_with_words_prefills_the_form(teams: TeamsHarness) -> None:
    teams.message("meld Epikrisen kom aldri fram")
    teams.wait_replies()
    card = teams.ms.wait_sent(1)[0].card
    _, description = find_input(card, "description")
    assert description["value"] == "Epikrisen kom aldri fram"


def test_a_refused_activity_does_not_log_its_text(teams: TeamsHarness, caplog) -> None:
    import logging

    activity = teams.activity("message", text=["Hemmelig pasienttekst"])
    with caplog.at_level(logging.DEBUG):
        assert teams.post(activity).status_code == 400
    assert "Hemmelig" not in caplog.text
    assert "not an activity" in caplog.text

"""Three steps in Teams: write what happened, turn on "no patient data", send.

Through the real door (RSA-signed activities, the app on uvicorn, the fake Bot Connector):
the report card is stored with only its text and the toggle; the receipt card says it is
left uncategorized for the group and names Meld's suggestion with a one-click "Velg
<forslag>", beside a choice and "Endre kategorien" (Action.Execute, answered in the
invoke's response); it changes the category for the reporter only, until the group has
assessed it. A reporter who reported before finds the form proposing the place and
parties of the last report.
"""

from __future__ import annotations

import time
from typing import Any

from intake import services
from intake.domain.model import Actor, Conflict, PermissionDenied, Role
from intake.domain.taxonomy import load_taxonomy
from intake.i18n import Translator
from intake.texts import domain_error_text
from intake.texts_filing import (
    CATEGORY_HINT,
    CHANGE_CATEGORY,
    CHOOSE_SUGGESTION,
    LET_GROUP_CHOOSE,
    PLACE_HINT_REMEMBERED,
    changed_line,
)
from tests.doors.conftest import yesterday
from tests.integration.helpers import uncategorized_offer
from tests.teams.conftest import (
    DESCRIPTION,
    GROUP,
    OUTSIDER,
    REPORTER,
    TeamsHarness,
    card_texts,
    find_input,
)

NB = Translator("nb")
TAX = load_taxonomy()
GROUP_ACTOR = Actor(identity=f"teams:{GROUP}", role=Role.TRIAGER)
NOT_YOURS_NB = domain_error_text(PermissionDenied("not_your_report"), NB)
ASSESSED_NB = domain_error_text(Conflict("category_assessed"), NB)
MESSAGE_TYPE = "application/vnd.microsoft.activity.message"


def new_form(teams: TeamsHarness, user: str = REPORTER) -> dict[str, Any]:
    """The form "meld" opens in the personal chat (and the chat is known to Meld)."""
    teams.ms.sent.clear()
    assert teams.message("meld", user=user).status_code == 200
    teams.wait_replies()
    card = teams.ms.wait_sent(1)[0].card
    assert card is not None
    return card


def untouched(card: dict[str, Any]) -> dict[str, Any]:
    """What Teams merges into action.data from a form nobody changed: each input's value
    (an empty string where there is none), and the action's own data."""
    data: dict[str, Any] = dict(card["actions"][0]["data"])
    for element in card["body"]:
        if element.get("type", "").startswith("Input."):
            data[element["id"]] = element.get("value") or ""
    return data


def change(teams: TeamsHarness, reference: str, choice: str | None,
           user: str = REPORTER) -> str:
    """The receipt card's "Endre kategorien" with `choice` in its ChoiceSet: what Meld says."""
    data: dict[str, Any] = {"meld": "change_category", "reference": reference}
    if choice is not None:
        data["category"] = choice  # Teams merges the card's inputs into the data
    body = teams.invoke("adaptiveCard/action",
                        {"action": {"type": "Action.Execute", "verb": "meld_change_category",
                                    "data": data}, "trigger": "manual"}, user=user)
    assert body["statusCode"] == 200 and body["type"] == MESSAGE_TYPE, body
    return str(body["value"])


def as_group(teams: TeamsHarness, reference: str) -> services.ReportView:
    return services.get_report(ctx=teams.ctx, actor=GROUP_ACTOR, reference=reference,
                               mark_read=False)


def receipt_card(teams: TeamsHarness) -> dict[str, Any]:
    personal = [s for s in teams.ms.sent if "personal" in s.conversation]
    assert personal, teams.ms.sent
    card = personal[-1].body["attachments"][0]["content"]
    assert isinstance(card, dict)
    return card


# ---------------------------------------------------------------- the card


def test_the_card_asks_only_the_text_and_the_toggle(teams: TeamsHarness) -> None:
    card = new_form(teams)
    required = {e["id"] for e in card["body"] if e.get("isRequired")}
    # the kind is preselected (a deviation) and the date is today
    assert required == {"kind", "description", "occurred_on"}
    _, kind = find_input(card, "kind")
    _, when = find_input(card, "occurred_on")
    assert (kind["value"], when["value"]) == ("deviation", teams.ctx.today().isoformat())
    _, category = find_input(card, "category")
    assert category["placeholder"] == NB(CATEGORY_HINT)
    _, severity = find_input(card, "severity")
    assert not severity.get("isRequired")
    for input_id in ("place", "reporter_party", "concerned_party"):
        assert "value" not in find_input(card, input_id)[1], input_id
    assert NB(PLACE_HINT_REMEMBERED) not in card_texts(card)


def test_text_and_toggle_alone_are_stored_and_the_receipt_offers_the_category(
    teams_both: TeamsHarness,
) -> None:
    teams = teams_both
    data = untouched(new_form(teams))
    data.update(description=DESCRIPTION, no_ids="true")
    started = time.perf_counter()
    answer = teams.submit_form(data)
    ms = (time.perf_counter() - started) * 1000
    print(f"teams: text-only card submitted, stored and answered in {ms:.0f} ms "
          f"({teams.ctx.db.engine.dialect.name})")
    [report] = teams.reports()
    assert report.reference in card_texts(answer)  # stored before the answer
    assert (report.kind, report.reported_severity, report.occurred_on) == (
        "deviation", "unknown", teams.ctx.today())
    # left to the group, with Meld's suggestion kept (never filed under it by default)
    assert (report.category_id, report.category_source) == ("uncategorized", "none")
    assert report.suggested_category_id == "discharge_summary"
    assert report.reported_category_id is None
    ref = report.reference

    teams.ms.sent.clear()
    teams.drain()
    card = receipt_card(teams)
    line, offered = uncategorized_offer(report)
    assert line in card_texts(card) and offered[1].startswith("Epikrise")
    # the suggestion in one click: the first action, its choice in its data (no input)
    take = card["actions"][0]
    assert (take["type"], take["verb"], take["title"], take["associatedInputs"]) == (
        "Action.Execute", "meld_change_category",
        NB(CHOOSE_SUGGESTION, category=offered[1]), "none")
    assert take["data"] == {"meld": "change_category", "reference": ref,
                            "category": offered[0]}
    _, choice = find_input(card, "category")
    assert choice["type"] == "Input.ChoiceSet" and choice["style"] == "compact"
    assert choice["label"] == NB(CHANGE_CATEGORY) == "Endre kategorien"
    values = [c["value"] for c in choice["choices"]]
    assert len(values) == len(set(values))  # each choice once
    assert "uncategorized" in values and "referral/unanswered" in values
    titles = {c["value"]: c["title"] for c in choice["choices"]}
    assert titles["uncategorized"] == NB(LET_GROUP_CHOOSE)
    # Meld's suggestions come first, before "let the group choose" and the full list
    first = values[:values.index("uncategorized")]
    assert all(TAX.category(v) is not None for v in first)
    [button] = [a for a in card["actions"] if a.get("verb") == "meld_change_category"
                and a["title"] == NB(CHANGE_CATEGORY)]
    assert (button["type"], button["title"], button["data"]) == (
        "Action.Execute", "Endre kategorien", {"meld": "change_category", "reference": ref})

    # "Velg <forslag>": Teams sends the action's data alone
    said = change(teams, ref, take["data"]["category"])
    category, _, subcategory = offered[0].partition("/")
    assert said == changed_line(TAX, ref, category, subcategory or None, NB)
    seen = as_group(teams, ref)
    assert (seen.category, seen.subcategory, seen.category_source) == (
        category, subcategory or None, "reporter")

    said = change(teams, ref, "referral/unanswered")
    assert said == changed_line(TAX, ref, "referral", "unanswered", NB)
    seen = as_group(teams, ref)
    assert (seen.category, seen.subcategory, seen.category_source) == (
        "referral", "unanswered", "reporter")

    assert change(teams, ref, "medication", user=OUTSIDER) == NOT_YOURS_NB
    assert as_group(teams, ref).category == "referral"

    assert change(teams, ref, None) == "Dette feltet må fylles ut."  # nothing chosen
    assert as_group(teams, ref).category == "referral"

    said = change(teams, ref, "uncategorized")
    assert said == changed_line(TAX, ref, "uncategorized", None, NB)
    seen = as_group(teams, ref)
    assert (seen.category, seen.category_source) == ("uncategorized", "none")

    services.assess(ctx=teams.ctx, actor=GROUP_ACTOR, reference=ref, category="medication")
    assert change(teams, ref, "referral") == ASSESSED_NB
    seen = as_group(teams, ref)
    assert (seen.category, seen.category_source) == ("medication", "group")


def test_the_reporters_choice_gets_no_category_choice_in_the_receipt(
    teams: TeamsHarness,
) -> None:
    data = untouched(new_form(teams))
    data.update(description=DESCRIPTION, no_ids="true", category="discharge_summary/missing")
    teams.submit_form(data)
    [report] = teams.reports()
    assert report.category_source == "reporter"
    teams.ms.sent.clear()
    teams.drain()
    card = receipt_card(teams)
    assert all(e.get("id") != "category" for e in card["body"])
    assert all(a.get("verb") != "meld_change_category" for a in card["actions"])


def test_the_toggle_and_the_text_are_still_required(teams: TeamsHarness) -> None:
    card = teams.submit_form(untouched(new_form(teams)))
    assert teams.reports() == []
    for input_id in ("description", "no_ids"):
        i, _ = find_input(card, input_id)
        assert card["body"][i + 1]["color"] == "Attention", input_id
    i, _ = find_input(card, "category")  # not required: no error beside it
    assert card["body"][i + 1].get("color") != "Attention"


# ---------------------------------------------------------------- defaults from the last report


def _seed(teams: TeamsHarness, user: str = REPORTER) -> str:
    receipt = services.submit_report(
        ctx=teams.ctx, actor=Actor(identity=f"teams:{user}", role=Role.REPORTER),
        draft=services.ReportDraft(description=DESCRIPTION, no_patient_identifiers=True,
                                   occurred_on=yesterday(), place="melhus",
                                   reporter_party="municipality", concerned_party="hospital"))
    return receipt.reference


def _proposed(card: dict[str, Any]) -> tuple[Any, ...]:
    i, place = find_input(card, "place")
    note = card["body"][i + 1].get("text")
    return (place.get("value"), find_input(card, "reporter_party")[1].get("value"),
            find_input(card, "concerned_party")[1].get("value"), note)


def test_the_form_proposes_place_and_parties_of_the_last_report(teams: TeamsHarness) -> None:
    _seed(teams)
    card = new_form(teams)
    assert _proposed(card) == ("melhus", "municipality", "hospital",
                               NB(PLACE_HINT_REMEMBERED))
    # someone else, next: the cached blank form was not changed
    other = new_form(teams, user=OUTSIDER)
    assert _proposed(other)[:3] == (None, None, None)
    assert NB(PLACE_HINT_REMEMBERED) not in card_texts(other)

    # "meld <text>" keeps its text beside them
    teams.ms.sent.clear()
    teams.message("meld Epikrisen kom aldri fram")
    teams.wait_replies()
    prefilled = teams.ms.wait_sent(1)[0].card
    assert prefilled is not None
    assert find_input(prefilled, "description")[1]["value"] == "Epikrisen kom aldri fram"
    assert _proposed(prefilled)[0] == "melhus"

    # the welcome card's button and the message action's dialog propose them too
    body = teams.invoke("adaptiveCard/action",
                        {"action": {"type": "Action.Execute", "verb": "meld_open",
                                    "data": {"meld": "open"}}})
    assert _proposed(body["value"])[0] == "melhus"
    value = {"commandId": "meld_message", "commandContext": "message",
             "messagePayload": {"id": "1700000000002", "messageType": "message",
                                "body": {"contentType": "text", "content": "Ingen epikrise."}}}
    task = teams.invoke("composeExtension/fetchTask", value, conversation="channel")["task"]
    assert _proposed(task["value"]["card"]["content"])[0] == "melhus"

    # sent as proposed, they are stored
    data = untouched(card)
    data.update(description=DESCRIPTION, no_ids="true", key="defaults-form")
    teams.submit_form(data)
    latest = teams.reports()[-1]
    assert (latest.place_id, latest.reporter_party, latest.concerned_party) == (
        "melhus", "municipality", "hospital")


def test_with_the_database_down_the_form_still_opens(tmp_path, sqlite_template, ms) -> None:
    import shutil

    from tests.teams.conftest import _start, _stop, teams_settings

    folder = tmp_path / "gone"
    folder.mkdir()
    shutil.copy(sqlite_template, folder / "meld.db")
    h = _start(teams_settings(f"sqlite:///{folder}/meld.db", ms), ms)
    shutil.rmtree(folder)
    try:
        body = h.invoke("adaptiveCard/action",
                        {"action": {"type": "Action.Execute", "verb": "meld_open",
                                    "data": {"meld": "open"}}})
        assert body["value"]["actions"][0]["verb"] == "meld_submit"
        assert _proposed(body["value"])[0] is None
        said = change(h, "MELD-2026-0001", "referral")
        assert "databasen" in said.lower()
    finally:
        _stop(h)

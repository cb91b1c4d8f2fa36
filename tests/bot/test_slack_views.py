"""Slack views and the manifest: valid Block Kit within Slack's limits, wired to listeners."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from bot.slack import views
from intake import services
from intake.domain.model import FieldError
from intake.domain.taxonomy import load_taxonomy
from intake.i18n import Translator

ROOT = Path(__file__).resolve().parents[2]
TR = Translator("nb")
TAX = load_taxonomy()


def report_view(**overrides) -> services.ReportView:
    values = dict(
        reference="MELD-2026-0042", kind="deviation", category="referral",
        subcategory="rejected_or_returned", description="Henvisning <!channel> returnert",
        occurred_on=date(2026, 3, 1), reported_at=datetime(2026, 3, 2, 12, tzinfo=UTC),
        reported_severity="minor", assessed_severity=None, status="triage",
        reporter_party="gp", concerned_party="hospital", direction="gp->hospital",
        place="melhus", place_text=None, agreement_reference=None, guideline_breached=None,
        assignee=None, learning_point=None, measure=None, redirect_target=None,
        redirect_reference=None, duplicate_of=None, channel="slack", reporter_id="slack:U1",
        plus_ones=0, messages=(), locale="nb")
    values.update(overrides)
    return services.ReportView(**values)


def test_report_modal_is_valid_and_within_limits() -> None:
    view = views.report_modal(TR, TAX, today=date(2026, 3, 2), text="x" * 5000,
                              link="https://example.slack.com/archives/C1/p1")
    data = view.to_dict()  # slack_sdk validates lengths and counts here
    assert data["callback_id"] == views.REPORT_CALLBACK
    assert len(data["title"]["text"]) <= 24
    assert len(data["blocks"]) <= 100
    assert len(data["private_metadata"]) <= 3000
    blocks = {b["block_id"]: b for b in data["blocks"]}
    assert blocks["description"]["element"]["max_length"] == 3000
    assert len(blocks["description"]["element"]["initial_value"]) == 3000
    assert blocks["occurred_on"]["element"]["initial_date"] == "2026-03-02"
    assert "optional" not in blocks[views.NO_IDS]
    groups = blocks["category"]["element"]["option_groups"]
    assert [g["label"]["text"] for g in groups][:2] == [
        "Epikrise", "Varsling ved innleggelse/utskriving"]
    values = [o["value"] for g in groups for o in g["options"]]
    assert "discharge_summary" in values and "discharge_summary/missing" in values


def test_submitted_state_reads_back_and_refills_the_modal() -> None:
    values = {"kind": "suggestion", "category": "referral", "subcategory": "unanswered",
              "description": "tekst", "occurred_on": "2026-03-01", "place": "melhus",
              "reporter_party": "gp", "concerned_party": "hospital", "severity": "none",
              views.NO_IDS: True, "source_link": "https://x.slack.com/p1"}
    warning = FieldError("description", "possible_phone", warning=True)
    refilled = views.report_modal(TR, TAX, today=date(2026, 3, 2), values=values,
                                  link=values["source_link"], warnings=[warning]).to_dict()
    # simulate Slack's state from the refilled modal's initial values
    state: dict = {}
    for block in refilled["blocks"]:
        if block["type"] != "input":
            continue
        el = block["element"]
        entry: dict = {"type": el["type"]}
        if "initial_option" in el:
            entry["selected_option"] = el["initial_option"]
        if "initial_value" in el:
            entry["value"] = el["initial_value"]
        if "initial_date" in el:
            entry["selected_date"] = el["initial_date"]
        if el["type"] == "checkboxes":
            entry["selected_options"] = el.get("initial_options", [])
        state[block["block_id"]] = {"value": entry}
    read = views.read_report_state({"state": {"values": state},
                                    "private_metadata": refilled["private_metadata"]})
    assert read == {**values, views.CONFIRM: False}
    assert "telefonnummer" in refilled["blocks"][0]["text"]["text"]
    assert refilled["blocks"][-1]["block_id"] == views.CONFIRM


def test_errors_land_next_to_their_fields() -> None:
    errors = views.modal_errors([
        FieldError("description", "patient_identifier"),
        FieldError("subcategory", "unknown_subcategory"),
        FieldError("no_patient_identifiers", "must_confirm_no_identifiers"),
    ], TR)
    assert set(errors) == {"description", "category", views.NO_IDS}
    assert "fødselsnummer" in errors["description"]


def test_card_and_detail_escape_text_and_show_it_only_in_the_modal() -> None:
    card = [b.to_dict() for b in views.triage_card(TR, TAX, {
        "reference": "MELD-2026-0042", "kind": "deviation", "category": "referral",
        "severity": "severe", "place": "melhus", "serious": True})]
    flat = str(card)
    assert "MELD-2026-0042" in flat and "Henvisning" in flat and "Melhus" in flat
    assert {e["action_id"] for e in card[1]["elements"]} == {
        "triage_show", "triage_assess", "triage_reply"}
    detail = views.report_detail_modal(TR, TAX, report_view()).to_dict()
    text = str(detail)
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text
    assert "slack:U1" in text  # the group sees who reported


@pytest.mark.parametrize("builder", [
    lambda: views.close_modal(TR, "MELD-2026-0042"),
    lambda: views.assess_modal(TR, TAX, report_view()),
    lambda: views.text_modal(TR, callback_id=views.ANSWER_CALLBACK, title="Svar",
                             label_text="Skriv", reference="MELD-2026-0042",
                             warnings=[FieldError("text", "possible_email", warning=True)]),
    lambda: views.home_view(TR, TAX, (report_view(),), {"MELD-2026-0042": "Takk <@U9>"}),
])
def test_every_view_validates(builder) -> None:
    data = builder().to_dict()
    assert data["blocks"]
    assert "<@U9>" not in str(data)


def test_manifest_declares_what_the_listeners_handle() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    features = manifest["features"]
    assert {c["command"] for c in features["slash_commands"]} == {"/meld", "/triage"}
    shortcuts = {s["callback_id"]: s["type"] for s in features["shortcuts"]}
    assert shortcuts == {"meld_global": "global", "meld_message": "message"}
    assert all(len(s["name"]) <= 24 for s in features["shortcuts"])
    assert features["app_home"]["home_tab_enabled"] is True
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "commands", "chat:write", "im:write", "users:read", "usergroups:read"}
    assert manifest["_metadata"]["major_version"] == 1


def test_the_cached_form_equals_a_freshly_built_one() -> None:
    kwargs = {"today": date(2026, 3, 2), "text": "Epikrise <mangler>",
              "link": "https://example.slack.com/archives/C1/p1"}
    fresh = views.report_modal(TR, TAX, **kwargs).to_dict()
    cached = views.new_report_modal(TR, TAX, **kwargs)
    assert cached == fresh
    again = views.new_report_modal(TR, TAX, today=date(2026, 3, 2))
    assert again == views.report_modal(TR, TAX, today=date(2026, 3, 2)).to_dict()
    assert "initial_value" not in str(again["blocks"][2]["element"])  # no leak between calls


def test_prefilled_forms_share_nothing_they_change_with_the_blank_one() -> None:
    """The forms share the cached blank form's unchanged blocks: the text, the link and
    the remembered place and parties of one reporter never reach the next one's form."""
    day = date(2026, 3, 2)
    blank = views.report_modal(TR, TAX, today=day).to_dict()
    remembered = services.FormDefaults(place="melhus", reporter_party="gp",
                                       concerned_party="hospital")
    prefilled = views.new_report_modal(TR, TAX, today=day, text="Epikrise mangler",
                                       link="https://example.slack.com/archives/C1/p1",
                                       defaults=remembered)
    blocks = {b["block_id"]: b for b in prefilled["blocks"]}
    assert blocks["description"]["element"]["initial_value"] == "Epikrise mangler"
    assert blocks["place"]["element"]["initial_option"]["value"] == "melhus"
    assert "hint" in blocks["place"]
    assert blocks["reporter_party"]["element"]["initial_option"]["value"] == "gp"
    assert blocks["concerned_party"]["element"]["initial_option"]["value"] == "hospital"
    assert views.new_report_modal(TR, TAX, today=day) == blank
    # what is the same as in the blank form is equal to it, block by block
    changed = {"description", "place", "reporter_party", "concerned_party"}
    assert [b for b in prefilled["blocks"] if b["block_id"] not in changed] == \
        [b for b in blank["blocks"] if b["block_id"] not in changed]

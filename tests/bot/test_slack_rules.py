"""Issue 12 in the Slack door: a subcategory of another category is refused on the modal's
category block (where the subcategory is chosen); a reporter's answer is marked unread in
`/triage liste`, and one on a closed report is announced in the triage channel."""

from __future__ import annotations

import json
from typing import Any

from intake import services
from intake.domain.model import Actor, Role
from tests.bot.conftest import (
    GROUP_USER,
    TRIAGE_CHANNEL,
    SlackDoor,
    block_action,
    report_values,
    select_state,
    text_state,
    view_submission,
)

GROUP = Actor(identity=f"slack:{GROUP_USER}", role=Role.TRIAGER)
WRONG_SUB_NB = ("Underkategori: «Legemiddelliste» hører til kategorien «Legemidler», ikke "
                "til den valgte «Epikrise».")
UNREAD_NB = "✉ ulest svar fra melderen"


def said(r: Any) -> str:
    assert r.status_code == 200, r.text
    return str(r.text)


def test_the_report_modal_refuses_another_categorys_subcategory(slack: SlackDoor) -> None:
    """A choice the list never offers (an old or edited modal): errors on the block."""
    ack = slack.submit_view(view_submission(
        "meld_report", report_values(category="discharge_summary/med_list")))
    assert ack["response_action"] == "errors", ack
    assert list(ack["errors"]) == ["category"]
    assert ack["errors"]["category"].startswith(WRONG_SUB_NB)
    assert slack.reports() == []


def test_the_assessment_modal_refuses_it_too(slack: SlackDoor) -> None:
    ref = slack.seed_report()
    ack = slack.submit_view(view_submission(
        "triage_assess", {"category": select_state("discharge_summary/med_list"),
                          "assessed_severity": select_state(None),
                          "agreement_reference": text_state(None)},
        view_id="V0ASSESS2", user=GROUP_USER,
        private_metadata=json.dumps({"reference": ref})))
    assert ack["response_action"] == "errors", ack
    assert ack["errors"]["category"].startswith(WRONG_SUB_NB)
    [report] = slack.reports()
    assert (report.subcategory_id, report.status) == ("missing", "received")


def test_an_answer_on_a_closed_report_is_marked_and_announced(slack: SlackDoor) -> None:
    ref = slack.seed_report()
    services.move_status(ctx=slack.ctx, actor=GROUP, reference=ref, status="in_progress")
    services.close(ctx=slack.ctx, actor=GROUP, reference=ref, learning_point="Lærdom",
                   measure="Tiltak")
    slack.drain()
    # the reporter writes from the DM's answer button's modal
    ack = slack.submit_view(view_submission(
        "meld_answer", {"text": text_state("Det skjedde igjen i går, XYZZY.")},
        view_id="V0ANSWER9",
        private_metadata=json.dumps({"reference": ref, "title": "Svar", "label": "x"})))
    assert ack == {"response_action": "clear"}, ack
    assert slack.drain() >= 1
    [notice] = [p.params for p in slack.fake.calls_to("chat.postMessage")
                if p.params.get("channel") == TRIAGE_CHANNEL and "lukket" in p.params["text"]]
    assert notice["text"] == (f"Melderen har skrevet på {ref}, som er lukket. Les det (vis "
                              f"{ref}); trenger saken oppfølging, gjenåpne den (gjenåpne {ref}).")
    assert "XYZZY" not in json.dumps(notice, ensure_ascii=False)

    listing = said(slack.command("/triage", "liste"))
    [line] = [x for x in listing.splitlines() if ref in x]
    assert "Lukket" in line and UNREAD_NB in line
    assert ref in said(slack.command("/triage", "liste ulest"))
    # the assessment form shows no messages: the mark stays; the Vis button reads it
    for i, action in enumerate(("triage_assess", "triage_show")):
        r = slack.interact(block_action(action, ref, user=GROUP_USER,
                                        response_url=slack.response_url(),
                                        trigger_id=f"4242.{i}.card"))
        assert r.status_code == 200, r.text
        slack.wait_for("views.open", i + 1)  # the report is read before the modal opens
        line = next(x for x in said(slack.command("/triage", "liste")).splitlines() if ref in x)
        assert (UNREAD_NB in line) == (action == "triage_assess"), (action, line)
    assert said(slack.command("/triage", "liste ulest")) == "Ingen meldinger."

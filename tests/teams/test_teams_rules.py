"""Issue 12 in the Teams door: a subcategory of another category is refused beside the
card's category input (where the subcategory is chosen); a reporter's answer is marked
unread in `liste`, and one on a closed report is announced in the group's channel."""

from __future__ import annotations

from intake import services
from intake.domain.model import Actor, Role
from tests.teams.conftest import (
    GROUP,
    TRIAGE,
    TeamsHarness,
    find_input,
    form_data,
)

WRONG_SUB_NB = ("Underkategori: «Legemiddelliste» hører til kategorien «Legemidler», ikke "
                "til den valgte «Epikrise».")
GROUP_ACTOR = Actor(identity=f"teams:{GROUP}", role=Role.TRIAGER)


def test_the_report_card_refuses_another_categorys_subcategory(teams: TeamsHarness) -> None:
    card = teams.submit_form(form_data(category="discharge_summary/med_list"))
    assert teams.reports() == []
    i, _ = find_input(card, "category")
    assert card["body"][i + 1]["color"] == "Attention"
    assert card["body"][i + 1]["text"].startswith(WRONG_SUB_NB)


def test_the_assessment_dialog_refuses_it_too(teams: TeamsHarness) -> None:
    reference = teams.seed_report()
    body = teams.invoke("task/submit", {"data": {"meld": "assess", "reference": reference,
                                                 "category": "discharge_summary/med_list"}},
                        user=GROUP, conversation="channel")
    assert body["task"]["type"] == "continue", body  # the dialog stays, with the error
    assert WRONG_SUB_NB in str(body["task"]["value"]["card"]["content"])
    [report] = teams.reports()
    assert (report.subcategory_id, report.status) == ("missing", "received")


def _listing(teams: TeamsHarness, words: str = "liste") -> str:
    teams.ms.sent.clear()
    teams.message(f"<at>Meld</at> {words}", user=GROUP, conversation="channel")
    teams.wait_replies()
    [answer] = teams.ms.wait_sent(1)
    return str(answer.body["text"])


def test_an_answer_on_a_closed_report_is_marked_and_announced(teams: TeamsHarness) -> None:
    teams.message("meld")  # the reporter's personal chat is known
    teams.wait_replies()
    reference = teams.seed_report()
    services.move_status(ctx=teams.ctx, actor=GROUP_ACTOR, reference=reference,
                         status="in_progress")
    services.close(ctx=teams.ctx, actor=GROUP_ACTOR, reference=reference,
                   learning_point="Lærdom", measure="Tiltak")
    teams.drain()
    teams.ms.sent.clear()
    body = teams.invoke("task/submit", {"data": {"meld": "answer", "reference": reference,
                                                 "text": "Det skjedde igjen, XYZZY."}})
    assert body["task"]["type"] == "message"
    teams.drain()
    [notice] = [s for s in teams.ms.sent if s.conversation == TRIAGE]
    assert notice.body["text"] == (
        f"Melderen har skrevet på {reference}, som er lukket. Les det (vis {reference}); "
        f"trenger saken oppfølging, gjenåpne den (gjenåpne {reference}).")
    assert "XYZZY" not in str(notice.body)

    line = next(x for x in _listing(teams).splitlines() if reference in x)
    assert "Lukket" in line and "✉ ulest svar fra melderen" in line
    assert reference in _listing(teams, "liste ulest")
    # the assessment dialog shows no messages: the mark stays; Vis reads it
    teams.invoke("task/fetch", {"data": {"meld": "assess", "reference": reference}},
                 user=GROUP, conversation="channel")
    assert reference in _listing(teams, "liste ulest")
    teams.invoke("task/fetch", {"data": {"meld": "show", "reference": reference}},
                 user=GROUP, conversation="channel")
    assert _listing(teams, "liste ulest") == "Ingen meldinger."

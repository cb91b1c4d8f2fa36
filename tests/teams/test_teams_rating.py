""""Var svaret nyttig?" in Teams: the closing notice's card has an optional comment and the
buttons ja / delvis / nei (Action.Execute); the invoke (an RSA-signed JWT request through
the real door) stores the answer and the comment, and answers with a message.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from intake import services
from intake.domain.model import Actor, Role
from storage import models as m
from tests.teams.conftest import GROUP, OUTSIDER, REPORTER, TeamsHarness

GROUP_ACTOR = Actor(identity=f"teams:{GROUP}", role=Role.TRIAGER)


def closed_report(teams: TeamsHarness) -> str:
    reference = teams.seed_report()
    services.move_status(ctx=teams.ctx, actor=GROUP_ACTOR, reference=reference,
                         status="in_progress")
    services.close(ctx=teams.ctx, actor=GROUP_ACTOR, reference=reference,
                   learning_point="Epikrisen sendes samme dag.", measure="Ny rutine.")
    return reference


def rate(teams: TeamsHarness, reference: str, answer: str, comment: str | None = None,
         user: str = REPORTER) -> dict[str, Any]:
    data: dict[str, Any] = {"meld": "rate", "reference": reference, "answer": answer}
    if comment is not None:
        data["comment"] = comment  # Teams merges the card's inputs into the data
    return teams.invoke("adaptiveCard/action",
                        {"action": {"type": "Action.Execute", "verb": "meld_rate",
                                    "data": data}, "trigger": "manual"}, user=user)


def rating(teams: TeamsHarness, reference: str) -> m.FeedbackRating | None:
    with teams.ctx.db.reading() as session:
        report_id = session.scalar(select(m.Report.id).where(m.Report.reference == reference))
        return session.get(m.FeedbackRating, report_id)


def test_the_closing_card_asks_and_the_submit_stores_answer_and_comment(
    teams_both: TeamsHarness,
) -> None:
    teams = teams_both
    teams.message("meld")  # the reporter's personal chat is known
    teams.wait_replies()
    reference = closed_report(teams)
    teams.ms.sent.clear()
    teams.drain()
    *_earlier, closing = [s for s in teams.ms.sent if "personal" in s.conversation]
    card = closing.body["attachments"][0]["content"]
    texts = [run["text"] for b in card["body"] if b["type"] == "RichTextBlock"
             for run in b["inlines"]]
    assert "Var svaret nyttig? Svar med knappene under; skriv gjerne en kommentar." in texts
    [comment_input] = [b for b in card["body"] if b.get("id") == "comment"]
    assert comment_input["type"] == "Input.Text" and comment_input["label"] == \
        "Kommentar (valgfritt)"
    rate_buttons = [(a["type"], a["verb"], a["title"], a["data"]) for a in card["actions"]
                    if a.get("verb") == "meld_rate"]
    assert rate_buttons == [
        ("Action.Execute", "meld_rate", title, {"meld": "rate", "reference": reference,
                                                 "answer": code})
        for code, title in (("yes", "Ja"), ("partly", "Delvis"), ("no", "Nei"))]

    body = rate(teams, reference, "no", "Svaret kom, men tiltaket er uklart.")
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.activity.message"
    assert body["value"].startswith("Takk for svaret! Ditt svar: Nei.")
    assert services.rating_link(teams.ctx, reference) in body["value"]
    stored = rating(teams, reference)
    assert stored is not None
    assert (stored.answer, stored.comment) == ("no", "Svaret kom, men tiltaket er uklart.")

    body = rate(teams, reference, "partly", "")  # changed; the comment box left empty
    stored = rating(teams, reference)
    assert stored is not None and (stored.answer, stored.comment) == ("partly", None)


def test_an_identity_number_in_the_comment_is_refused(teams: TeamsHarness) -> None:
    reference = closed_report(teams)
    body = rate(teams, reference, "yes", "Gjelder pasient 12034423421.")
    assert body["type"] == "application/vnd.microsoft.activity.message"
    assert "fødselsnummer" in body["value"]
    assert rating(teams, reference) is None


def test_someone_else_cannot_answer(teams: TeamsHarness) -> None:
    reference = closed_report(teams)
    body = rate(teams, reference, "yes", user=OUTSIDER)
    assert body["value"] == "Du kan bare se dine egne meldinger."
    assert rating(teams, reference) is None
    assert [e.actor_id for e in teams.audit("rate_denied")] == [f"teams:{OUTSIDER}"]

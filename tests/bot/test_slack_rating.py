""""Var svaret nyttig?" in Slack: the closing DM has the buttons ja / delvis / nei, and a
click (a signed block_actions request through the real door) stores the answer and tells
the reporter, only them, where to change it or add a comment.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from intake import services
from intake.domain.model import Actor, Role
from storage import models as m
from tests.bot.conftest import GROUP_USER, OUTSIDER, REPORTER, SlackDoor, block_action

GROUP = Actor(identity=f"slack:{GROUP_USER}", role=Role.TRIAGER)


def closed_report(slack: SlackDoor) -> str:
    ref = slack.seed_report()
    services.move_status(ctx=slack.ctx, actor=GROUP, reference=ref, status="in_progress")
    services.close(ctx=slack.ctx, actor=GROUP, reference=ref,
                   learning_point="Epikrisen sendes samme dag.", measure="Ny rutine.")
    return ref


def dms(slack: SlackDoor) -> list[dict[str, Any]]:
    return [c.params for c in slack.fake.calls_to("chat.postMessage")
            if c.params.get("channel") == f"D{REPORTER}" and c.status == 200]


def click(slack: SlackDoor, action_id: str, ref: str, user: str) -> dict[str, Any]:
    url = slack.response_url()
    r = slack.interact(block_action(action_id, ref, user=user, response_url=url))
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        calls = [c for c in slack.response_url_calls() if url.endswith(c.method)]
        if calls:
            return calls[0].params
        time.sleep(0.005)
    raise AssertionError("no answer on the response_url")


def rating(slack: SlackDoor, ref: str) -> m.FeedbackRating | None:
    with slack.ctx.db.reading() as session:
        report_id = session.scalar(select(m.Report.id).where(m.Report.reference == ref))
        return session.get(m.FeedbackRating, report_id)


def test_the_closing_dm_asks_and_a_click_stores_the_answer(slack_both: SlackDoor) -> None:
    slack = slack_both
    ref = closed_report(slack)
    slack.drain()
    closing = dms(slack)[-1]
    assert "Var svaret nyttig? Svar med knappene under." in closing["text"]
    buttons = [(e["action_id"], e["value"], e["text"]["text"]) for b in closing["blocks"]
               if b.get("block_id") == "meld_rating" for e in b["elements"]]
    assert buttons == [("meld_rate_yes", ref, "Ja"), ("meld_rate_partly", ref, "Delvis"),
                       ("meld_rate_no", ref, "Nei")]
    # the answer button stays last, as on every notice
    assert closing["blocks"][-1]["elements"][0]["action_id"] == "meld_answer"

    said = click(slack, "meld_rate_partly", ref, REPORTER)
    assert said["response_type"] == "ephemeral" and said["replace_original"] is False
    assert said["text"].startswith("Takk for svaret! Ditt svar: Delvis.")
    link = services.rating_link(slack.ctx, ref)
    assert link.endswith("#nyttig") and link in said["text"]
    stored = rating(slack, ref)
    assert stored is not None and (stored.answer, stored.comment) == ("partly", None)

    said = click(slack, "meld_rate_yes", ref, REPORTER)  # changed within the window
    assert "Ditt svar: Ja." in said["text"]
    stored = rating(slack, ref)
    assert stored is not None and stored.answer == "yes"
    assert [e.details["answer"] for e in slack.audit("rated")] == ["partly", "yes"]


def test_someone_else_cannot_answer(slack: SlackDoor) -> None:
    ref = closed_report(slack)
    said = click(slack, "meld_rate_no", ref, OUTSIDER)
    assert said["text"] == "Du kan bare se dine egne meldinger."
    assert rating(slack, ref) is None
    assert [e.actor_id for e in slack.audit("rate_denied")] == [f"slack:{OUTSIDER}"]


def test_an_open_report_cannot_be_rated_yet(slack: SlackDoor) -> None:
    ref = slack.seed_report()
    said = click(slack, "meld_rate_yes", ref, REPORTER)
    assert said["text"] == f"Du kan si om svaret var nyttig når meldingen {ref} er lukket."
    assert rating(slack, ref) is None

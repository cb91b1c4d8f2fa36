"""Stored text echoed to Slack can never mention, broadcast or link: a property over every
Slack surface that shows report text (detail modal, App Home, notices with the group's
message and the closing learning point)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.slack import views
from bot.slack.notifier import escape_mrkdwn, render
from intake import services
from intake.delivery.outbox import Notification
from intake.domain.taxonomy import load_taxonomy
from intake.i18n import Translator
from tests.bot.conftest import SlackDoor
from tests.bot.test_slack_views import report_view
from tests.fakes import strings_in

TAX = load_taxonomy()
HOSTILE = ["<!channel>", "<!here>", "<!everyone>", "<!subteam^S123|@gruppa>", "<@U0BAD>",
           "<@U0BAD|kari>", "<#C0BAD>", "<https://evil.example|klikk her>",
           "<mailto:x@evil.example|mail>", "&lt;!channel&gt;", "&", ">", "*fet*", "_kursiv_",
           "~gjennom~", "`kode`", "```blokk```", "\n> sitat", "\r\n", "\u202e", "\u200b",
           "@channel", ":rotating_light:"]
TEXT = st.lists(st.sampled_from(HOSTILE) | st.text(max_size=12), min_size=1, max_size=12).map(
    "".join)
# what Slack would act on: a special mention, a user/channel mention or a link
ACTIVE = re.compile(r"<[!@#]|<(?:https?|mailto):")


def mrkdwn_texts(blocks: object) -> list[str]:
    """The texts Slack renders as mrkdwn (where <!channel> would be live)."""
    return strings_in(blocks, where=lambda node: node.get("type") == "mrkdwn")

@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(TEXT, TEXT, TEXT, st.sampled_from(["nb", "en"]))
@example("<!channel> <@U0BAD> <https://evil.example|x>", "<!here>", "&lt;@U1&gt;", "nb")
def test_property_no_stored_text_is_active_in_slack(description: str, message: str,
                                                    learning: str, locale: str) -> None:
    tr = Translator(locale)
    msg = services.MessageView(1, "reporter", "answer", message, "slack:U1",
                               datetime(2026, 3, 2, tzinfo=UTC))
    view = report_view(description=description, messages=(msg, replace(msg, direction="group")),
                       place_text=learning, learning_point=learning, measure=message)
    surfaces = {
        "detail": views.report_detail_modal(tr, TAX, view).to_dict(),
        "home": views.home_view(tr, TAX, (view,), {view.reference: message}).to_dict(),
    }
    note = Notification(id=1, channel="slack", recipient="slack:U1", event="status_changed",
                        payload={"reference": view.reference, "status": "closed",
                                 "learning_point": learning, "measure": description},
                        reference=view.reference, locale=locale, message=message, attempt=0)
    text, blocks = render(note, tr)
    surfaces["notice"] = {"text": text, "blocks": blocks}
    reply_text, reply_blocks = render(replace(note, event="reply", payload={
        "reference": view.reference}), tr)
    surfaces["reply"] = {"text": reply_text, "blocks": reply_blocks}
    for name, surface in surfaces.items():
        shown = [*mrkdwn_texts(surface), surface.get("text", "")]
        for piece in shown:
            assert not ACTIVE.search(piece), (name, piece[:200])
    # and the text is really there, escaped (not dropped)
    everything = json.dumps(surfaces, ensure_ascii=False)
    assert json.dumps(escape_mrkdwn(description.strip()[:50]), ensure_ascii=False)[1:-1] \
        in everything or not description.strip()


def test_triage_answers_never_echo_active_text(slack: SlackDoor) -> None:
    """/triage answers in plain text that may repeat what was typed: escaped for Slack."""
    ref = slack.seed_report()
    for typed in ("vis <!channel>", "<!here> liste", f"status {ref} <@U0BAD>",
                  "liste <https://evil.example|klikk>"):
        # Slack sends what was typed with &, < and > escaped; the door undoes that
        escaped = typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        r = slack.command("/triage", escaped)
        assert r.status_code == 200
        text = r.text  # Bolt answers ack(text=...) as the plain body
        assert not ACTIVE.search(text), (typed, text)
        assert "&lt;" in text, (typed, text)  # the words are shown, inert

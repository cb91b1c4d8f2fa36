"""No Slack request or answer is formatted for a log, nor logged, at any log level.

slack_sdk writes every Web API call and its answer whole into a debug message (the report
form with the text a reporter typed after /meld, a DM) whenever its client's logger has no
level of its own: it tests `logger.level`, not the effective level. So, with the default
loggers, every call paid for formatting bodies it then dropped (a sixth of a /meld's
CPU), and at MELD_LOG_LEVEL=DEBUG the bodies reached the log. Meld's clients log through
`bot.slack.notifier.SDK_LOG`, whose level is set."""

from __future__ import annotations

import asyncio
import logging

import pytest
from slack_sdk import WebClient

from bot.slack.doctor import doctor_client
from bot.slack.notifier import SDK_LOG, SlackNotifier, slack_client
from intake.delivery.outbox import Notification
from tests.bot.conftest import REPORTER, SlackDoor, slack_settings
from tests.slack_fake import FakeSlack, fake_slack_fixture

fake_slack_alone = pytest.fixture(fake_slack_fixture)

TYPED = "Epikrisen kom aldri fram til fastlegen"  # what a reporter typed after /meld
ANSWER = "Takk, vi tar det opp med avdelingen"  # the group's answer in a DM


def test_meld_text_sent_to_slack_is_not_logged_at_debug(slack: SlackDoor,
                                                        caplog: pytest.LogCaptureFixture
                                                        ) -> None:
    caplog.set_level(logging.DEBUG)
    r = slack.command("/meld", TYPED, user=REPORTER)
    assert r.status_code == 200, r.text
    view = slack.opened_view()
    [description] = [b for b in view["blocks"] if b.get("block_id") == "description"]
    assert description["element"]["initial_value"] == TYPED  # it went to Slack
    assert any(r.levelno == logging.DEBUG for r in caplog.records)  # DEBUG is captured
    assert TYPED not in caplog.text


def test_a_dm_sent_to_slack_is_not_logged_at_debug(fake_slack_alone: FakeSlack,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    note = Notification(id=7, channel="slack", recipient="slack:U123", event="reply",
                        payload={"reference": "MELD-2026-0001", "message_id": 1},
                        reference="MELD-2026-0001", locale="nb", message=ANSWER, attempt=1)
    client = slack_client("xoxb-test", base_url=fake_slack_alone.url, timeout=2.0)
    asyncio.run(SlackNotifier(client).deliver(note))
    [posted] = fake_slack_alone.calls_to("chat.postMessage")
    assert ANSWER in str(posted.params)  # it went to Slack
    assert ANSWER not in caplog.text


def test_every_client_meld_builds_logs_through_the_leveled_logger(
        fake_slack_alone: FakeSlack, sqlite_url: str) -> None:
    """The condition slack_sdk tests before formatting a body is `logger.level <= DEBUG`."""
    clients = [slack_client("xoxb-test", base_url=fake_slack_alone.url),
               doctor_client(slack_settings(sqlite_url, fake_slack_alone))]
    assert isinstance(clients[1], WebClient)
    for client in clients:
        assert client.logger is SDK_LOG
    assert SDK_LOG.level > logging.DEBUG

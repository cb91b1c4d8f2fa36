"""The Slack listeners' calls share one aiohttp session while the app runs: a /meld opens
its form over a kept connection (no new connection, and to slack.com no TLS handshake, per
call), and a kept connection that Slack closed meanwhile does not lose the form: the call
is sent again at once on a new one. Against the fake Slack with keep-alive on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from intake.delivery.outbox import Notification
from tests.bot.conftest import SlackDoor, slack_settings, start_slack_door, stop_slack_door
from tests.slack_fake import FakeSlack


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    """Here the fake Slack keeps its connections open, as Slack does (the `slack` door of
    tests.bot.conftest runs against it)."""
    with FakeSlack(keep_alive=True) as fake:
        yield fake


def _meld(door: SlackDoor) -> None:
    r = door.command("/meld", "", user="U0REPORTER")
    assert r.status_code == 200, r.text


def test_the_forms_are_opened_over_kept_connections(slack: SlackDoor) -> None:
    """Six /meld, one after another, each once its form was answered: a session per call
    takes six connections. The shared one takes a kept connection again once its last
    answer was read; when the listener before has not read it yet (the app's one event
    loop is busy with the next /meld) it opens another, so how many take turns varies,
    but never one per call."""
    for count in range(1, 7):
        _meld(slack)
        slack.wait_for("views.open", count)
    calls = slack.fake.calls_to("views.open")
    assert len({call.peer for call in calls}) < len(calls) == 6


def test_a_connection_slack_closed_does_not_lose_the_form(slack: SlackDoor) -> None:
    _meld(slack)
    first = slack.wait_for("views.open", 1)[0]
    slack.fake.fail("views.open", disconnect=True)  # the kept connection is gone, unanswered
    _meld(slack)
    opened = slack.wait_for("views.open", 2)
    calls = slack.fake.calls_to("views.open")
    assert [c.status for c in calls] == [200, 0, 200]  # sent again once, and opened
    dropped, again = calls[1], calls[2]
    assert again.params["trigger_id"] == dropped.params["trigger_id"] != first.params[
        "trigger_id"]
    assert again.peer != dropped.peer  # on a new connection
    assert opened[1].json_param("view")["callback_id"] == first.json_param("view")["callback_id"]


def test_the_session_is_closed_when_the_app_stops(sqlite_url: str,
                                                  fake_slack: FakeSlack) -> None:
    sd = start_slack_door(slack_settings(sqlite_url, fake_slack), fake_slack)
    door = sd.door.app.state.slack
    try:
        _meld(sd)
        sd.wait_for("views.open", 1)
        session = door.app.client.session
        assert session is not None and not session.closed
    finally:
        sd.door.close()
        sd.door.server.stop(wait=True)
    assert session.closed
    assert door.app.client.session is None


def _dm_door(sqlite_url: str, fake_slack: FakeSlack) -> SlackDoor:
    """The app with its own outbox worker: receipts go out from the app's loop."""
    return start_slack_door(slack_settings(sqlite_url, fake_slack, run_outbox_worker=True,
                                           outbox_poll_seconds=0.2,
                                           outbox_backoff_base_seconds=0.2),
                            fake_slack)


def _dms(door: SlackDoor) -> list[Any]:
    return [c for c in door.fake.calls
            if c.method in ("conversations.open", "chat.postMessage")]


def test_receipts_from_the_running_app_go_over_kept_connections(
        sqlite_url: str, fake_slack: FakeSlack) -> None:
    """The outbox worker on the app's loop sends the receipts' DMs over the listeners'
    kept connections, not a new connection (to slack.com a TLS handshake) each; the
    same notifier drained from another loop meanwhile opens its own."""
    sd = _dm_door(sqlite_url, fake_slack)
    try:
        for count in range(1, 7):
            sd.seed_report()
            sd.wait_for("chat.postMessage", count)
        calls = _dms(sd)
        assert len({call.peer for call in calls}) < len(calls) == 7  # one open, six posts
        # the same notifier on another loop (a command draining the outbox) opens a
        # session of its own: the app's belongs to the app's loop
        notifier = sd.door.app.state.worker.notifiers["slack"]
        asyncio.run(notifier.deliver(Notification(
            id=99, channel="slack", recipient="slack:U0OTHER", event="reply",
            payload={"reference": "MELD-2026-0001", "message_id": 1},
            reference="MELD-2026-0001", locale="nb", message="Takk.", attempt=1)))
        posts = sd.fake.calls_to("chat.postMessage")
        assert len(posts) == 7 and posts[-1].status == 200
        assert posts[-1].peer not in {call.peer for call in calls}
    finally:
        stop_slack_door(sd)


def test_a_dm_on_a_connection_slack_closed_is_still_delivered_once(
        sqlite_url: str, fake_slack: FakeSlack) -> None:
    """A kept connection that Slack closed without an answer: the DM's outcome is
    unknown, so the outbox sends it again (on a new connection) and it arrives."""
    sd = _dm_door(sqlite_url, fake_slack)
    try:
        sd.seed_report()  # a receipt DM and the triage channel's card
        sd.wait_for("chat.postMessage", 2)
        sd.fake.fail("chat.postMessage", disconnect=True)
        sd.seed_report()
        sd.wait_for("chat.postMessage", 4)
        posts = sd.fake.calls_to("chat.postMessage")
        [dropped] = [c for c in posts if c.status == 0]
        later = posts[posts.index(dropped) + 1:]
        [again] = [c for c in later if c.params["channel"] == dropped.params["channel"]]
        assert again.status == 200 and again.peer != dropped.peer
        assert again.params["blocks"] == dropped.params["blocks"]
        assert len([c for c in posts if c.status == 200]) == 4  # each message once
    finally:
        stop_slack_door(sd)

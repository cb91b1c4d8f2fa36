"""The Slack listeners' calls share one aiohttp session while the app runs: a /meld opens
its form over a kept connection (no new connection, and to slack.com no TLS handshake, per
call), and a kept connection that Slack closed meanwhile does not lose the form: the call
is sent again at once on a new one. Against the fake Slack with keep-alive on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bot.conftest import SlackDoor, slack_settings, start_slack_door
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

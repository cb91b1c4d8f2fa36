"""The fake Slack Web API answers slack_sdk's real clients like Slack, and records them."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.slack_fake import FakeSlack, fake_slack_fixture

fake_slack = pytest.fixture(fake_slack_fixture)


def test_sync_client_round_trip(fake_slack: FakeSlack) -> None:
    client = WebClient(base_url=fake_slack.url, token="xoxb-test")
    assert client.auth_test()["user_id"] == "U0MELDBOT"
    dm = client.conversations_open(users="U123")["channel"]["id"]
    assert dm == "DU123"
    posted = client.chat_postMessage(channel=dm, text="hei", blocks=[
        {"type": "section", "text": {"type": "mrkdwn", "text": "hei"}}])
    assert posted["channel"] == dm and posted["ts"]
    link = client.chat_getPermalink(channel=dm, message_ts=posted["ts"])["permalink"]
    assert link.startswith("https://meld-test.slack.com/archives/DU123/p")
    client.chat_update(channel=dm, ts=posted["ts"], text="oppdatert")
    client.chat_postEphemeral(channel="C1", user="U123", text="bare til deg")

    assert fake_slack.methods == ["auth.test", "conversations.open", "chat.postMessage",
                                  "chat.getPermalink", "chat.update", "chat.postEphemeral"]
    post = fake_slack.calls_to("chat.postMessage")[0]
    assert post.params["text"] == "hei"
    assert post.json_param("blocks")[0]["text"]["text"] == "hei"
    assert post.headers["authorization"] == "Bearer xoxb-test"
    assert post.token == "xoxb-test"
    assert fake_slack.calls_to("conversations.open")[0].params == {"users": "U123"}


def test_async_client_views_users_and_groups(fake_slack: FakeSlack) -> None:
    fake_slack.usergroups["S0GROUP"] = ["U1", "U2"]
    fake_slack.users["U1"] = {"real_name": "Kari Nordmann"}
    client = AsyncWebClient(base_url=fake_slack.url, token="xoxb-test", retry_handlers=[])

    async def run() -> None:
        view = {"type": "modal", "callback_id": "meld_report",
                "title": {"type": "plain_text", "text": "Meld"}, "blocks": []}
        opened = await client.views_open(trigger_id="123.456", view=view)
        view_id = opened["view"]["id"]
        assert view_id.startswith("V") and opened["view"]["callback_id"] == "meld_report"
        updated = await client.views_update(view_id=view_id, view=view)
        assert updated["view"]["id"] == view_id
        pushed = await client.views_push(trigger_id="123.457", view=view)
        assert pushed["view"]["id"] != view_id
        home = await client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
        assert home["view"]["type"] == "home"
        user = await client.users_info(user="U1", include_locale=True)
        assert user["user"]["real_name"] == "Kari Nordmann"
        assert user["user"]["locale"] == "nb-NO"
        members = await client.usergroups_users_list(usergroup="S0GROUP")
        assert members["users"] == ["U1", "U2"]
        with pytest.raises(SlackApiError) as err:
            await client.usergroups_users_list(usergroup="S0OTHER")
        assert err.value.response["error"] == "no_such_subteam"

    asyncio.run(run())
    assert fake_slack.calls_to("views.open")[0].json_param("view")["callback_id"] == "meld_report"
    assert fake_slack.calls_to("views.update")[0].params["view_id"].startswith("V")


def test_unknown_method_and_bad_tokens(fake_slack: FakeSlack) -> None:
    client = WebClient(base_url=fake_slack.url, token="xoxb-test")
    with pytest.raises(SlackApiError) as err:
        client.api_call("chat.doSomethingNew")
    assert err.value.response["error"] == "unknown_method"
    for token in ("not-a-token", "xoxa-2-foo"):
        with pytest.raises(SlackApiError) as err:
            WebClient(base_url=fake_slack.url, token=token).auth_test()
        assert err.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as err:
        WebClient(base_url=fake_slack.url).auth_test()
    assert err.value.response["error"] == "not_authed"
    assert len(fake_slack.calls) == 4  # every call is recorded, failed ones too


def test_only_configured_tokens_when_given() -> None:
    with FakeSlack(tokens={"xoxb-right"}) as slack:
        assert WebClient(base_url=slack.url, token="xoxb-right").auth_test()["ok"]
        with pytest.raises(SlackApiError):
            WebClient(base_url=slack.url, token="xoxb-wrong").auth_test()


def test_raw_form_and_json_bodies(fake_slack: FakeSlack) -> None:
    form = urllib.request.Request(
        fake_slack.url + "chat.postMessage", data=b"channel=C1&text=a%26b",
        headers={"Authorization": "Bearer xoxb-raw",
                 "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(form, timeout=5) as resp:
        assert json.load(resp)["ok"] is True
    body = json.dumps({"channel": "C1", "text": "json"}).encode()
    js = urllib.request.Request(
        fake_slack.url + "chat.postMessage", data=body,
        headers={"Authorization": "Bearer xoxb-raw", "Content-Type": "application/json"})
    with urllib.request.urlopen(js, timeout=5) as resp:
        assert json.load(resp)["channel"] == "C1"
    assert [c.params["text"] for c in fake_slack.calls] == ["a&b", "json"]


def test_scripted_failures_are_used_in_order(fake_slack: FakeSlack) -> None:
    fake_slack.fail("chat.postMessage", times=2, status=429, retry_after=7)
    fake_slack.fail("chat.postMessage", status=500)
    fake_slack.fail("chat.postMessage", error="user_not_found")
    client = WebClient(base_url=fake_slack.url, token="xoxb-test", retry_handlers=[])
    seen = []
    for _ in range(4):
        with pytest.raises(SlackApiError) as err:
            client.chat_postMessage(channel="D1", text="x")
        resp = err.value.response
        seen.append((resp.status_code, resp.headers.get("Retry-After"), resp["error"]))
    assert seen == [(429, "7", "ratelimited"), (429, "7", "ratelimited"),
                    (500, None, "http_500"), (200, None, "user_not_found")]
    assert client.chat_postMessage(channel="D1", text="x")["ok"]  # script used up
    assert [c.status for c in fake_slack.calls] == [429, 429, 500, 200, 200]
    # other methods were never affected
    assert client.conversations_open(users="U1")["ok"]


def test_a_hang_outlasts_the_client_timeout_but_slack_did_the_work(
        fake_slack: FakeSlack) -> None:
    fake_slack.fail("chat.postMessage", hang=2)
    client = AsyncWebClient(base_url=fake_slack.url, token="xoxb-test", timeout=0.3,
                            retry_handlers=[])
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        asyncio.run(client.chat_postMessage(channel="D1", text="x"))
    assert time.monotonic() - started < 1.5
    assert len(fake_slack.calls_to("chat.postMessage")) == 1  # recorded: Slack may have posted


def test_stop_does_not_wait_out_a_hang() -> None:
    slack = FakeSlack().start()
    slack.fail("auth.test", hang=5)
    client = AsyncWebClient(base_url=slack.url, token="xoxb-test", timeout=0.2,
                            retry_handlers=[])
    with pytest.raises(TimeoutError):
        asyncio.run(client.auth_test())
    started = time.monotonic()
    slack.stop()
    assert time.monotonic() - started < 2


def test_slack_sdk_default_client_resends_after_a_dropped_connection(
        fake_slack: FakeSlack) -> None:
    """Why the notifier's client has no retry handlers: the default one posts twice."""
    fake_slack.fail("chat.postMessage", disconnect=True)
    default = AsyncWebClient(base_url=fake_slack.url, token="xoxb-test")
    assert asyncio.run(default.chat_postMessage(channel="D1", text="x"))["ok"]
    assert len(fake_slack.calls_to("chat.postMessage")) == 2

    fake_slack.reset()
    fake_slack.fail("chat.postMessage", disconnect=True)
    bare = AsyncWebClient(base_url=fake_slack.url, token="xoxb-test", retry_handlers=[])
    with pytest.raises(Exception) as err:
        asyncio.run(bare.chat_postMessage(channel="D1", text="x"))
    assert type(err.value).__name__ == "ServerDisconnectedError"
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def test_nothing_leaves_loopback(fake_slack: FakeSlack) -> None:
    assert fake_slack.url.startswith("http://127.0.0.1:")
    assert fake_slack.url.endswith("/api/")
    with pytest.raises(ValueError):
        fake_slack.fail("auth.test", hang=60)

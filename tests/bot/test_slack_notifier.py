"""Slack DMs from the outbox: the real OutboxWorker, a real database, the fake Slack Web API."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block
from sqlalchemy import select

from bot.slack.notifier import (
    ANSWER_ACTION_ID,
    SECTION_MAX,
    SlackNotifier,
    escape_mrkdwn,
    quote_mrkdwn,
    render,
    slack_client,
    split_for_sections,
)
from intake import services
from intake.delivery.outbox import DeliveryError, Notification, OutboxWorker
from intake.domain.model import Actor, Role
from intake.i18n import Translator
from intake.texts import FORMAL_GUIDANCE, REPLY_NOTICE
from storage import models as m
from tests.fakes import FakeClock
from tests.integration.helpers import draft
from tests.slack_fake import FakeSlack, fake_slack_fixture

fake_slack = pytest.fixture(fake_slack_fixture)

REPORTER = Actor("slack:U123", Role.REPORTER)
GROUP = Actor("slack:UGROUP", Role.TRIAGER)
NB = Translator("nb")
CLIENT_TIMEOUT = 1.5  # seconds: ample for loopback on a loaded machine (0.3 was not)
HANG = 5.0  # the fake's hang outlasts the client's timeout


def worker_for(ctx: services.Context, clock: FakeClock, slack: FakeSlack,
               **kwargs) -> OutboxWorker:
    client = slack_client("xoxb-test", base_url=slack.url, timeout=CLIENT_TIMEOUT)
    return OutboxWorker(db=ctx.db, notifiers={"slack": SlackNotifier(client)}, clock=clock,
                        **kwargs)


def rows(ctx: services.Context) -> list[m.OutboxMessage]:
    """The reporter's outbox rows (the group's own notices are another channel's)."""
    with ctx.db.reading() as s:
        return list(s.scalars(select(m.OutboxMessage)
                              .where(m.OutboxMessage.channel == "slack")
                              .order_by(m.OutboxMessage.id)).all())


def posted(slack: FakeSlack) -> list[dict]:
    """What Slack accepted through chat.postMessage: channel, text and blocks (as JSON)."""
    return [{"channel": c.params["channel"], "text": c.params["text"],
             "blocks": c.json_param("blocks")}
            for c in slack.calls_to("chat.postMessage") if c.status == 200]


def assert_blocks_validate(blocks: list[dict]) -> None:
    """Parse what Slack received back into slack_sdk models and re-run their validators."""
    for raw in blocks:
        block = Block.parse(raw)
        assert block is not None and block.to_dict() == raw


def note(**overrides) -> Notification:
    values = dict(id=7, channel="slack", recipient="slack:U123", event="reply",
                  payload={"reference": "MELD-2026-0001", "message_id": 1},
                  reference="MELD-2026-0001", locale="nb", message="Takk.", attempt=1)
    values.update(overrides)
    return Notification(**values)


# ---------------------------------------------------------------- through the outbox


def test_receipt_arrives_as_a_dm_in_norwegian(ctx, clock, fake_slack) -> None:
    ref = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    assert asyncio.run(worker_for(ctx, clock, fake_slack).drain()) == 1

    assert fake_slack.methods == ["conversations.open", "chat.postMessage"]
    assert fake_slack.calls_to("conversations.open")[0].params["users"] == "U123"
    (msg,) = posted(fake_slack)
    assert msg["channel"] == "DU123"
    assert msg["text"] == (
        f"Takk! Meldingen din er mottatt med referanse {ref}.\n\n"
        "Forbedringsgruppen leser alle meldinger. Du får svar her når den er vurdert, "
        "senest innen 16. mars 2026."  # what happens next, and by when
    )
    assert NB(FORMAL_GUIDANCE) not in msg["text"]  # minor severity: no formal guidance
    notice, actions = msg["blocks"]
    assert notice["text"] == {"type": "mrkdwn", "text": msg["text"]}
    (button,) = actions["elements"]
    assert (button["action_id"], button["value"]) == (ANSWER_ACTION_ID, ref)
    assert_blocks_validate(msg["blocks"])
    (row,) = rows(ctx)
    assert row.delivered_at is not None and row.last_error is None


def test_serious_receipt_carries_the_formal_guidance(ctx, clock, fake_slack) -> None:
    services.submit_report(ctx=ctx, actor=REPORTER, draft=draft(severity="severe"))
    asyncio.run(worker_for(ctx, clock, fake_slack).drain())
    (msg,) = posted(fake_slack)
    assert escape_mrkdwn(NB(FORMAL_GUIDANCE)) in msg["text"]
    assert "Helsetilsynet" in msg["text"]


def test_a_reply_is_quoted_and_escaped(ctx, clock, fake_slack) -> None:
    ref = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    text = "Se <!channel> & <@U999|kari>, <https://evil.example|her>.\nHilsen > gruppa"
    services.reply(ctx=ctx, actor=GROUP, reference=ref, text=text)
    assert asyncio.run(worker_for(ctx, clock, fake_slack).drain()) == 3  # receipt, triage, reply

    reply = posted(fake_slack)[-1]
    quoted = (">Se &lt;!channel&gt; &amp; &lt;@U999|kari&gt;, "
              "&lt;https://evil.example|her&gt;.\n>Hilsen &gt; gruppa")
    assert reply["text"] == NB(REPLY_NOTICE, reference=ref) + "\n\n" + quoted
    assert reply["text"].startswith("Forbedringsgruppen har svart på")
    notice, message, actions = reply["blocks"]
    assert notice["text"]["text"] == NB(REPLY_NOTICE, reference=ref)
    assert message["text"]["text"] == quoted
    assert actions["elements"][0]["value"] == ref
    for msg in posted(fake_slack):  # no raw mention, link or broadcast anywhere
        everything = msg["text"] + repr(msg["blocks"])
        assert "<!" not in everything and "<@" not in everything and "<http" not in everything
        assert_blocks_validate(msg["blocks"])
    post = fake_slack.calls_to("chat.postMessage")[-1]
    assert post.params["unfurl_links"] is False and post.params["unfurl_media"] is False


def test_rate_limit_waits_exactly_retry_after(ctx, clock, fake_slack) -> None:
    services.submit_report(ctx=ctx, actor=REPORTER, draft=draft())
    fake_slack.fail("chat.postMessage", status=429, retry_after=3)
    worker = worker_for(ctx, clock, fake_slack)
    assert asyncio.run(worker.run_once()) == 0
    (row,) = rows(ctx)
    assert row.last_error == "slack_rate_limited" and row.failed_at is None
    assert row.next_attempt_at - clock.now == timedelta(seconds=3)
    clock.advance(seconds=2)
    assert asyncio.run(worker.run_once()) == 0  # not due yet: Slack is not asked
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    clock.advance(seconds=1)
    assert asyncio.run(worker.run_once()) == 1
    assert [c.status for c in fake_slack.calls_to("chat.postMessage")] == [429, 200]
    assert rows(ctx)[0].delivered_at is not None


def test_server_errors_are_retried_with_backoff(ctx, clock, fake_slack) -> None:
    services.submit_report(ctx=ctx, actor=REPORTER, draft=draft())
    fake_slack.fail("chat.postMessage", times=2, status=500)
    worker = worker_for(ctx, clock, fake_slack, backoff_base=10, backoff_max=100)
    assert asyncio.run(worker.run_once()) == 0
    (row,) = rows(ctx)
    # a 5xx may come after Slack did the work: recorded as ambiguous
    assert row.last_error == "ambiguous:slack_http_500" and row.failed_at is None
    assert 8 <= (row.next_attempt_at - clock.now).total_seconds() <= 12
    clock.advance(seconds=13)
    assert asyncio.run(worker.run_once()) == 0
    (row,) = rows(ctx)
    assert 16 <= (row.next_attempt_at - clock.now).total_seconds() <= 24  # doubled
    clock.advance(seconds=25)
    assert asyncio.run(worker.run_once()) == 1
    assert [c.status for c in fake_slack.calls_to("chat.postMessage")] == [500, 500, 200]
    assert worker.stats.retried == 2 and worker.stats.delivered == 1


def test_an_unknown_user_is_given_up_and_unblocks_the_next(ctx, clock, fake_slack) -> None:
    ref = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    services.reply(ctx=ctx, actor=GROUP, reference=ref, text="Svar")
    fake_slack.fail("conversations.open", error="user_not_found")
    worker = worker_for(ctx, clock, fake_slack)
    asyncio.run(worker.drain())
    first, *rest = rows(ctx)
    assert first.failed_at is not None and first.delivered_at is None
    assert first.last_error == "slack_user_not_found" and first.attempts == 1
    assert all(r.delivered_at is not None for r in rest)
    assert worker.stats.failed == 1
    assert [msg["text"].split(" ")[0] for msg in posted(fake_slack)] == [
        "Meldingen", "Forbedringsgruppen"]  # the receipt was never posted


def test_a_timeout_is_retried(ctx, clock, fake_slack, caplog) -> None:
    caplog.set_level(logging.INFO, logger="meld.outbox")
    services.submit_report(ctx=ctx, actor=REPORTER, draft=draft())
    fake_slack.fail("chat.postMessage", hang=HANG)
    worker = worker_for(ctx, clock, fake_slack, backoff_base=10)
    assert asyncio.run(worker.run_once()) == 0
    (row,) = rows(ctx)
    assert row.last_error == "ambiguous:slack_timeout" and row.failed_at is None
    clock.advance(seconds=13)
    assert asyncio.run(worker.run_once()) == 1
    # Slack received both posts. After an ambiguous timeout the first may well have been
    # delivered: chat.postMessage has no idempotency key, so this retry can duplicate the
    # DM. Unlike Teams (no blind resend there), for a Slack DM a duplicate is the accepted
    # trade-off; a lost receipt is not.
    assert len(fake_slack.calls_to("chat.postMessage")) == 2
    assert rows(ctx)[0].delivered_at is not None
    # ...and the possible duplicate is in the log by outbox id
    assert worker.stats.redelivered == 1
    assert f"outbox id={rows(ctx)[0].id} channel=slack attempt 2" in caplog.text
    assert "possible duplicate" in caplog.text


def test_message_text_is_never_logged(ctx, clock, fake_slack, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    ref = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    services.reply(ctx=ctx, actor=GROUP, reference=ref, text="Hemmelig tekst fra gruppa")
    fake_slack.fail("chat.postMessage", status=429, retry_after=1)
    worker = worker_for(ctx, clock, fake_slack)
    asyncio.run(worker.drain())
    clock.advance(seconds=5)
    asyncio.run(worker.drain())
    assert len(posted(fake_slack)) == 3
    assert "slack_rate_limited" in caplog.text and "id=1" in caplog.text
    for secret in ("Hemmelig", "Meldingen din", "Forbedringsgruppen har"):
        assert secret not in caplog.text


# ---------------------------------------------------------------- the notifier alone


def deliver(slack_url: str, n: Notification) -> None:
    client = slack_client("xoxb-test", base_url=slack_url, timeout=CLIENT_TIMEOUT)
    asyncio.run(SlackNotifier(client).deliver(n))


@pytest.mark.parametrize(("error", "permanent"), [
    ("user_not_found", True), ("user_disabled", True), ("cannot_dm_bot", True),
    ("channel_not_found", True), ("invalid_auth", False), ("account_inactive", False),
    ("internal_error", False),
])
def test_slack_errors_map_to_delivery_errors(fake_slack, error, permanent) -> None:
    fake_slack.fail("conversations.open", error=error)
    with pytest.raises(DeliveryError) as err:
        deliver(fake_slack.url, note())
    assert err.value.code == f"slack_{error}"
    assert err.value.permanent is permanent and err.value.retry_after is None


def test_a_rate_limit_without_retry_after_uses_the_backoff(fake_slack) -> None:
    fake_slack.fail("conversations.open", status=429, retry_after=None)
    with pytest.raises(DeliveryError) as err:
        deliver(fake_slack.url, note())
    assert (err.value.code, err.value.retry_after, err.value.permanent) == (
        "slack_rate_limited", None, False)


def test_connection_refused_is_retryable() -> None:
    with FakeSlack() as slack:
        url = slack.url  # a port that was just freed: nobody listens there any more
    with pytest.raises(DeliveryError) as err:
        deliver(url, note())
    assert err.value.code == "slack_connection_error" and not err.value.permanent
    assert not err.value.ambiguous  # nothing was sent


def test_the_notifier_deadline_bounds_a_slow_client(fake_slack) -> None:
    fake_slack.fail("conversations.open", hang=2)
    client = slack_client("xoxb-test", base_url=fake_slack.url, timeout=30)
    with pytest.raises(DeliveryError) as err:
        asyncio.run(SlackNotifier(client, deadline=0.3).deliver(note()))
    assert err.value.code == "slack_timeout" and not err.value.permanent
    assert err.value.ambiguous


def test_a_recipient_from_another_channel_is_refused(fake_slack) -> None:
    for recipient in ("teams:29:abc", "web:abc", "slack:", "slack:<!channel>"):
        with pytest.raises(DeliveryError) as err:
            deliver(fake_slack.url, note(recipient=recipient))
        assert err.value.code == "slack_bad_recipient" and err.value.permanent
    assert fake_slack.calls == []


def test_long_messages_are_split_into_valid_sections() -> None:
    body = ("Tiltak & oppfølging <viktig>. " * 150 + "\n") * 3 + "x" * 3500
    text, blocks = render(note(message=body), NB)
    sections = [b for b in blocks if b["block_id"].startswith("meld_message_")]
    assert len(sections) > 2
    assert all(len(s["text"]["text"]) <= SECTION_MAX for s in sections)
    assert all(line.startswith(">") for s in sections for line in s["text"]["text"].split("\n"))
    rebuilt = "".join(s["text"]["text"].replace("\n>", "\n")[1:] for s in sections)
    assert rebuilt.replace("\n", "") == escape_mrkdwn(body).replace("\n", "")
    assert_blocks_validate(blocks)
    assert "<viktig>" not in text


@given(text=st.text(alphabet="ab &<>\n", min_size=1, max_size=300),
       limit=st.integers(min_value=6, max_value=40), quoted=st.booleans())
def test_split_pieces_fit_and_keep_every_character(text: str, limit: int,
                                                   quoted: bool) -> None:
    pieces = split_for_sections(text, limit, quoted=quoted)
    form = quote_mrkdwn if quoted else escape_mrkdwn
    assert all(p and len(form(p)) <= limit for p in pieces) or pieces == [text]
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")


def test_long_or_hostile_payload_fields_are_escaped_and_split() -> None:
    """A closing notice quotes the group's learning point and measure: escaped, split."""
    payload = {"reference": "MELD-2026-0001", "status": "closed",
               "learning_point": "<!here> " + "L" * 2900, "measure": "M & m. " * 600}
    text, blocks = render(note(event="status_changed", payload=payload, message=None), NB)
    notices = [b for b in blocks if b["block_id"].startswith("meld_notice_")]
    assert len(notices) >= 2
    assert all(len(b["text"]["text"]) <= SECTION_MAX for b in notices)
    assert "<!here>" not in text + repr(blocks) and "&lt;!here&gt;" in text
    assert_blocks_validate(blocks)


def test_english_reporters_get_english_and_no_button_without_reference() -> None:
    text, blocks = render(note(locale="en"), Translator("en"))
    assert text.startswith("Forbedringsgruppen has answered on MELD-2026-0001:")
    assert blocks[-1]["elements"][0]["text"]["text"] == "Answer"
    _text, blocks = render(note(reference=None, payload={"reference": "MELD-2026-0001"}), NB)
    assert [b["type"] for b in blocks] == ["section", "section"]


def test_the_answer_button_is_in_bokmal() -> None:
    """Fails until the msgid "Answer" -> "Svar" is in intake/locale/nb/.../messages.po."""
    _text, blocks = render(note(), NB)
    assert blocks[-1]["elements"][0]["text"]["text"] == "Svar"


# ---------------------------------------------------------------- the DM channel, remembered


def deliver_all(slack_url: str, notes: list[Notification]) -> None:
    """Several notices through one notifier, one after the other."""
    client = slack_client("xoxb-test", base_url=slack_url, timeout=CLIENT_TIMEOUT)
    notifier = SlackNotifier(client)

    async def run() -> None:
        for n in notes:
            await notifier.deliver(n)
    asyncio.run(run())


def test_a_reporters_dm_is_opened_once_for_all_their_notices(fake_slack) -> None:
    deliver_all(fake_slack.url, [note(id=1), note(id=2, recipient="slack:U456"), note(id=3),
                                 note(id=4)])
    opened = [c.params["users"] for c in fake_slack.calls_to("conversations.open")]
    assert opened == ["U123", "U456"]  # one each, not one per notice
    assert [m["channel"] for m in posted(fake_slack)] == ["DU123", "DU456", "DU123", "DU123"]


def test_a_stale_dm_channel_is_forgotten_and_the_notice_still_posted(fake_slack) -> None:
    client = slack_client("xoxb-test", base_url=fake_slack.url, timeout=CLIENT_TIMEOUT)
    notifier = SlackNotifier(client)

    async def run() -> None:
        await notifier.deliver(note(id=1))
        fake_slack.fail("chat.postMessage", error="channel_not_found")  # the next post only
        await notifier.deliver(note(id=2))
        await notifier.deliver(note(id=3))
    asyncio.run(run())
    assert fake_slack.methods == [
        "conversations.open", "chat.postMessage",  # the first notice
        "chat.postMessage", "conversations.open", "chat.postMessage",  # refused, reopened
        "chat.postMessage",  # the new channel id is remembered
    ]
    answered_ok = [bool(c.response.get("ok")) for c in fake_slack.calls_to("chat.postMessage")]
    assert answered_ok == [True, False, True, True]  # each notice posted once
    channels = [c.params["channel"] for c in fake_slack.calls_to("chat.postMessage")]
    assert channels == ["DU123"] * 4


def test_another_failure_on_a_remembered_dm_is_the_notices_failure(fake_slack) -> None:
    client = slack_client("xoxb-test", base_url=fake_slack.url, timeout=CLIENT_TIMEOUT)
    notifier = SlackNotifier(client)

    async def run() -> DeliveryError:
        await notifier.deliver(note(id=1))
        fake_slack.fail("chat.postMessage", status=429, retry_after=2)
        with pytest.raises(DeliveryError) as err:
            await notifier.deliver(note(id=2))
        await notifier.deliver(note(id=2, attempt=2))  # the outbox's retry
        return err.value
    err = asyncio.run(run())
    assert (err.code, err.retry_after) == ("slack_rate_limited", 2)
    # not reopened for a rate limit: the channel id stays remembered
    assert fake_slack.methods == ["conversations.open", "chat.postMessage", "chat.postMessage",
                                  "chat.postMessage"]

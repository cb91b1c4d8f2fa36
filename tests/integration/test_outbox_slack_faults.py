"""The outbox against a misbehaving Slack (the fake Web API on loopback): 429 with
Retry-After, 500 and a timeout in a row for one reporter. The worker backs off as told,
the other reporter is not held up, and the first reporter's notices arrive in order."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from bot.slack.notifier import SlackNotifier, slack_client
from intake import services
from intake.delivery.outbox import OutboxWorker
from intake.domain.model import Actor, Role
from storage import models as m
from tests.fakes import FakeClock
from tests.integration.helpers import draft
from tests.slack_fake import FakeSlack

ALICE = Actor("slack:UALICE", Role.REPORTER)
BOB = Actor("slack:UBOB", Role.REPORTER)
GROUP = Actor("slack:UGROUP", Role.TRIAGER)
BASE = 10.0


def slack_rows(ctx: services.Context, recipient: str) -> list[m.OutboxMessage]:
    with ctx.db.reading() as s:
        return list(s.scalars(select(m.OutboxMessage)
                              .where(m.OutboxMessage.recipient == recipient)
                              .order_by(m.OutboxMessage.id)))


def posts_to(slack: FakeSlack, channel: str) -> list[tuple[int, str]]:
    return [(c.status, c.params["text"]) for c in slack.calls_to("chat.postMessage")
            if c.params.get("channel") == channel]


def test_429_500_and_timeout_back_off_and_keep_order_per_reporter(
        ctx: services.Context, clock: FakeClock, caplog) -> None:
    caplog.set_level(logging.INFO, logger="meld.outbox")
    ref = services.submit_report(ctx=ctx, actor=ALICE, draft=draft()).reference
    services.submit_report(ctx=ctx, actor=BOB, draft=draft())
    services.reply(ctx=ctx, actor=GROUP, reference=ref, text="Takk, vi ser på saken.")
    with FakeSlack() as slack:
        # 1.5 s is ample on a loaded machine, and the scripted hang (5 s) outlasts it
        client = slack_client("xoxb-test", base_url=slack.url, timeout=1.5)
        worker = OutboxWorker(db=ctx.db, notifiers={"slack": SlackNotifier(client)},
                              clock=clock, backoff_base=BASE, backoff_max=1000)
        alice_first = slack_rows(ctx, "slack:UALICE")[0]

        # 1: Slack says 429, Retry-After 7 s; Bob's receipt goes through all the same
        slack.fail("chat.postMessage", status=429, retry_after=7)
        assert asyncio.run(worker.run_once()) == 1
        row = slack_rows(ctx, "slack:UALICE")[0]
        assert row.last_error == "slack_rate_limited"
        assert (row.next_attempt_at - clock.now).total_seconds() == 7
        assert [r.delivered_at is not None for r in slack_rows(ctx, "slack:UBOB")] == [True]
        clock.advance(seconds=6)
        assert asyncio.run(worker.run_once()) == 0  # not due: Slack is not asked
        assert len(posts_to(slack, "DUALICE")) == 1

        # 2: a 500 (ambiguous): exponential backoff, 2 x base +-20%
        clock.advance(seconds=1)
        slack.fail("chat.postMessage", status=500)
        assert asyncio.run(worker.run_once()) == 0
        row = slack_rows(ctx, "slack:UALICE")[0]
        assert row.last_error == "ambiguous:slack_http_500"
        assert 16 <= (row.next_attempt_at - clock.now).total_seconds() <= 24

        # 3: a timeout (ambiguous): 4 x base +-20%
        clock.advance(seconds=25)
        slack.fail("chat.postMessage", hang=5)
        assert asyncio.run(worker.run_once()) == 0
        row = slack_rows(ctx, "slack:UALICE")[0]
        assert row.last_error == "ambiguous:slack_timeout"
        assert 32 <= (row.next_attempt_at - clock.now).total_seconds() <= 48
        # meanwhile nothing later for Alice was sent: her notices wait behind the first
        assert len(posts_to(slack, "DUALICE")) == 3
        assert all(r.attempts == 0 for r in slack_rows(ctx, "slack:UALICE")[1:])

        # 4: Slack is well again: everything arrives, in order
        clock.advance(seconds=50)
        asyncio.run(worker.drain())
        rows = slack_rows(ctx, "slack:UALICE")
        assert all(r.delivered_at is not None for r in rows)
        assert [r.attempts for r in rows] == [4, 1, 1]
        posts = posts_to(slack, "DUALICE")
        receipt_text = posts[0][1]
        assert [p[0] for p in posts] == [429, 500, 200, 200, 200, 200]
        assert [p[1] == receipt_text for p in posts] == [True, True, True, True, False, False]
        assert len({p[1] for p in posts[4:]}) == 2  # status change, then the reply
        assert ref in receipt_text
    # the resend after the ambiguous timeout is a possible duplicate, logged by id
    assert worker.stats.redelivered == 2  # after the 500 and after the timeout
    assert (f"outbox id={alice_first.id} channel=slack attempt 4: an earlier attempt may "
            "have been delivered; resending (possible duplicate)") in caplog.text
    assert "Takk, vi ser" not in caplog.text

"""SIGKILL Meld in the middle of a burst of submissions and outbox deliveries.

Afterwards (on SQLite and on PostgreSQL):
- every submission that got a 201 is in the database exactly once, with the reference the
  client was given; no report lacks its audit event or outbox rows, and no audit event or
  outbox row lacks its report (nothing half-stored);
- after a restart, retrying every unanswered request with its idempotency key stores it
  once (or returns the report stored just before the kill), and retrying an answered one
  returns the same reference;
- every committed notification is delivered after the restart, at most once more than
  needed, and each possible duplicate is in the restarted process's log by outbox id.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from storage import models as m
from tests.doors.conftest import SECRET
from tests.faults.burst import Burst, read_stored, retry_keys
from tests.faults.procs import MeldProcess
from tests.slack_fake import FakeSlack

pytestmark = pytest.mark.faults

TRIAGE = "CTRIAGE"
KILL_AFTER_ACKS = 60  # acknowledged submissions before the SIGKILL
LEASE_SECONDS = 2  # outbox lease in the test: a killed claim is retried after this
REF = re.compile(r"MELD-\d{4}-\d{4,}")
REDELIVERY = re.compile(r"outbox id=(\d+) channel=group attempt \d+: an earlier attempt may "
                        r"have been delivered; resending \(possible duplicate\)")


def meld_env(db_url: str, slack: FakeSlack) -> dict[str, str]:
    return {
        "MELD_DATABASE_URL": db_url,
        "MELD_SECRET_KEY": SECRET,
        "MELD_SLACK_BOT_TOKEN": "xoxb-test",
        "MELD_SLACK_API_URL": slack.url,
        "MELD_SLACK_TRIAGE_CHANNEL": TRIAGE,
        "MELD_SLACK_TIMEOUT_SECONDS": "5",
        "MELD_RUN_DIGEST_SCHEDULER": "false",
        "MELD_RUN_CLUSTER_ALERTS": "false",  # the triage channel gets the cards only
        "MELD_OUTBOX_POLL_SECONDS": "0.05",
        "MELD_OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
        "MELD_LOG_LEVEL": "INFO",
    }


def wait_until(predicate, timeout: float, what: str):
    """The predicate's first truthy value (read once: a second read may differ)."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
    return value


def pending_outbox(db_url: str) -> int:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(m.OutboxMessage).where(
                m.OutboxMessage.delivered_at.is_(None))).scalar_one()
    finally:
        engine.dispose()


def unanswered_posts(slack: FakeSlack) -> list[str]:
    """References of triage cards Slack has received and not yet answered."""
    return [REF.search(str(c.params.get("text", ""))).group(0)  # type: ignore[union-attr]
            for c in slack.calls_to("chat.postMessage") if not c.response]


def group_posts(slack: FakeSlack) -> Counter[str]:
    """How many times Slack received the triage card of each reference (answered or not)."""
    out: Counter[str] = Counter()
    for call in slack.calls_to("chat.postMessage"):
        if call.params.get("channel") == TRIAGE:
            found = REF.search(str(call.params.get("text", "")))
            assert found, "a triage card without its reference"
            out[found.group(0)] += 1
    return out


def test_sigkill_mid_burst_loses_nothing_and_stores_nothing_twice(
        db_url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    with FakeSlack() as slack:
        # every triage card takes Slack 0.4 s to answer, and the kill lands while one is
        # unanswered: Slack has the message, Meld cannot have marked it delivered
        slack.fail("chat.postMessage", times=1_000_000, hang=0.4)
        first = MeldProcess(meld_env(db_url, slack), tmp_path / "meld-1.log").start()
        burst = Burst(first.url, clients=4, prefix="kill").start()
        try:
            burst.wait_for_acks(KILL_AFTER_ACKS)
            # the cards in flight as seen once, and the kill straight after (reading them
            # a second time could find the card answered in between)
            cut_off = wait_until(lambda: unanswered_posts(slack), 15, "a triage card in flight")
            first.kill()
            slack.clear_failures()  # Slack answers at once from now on
        finally:
            burst.stop()
            first.kill()
        acked = dict(burst.acked)
        assert burst.answers.keys() <= {201}, (burst.answers, burst.bodies)

        # straight after the kill, before any restart: nothing lost, nothing half-stored
        stored = read_stored(db_url)
        lost = [k for k, ref in acked.items() if stored.by_key.get(k) != [ref]]
        assert lost == [], f"acknowledged but not stored once with its reference: {lost}"
        assert stored.duplicates == 0
        assert stored.half_stored == [] and stored.orphans == 0
        in_flight_stored = sorted(k for k in burst.unknown if k in stored.by_key)

        second = MeldProcess(meld_env(db_url, slack), tmp_path / "meld-2.log").start()
        try:
            # the clients retry what got no answer; an answered one replays its receipt
            retried = retry_keys(second.url, burst.unknown)
            for key, (replayed, reference) in retried.items():
                assert replayed == (key in in_flight_stored), key
                if replayed:
                    assert stored.by_key[key] == [reference]
            sample = sorted(acked)[:: max(1, len(acked) // 10)]
            for key, (replayed, reference) in retry_keys(second.url, sample).items():
                assert replayed and reference == acked[key]

            wait_until(lambda: pending_outbox(db_url) == 0, 30,
                       "every outbox row to be delivered after the restart")
        finally:
            second.stop()
        log = second.log()

    final = read_stored(db_url)
    assert final.duplicates == 0 and final.half_stored == [] and final.orphans == 0
    expected = set(acked) | set(burst.unknown)
    assert set(final.by_key) == expected  # every request stored once, nothing else
    assert len(set(final.references)) == len(final.references)

    posts = group_posts(slack)
    assert set(posts) == set(final.references)  # every triage card delivered
    twice = {ref for ref, n in posts.items() if n == 2}
    assert all(n <= 2 for n in posts.values()), posts.most_common(3)
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            group_ids = dict(conn.execute(
                select(m.Report.reference, m.OutboxMessage.id)
                .join(m.OutboxMessage, m.OutboxMessage.report_id == m.Report.id)
                .where(m.OutboxMessage.channel == "group")).all())
    finally:
        engine.dispose()
    logged = {int(i) for i in REDELIVERY.findall(log)}
    # the card cut off by the kill was sent once more, and that duplicate is in the log
    # by outbox id; nothing else was sent twice
    assert len(cut_off) == 1, cut_off  # one group row at a time
    assert twice == set(cut_off), (twice, cut_off)
    assert logged == {group_ids[ref] for ref in twice}, (twice, logged)
    all_logged = len(re.findall(r"resending \(possible duplicate\)", log))
    print(f"\nkill test ({db_url.split(':')[0]}): sent={burst.sent} acknowledged={len(acked)} "
          f"unanswered={len(burst.unknown)} (stored before the kill: "
          f"{len(in_flight_stored)}) lost=0 duplicates=0 reports={len(final.references)} "
          f"outbox redeliveries logged={all_logged} (triage cards {len(logged)}) "
          f"duplicate triage cards received by Slack={len(twice)} "
          f"time={time.monotonic() - started:.1f}s")

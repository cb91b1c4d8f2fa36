"""Two real Meld servers on one database keep every guarantee that one server keeps.

What MELD_WORKERS=2, or two replicas behind one address, amounts to: two processes that
share nothing but the database (on PostgreSQL, and on one SQLite file), with Slack on
(HTTP mode, a fake Web API on loopback), both outbox workers and both digest schedulers
running. Then:

(a) a Slack event delivered to one process and retried (X-Slack-Retry-Num) onto the
    other, or delivered to both at once, is handled once;
(b) one reporter hammering both processes gets exactly MELD_RATE_LIMIT_PER_REPORTER
    submissions through in total, and 429 with Retry-After after that; the per-IP limit
    is one limit across both processes too;
(c) the weekly digest, which both schedulers try to post as they start, is posted once;
(d) every stored report's triage card is delivered exactly once by the two outbox
    workers (every outbox row delivered, at its first attempt).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from storage import models as m
from tests.bot.conftest import SIGNING_SECRET, sign
from tests.doors.conftest import SECRET, report_body
from tests.faults.procs import MeldProcess
from tests.faults.test_kill import REF, pending_outbox, wait_until
from tests.slack_fake import BOT_USER_ID, TEAM_ID, FakeSlack

pytestmark = pytest.mark.faults

TRIAGE = "CTRIAGE"  # = tests.faults.test_kill.TRIAGE (group_posts reads it)
PER_REPORTER = 5
PER_IP = 30
ANONYMOUS_REPORTS = 16  # submitted without a browser session, half to each server
DIGEST = re.compile(r"^Ukeoversikt for Forbedringsgruppen")
DELIVERED = re.compile(r"outbox id=(\d+) channel=\S+ event=\S+ delivered")


def meld_env(db_url: str, slack: FakeSlack) -> dict[str, str]:
    return {
        "MELD_DATABASE_URL": db_url,
        "MELD_SECRET_KEY": SECRET,
        "MELD_SLACK_BOT_TOKEN": "xoxb-test",
        "MELD_SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "MELD_SLACK_API_URL": slack.url,
        "MELD_SLACK_TRIAGE_CHANNEL": TRIAGE,
        "MELD_SLACK_TIMEOUT_SECONDS": "5",
        "MELD_RUN_DIGEST_SCHEDULER": "true",  # both catch up on last week's digest at start
        "MELD_RUN_PROMISE_SCHEDULER": "false",
        "MELD_RUN_CLUSTER_ALERTS": "false",  # the triage channel gets cards and the digest
        "MELD_OUTBOX_POLL_SECONDS": "0.05",
        "MELD_RATE_LIMIT_ENABLED": "true",
        "MELD_RATE_LIMIT_PER_REPORTER": str(PER_REPORTER),
        "MELD_RATE_LIMIT_PER_IP": str(PER_IP),
        "MELD_RATE_LIMIT_WINDOW_SECONDS": "600",  # longer than the test: nothing leaves it
        "MELD_LOG_LEVEL": "INFO",
    }


def in_threads(work: Callable[[int], Any], n: int) -> list[Any]:
    """work(0..n-1) in n threads started together; their results in order."""
    results: list[Any] = [None] * n
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    if errors:
        raise errors[0]
    return results


def slack_event(url: str, event_id: str, user: str, retry: int | None = None) -> int:
    """POST one Events API delivery, signed like Slack; the HTTP status."""
    body = json.dumps({
        "token": "verification-token", "team_id": TEAM_ID, "api_app_id": "A0MELDAPP",
        "event": {"type": "app_home_opened", "user": user, "channel": f"D{user}",
                  "tab": "home", "event_ts": f"{time.time():.6f}"},
        "type": "event_callback", "event_id": event_id, "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": TEAM_ID, "user_id": BOT_USER_ID,
                            "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
    }).encode()
    ts = str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts,
               "X-Slack-Signature": sign(body, ts)}
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return httpx.post(url + "/slack/events", content=body, headers=headers,
                      timeout=10).status_code


def submit(url: str, session: str | None) -> httpx.Response:
    cookies = {"meld_session": session} if session else None
    with httpx.Client(base_url=url, cookies=cookies, timeout=15) as client:
        return client.post("/api/v1/reports", json=report_body())


def digests(slack: FakeSlack) -> list[str]:
    return [str(c.params.get("text")) for c in slack.calls_to("chat.postMessage")
            if c.params.get("channel") == TRIAGE and DIGEST.match(str(c.params.get("text")))]


def group_posts(slack: FakeSlack) -> Counter[str]:
    """How many times Slack received the triage card of each reference."""
    out: Counter[str] = Counter()
    for call in slack.calls_to("chat.postMessage"):
        text = str(call.params.get("text", ""))
        if call.params.get("channel") == TRIAGE and not DIGEST.match(text):
            found = REF.search(text)
            assert found, "a triage card without its reference"
            out[found.group(0)] += 1
    return out


def read_rows(db_url: str) -> tuple[list[str], list[tuple[int, str, Any, int]], list[Any]]:
    """(references, outbox rows (id, channel, delivered_at, attempts), digest runs)."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            refs = list(conn.execute(select(m.Report.reference)).scalars())
            outbox = [tuple(r) for r in conn.execute(
                select(m.OutboxMessage.id, m.OutboxMessage.channel,
                       m.OutboxMessage.delivered_at, m.OutboxMessage.attempts))]
            runs = list(conn.execute(select(m.DigestRun.period, m.DigestRun.posted_at,
                                            m.DigestRun.attempts)))
    finally:
        engine.dispose()
    return refs, outbox, runs  # type: ignore[return-value]


def test_two_servers_on_one_database_keep_every_guarantee(db_url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    with FakeSlack() as slack:
        # the first chat.postMessage (the digest, as both schedulers start) takes Slack a
        # second: the other server's scheduler meets a claim held while it is being posted
        slack.fail("chat.postMessage", times=1, hang=1.0)
        servers = [MeldProcess(meld_env(db_url, slack), tmp_path / f"meld-{n}.log")
                   for n in (1, 2)]
        in_threads(lambda i: servers[i].start(), 2)  # both boot at the same moment
        a, b = (s.url for s in servers)
        try:
            # (a) one Slack event, first to A, then Slack's retry of it lands on B; another
            # event delivered to both servers at the same moment
            assert slack_event(a, "Ev0TWO0001", "UREPORT1") == 200
            assert slack_event(b, "Ev0TWO0001", "UREPORT1", retry=1) == 200
            assert in_threads(lambda i: slack_event(servers[i].url, "Ev0TWO0002",
                                                    "UREPORT2"), 2) == [200, 200]
            wait_until(lambda: len(slack.calls_to("views.publish")) >= 2, 10,
                       "the app home of both events")

            # (d) reports submitted to both servers at once, without a browser session:
            # every one counts against the shared per-IP limit only
            anonymous = in_threads(lambda i: submit(servers[i % 2].url, None).status_code,
                                   ANONYMOUS_REPORTS)
            assert anonymous == [201] * ANONYMOUS_REPORTS

            # (b) one browser (one meld_session) hammering both servers from six threads
            answers = in_threads(lambda i: [submit(servers[(i + k) % 2].url, "browser-1")
                                            for k in range(4)], 6)
            flat = [r for rs in answers for r in rs]
            codes = Counter(r.status_code for r in flat)
            assert codes == {201: PER_REPORTER, 429: 24 - PER_REPORTER}, codes
            refused = [r for r in flat if r.status_code == 429]
            assert all(r.json()["code"] == "rate_limited" for r in refused)
            assert all(0 < int(r.headers["retry-after"]) <= 600 for r in refused)
            assert {r.json()["retry_after"] for r in refused} \
                == {int(r.headers["retry-after"]) for r in refused}
            # ... and the per-IP limit is one limit for both servers: PER_IP in total
            left = PER_IP - ANONYMOUS_REPORTS - PER_REPORTER
            more = in_threads(lambda i: submit(servers[i % 2].url, None).status_code, 16)
            assert Counter(more) == {201: left, 429: 16 - left}, Counter(more)

            # (c) the digest both schedulers tried to post as they started
            wait_until(lambda: digests(slack), 15, "the weekly digest")
            # (d) every outbox row delivered by one of the two workers
            wait_until(lambda: pending_outbox(db_url) == 0, 20, "every outbox row delivered")
            time.sleep(0.5)  # a second post of anything would be in by now
        finally:
            for s in servers:
                s.stop()
        logs = [s.log() for s in servers]

    refs, outbox, runs = read_rows(db_url)
    assert len(refs) == PER_IP == len(set(refs))  # every 201 stored once, nothing more

    # (a) each event id handled once (one home published per event), the other delivery
    # acknowledged as already received, by whichever server got it
    published = [c.params["user_id"] for c in slack.calls_to("views.publish")]
    assert sorted(published) == ["UREPORT1", "UREPORT2"], published
    assert sum(log.count("already received: acknowledged") for log in logs) == 2

    # (c) one digest for one week, claimed once
    assert len(digests(slack)) == 1, digests(slack)
    assert len(runs) == 1 and runs[0].posted_at is not None and runs[0].attempts == 1, runs

    # (d) each report's triage card posted once; every row delivered at its first attempt
    posts = group_posts(slack)
    assert set(posts) == set(refs) and set(posts.values()) == {1}, posts.most_common(3)
    assert outbox and all(delivered is not None and attempts == 1
                          for _id, _channel, delivered, attempts in outbox), outbox
    logged = Counter(int(i) for log in logs for i in DELIVERED.findall(log))
    assert logged == {row[0]: 1 for row in outbox}  # each row delivered by one server, once
    print(f"\ntwo servers ({db_url.split(':')[0]}): reports={len(refs)} "
          f"outbox rows={len(outbox)} channels={dict(Counter(r[1] for r in outbox))} "
          f"digests=1 time={time.monotonic() - started:.1f}s")

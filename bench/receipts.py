"""Receipt latency per channel: from the submit's ack to the receipt reaching the platform.

One client submits sequentially against the real server process (bench/server.py), waits
for the receipt, pauses briefly, submits again. The fakes run in this process, so the
client's t0 (it has read the ack) and the fake's t1 (it received the receipt) come from
the same clock, time.monotonic():

- Slack: a signed `meld_report` view_submission to POST /slack/events; t0 when the ack
  (`response_action=clear`) is read. Meld stores the report *before* it acks (bot/slack/
  listeners.py report_submitted), so the ack comes after the commit. t1 is the fake Slack
  Web API (tests/slack_fake.py, in a thread here) receiving the DM `chat.postMessage` to
  the reporter: a distinct user per submit, so the DM channel (D<user>) names the submit.
  The worker, woken at the commit, races the ack's way back to the client: a negative
  figure means the DM was there before the client had read the ack (kept as measured).
- Teams: an `adaptiveCard/action` invoke (the chat form) to POST /api/messages with a
  signed JWT; the HTTP answer is the card with the reference, after the commit. t1 is the
  fake Bot Connector (tests/teams_fake.py) receiving the activity to the reporter's
  personal conversation (a distinct user and conversation per submit).
- E-mail: POST /api/v1/reports with "email"; t0 when the 201 is read. t1 is the aiosmtpd
  server (tests/mail/fakes.py) taking the DATA of the mail whose Subject holds the
  reference.

Meld wakes its outbox worker at the commit (intake/services/context.py OutboxSignal), so a
receipt should not wait for the poll; the poll stays at its default, 2 s, here so the
figures show the wake-up. Each channel gets its own server and database (as a site runs
one chat platform), the first WARMUP receipts per server are left out (the bot token, the
first TLS connection), and with ~50 receipts the nearest-rank p99 is about the maximum.
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from slack_sdk.signature import SignatureVerifier
from sqlalchemy.exc import SQLAlchemyError

from bench.databases import BenchDatabase
from bench.fake_slack import TOKEN
from bench.load import BenchFailed, LoadResult
from bench.report import write_json
from bench.server import running_server
from bench.slack import PATH as SLACK_PATH
from bench.slack import TRIGGER_ID, VIEW_ID, view_template
from bench.submit import PATH as API_PATH
from bench.submit import report_body
from bench.teams import KEY, TRIAGE, invoke_template
from tests.mail.fakes import SmtpServer
from tests.slack_fake import Call, FakeSlack
from tests.teams_fake import APP_ID, APP_PASSWORD, TENANT_ID, FakeMicrosoft

TARGET_P99_MS = 300.0
CHANNELS = ("slack", "teams", "email")
WARMUP = 2  # receipts per server left out of the figures
PAUSE_S = 0.1  # between a receipt and the next submit
TIMEOUT_S = 10.0  # a receipt later than this counts as missing (the poll is 2 s)
MAIL_TO = "lege@eksempel.no"
REFERENCE = re.compile(r"MELD-\d{4}-\d{4,}")
# settings every server gets: the default poll, said explicitly so an exported value cannot
# change what is measured; no digest timer beside the worker
COMMON_ENV = {"MELD_OUTBOX_POLL_SECONDS": "2", "MELD_RUN_DIGEST_SCHEDULER": "false"}

# submit(n) -> (t0, lookup): t0 when the ack was read, lookup() the fake's time or None
Submit = Callable[[int], tuple[float, Callable[[], float | None]]]
Say = Callable[[str], None]


class SubmitRefused(BenchFailed):
    """The door did not accept a submit (the outcome code is the message)."""


@dataclass
class ChannelResult:
    channel: str
    backend: str
    latencies_ms: list[float] = field(default_factory=list)
    warmup_ms: list[float] = field(default_factory=list)
    missing: int = 0
    refused: Counter[str] = field(default_factory=Counter)

    def percentile(self, p: float) -> float | None:
        return LoadResult(1, 0.0, len(self.latencies_ms),
                          latencies_ms=self.latencies_ms).percentile_ms(p)

    @property
    def met(self) -> bool:
        p99 = self.percentile(99)
        return p99 is not None and p99 < TARGET_P99_MS and not self.missing

    def as_json(self) -> dict[str, Any]:
        return {"channel": self.channel, "backend": self.backend, "n": len(self.latencies_ms),
                "p50_ms": self.percentile(50), "p99_ms": self.percentile(99),
                "max_ms": max(self.latencies_ms, default=None), "missing": self.missing,
                "refused": dict(self.refused), "warmup_ms": self.warmup_ms,
                "target_p99_ms": TARGET_P99_MS, "met": self.met,
                "latencies_ms": [round(v, 3) for v in self.latencies_ms]}


def measure(result: ChannelResult, submit: Submit, count: int) -> ChannelResult:
    """WARMUP + count submits, one at a time, each waiting for its receipt."""
    for n in range(1, WARMUP + count + 1):
        try:
            t0, lookup = submit(n)
        except SubmitRefused as exc:
            result.refused[str(exc)] += 1
            continue
        t1 = lookup()
        while t1 is None and time.monotonic() - t0 < TIMEOUT_S:
            time.sleep(0.002)  # t1 is the fake's own time: the polling step does not count
            t1 = lookup()
        if t1 is None:
            result.missing += 1
        else:
            (result.warmup_ms if n <= WARMUP else result.latencies_ms).append(
                (t1 - t0) * 1000)
        time.sleep(PAUSE_S)
    return result


def _post(conn: http.client.HTTPConnection, path: str, body: bytes,
          headers: dict[str, str]) -> tuple[float, int, bytes]:
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    return time.monotonic(), response.status, data


@contextmanager
def _connection(base_url: str) -> Iterator[http.client.HTTPConnection]:
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30.0)
    try:
        yield conn
    finally:
        conn.close()


# ------------------------------------------------------------------ Slack


class TimedFakeSlack(FakeSlack):
    """FakeSlack that notes when each chat.postMessage arrived, by channel."""

    def __init__(self) -> None:
        super().__init__()
        self.posted: dict[str, float] = {}  # channel -> first chat.postMessage

    def _record(self, call: Call) -> int:
        if call.method == "chat.postMessage":
            at = time.monotonic()
            with self._lock:
                self.posted.setdefault(str(call.params.get("channel")), at)
        return super()._record(call)


def _slack(db: BenchDatabase, work_dir: Path, count: int, result: ChannelResult) -> None:
    secret = secrets.token_hex(16)
    verifier = SignatureVerifier(secret)
    with TimedFakeSlack() as fake:
        env = {**COMMON_ENV, "MELD_SLACK_BOT_TOKEN": TOKEN,
               "MELD_SLACK_SIGNING_SECRET": secret, "MELD_SLACK_API_URL": fake.url}
        with running_server(db.url, work_dir / f"server-receipts-slack-{result.backend}.log",
                            extra_env=env) as server, _connection(server.base_url) as conn:

            def submit(n: int) -> tuple[float, Callable[[], float | None]]:
                user = f"U0RCPT{n:05d}"
                body = view_template(user).replace(VIEW_ID, f"VRCPT{n:07d}").replace(
                    TRIGGER_ID, f"{n}.{secrets.token_hex(4)}")
                ts = str(int(time.time()))
                t0, status, data = _post(conn, SLACK_PATH, body.encode(), {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Slack-Request-Timestamp": ts,
                    "X-Slack-Signature": verifier.generate_signature(timestamp=ts, body=body)})
                if status != 200 or json.loads(data or b"null") != {"response_action": "clear"}:
                    raise SubmitRefused(f"HTTP {status}" if status != 200 else "not cleared")
                return t0, lambda: fake.posted.get(f"D{user}")

            measure(result, submit, count)


# ------------------------------------------------------------------ Teams


def _teams(db: BenchDatabase, work_dir: Path, count: int, result: ChannelResult) -> None:
    with tempfile.TemporaryDirectory() as folder, FakeMicrosoft(Path(folder)) as fake:
        env = {**COMMON_ENV, "MELD_TEAMS_APP_ID": APP_ID, "MELD_TEAMS_APP_PASSWORD": APP_PASSWORD,
               "MELD_TEAMS_TENANT_ID": TENANT_ID, "MELD_TEAMS_AUTHORITY_URL": fake.url,
               "MELD_TEAMS_OPENID_METADATA_URL": fake.metadata_url,
               "MELD_TEAMS_SERVICE_URLS": fake.url, "MELD_TEAMS_CA_BUNDLE": str(fake.cert),
               "MELD_TEAMS_TRIAGE_CONVERSATION": TRIAGE,
               "MELD_TEAMS_TRIAGE_SERVICE_URL": fake.service_url}
        token = fake.jwt()
        with running_server(db.url, work_dir / f"server-receipts-teams-{result.backend}.log",
                            extra_env=env) as server, _connection(server.base_url) as conn:

            def submit(n: int) -> tuple[float, Callable[[], float | None]]:
                aad = f"00000000-0000-4000-9000-{n:012d}"
                body = invoke_template(aad, fake.service_url).replace(
                    KEY, f"receipt-{n}-{time.time_ns()}")
                t0, status, data = _post(conn, "/api/messages", body.encode(), {
                    "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
                found = REFERENCE.search(data.decode(errors="replace"))
                if status != 200 or found is None:
                    raise SubmitRefused(f"HTTP {status}" if status != 200 else "no reference")
                conversation, reference = f"a:bench-{aad}", found.group()

                def lookup() -> float | None:
                    for sent in list(fake.sent):
                        if sent.conversation == conversation and sent.method == "POST" and \
                                reference in sent.card_text:
                            return sent.at
                    return None

                return t0, lookup

            measure(result, submit, count)


# ------------------------------------------------------------------ e-mail


def _email(db: BenchDatabase, work_dir: Path, count: int, result: ChannelResult) -> None:
    with SmtpServer() as smtp:
        env = {**COMMON_ENV, "MELD_MAIL_TRANSPORT": "smtp", "MELD_SMTP_URL": smtp.url(),
               "MELD_SMTP_STARTTLS": "off", "MELD_MAIL_FROM": "meld@eksempel.no"}
        body = json.dumps({**report_body(), "email": MAIL_TO}).encode()
        with running_server(db.url, work_dir / f"server-receipts-email-{result.backend}.log",
                            extra_env=env) as server, _connection(server.base_url) as conn:

            def submit(n: int) -> tuple[float, Callable[[], float | None]]:
                t0, status, data = _post(conn, API_PATH, body,
                                         {"Content-Type": "application/json"})
                if status != 201:
                    raise SubmitRefused(f"HTTP {status}")
                reference = str(json.loads(data)["reference"])

                def lookup() -> float | None:
                    for mail in smtp.mails:
                        if reference in str(mail.message["Subject"]):
                            return mail.at
                    return None

                return t0, lookup

            measure(result, submit, count)


DOORS: dict[str, Callable[[BenchDatabase, Path, int, ChannelResult], None]] = {
    "slack": _slack, "teams": _teams, "email": _email}


# ------------------------------------------------------------------ the phase


def bench_receipts(backend: str, dbs: AbstractContextManager[list[BenchDatabase]], *,
                   work_dir: Path, count: int, say: Say) -> list[ChannelResult]:
    """The three channels on one backend, each against its own server and database."""
    results = []
    with ExitStack() as stack:
        databases = stack.enter_context(dbs)
        for channel, db in zip(CHANNELS, databases, strict=True):
            say(f"{backend}: receipts: {channel}, {WARMUP} + {count} submits, one client")
            result = ChannelResult(channel=channel, backend=backend)
            DOORS[channel](db, work_dir, count, result)
            results.append(result)
    return results


def print_receipts(results: list[ChannelResult], count: int) -> None:
    print(f"\nReceipt latency (1 client, {count} receipts per channel; "
          f"target p99 < {TARGET_P99_MS / 1000:g} s)")
    print(f"  {'channel':<8} {'backend':<10} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8}  target")
    for r in results:
        p50, p99 = r.percentile(50), r.percentile(99)
        cells = [f"{v:>8.1f}" if v is not None else f"{'-':>8}"
                 for v in (p50, p99, max(r.latencies_ms, default=None))]
        print(f"  {r.channel:<8} {r.backend:<10} {len(r.latencies_ms):>4} {' '.join(cells)}  "
              f"{'met' if r.met else 'MISSED'}")
        if r.missing or r.refused:
            print(f"    missing receipts {r.missing}, refused submits {dict(r.refused)}")
    print("  (ack read by the client to the receipt at the fake platform: Slack "
          "chat.postMessage DM, Teams activity to the personal chat, SMTP DATA; "
          f"outbox poll 2 s, first {WARMUP} per server left out)")


def run_receipts(backends: list[str], skipped: dict[str, str],
                 databases: Callable[[str, int], AbstractContextManager[list[BenchDatabase]]],
                 *, work_dir: Path, count: int, say: Say,
                 document: Callable[..., dict[str, Any]]) -> int:
    """Run, print, write work_dir/receipts.json; 2 when a backend failed, 1 when receipts
    went missing or submits were refused, else 0 (a missed target is reported, not fatal)."""
    results: list[ChannelResult] = []
    failures: dict[str, str] = {}
    for backend in backends:
        try:
            results += bench_receipts(backend, databases(backend, len(CHANNELS)),
                                      work_dir=work_dir, count=count, say=say)
        except (BenchFailed, psycopg.Error, SQLAlchemyError, OSError) as exc:
            failures[backend] = f"{type(exc).__name__}: {exc}"
            say(f"{backend}: receipts: {exc}")
    print_receipts(results, count)
    for backend, reason in {**skipped, **failures}.items():
        print(f"  {backend}: {reason}")
    out = work_dir / "receipts.json"
    write_json(out, document(
        {"receipts_per_channel": count, "warmup": WARMUP, "pause_s": PAUSE_S,
         "timeout_s": TIMEOUT_S, "outbox_poll_seconds": 2.0, "clients": 1},
        results=[r.as_json() for r in results], target_p99_ms=TARGET_P99_MS,
        skipped=skipped, failures=failures))
    print(f"\nReceipt figures written to {out}")
    if failures:
        return 2
    return 1 if any(r.missing or r.refused for r in results) else 0

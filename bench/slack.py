"""The Slack door's ack latency: signed requests to POST /slack/events over real HTTP.

Two request kinds, as Slack sends them: the `/meld` slash command (Meld acks, then opens the
modal with views.open) and the `meld_report` view submission (Meld stores the report, then
acks with response_action=clear). The HTTP response *is* the ack: Slack shows the user an
error when it takes more than 3 s. The baseline is Bolt's bare dispatch of the same bodies
(bench/bare_bolt.py: listeners that only ack), on the same uvicorn/FastAPI adapter; the
second baseline is a bare Bolt that does what no door can leave out (/meld opens the blank
form after its ack; meld_report stores the stack floor's row, durably, before its ack).

The fake Slack Web API (tests/slack_fake.py) runs in its own process (bench/fake_slack.py).
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from slack_sdk.signature import SignatureVerifier
from sqlalchemy import create_engine, text

from bench.databases import BenchDatabase
from bench.fake_slack import TOKEN, FakeSlackProcess, fake_slack_process
from bench.load import OK, BenchFailed, LoadResult, Operation, run_load
from bench.report import SlackResult
from bench.server import cpu_seconds, free_port, memory_mb, running_process, running_server
from bench.submit import report_body
from tests.slack_fake import TEAM_ID

PATH = "/slack/events"
COMMAND, VIEW = "command", "view"
APP_ID = "A0MELDBENCH"
CLEAR = {"response_action": "clear"}
# placeholders in the pre-encoded bodies, replaced per request (letters only: urlencode and
# quote leave them as they are)
VIEW_ID, TRIGGER_ID = "XXVIEWIDXX", "XXTRIGGERXX"


# ------------------------------------------------------------------ request bodies


def _option(value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": value, "emoji": True}, "value": value}


def _select(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": _option(value)}


def report_state() -> dict[str, Any]:
    """The modal's state.values as bot/slack/views.py `read_report_state` reads them: the same
    report as the web submit phase (block id -> action id "value" -> element state)."""
    body = report_body()
    return {
        "kind": {"value": {"type": "radio_buttons", "selected_option": _option(body["kind"])}},
        "category": {"value": _select(f"{body['category']}/{body['subcategory']}")},
        "description": {"value": {"type": "plain_text_input", "value": body["description"]}},
        "occurred_on": {"value": {"type": "datepicker", "selected_date": body["occurred_on"]}},
        "place": {"value": _select(body["place"])},
        "reporter_party": {"value": _select(body["reporter_party"])},
        "concerned_party": {"value": _select(body["concerned_party"])},
        "severity": {"value": _select(body["severity"])},
        "no_ids": {"value": {"type": "checkboxes", "selected_options": [_option("yes")]}},
    }


def command_template(user_id: str) -> str:
    """A `/meld` slash command, form-encoded; TRIGGER_ID to be replaced."""
    return urlencode({
        "token": "bench-verification-token", "team_id": TEAM_ID, "team_domain": "meld-test",
        "channel_id": "C0BENCH01", "channel_name": "bench", "user_id": user_id,
        "user_name": user_id.lower(), "command": "/meld", "text": "",
        "api_app_id": APP_ID, "is_enterprise_install": "false",
        "response_url": f"https://hooks.slack.com/commands/{TEAM_ID}/1/{TRIGGER_ID}",
        "trigger_id": TRIGGER_ID,
    })


def view_template(user_id: str) -> str:
    """A `meld_report` view submission, `payload=<url-encoded JSON>`; VIEW_ID and TRIGGER_ID
    to be replaced (the view id must be new for every submission: Meld's idempotency key).
    The view carries no `blocks` (Slack sends the modal's blocks too; Meld reads only state)."""
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "meld-test"},
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(),
                 "team_id": TEAM_ID},
        "api_app_id": APP_ID, "token": "bench-verification-token", "trigger_id": TRIGGER_ID,
        "view": {
            "id": VIEW_ID, "team_id": TEAM_ID, "type": "modal", "blocks": [],
            "private_metadata": "{}", "callback_id": "meld_report",
            "state": {"values": report_state()}, "hash": f"1772450000.{VIEW_ID}",
            "title": {"type": "plain_text", "text": "Ny melding", "emoji": True},
            "clear_on_close": False, "notify_on_close": False, "close": None,
            "submit": None, "previous_view_id": None, "root_view_id": VIEW_ID,
            "app_id": APP_ID, "external_id": "", "app_installed_team_id": TEAM_ID,
            "bot_id": "B0MELDBOT",
        },
        "response_urls": [], "is_enterprise_install": False, "enterprise": None,
    }
    return "payload=" + quote(json.dumps(payload, separators=(",", ":")), safe="")


# ------------------------------------------------------------------ clients


class SlackLoad:
    """A `Client` for run_load: a keep-alive connection per thread, each request signed
    (timestamp and HMAC) with unique trigger and view ids. Counts every acceptable answer,
    warm-up and probe included, so the stored rows can be checked against it."""

    def __init__(self, base_url: str, secret: str, kind: str, *, expect_clear: bool) -> None:
        self.url = urlsplit(base_url)
        self.verifier = SignatureVerifier(secret)
        self.kind = kind
        self.expect_clear = expect_clear
        self.accepted = 0
        self.sent = 0
        self._lock = threading.Lock()
        self._client_numbers = itertools.count(1)

    def __call__(self) -> AbstractContextManager[Operation]:
        return self._open()

    def _check(self, status: int, data: bytes) -> str:
        if status != 200:
            return f"HTTP {status}"
        if self.kind == COMMAND:
            return OK
        if not self.expect_clear:  # bare Bolt: `await ack()` answers an empty body
            return OK if not data.strip() else "unexpected body"
        try:
            answer = json.loads(data)
        except ValueError:
            return "no JSON" if data.strip() else "empty body"
        if answer == CLEAR:
            return OK
        if not isinstance(answer, dict):
            return "unexpected body"
        action = answer.get("response_action")
        errors = answer.get("errors")
        if action == "errors" and isinstance(errors, dict):  # block ids only, never the texts
            return f"errors: {','.join(sorted(errors))}"
        return f"response_action={action}"

    @contextmanager
    def _open(self) -> Iterator[Operation]:
        number = next(self._client_numbers)
        user_id = f"U0BENCH{number:03d}"
        template = command_template(user_id) if self.kind == COMMAND else view_template(user_id)
        prefix = f"{number:03d}{secrets.token_hex(3).upper()}"
        seq = itertools.count(1)
        conn = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=30.0)
        try:

            def send() -> str:
                n = next(seq)
                body = template.replace(VIEW_ID, f"V{prefix}{n:07d}").replace(
                    TRIGGER_ID, f"{n}.{prefix}.{secrets.token_hex(4)}")
                ts = str(int(time.time()))
                headers = {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Slack-Request-Timestamp": ts,
                    "X-Slack-Signature": self.verifier.generate_signature(timestamp=ts,
                                                                          body=body),
                }
                with self._lock:
                    self.sent += 1
                conn.request("POST", PATH, body=body.encode(), headers=headers)
                response = conn.getresponse()
                outcome = self._check(response.status, response.read())
                if outcome == OK:
                    with self._lock:
                        self.accepted += 1
                return outcome

            yield send
        finally:
            conn.close()

    def probe(self) -> None:
        """One request before the load: a refused body fails loudly, not as 10k errors."""
        with self._open() as send:
            outcome = send()
        if outcome != OK:
            raise BenchFailed(f"probe {self.kind} to {self.url.geturl()} got {outcome}")


# ------------------------------------------------------------------ the phase


@dataclass(frozen=True)
class Phase:
    load: LoadResult
    server_cpu_s: float
    accepted: int  # acceptable answers including warm-up and probe
    sent: int


def _measure(server_pid: int, client: SlackLoad, *, clients: int, seconds: float,
             max_ops: int) -> Phase:
    cpu_before = cpu_seconds(server_pid)
    load = run_load(client, clients=clients, seconds=seconds, max_ops=max_ops)
    return Phase(load=load, server_cpu_s=cpu_seconds(server_pid) - cpu_before,
                 accepted=client.accepted, sent=client.sent)


def _wait_views_open(fake: FakeSlackProcess, before: int, expected: int,
                     timeout_s: float = 15.0) -> tuple[int, float]:
    """views.open calls since `before`, once `expected` arrived or the count stops moving;
    and how long that took after the load ended (the backlog of modals still to open)."""
    return _wait_calls(fake, "views.open", before, expected, timeout_s)


def _wait_calls(fake: FakeSlackProcess, method: str, before: int, expected: int,
                timeout_s: float = 15.0) -> tuple[int, float]:
    """Calls of `method` since `before`, once `expected` arrived or the count stops
    moving for 2 s; and how long that took."""
    started = time.monotonic()
    last, still_since = -1, started
    while True:
        opened = fake.counts()["calls"].get(method, 0) - before
        now = time.monotonic()
        if opened >= expected or now - started > timeout_s:
            return opened, now - started
        if opened != last:
            last, still_since = opened, now
        elif now - still_since > 2.0:
            return opened, now - started
        time.sleep(0.1)


def _stored_reports(database_url: str) -> tuple[int, int]:
    """Reports that came through the Slack door, and their distinct idempotency keys."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text(
                "SELECT count(*), count(DISTINCT idempotency_key) FROM reports "
                "WHERE channel = 'slack'")).one()
    finally:
        engine.dispose()
    return int(row[0]), int(row[1])


_PROBLEM = re.compile(r"Traceback|\bERROR\b|\bCRITICAL\b|exception", re.IGNORECASE)


def log_problems(path: Path, limit: int = 8) -> list[str]:
    """Lines of a server log that look like errors (first few; the log is at WARNING)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    found = [line.strip()[:300] for line in lines if _PROBLEM.search(line)]
    if len(found) > limit:
        found = [*found[:limit], f"... and {len(found) - limit} more"]
    return found


def _diff(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in sorted(after.items())
            if v - before.get(k, 0)}


def _bare_bolt(fake: FakeSlackProcess, secret: str, log_path: Path, *,
               store_url: str | None, clients: int, seconds: float, max_ops: int,
               ) -> tuple[Phase, Phase, dict[str, int]]:
    """bench.bare_bolt's /meld and meld_report under the same load, with the fake Web API
    calls it made. With `store_url`, the bare Bolt that does what every door must: /meld
    opens Meld's blank form after the ack, meld_report stores the row before it."""
    load = {"clients": clients, "seconds": seconds, "max_ops": max_ops}
    port = free_port()
    calls_before = fake.counts()["calls"]
    work = ["--open-modal", "--store-url", store_url] if store_url else []
    command = [sys.executable, "-m", "bench.bare_bolt", "--port", str(port), "--secret", secret,
               "--api-url", fake.url, *work]
    with running_process(command, env=dict(os.environ), base_url=f"http://127.0.0.1:{port}",
                         log_path=log_path) as bolt:
        commands = SlackLoad(bolt.base_url, secret, COMMAND, expect_clear=False)
        commands.probe()
        cmd = _measure(bolt.pid, commands, **load)
        if store_url:  # the modals still being opened after the load
            _wait_views_open(fake, calls_before.get("views.open", 0), commands.accepted)
        views = SlackLoad(bolt.base_url, secret, VIEW, expect_clear=False)
        views.probe()
        view = _measure(bolt.pid, views, **load)
    return cmd, view, _diff(fake.counts()["calls"], calls_before)


def bench_slack(backend: str, dbs: AbstractContextManager[list[BenchDatabase]], *,
                work_dir: Path, clients: int, seconds: float, max_ops: int,
                idle_seconds: float, say: Callable[[str], None]) -> SlackResult:
    load = {"clients": clients, "seconds": seconds, "max_ops": max_ops}
    secret = secrets.token_hex(16)
    meld_log = work_dir / f"server-slack-{backend}.log"
    bolt_log = work_dir / f"bare-bolt-{backend}.log"
    modal_log = work_dir / f"bare-bolt-modal-{backend}.log"
    with fake_slack_process(work_dir / f"fake-slack-{backend}.log") as fake, dbs as dbs_:
        db = dbs_[0]
        env = {"MELD_SLACK_BOT_TOKEN": TOKEN, "MELD_SLACK_SIGNING_SECRET": secret,
               "MELD_SLACK_API_URL": fake.url}
        say(f"{backend}: Slack: starting Meld with the Slack door (HTTP) and a fake Slack")
        with running_server(db.url, meld_log, extra_env=env) as server:
            rss_before = memory_mb(server.pid)["VmRSS"]
            commands = SlackLoad(server.base_url, secret, COMMAND, expect_clear=False)
            views = SlackLoad(server.base_url, secret, VIEW, expect_clear=True)
            calls_before = fake.counts()["calls"]
            commands.probe()
            views.probe()
            say(f"{backend}: Slack: Meld /meld commands, {clients} clients, {seconds:g} s")
            meld_cmd = _measure(server.pid, commands, **load)
            opened, drain_s = _wait_views_open(fake, calls_before.get("views.open", 0),
                                               commands.accepted)
            say(f"{backend}: Slack: Meld meld_report submissions, {clients} clients, "
                f"{seconds:g} s")
            cpu_before_views = cpu_seconds(server.pid)
            posts_before = fake.counts()["calls"].get("chat.postMessage", 0)
            accepted_before = views.accepted
            meld_view = _measure(server.pid, views, **load)
            stored, distinct_keys = _stored_reports(db.url)
            # the outbox sends the receipt DMs after the acks and falls behind under the
            # load: the CPU of a submission with its receipt is counted until they are out
            _wait_calls(fake, "chat.postMessage", posts_before,
                        views.accepted - accepted_before)
            receipts_cpu_s = cpu_seconds(server.pid) - cpu_before_views
            time.sleep(idle_seconds)
            meld_calls = fake.counts()
            rss_after = memory_mb(server.pid)
        meld_log_problems = log_problems(meld_log)

        say(f"{backend}: Slack: bare Bolt baseline")
        bolt_cmd, bolt_view, bolt_calls = _bare_bolt(fake, secret, bolt_log, store_url=None,
                                                     **load)
        say(f"{backend}: Slack: bare Bolt that opens Meld's blank form after /meld and "
            f"stores a submitted form's row before its ack")
        modal_cmd, store_view, modal_calls = _bare_bolt(fake, secret, modal_log,
                                                        store_url=db.url, **load)

    return SlackResult(
        backend=backend,
        meld_command=meld_cmd.load, bolt_command=bolt_cmd.load, modal_command=modal_cmd.load,
        meld_view=meld_view.load, bolt_view=bolt_view.load, store_view=store_view.load,
        server_cpu_s={"meld_command": meld_cmd.server_cpu_s,
                      "bolt_command": bolt_cmd.server_cpu_s,
                      "meld_view": meld_view.server_cpu_s, "bolt_view": bolt_view.server_cpu_s,
                      "modal_command": modal_cmd.server_cpu_s,
                      "store_view": store_view.server_cpu_s,
                      "meld_view_with_receipts": receipts_cpu_s},
        commands_acked=commands.accepted, views_opened=opened, views_open_drain_s=drain_s,
        views_cleared=views.accepted, views_sent=views.sent, stored=stored,
        stored_distinct_keys=distinct_keys,
        fake_calls=meld_calls["calls"], fake_failed=meld_calls["failed"],
        bolt_fake_calls=bolt_calls, modal_views_opened=modal_calls.get("views.open", 0),
        rss_before_mb=rss_before, rss_after_mb=rss_after["VmRSS"],
        rss_peak_mb=rss_after["VmHWM"],
        log_problems=meld_log_problems + [f"bare Bolt: {p}" for p in log_problems(bolt_log)]
        + [f"bare Bolt with the form: {p}" for p in log_problems(modal_log)],
    )

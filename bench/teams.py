"""The Teams door's latency for a form submission: activity received to HTTP 200.

A report form sent from the personal chat is an `invoke` (`adaptiveCard/action`, verb
meld_submit) to POST /api/messages with a Bearer JWT; Meld validates the JWT, stores the
report (with its audit and outbox rows) and answers the card that replaces the form, all in
the HTTP response. The client measures from sending the request to reading the 200.
Every request is a new form (its own key), so every one stores a report.

Baseline, in the same run: bench/bare_teams.py, a bare FastAPI endpoint on the same uvicorn
doing the same activity parse and full JWT validation, answering a fixed card.

Fake Microsoft endpoints (OpenID metadata, JWKS, token endpoint, Bot Connector) run in this
process over HTTPS on loopback (tests/teams_fake.py); the outbox worker delivers receipts
and group cards to them during the load, as it would in production.
BENCH_TEAMS_ENV='{"MELD_RUN_OUTBOX_WORKER": "false"}' (JSON) adds settings for Meld's
server, e.g. to measure the door without the worker beside it.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import create_engine, text

from bench.databases import BenchDatabase
from bench.load import OK, BenchFailed, LoadResult, Operation, run_load
from bench.server import cpu_seconds, free_port, running_process, running_server
from bench.submit import report_body
from tests.teams_fake import APP_ID, APP_PASSWORD, BOT_ID, TENANT_ID, FakeMicrosoft

TRIAGE = "19:benchtriage@thread.tacv2"
KEY = "XXFORMKEYXX"
EXTRA = json.loads(os.environ.get("BENCH_TEAMS_ENV", "{}"))


def invoke_template(aad: str, service_url: str) -> str:
    """An adaptiveCard/action invoke as Teams sends it for the chat form; KEY replaced."""
    body = report_body()
    data = {"meld": "submit", "key": KEY, "kind": body["kind"],
            "category": f"{body['category']}/{body['subcategory']}",
            "description": body["description"], "occurred_on": body["occurred_on"],
            "place": body["place"], "reporter_party": body["reporter_party"],
            "concerned_party": body["concerned_party"], "severity": body["severity"],
            "no_ids": "true"}
    activity = {
        "type": "invoke", "name": "adaptiveCard/action", "id": f"f:{KEY}",
        "channelId": "msteams", "serviceUrl": service_url,
        "timestamp": "2026-11-23T20:00:00.000Z", "locale": "nb-NO",
        "from": {"id": f"29:bench-{aad}", "name": "Bench", "aadObjectId": aad},
        "recipient": {"id": BOT_ID, "name": "Meld"},
        "conversation": {"id": f"a:bench-{aad}", "conversationType": "personal",
                         "tenantId": TENANT_ID},
        "channelData": {"tenant": {"id": TENANT_ID}},
        "value": {"action": {"type": "Action.Execute", "verb": "meld_submit", "data": data},
                  "trigger": "manual"},
    }
    return json.dumps(activity, separators=(",", ":"), ensure_ascii=False)


class TeamsLoad:
    """A `Client` for run_load: a keep-alive connection and one JWT per client thread (Teams
    reuses its token too); each request a new form key."""

    def __init__(self, base_url: str, fake: FakeMicrosoft, *, expect_reference: bool) -> None:
        self.url = urlsplit(base_url)
        self.fake = fake
        self.expect_reference = expect_reference
        self.accepted = 0
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)

    def __call__(self) -> AbstractContextManager[Operation]:
        return self._open()

    def _check(self, status: int, data: bytes) -> str:
        if status != 200:
            return f"HTTP {status}"
        try:
            answer = json.loads(data)
        except ValueError:
            return "no JSON"
        if not isinstance(answer, dict) or answer.get("statusCode") != 200:
            return "not an invoke answer"
        card = json.dumps(answer.get("value"))
        if self.expect_reference and "MELD-" not in card:
            return "form returned (errors)"
        return OK

    @contextmanager
    def _open(self) -> Iterator[Operation]:
        number = next(self._numbers)
        aad = f"00000000-0000-4000-8000-{number:012d}"
        template = invoke_template(aad, self.fake.service_url)
        token = self.fake.jwt()
        seq = itertools.count(1)
        conn = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=30.0)
        try:

            def send() -> str:
                body = template.replace(KEY, f"bench-{number}-{next(seq)}-{time.time_ns()}")
                conn.request("POST", "/api/messages", body=body.encode(), headers={
                    "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
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
        with self._open() as send:
            outcome = send()
        if outcome != OK:
            raise BenchFailed(f"probe to {self.url.geturl()} got {outcome}")


@dataclass(frozen=True)
class TeamsResult:
    backend: str
    meld: LoadResult
    bare: LoadResult
    meld_cpu_s: float
    bare_cpu_s: float
    accepted: int
    stored: int

    def row(self, name: str, load: LoadResult) -> str:
        p50, p99 = load.percentile_ms(50), load.percentile_ms(99)
        return (f"  {name:<28} {load.ok:>7} {load.throughput:>8.0f}/s "
                f"{p50 or 0:>8.1f} {p99 or 0:>8.1f} {load.error_count:>6}")

    def print(self) -> None:
        print(f"\nTeams form submission, activity received to 200 ({self.backend}, "
              f"{self.meld.clients} clients)")
        print(f"  {'':<28} {'ok':>7} {'rate':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
        print(self.row("Meld /api/messages", self.meld))
        print(self.row("bare JWT-validating endpoint", self.bare))
        m50, b50 = self.meld.percentile_ms(50), self.bare.percentile_ms(50)
        m99, b99 = self.meld.percentile_ms(99), self.bare.percentile_ms(99)
        if m50 and b50 and m99 and b99:
            print(f"  ratio Meld/bare: p50 {m50 / b50:.2f}x, p99 {m99 / b99:.2f}x; "
                  f"server CPU per request {1000 * self.meld_cpu_s / max(1, self.meld.ok):.2f}"
                  f" ms vs {1000 * self.bare_cpu_s / max(1, self.bare.ok):.2f} ms")
        for errors, name in ((self.meld.errors, "Meld"), (self.bare.errors, "bare")):
            if errors:
                print(f"  {name} errors: {dict(errors)}")
        print(f"  reports stored {self.stored} for {self.accepted} accepted submissions "
              f"(warm-up and probe included): "
              f"{'ok' if self.stored == self.accepted else 'MISMATCH'}")

    def as_json(self) -> dict[str, Any]:
        def one(load: LoadResult) -> dict[str, Any]:
            return {"ok": load.ok, "throughput": load.throughput,
                    "p50_ms": load.percentile_ms(50), "p99_ms": load.percentile_ms(99),
                    "errors": dict(load.errors)}

        return {"backend": self.backend, "meld": one(self.meld), "bare": one(self.bare),
                "meld_cpu_s": self.meld_cpu_s, "bare_cpu_s": self.bare_cpu_s,
                "accepted": self.accepted, "stored": self.stored}


def _stored(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT count(*) FROM reports WHERE channel = 'teams'")).scalar_one())
    finally:
        engine.dispose()


def bench_teams(backend: str, dbs: AbstractContextManager[list[BenchDatabase]], *,
                work_dir: Path, clients: int, seconds: float, max_ops: int,
                say: Callable[[str], None]) -> TeamsResult:
    load = {"clients": clients, "seconds": seconds, "max_ops": max_ops}
    with tempfile.TemporaryDirectory() as folder, FakeMicrosoft(Path(folder)) as fake, \
            dbs as dbs_:
        db = dbs_[0]
        env = {"MELD_TEAMS_APP_ID": APP_ID, "MELD_TEAMS_APP_PASSWORD": APP_PASSWORD,
               "MELD_TEAMS_TENANT_ID": TENANT_ID, "MELD_TEAMS_AUTHORITY_URL": fake.url,
               "MELD_TEAMS_OPENID_METADATA_URL": fake.metadata_url,
               "MELD_TEAMS_SERVICE_URLS": fake.url, "MELD_TEAMS_CA_BUNDLE": str(fake.cert),
               "MELD_TEAMS_TRIAGE_CONVERSATION": TRIAGE,
               "MELD_TEAMS_TRIAGE_SERVICE_URL": fake.service_url,
               "MELD_RUN_DIGEST_SCHEDULER": "false", **EXTRA}
        say(f"{backend}: Teams: Meld form submissions, {clients} clients, {seconds:g} s")
        with running_server(db.url, work_dir / f"server-teams-{backend}.log",
                            extra_env=env) as server:
            meld_client = TeamsLoad(server.base_url, fake, expect_reference=True)
            meld_client.probe()
            before = cpu_seconds(server.pid)
            meld = run_load(meld_client, **load)
            meld_cpu = cpu_seconds(server.pid) - before
            stored = _stored(db.url)
        say(f"{backend}: Teams: bare JWT-validating endpoint")
        port = free_port()
        with running_process(
            [sys.executable, "-m", "bench.bare_teams", "--port", str(port), "--app-id", APP_ID,
             "--metadata-url", fake.metadata_url, "--ca-bundle", str(fake.cert),
             "--service-origin", fake.url],
            env=dict(os.environ), base_url=f"http://127.0.0.1:{port}",
            log_path=work_dir / f"bare-teams-{backend}.log",
        ) as bare_server:
            bare_client = TeamsLoad(bare_server.base_url, fake, expect_reference=False)
            bare_client.probe()
            before = cpu_seconds(bare_server.pid)
            bare = run_load(bare_client, **load)
            bare_cpu = cpu_seconds(bare_server.pid) - before
    return TeamsResult(backend=backend, meld=meld, bare=bare, meld_cpu_s=meld_cpu,
                       bare_cpu_s=bare_cpu, accepted=meld_client.accepted, stored=stored)

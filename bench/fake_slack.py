"""`python -m bench.fake_slack`: tests/slack_fake.FakeSlack in a process of its own.

The servers under test call the fake Web API after each `/meld` ack (views.open) and for
every stored report (the outbox's DM). Served from the bench process, those handler threads
would take the GIL from the 20 load clients and inflate the latencies they measure; in
their own process they only share the CPU, as Slack's servers would not even do that.

It keeps connections open between calls (HTTP/1.1 keep-alive), as Slack's servers do: a
client with a shared session (Meld's listeners) takes them again; one that opens a session
per call (Bolt's default client, the notifiers') opens a connection per call.

Protocol: prints the base URL on one line, serves until stdin closes. The fake keeps
counts, not the calls (a run opens thousands of modals): `GET <url>bench.counts` answers
{"ok": true, "calls": {method: n}, "failed": {method: n}} (itself not counted).
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.load import BenchFailed
from bench.server import REPO
from tests.slack_fake import Call, FakeSlack

COUNTS = "bench.counts"
TOKEN = "xoxb-bench"


class CountingFakeSlack(FakeSlack):
    """FakeSlack that counts calls per method instead of keeping them."""

    def __init__(self) -> None:
        super().__init__(keep_alive=True)  # as Slack's servers: a client may keep them
        self.counted: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self._count_lock = threading.Lock()

    # FakeSlack keeps every Call (params and answer, ~10 kB for a modal); count instead
    def _record(self, call: Call) -> int:
        if call.method != COUNTS:
            with self._count_lock:
                self.counted[call.method] += 1
        return 0

    def _update(self, index: int, status: int, body: dict[str, Any]) -> None:
        return None

    def answer(self, method: str, call: Call) -> dict[str, Any]:
        if method == COUNTS:
            with self._count_lock:
                return {"ok": True, "calls": dict(self.counted), "failed": dict(self.failed)}
        out = super().answer(method, call)
        if not out.get("ok"):
            with self._count_lock:
                self.failed[method] += 1
        return out


@dataclass(frozen=True)
class FakeSlackProcess:
    url: str

    def counts(self) -> dict[str, dict[str, int]]:
        r = httpx.get(f"{self.url}{COUNTS}", params={"token": TOKEN}, timeout=10.0)
        data = r.json()
        return {"calls": data.get("calls", {}), "failed": data.get("failed", {})}


@contextmanager
def fake_slack_process(log_path: Path, timeout_s: float = 20.0) -> Iterator[FakeSlackProcess]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "bench.fake_slack"], cwd=REPO,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
        line = proc.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("http://"):
            raise BenchFailed(f"the fake Slack did not start (exit {proc.poll()}); "
                              f"see {log_path}")
        yield FakeSlackProcess(url=line)
    finally:
        try:
            proc.stdin.close()
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> int:
    with CountingFakeSlack() as fake:
        print(fake.url, flush=True)
        sys.stdin.read()  # until the bench closes our stdin
        final = {"calls": dict(fake.counted), "failed": dict(fake.failed)}
    print(json.dumps(final), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A burst of report submissions from several client threads, and checks on what was stored."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine

from storage import models as m
from tests.doors.conftest import report_body


@dataclass
class Burst:
    """Clients that submit reports, each with its own idempotency key, until told to stop.

    acked: key -> reference for every 201 (the service said "stored").
    unknown: keys whose request failed without an answer (the server died, or was down).
    answers: status code -> count over all answers.
    """

    url: str
    clients: int = 4
    prefix: str = "burst"
    acked: dict[str, str] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)
    answers: Counter[int] = field(default_factory=Counter)
    refused: dict[str, int] = field(default_factory=dict)  # key -> non-201 status
    bodies: dict[int, str] = field(default_factory=dict)  # status -> one body seen
    stop_on_error: bool = True
    pause: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Burst:
        for n in range(self.clients):
            t = threading.Thread(target=self._client, args=(n,), daemon=True,
                                 name=f"{self.prefix}-{n}")
            t.start()
            self._threads.append(t)
        return self

    def _client(self, n: int) -> None:
        with httpx.Client(base_url=self.url, timeout=15) as client:
            i = 0
            while not self._stop.is_set():
                key = f"{self.prefix}-{n}-{i}"
                i += 1
                try:
                    r = client.post("/api/v1/reports", json=report_body(),
                                    headers={"Idempotency-Key": key})
                except httpx.TransportError:
                    with self._lock:
                        self.unknown.add(key)
                    if self.stop_on_error:
                        return
                    time.sleep(0.05)
                    continue
                with self._lock:
                    self.answers[r.status_code] += 1
                    self.bodies.setdefault(r.status_code, r.text[:500])
                    if r.status_code == 201:
                        self.acked[key] = r.json()["reference"]
                    else:
                        self.refused[key] = r.status_code
                if self.pause:
                    time.sleep(self.pause)

    def wait_for_acks(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.acked)} acks in {timeout} s: "
                                     f"{dict(self.answers)} {self.bodies}")
            time.sleep(0.005)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)

    @property
    def sent(self) -> int:
        return sum(self.answers.values()) + len(self.unknown)


def retry_keys(url: str, keys: set[str] | list[str]) -> dict[str, tuple[bool, str]]:
    """Send the same request again with the same key: key -> (replayed, reference)."""
    out: dict[str, tuple[bool, str]] = {}
    with httpx.Client(base_url=url, timeout=15) as client:
        for key in sorted(keys):
            r = client.post("/api/v1/reports", json=report_body(),
                            headers={"Idempotency-Key": key})
            assert r.status_code == 201, r.text
            out[key] = (r.headers.get("idempotency-replayed") == "true", r.json()["reference"])
    return out


@dataclass
class Stored:
    """What the database holds after the fault, read directly (not through Meld)."""

    by_key: dict[str, list[str]]  # idempotency key (without "api:") -> references
    references: list[str]
    half_stored: list[str]  # references whose audit/outbox rows are missing or extra
    orphans: int  # audit/outbox rows of reports that are not there

    @property
    def duplicates(self) -> int:
        return sum(len(v) - 1 for v in self.by_key.values() if len(v) > 1)


def read_stored(url: str, engine: Engine | None = None) -> Stored:
    own = engine is None
    eng = engine or create_engine(url)
    try:
        with eng.connect() as conn:
            reports = conn.execute(select(m.Report.id, m.Report.reference,
                                          m.Report.idempotency_key, m.Report.channel,
                                          m.Report.notify_email)).all()
            audits = dict(conn.execute(
                select(m.AuditEvent.report_id, func.count())
                .where(m.AuditEvent.action == "submitted")
                .group_by(m.AuditEvent.report_id)).all())
            outbox = {(rid, ev): n for rid, ev, n in conn.execute(
                select(m.OutboxMessage.report_id, m.OutboxMessage.event, func.count())
                .group_by(m.OutboxMessage.report_id, m.OutboxMessage.event)).all()}
    finally:
        if own:
            eng.dispose()
    by_key: dict[str, list[str]] = {}
    ids = set()
    half: list[str] = []
    for rid, reference, key, channel, address in reports:
        ids.add(rid)
        by_key.setdefault((key or "").removeprefix("api:"), []).append(reference)
        # a receipt row in the chat the report came from and one by e-mail when asked for;
        # a web reporter's receipt is the answer itself (no row)
        receipts = (channel != "web") + (address is not None)
        if (audits.get(rid), outbox.get((rid, "receipt"), 0),
                outbox.get((rid, "new_report"))) != (1, receipts, 1):
            half.append(reference)
    orphans = sum(1 for rid in audits if rid not in ids) + sum(
        1 for rid, _ev in outbox if rid not in ids)
    return Stored(by_key=by_key, references=[row[1] for row in reports], half_stored=half,
                  orphans=orphans)

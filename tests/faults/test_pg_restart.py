"""Restart PostgreSQL during a burst of submissions (a private, throwaway server).

While the database is down, Meld answers 503 with a clear message (API), keeps the Slack
modal open with the error on the description field, and /readyz says unavailable. When it
is back, Meld recovers by itself (no restart): /readyz is 200 again, submissions are
stored, and the outbox worker delivers what was queued. No answer is ever a 500, every
201 is stored exactly once and nothing is half-stored.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from bot.slack.views import REPORT_CALLBACK
from storage.migrate import upgrade
from tests.bot.conftest import SIGNING_SECRET, report_values, sign, view_submission
from tests.doors.conftest import SECRET, report_body
from tests.faults.burst import Burst, read_stored, retry_keys
from tests.faults.procs import MeldProcess, ThrowawayPostgres
from tests.faults.test_kill import pending_outbox, wait_until
from tests.slack_fake import FakeSlack

pytestmark = pytest.mark.faults

DOWN_SECONDS = 1.5  # how long the database stays down


@pytest.fixture(scope="module")
def throwaway_pg() -> Iterator[ThrowawayPostgres]:
    pg = ThrowawayPostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.destroy()


def submit_modal(url: str, view_id: str) -> dict:
    payload = view_submission(REPORT_CALLBACK, report_values(), view_id=view_id)
    body = urlencode({"payload": json.dumps(payload)}).encode()
    ts = str(int(time.time()))
    r = httpx.post(url + "/slack/events", content=body, timeout=15, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(body, ts)})
    assert r.status_code == 200, r.text
    return r.json() if r.content else {}


def test_postgres_restart_during_a_burst(throwaway_pg: ThrowawayPostgres,
                                         tmp_path: Path) -> None:
    pg = throwaway_pg
    upgrade(pg.url)
    with FakeSlack() as slack:
        meld = MeldProcess({
            "MELD_DATABASE_URL": pg.url, "MELD_SECRET_KEY": SECRET,
            "MELD_SLACK_BOT_TOKEN": "xoxb-test", "MELD_SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "MELD_SLACK_API_URL": slack.url, "MELD_SLACK_TRIAGE_CHANNEL": "CTRIAGE",
            "MELD_RUN_DIGEST_SCHEDULER": "false", "MELD_OUTBOX_POLL_SECONDS": "0.1",
            "MELD_LOG_LEVEL": "INFO",
        }, tmp_path / "meld.log").start()
        burst = Burst(meld.url, clients=3, prefix="pg", stop_on_error=False,
                      pause=0.02).start()
        try:
            burst.wait_for_acks(15)
            down_at = time.monotonic()
            pg.stop("fast")
            stopped = time.monotonic() - down_at

            # while it is down: 503 with a clear message, /readyz says so, Slack keeps the form
            r = httpx.post(meld.url + "/api/v1/reports", json={}, timeout=15)
            assert r.status_code == 422  # bad input is still bad input
            r = httpx.post(meld.url + "/api/v1/reports", json=report_body(), timeout=15,
                           headers={"Idempotency-Key": "pg-while-down"})
            assert r.status_code == 503, r.text
            assert r.json()["code"] == "database_unavailable"
            assert "databasen" in r.json()["message"]
            assert r.headers["retry-after"] == "10"
            ready = httpx.get(meld.url + "/readyz", timeout=15)
            assert ready.status_code == 503
            assert ready.json() == {"status": "unavailable", "database": "OperationalError"}
            assert httpx.get(meld.url + "/healthz", timeout=15).status_code == 200
            ack = submit_modal(meld.url, "V0PGDOWN01")
            assert ack["response_action"] == "errors", ack
            assert "databasen" in ack["errors"]["description"]

            time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - down_at)))
            acks_before = len(burst.acked)
            pg.start()
            up_at = time.monotonic()
            wait_until(lambda: httpx.get(meld.url + "/readyz", timeout=15).status_code == 200,
                       20, "/readyz to recover")
            recovered = time.monotonic() - up_at
            wait_until(lambda: len(burst.acked) >= acks_before + 10, 20,
                       "submissions to be stored again")
        finally:
            burst.stop()
        # the same modal submitted again (same view id) is stored now, once
        assert submit_modal(meld.url, "V0PGDOWN01") == {"response_action": "clear"}
        assert submit_modal(meld.url, "V0PGDOWN01") == {"response_action": "clear"}
        retried = retry_keys(meld.url, set(burst.refused) | {"pg-while-down"})
        try:
            # with the default 2-minute lease: nothing delivered during the outage waits
            # for a lease to run out
            wait_until(lambda: pending_outbox(pg.url) == 0, 20, "the outbox to catch up")
        finally:
            meld.stop()
        log = meld.log()

    assert burst.unknown == set()  # Meld itself never went away
    assert set(burst.answers) <= {201, 503}, (burst.answers, burst.bodies)  # never a 500
    assert burst.answers[503] >= 1
    stored = read_stored(pg.url)
    assert stored.duplicates == 0 and stored.half_stored == [] and stored.orphans == 0
    for key, reference in burst.acked.items():
        assert stored.by_key[key] == [reference]
    for key, (_replayed, reference) in retried.items():
        assert stored.by_key[key] == [reference]
    assert len(stored.by_key["slack:V0PGDOWN01"]) == 1
    assert "Traceback" not in log
    assert "database unavailable on POST /api/v1/reports" in log
    print(f"\npostgres restart: sent={burst.sent} acknowledged={len(burst.acked)} "
          f"503s during the outage={burst.answers[503]} retried={len(retried)} "
          f"stop took={stopped:.2f}s down={DOWN_SECONDS}s readyz back {recovered:.2f}s "
          "after the start; lost=0 duplicates=0")


def test_a_delivery_just_before_the_database_goes_down_is_recorded_once_it_is_back(
        throwaway_pg: ThrowawayPostgres) -> None:
    """The platform got the notice, then the database died before the worker could mark
    it: the worker remembers it and marks it when the database is back; no resend."""
    import asyncio

    from sqlalchemy import create_engine, select, text
    from sqlalchemy.exc import SQLAlchemyError

    from intake import services
    from intake.delivery.outbox import OutboxWorker
    from intake.domain.model import Actor, Role
    from intake.domain.taxonomy import load_taxonomy
    from intake.settings import Settings
    from storage import models as m
    from storage.db import open_database
    from tests.fakes import RecordingNotifier
    from tests.integration.helpers import draft

    pg = throwaway_pg
    admin = create_engine(pg.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS worker_outage"))
        conn.execute(text("CREATE DATABASE worker_outage"))
    admin.dispose()
    url = pg.url.rsplit("/", 1)[0] + "/worker_outage"
    upgrade(url)
    db = open_database(url)
    ctx = services.Context(db=db, settings=Settings(database_url=url, secret_key=SECRET),
                           taxonomy=load_taxonomy(), secret_key=SECRET.encode())
    services.submit_report(ctx=ctx, actor=Actor("slack:UALICE", Role.REPORTER),
                           draft=draft())

    class DbDiesAfterDelivery(RecordingNotifier):
        async def deliver(self, note):
            await super().deliver(note)
            if len(self.delivered) == 1:
                pg.stop("fast")

    notifier = DbDiesAfterDelivery()
    worker = OutboxWorker(db=db, notifiers={"slack": notifier})
    try:
        with pytest.raises(SQLAlchemyError):
            asyncio.run(worker.run_once())
        pg.start()
        asyncio.run(worker.run_once())
        with db.reading() as session:
            (row,) = session.scalars(select(m.OutboxMessage)
                                     .where(m.OutboxMessage.channel == "slack")).all()
        assert row.delivered_at is not None and row.attempts == 1
        assert [n.id for n in notifier.delivered] == [row.id]  # sent once, never again
    finally:
        db.dispose()
        if pg_down(pg):
            pg.start()


def pg_down(pg: ThrowawayPostgres) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", pg.port)) != 0


def test_pg_dump_under_load_restores_to_a_consistent_state(
        throwaway_pg: ThrowawayPostgres, tmp_path: Path) -> None:
    """The README's PostgreSQL procedure: pg_dump -Fc while Meld takes a burst, then
    pg_restore into an empty database; the copy is consistent and Meld carries on."""
    import subprocess

    from sqlalchemy import create_engine, text

    pg = throwaway_pg
    if pg_down(pg):
        pg.start()
    admin = create_engine(pg.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in ("dumped", "restored"):
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text("CREATE DATABASE dumped"))
    base = pg.url.rsplit("/", 1)[0]
    url = base + "/dumped"
    upgrade(url)
    meld = MeldProcess({"MELD_DATABASE_URL": url, "MELD_SECRET_KEY": SECRET,
                        "MELD_LOG_LEVEL": "WARNING"}, tmp_path / "meld.log").start()
    burst = Burst(meld.url, clients=4, prefix="dump").start()
    dump = tmp_path / "meld.dump"
    libpq = f"postgresql://postgres@127.0.0.1:{pg.port}"
    try:
        burst.wait_for_acks(15)
        before = dict(burst.acked)
        subprocess.run([str(pg.bindir / "pg_dump"), "-Fc", "-d", f"{libpq}/dumped",
                        "-f", str(dump)], check=True, capture_output=True, timeout=60)
        burst.wait_for_acks(len(before) + 5)  # the burst went on during and after the dump
    finally:
        burst.stop()
        meld.stop()
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE restored"))
    admin.dispose()
    subprocess.run([str(pg.bindir / "pg_restore"), "--no-owner", "-d", f"{libpq}/restored",
                    str(dump)], check=True, capture_output=True, timeout=60)
    restored = base + "/restored"
    stored = read_stored(restored)
    assert stored.half_stored == [] and stored.orphans == 0 and stored.duplicates == 0
    for key, reference in before.items():
        assert stored.by_key.get(key) == [reference], key
    assert len(stored.references) < len(burst.acked)  # a snapshot, taken mid-burst
    again = MeldProcess({"MELD_DATABASE_URL": restored, "MELD_SECRET_KEY": SECRET,
                         "MELD_LOG_LEVEL": "WARNING"}, tmp_path / "meld-restored.log").start()
    try:
        r = httpx.post(again.url + "/api/v1/reports", json=report_body(), timeout=15,
                       headers={"Idempotency-Key": "after-restore"})
        assert r.status_code == 201, r.text
        assert r.json()["reference"] not in stored.references  # the sequence came along
    finally:
        again.stop()

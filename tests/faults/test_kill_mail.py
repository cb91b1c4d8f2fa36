"""SIGKILL Meld while the SMTP server holds a receipt mail in DATA.

The server has taken the mail (it will reach the reporter) but Meld never heard the answer.
After a restart every receipt is mailed, the one cut off at most once more, with the same
Message-ID, and that possible duplicate is in the restarted process's log by outbox id.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from storage import models as m
from tests.doors.conftest import SECRET, report_body
from tests.faults.procs import MeldProcess
from tests.mail.fakes import SmtpServer

pytestmark = pytest.mark.faults

REPORTS = 4
LEASE_SECONDS = 2
ADDRESS = "fastlege@eksempel.no"
REF = re.compile(r"MELD-\d{4}-\d{4,}")
REDELIVERY = re.compile(r"outbox id=(\d+) channel=email attempt \d+: an earlier attempt may "
                        r"have been delivered; resending \(possible duplicate\)")


def meld_env(db_url: str, smtp: SmtpServer) -> dict[str, str]:
    return {
        "MELD_DATABASE_URL": db_url,
        "MELD_SECRET_KEY": SECRET,
        "MELD_MAIL_TRANSPORT": "smtp",
        "MELD_SMTP_URL": smtp.url(),
        "MELD_SMTP_STARTTLS": "off",
        "MELD_MAIL_FROM": "meld@helse.example.no",
        "MELD_MAIL_TIMEOUT_SECONDS": "60",
        "MELD_RUN_DIGEST_SCHEDULER": "false",
        "MELD_RUN_PROMISE_SCHEDULER": "false",
        "MELD_OUTBOX_POLL_SECONDS": "0.05",
        "MELD_OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
        "MELD_LOG_LEVEL": "INFO",
    }


def pending_mail(db_url: str) -> int:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(m.OutboxMessage).where(
                m.OutboxMessage.channel == "email",
                m.OutboxMessage.delivered_at.is_(None))).scalar_one()
    finally:
        engine.dispose()


def mail_rows(db_url: str) -> dict[str, int]:
    """reference -> outbox id of its receipt mail."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(
                select(m.Report.reference, m.OutboxMessage.id)
                .join(m.OutboxMessage, m.OutboxMessage.report_id == m.Report.id)
                .where(m.OutboxMessage.channel == "email",
                       m.OutboxMessage.event == "receipt")).all())
    finally:
        engine.dispose()


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def test_sigkill_while_a_mail_is_in_data_gives_at_most_one_logged_duplicate(
        db_url: str, tmp_path: Path) -> None:
    with SmtpServer() as smtp:
        smtp.handler.stall_data = 60  # takes the mail, then never answers in time
        first = MeldProcess(meld_env(db_url, smtp), tmp_path / "meld-1.log").start()
        try:
            references = []
            with httpx.Client(base_url=first.url, timeout=10) as client:
                for i in range(REPORTS):
                    r = client.post("/api/v1/reports", json=report_body(
                        email=ADDRESS, description=f"Epikrise mangler, sak {i}."))
                    assert r.status_code == 201, r.text
                    references.append(r.json()["reference"])
            wait_until(smtp.handler.data_started.is_set, 15, "a mail held in DATA")
            cut_off = [REF.search(a.message["Subject"]).group(0)  # type: ignore[union-attr]
                       for a in smtp.mails]
        finally:
            first.kill()
        assert len(cut_off) == 1, cut_off
        smtp.handler.stall_data = 0  # the server answers at once from now on

        second = MeldProcess(meld_env(db_url, smtp), tmp_path / "meld-2.log").start()
        try:
            wait_until(lambda: pending_mail(db_url) == 0, 30,
                       "every mail to be delivered after the restart")
        finally:
            second.stop()
        log = second.log()
        mails = smtp.mails

    ids = mail_rows(db_url)
    per_reference: Counter[str] = Counter()
    message_ids: dict[str, set[str]] = {}
    for accepted in mails:
        assert accepted.rcpt_tos == [ADDRESS]
        found = REF.search(accepted.message["Subject"])
        assert found, "a mail without its reference"
        per_reference[found.group(0)] += 1
        message_ids.setdefault(found.group(0), set()).add(accepted.message["Message-ID"])
    assert set(per_reference) == set(references)  # every receipt arrived
    twice = {ref for ref, n in per_reference.items() if n > 1}
    assert all(n <= 2 for n in per_reference.values()), per_reference
    # the mail cut off by the kill was sent once more (Meld cannot know it arrived), and
    # nothing else was sent twice ...
    assert twice == set(cut_off), (twice, cut_off)
    assert all(len(message_ids[ref]) == 1 for ref in twice)  # ... as the same message
    logged = {int(i) for i in REDELIVERY.findall(log)}
    assert {ids[ref] for ref in twice} <= logged  # and the duplicate is in the log by id
    assert ADDRESS not in log and ADDRESS not in first.log()  # addresses are never logged

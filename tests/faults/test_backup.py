"""`meld backup` under load: a Meld process takes a burst of submissions while backups are
taken; each backup is a consistent database (integrity check, every report with its audit
event and outbox rows, references gapless) and restores to a working Meld."""

from __future__ import annotations

import re
import shutil
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from intake.cli.main import main
from intake.settings import Settings
from storage.migrate import check, upgrade
from tests.doors.conftest import SECRET, report_body
from tests.faults.burst import Burst, read_stored
from tests.faults.procs import MeldProcess

BACKUPS = 3


def settings_for(url: str) -> Settings:
    return Settings(database_url=url, secret_key=SECRET, run_outbox_worker=False)


def assert_consistent(path: Path, must_hold: dict[str, str]) -> int:
    """The backup at path is a whole database as of one commit; returns its report count."""
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file
        last = conn.execute("SELECT last FROM reference_counters").fetchall()
    stored = read_stored(f"sqlite:///{path}")
    assert stored.half_stored == [] and stored.orphans == 0 and stored.duplicates == 0
    numbers = sorted(int(r.rsplit("-", 1)[1]) for r in stored.references)
    assert numbers == list(range(1, len(numbers) + 1))  # gapless: no half transaction
    assert last == ([(len(numbers),)] if numbers else [])
    for key, reference in must_hold.items():  # acknowledged before the backup began
        assert stored.by_key.get(key) == [reference], key
    return len(numbers)


@pytest.mark.faults
def test_backups_taken_under_load_restore_to_a_consistent_state(
        sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meld = MeldProcess({"MELD_DATABASE_URL": sqlite_url, "MELD_SECRET_KEY": SECRET,
                        "MELD_OUTBOX_POLL_SECONDS": "0.05", "MELD_LOG_LEVEL": "WARNING"},
                       tmp_path / "meld.log").start()
    burst = Burst(meld.url, clients=4, prefix="bk").start()
    counts: list[int] = []
    try:
        burst.wait_for_acks(10)
        for n in range(BACKUPS):
            before = dict(burst.acked)
            out = tmp_path / "backups" / f"meld-{n}.db"
            assert main(["backup", "--out", str(out)], settings=settings_for(sqlite_url)) == 0
            said = capsys.readouterr().out
            assert re.search(rf"til {re.escape(str(out))}: \d+ meldinger", said), said
            counts.append(assert_consistent(out, before))
            time.sleep(0.2)
        acks_during = len(burst.acked)
    finally:
        burst.stop()
        meld.stop()
    assert set(burst.answers) == {201} and burst.unknown == set()
    assert counts == sorted(counts) and counts[-1] > counts[0]  # taken while it grew

    # restore: the last backup becomes the database of a new Meld, which carries on
    restored = tmp_path / "restored" / "meld.db"
    restored.parent.mkdir()
    shutil.copy(tmp_path / "backups" / f"meld-{BACKUPS - 1}.db", restored)
    url = f"sqlite:///{restored}"
    upgrade(url)
    check(url)  # schema and migrations agree
    again = MeldProcess({"MELD_DATABASE_URL": url, "MELD_SECRET_KEY": SECRET,
                         "MELD_LOG_LEVEL": "WARNING"}, tmp_path / "meld-restored.log").start()
    try:
        r = httpx.post(again.url + "/api/v1/reports", json=report_body(), timeout=15,
                       headers={"Idempotency-Key": "after-restore"})
        assert r.status_code == 201, r.text
        assert r.json()["reference"].endswith(f"-{counts[-1] + 1:04d}")
        ready = httpx.get(again.url + "/readyz", timeout=15)
        assert ready.status_code == 200
    finally:
        again.stop()
    print(f"\nbackup under load: {BACKUPS} backups with {counts} reports while "
          f"{acks_during} submissions were acknowledged; all consistent and restorable")


def test_backup_refuses_postgres_and_its_own_file(sqlite_url: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    pg = Settings(database_url="postgresql+psycopg://meld@127.0.0.1:1/meld", secret_key=SECRET)
    assert main(["backup", "--out", str(tmp_path / "x.db")], settings=pg) == 2
    err = capsys.readouterr().err
    assert "pg_dump" in err and "pg_restore" in err
    assert not (tmp_path / "x.db").exists()
    source = sqlite_url.removeprefix("sqlite:///")
    assert main(["backup", "--out", source], settings=settings_for(sqlite_url)) == 1
    assert "same_file" in capsys.readouterr().err
    missing = Settings(database_url=f"sqlite:///{tmp_path}/nope/meld.db", secret_key=SECRET)
    assert main(["backup", "--out", str(tmp_path / "y.db")], settings=missing) == 1
    assert "database_missing" in capsys.readouterr().err

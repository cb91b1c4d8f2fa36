"""The `meld` command: migrate, tokens, reports, triage and a streaming CSV export."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from intake import services
from intake.cli import RedactStatusTokens, main
from intake.domain import Actor, Role
from intake.settings import Settings
from tests.integration.helpers import draft

REPORTER = Actor("web:cli-test", Role.REPORTER)


@pytest.fixture
def cli_settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, secret_key="test-secret")


def run(settings: Settings, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str,
                                                                                     str]:
    code = main(list(argv), settings=settings)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_triage_from_the_command_line(cli_settings, capsys, ctx) -> None:
    ref = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    code, out, _ = run(cli_settings, capsys, "reports", "list")
    assert code == 0 and ref in out and "Mottatt" in out and "Epikrise" in out
    code, out, _ = run(cli_settings, capsys, "reports", "show", ref)
    assert code == 0 and "Epikrise manglet ved utskriving" in out
    assert run(cli_settings, capsys, "triage", "assess", ref, "--assessed-severity",
               "moderate")[0] == 0
    assert run(cli_settings, capsys, "triage", "reply", ref, "Vi ser på saken.")[0] == 0
    code, out, _ = run(cli_settings, capsys, "triage", "status", ref, "in_progress",
                       "--message", "Tiltak startet")
    assert (code, out.strip()) == (0, f"{ref}: Tiltak pågår")
    code, _, err = run(cli_settings, capsys, "triage", "reopen", ref)
    assert code == 2 and "kan ikke flyttes" in err  # refused in words, not a traceback
    code, out, _ = run(cli_settings, capsys, "triage", "close", ref, "Lærdom", "Tiltak")
    assert (code, out.strip()) == (0, f"{ref}: Lukket")
    code, _, err = run(cli_settings, capsys, "reports", "show", "MELD-2026-9999")
    assert code == 2 and "Fant ingen melding" in err


def test_tokens_are_printed_once_and_work(cli_settings, capsys, ctx) -> None:
    code, out, err = run(cli_settings, capsys, "token", "create", "--name", "kari", "--role",
                         "triager")
    token = out.strip()
    assert code == 0 and token.startswith("meld_") and "vises bare denne ene gangen" in err
    assert services.authenticate_token(ctx=ctx, token=token).role == Role.TRIAGER
    assert run(cli_settings, capsys, "token", "revoke", "--name", "kari")[0] == 0
    assert run(cli_settings, capsys, "token", "revoke", "--name", "kari")[0] == 1


def test_export_writes_csv_without_free_text(cli_settings, capsys, ctx, tmp_path) -> None:
    for _ in range(3):
        services.submit_report(ctx=ctx, actor=REPORTER, draft=draft())
    code, out, _ = run(cli_settings, capsys, "export", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0
    assert rows[0] == list(services.EXPORT_COLUMNS)
    assert len(rows) == 4 and rows[1][0] == "MELD-2026-0001"
    assert "Epikrise manglet" not in out and "web:cli-test" not in out
    target = tmp_path / "out.csv"
    assert run(cli_settings, capsys, "export", "--out", str(target))[0] == 0
    assert target.read_text(encoding="utf-8").count("\n") == 4


def test_console_script_migrates_a_fresh_database(tmp_path: Path) -> None:
    env = {**os.environ, "MELD_DATABASE_URL": f"sqlite:///{tmp_path}/fresh/meld.db"}
    meld = Path(sys.executable).with_name("meld")
    done = subprocess.run([str(meld), "migrate"], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    listed = subprocess.run([str(meld), "reports", "list"], env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert listed.returncode == 0 and "Ingen meldinger" in listed.stdout
    assert (tmp_path / "fresh" / "secret_key").stat().st_mode & 0o077 == 0


def test_access_log_filter_hides_status_tokens() -> None:
    import logging

    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s"',
                               ("127.0.0.1", "GET", "/status/" + "ab" * 24 + "?ny=1"), None)
    RedactStatusTokens().filter(record)
    assert "ab" * 24 not in record.getMessage()
    assert "/status/<token>?ny=1" in record.getMessage()


def test_serve_with_two_worker_processes(tmp_path: Path) -> None:
    """`meld serve` migrates, starts two processes from the environment, and delivers."""
    import socket
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MELD_DATABASE_URL": f"sqlite:///{tmp_path}/meld.db",
           "MELD_PORT": str(port), "MELD_WORKERS": "2", "MELD_SECRET_KEY": "k",
           "MELD_OUTBOX_POLL_SECONDS": "0.2"}
    meld = Path(sys.executable).with_name("meld")
    proc = subprocess.Popen([str(meld), "serve"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "server did not start"
            time.sleep(0.2)
        body = {"kind": "suggestion", "category": "routines", "description": "Felles rutine.",
                "occurred_on": "2026-01-05", "severity": "none", "no_patient_identifiers": True}
        refs = {httpx.post(base + "/api/v1/reports", json=body).json()["reference"]
                for _ in range(6)}
        assert len(refs) == 6
        settings = Settings(database_url=env["MELD_DATABASE_URL"], secret_key="k")
        from intake.context import build_context

        ctx = build_context(settings)
        deadline = time.monotonic() + 15
        from sqlalchemy import func, select

        from storage import models as m

        while True:  # the outbox worker runs inside the server processes
            with ctx.db.reading() as s:
                pending = s.scalar(select(func.count()).select_from(m.OutboxMessage)
                                   .where(m.OutboxMessage.delivered_at.is_(None),
                                          m.OutboxMessage.channel == "web"))
            if pending == 0:
                break
            assert time.monotonic() < deadline, f"{pending} notices not delivered"
            time.sleep(0.2)
        ctx.db.dispose()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert "Meld kjører på" in out and "prosesser: 2" in out
    assert "Felles rutine" not in out  # no report text in the log

"""The `meld` command: migrate, tokens, reports, triage and a streaming CSV export."""

from __future__ import annotations

import argparse
import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from intake import services
from intake.cli.main import build_parser, main
from intake.domain.model import Actor, Role
from intake.i18n import Translator
from intake.logs import RedactStatusTokens
from intake.settings import Settings
from tests.integration.helpers import draft

REPORTER = Actor("web:cli-test", Role.REPORTER)


@pytest.fixture
def cli_settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, secret_key="test-secret" * 3)


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
    code, out, err = run(cli_settings, capsys, "export", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0
    assert rows[0] == list(services.EXPORT_COLUMNS)
    assert len(rows) == 4 and rows[1][0] == "MELD-2026-0001"
    assert "Epikrise manglet" not in out and "web:cli-test" not in out
    assert err == ("Eksporterte 3 meldinger (kodede felt, ingen fritekst) til standard ut.\n")
    target = tmp_path / "out.csv"
    code, out, err = run(cli_settings, capsys, "export", "--out", str(target))
    assert (code, out) == (0, "") and "Eksporterte 3 meldinger" in err and str(target) in err
    code, _, err = run(cli_settings, capsys, "export", "--out", str(tmp_path / "no" / "x.csv"))
    assert code == 1 and err.startswith("meld: Kan ikke skrive") and "Traceback" not in err
    assert target.read_text(encoding="utf-8").count("\n") == 4


def _clean_env(**values: str) -> dict[str, str]:
    """The environment without the developer's MELD_* variables, plus these."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("MELD_")}, **values}


def test_console_script_migrates_a_fresh_database(tmp_path: Path) -> None:
    env = _clean_env(MELD_DATABASE_URL=f"sqlite:///{tmp_path}/fresh/meld.db")
    meld = Path(sys.executable).with_name("meld")
    done = subprocess.run([str(meld), "migrate"], env=env, capture_output=True, text=True,
                          timeout=60, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"Innstillinger: bare MELD_*-miljøvariablene (det finnes ingen .env-fil i {tmp_path}).",
        f"Database: sqlite:///{tmp_path}/fresh/meld.db.",
        "Databasen er oppdatert.",
    ]
    listed = subprocess.run([str(meld), "reports", "list"], env=env, capture_output=True,
                            text=True, timeout=60, check=False, cwd=tmp_path)
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
    # the worker processes read the same .env as `meld serve` (the links show it)
    (tmp_path / ".env").write_text("MELD_OUTBOX_POLL_SECONDS=0.2\n"
                                   "MELD_BASE_URL=https://meld.example.test\n",
                                   encoding="utf-8")
    env = _clean_env(MELD_DATABASE_URL=f"sqlite:///{tmp_path}/meld.db",
                     MELD_PORT=str(port), MELD_WORKERS="2", MELD_SECRET_KEY="k" * 32)
    meld = Path(sys.executable).with_name("meld")
    proc = subprocess.Popen([str(meld), "serve"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
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
        receipts = [httpx.post(base + "/api/v1/reports", json=body).json() for _ in range(6)]
        assert len({r["reference"] for r in receipts}) == 6
        assert all(r["status_url"].startswith("https://meld.example.test/status/")
                   for r in receipts)
        settings = Settings(database_url=env["MELD_DATABASE_URL"], secret_key="k" * 32)
        from intake.services.context import build_context

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
    assert f"Innstillinger: {tmp_path / '.env'} og MELD_*-miljøvariablene" in out
    assert "Felles rutine" not in out  # no report text in the log


def _parsers(parser: argparse.ArgumentParser, path: str = "meld"):
    """Every parser under `meld`, with its command path."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}")


def test_help_describes_every_option_in_the_users_language() -> None:
    nb, en = dict(_parsers(build_parser(Translator("nb")))), dict(_parsers(
        build_parser(Translator("en"))))
    assert nb.keys() == en.keys() and len(nb) > 25
    for path, parser in nb.items():
        english = {tuple(a.option_strings) or a.dest: a for a in en[path]._actions}
        for action in parser._actions:
            key = tuple(action.option_strings) or action.dest
            if isinstance(action, argparse._HelpAction):
                continue
            if isinstance(action, argparse._SubParsersAction):  # the commands' one-liners
                in_english = {c.dest: c.help for c in english[key]._choices_actions}
                for command in action._choices_actions:
                    if command.dest == "teams-package":
                        continue  # listed above
                    assert command.help, f"{path} {command.dest}: no help"
                    assert command.help != in_english[command.dest], (path, command.dest)
                continue
            assert action.help, f"{path} {key}: no help"
            assert action.help != english[key].help, f"{path} {key}: not translated"
            if action.choices and action.metavar is not None:  # else argparse lists them
                assert all(str(c) in action.help for c in action.choices), (path, key)


def test_help_and_argparse_errors_are_in_bokmal(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["triage", "assess", "--help"], settings=Settings(secret_key="k" * 32))
    out = capsys.readouterr().out
    assert done.value.code == 0
    assert out.startswith("bruk: meld triage assess [-h]") and "\nvalg:\n" in out
    assert "moderate – Moderat skade" in out and "discharge_summary – Epikrise" in out
    with pytest.raises(SystemExit) as done:
        main(["triage", "redirect", "MELD-2026-0001", "nav"],
             settings=Settings(secret_key="k" * 32))
    err = capsys.readouterr().err
    assert done.value.code == 2
    assert ("meld triage redirect: feil: argument MOTTAKER: ugyldig valg: 'nav' (velg blant "
            "'eqs', 'compilo', 'tqm', 'melde_no', 'other')") in err
    with pytest.raises(SystemExit):
        main(["reports", "list", "--limit", "500"], settings=Settings(secret_key="k" * 32))
    assert "argument --limit: 500 er ikke mellom 1 og 200." in capsys.readouterr().err
    # argparse speaks English again outside `meld`
    assert argparse.ArgumentParser(prog="x").format_usage() == "usage: x [-h]\n"
    with pytest.raises(SystemExit):
        main(["--help"], settings=Settings(secret_key="k" * 32, locale="en"))
    assert capsys.readouterr().out.startswith("usage: meld [-h] COMMAND ...")


def test_reports_list_has_headers_and_says_when_it_stopped(cli_settings, capsys, ctx) -> None:
    refs = [services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
            for _ in range(3)]
    code, out, err = run(cli_settings, capsys, "reports", "list", "--limit", "2")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[0].split() == ["Referanse", "Meldt", "Status", "Type", "Kategori"]
    assert lines[1].startswith(refs[2]) and lines[2].startswith(refs[1])
    assert lines[1].index("Mottatt") == lines[0].index("Status")  # the columns line up
    assert err == ("Bare de 2 nyeste vises; det finnes flere. Øk --limit (høyst 200) eller "
                   "avgrens med --status, --kind eller --category.\n")
    code, out, err = run(cli_settings, capsys, "reports", "list")
    assert code == 0 and len(out.splitlines()) == 4 and err == ""


def test_reports_show_has_both_severities_and_the_parties(cli_settings, capsys, ctx) -> None:
    ref = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    code, out, _ = run(cli_settings, capsys, "reports", "show", ref)
    assert code == 0
    assert "Alvorlighet (meldt): Mindre alvorlig" in out
    assert "Alvorlighet (vurdert): ikke vurdert ennå" in out
    assert "Retning: Fastlege → Sykehus" in out  # the reporter's side → the one concerned
    run(cli_settings, capsys, "triage", "assess", ref, "--assessed-severity", "moderate")
    assert "Alvorlighet (vurdert): Moderat skade" in run(cli_settings, capsys, "reports",
                                                        "show", ref)[1]


def test_refusals_name_the_allowed_values_and_the_right_command(cli_settings, capsys,
                                                                ctx) -> None:
    ref = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    code, out, err = run(cli_settings, capsys, "triage", "status", ref, "closed")
    assert (code, out) == (2, "")
    assert err == (f"meld: Statusen «Lukket» settes med en egen kommando: meld triage close "
                   f"{ref} LÆRINGSPUNKT TILTAK\n")
    code, _, err = run(cli_settings, capsys, "triage", "status", ref, "needs_info")
    assert code == 2 and f"meld triage ask {ref} SPØRSMÅL" in err
    code, _, err = run(cli_settings, capsys, "triage", "status", ref, "done")
    assert code == 2
    assert err == "meld: Ukjent status «done». Velg en av: triage, in_progress, rejected.\n"
    assert run(cli_settings, capsys, "triage", "status", ref, "in_progress")[0] == 0
    assert run(cli_settings, capsys, "triage", "close", ref, "Lærdom", "Tiltak")[0] == 0
    code, _, err = run(cli_settings, capsys, "triage", "status", ref, "triage")
    assert code == 2 and err.endswith(f"meld triage reopen {ref}\n")
    code, _, err = run(cli_settings, capsys, "triage", "assess", ref, "--category", "nope")
    assert code == 2 and err.startswith("meld: category: Ukjent kategori")


def test_a_missing_key_on_postgresql_is_one_line(capsys) -> None:
    settings = Settings(database_url="postgresql+psycopg://meld@127.0.0.1:1/meld")
    code, out, err = run(settings, capsys, "reports", "list")
    assert (code, out) == (2, "")
    assert err.startswith("meld: MELD_SECRET_KEY er ikke satt.") and err.count("\n") == 1


def test_a_sqlite_folder_meld_cannot_make_is_one_line(tmp_path, capsys) -> None:
    blocker = tmp_path / "var"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    settings = Settings(database_url=f"sqlite:///{blocker}/meld.db")
    code, out, err = run(settings, capsys, "reports", "list")
    assert (code, out) == (1, "")
    assert err.startswith(f"meld: Meld kan ikke bruke {blocker} (") and err.count("\n") == 1


def _connect_error(url: str) -> Exception:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError(f"{url} answered")


def test_database_lines_for_an_unknown_user_and_host(pg_database_url: str) -> None:
    from sqlalchemy.engine import make_url

    from intake.cli.checks import database_problem

    tr = Translator("nb")
    server = make_url(pg_database_url)
    stranger = server.set(username="meld_nobody_here").render_as_string(hide_password=False)
    assert database_problem(_connect_error(stranger), stranger, tr) == (
        f"PostgreSQL på {server.host}:{server.port or 5432} har ingen bruker "
        "«meld_nobody_here». Opprett den (createuser meld_nobody_here) eller rett brukeren "
        "i MELD_DATABASE_URL.")
    nowhere = "postgresql+psycopg://meld@meld-db.invalid:5432/meld"
    assert database_problem(_connect_error(nowhere), nowhere, tr) == (
        "Fant ikke databaseverten «meld-db.invalid». Sjekk verten i MELD_DATABASE_URL.")
    assert database_problem(ValueError("not a database error"), nowhere, tr) is None


def test_login_link_prints_a_link_that_works_once(cli_settings, capsys, ctx) -> None:
    code, out, err = run(cli_settings, capsys, "login-link", "--name", "Kari Lege", "--role",
                         "reader")
    link = out.strip()
    assert code == 0 and "/gruppe/inn/" in link and "10 minutter" in err
    token = link.rsplit("/", 1)[1]
    assert services.login_link_valid(ctx=ctx, token=token)
    _secret, actor = services.redeem_login_link(ctx=ctx, token=token)
    assert (actor.identity, actor.role) == ("board:Kari Lege", Role.READER)
    assert not services.login_link_valid(ctx=ctx, token=token)
    code, out, _ = run(cli_settings, capsys, "login-link", "--name", "Kari Lege", "--revoke")
    assert code == 0 and out.strip().endswith(": 1.")
    with pytest.raises(SystemExit) as refused:  # the board has triagers and readers only
        run(cli_settings, capsys, "login-link", "--name", "Kari", "--role", "admin")
    assert refused.value.code == 2 and "'admin'" in capsys.readouterr().err
    code, _, err = run(cli_settings, capsys, "login-link", "--name", "  ", "--role", "triager")
    assert code == 2 and "Traceback" not in err

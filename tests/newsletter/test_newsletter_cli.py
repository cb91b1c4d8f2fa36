"""`meld newsletter`: writes the newsletter as HTML and PDF files, approves it by a named
member and publishes it once, on both databases."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from intake.cli.main import main
from intake.settings import Settings
from tests.newsletter.conftest import KEY, SECRET, TERTIAL, Tertials, seed


def run(settings: Settings, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str,
                                                                                     str]:
    code = main(list(argv), settings=settings)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_cli_writes_html_and_pdf_and_publishes_once(
        tertials: Tertials, db_url: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    seed(tertials)
    settings = Settings(database_url=db_url, secret_key=KEY, base_url="https://meld.example.no")
    html_file, pdf_file = tmp_path / "nyhetsbrev.html", tmp_path / "nyhetsbrev.pdf"
    code, _, err = run(settings, capsys, "newsletter", "--tertial", TERTIAL,
                       "--out", str(html_file))
    assert code == 0 and "(utkast)" in err
    html = html_file.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and "Utkast: ikke publisert." in html
    assert "Epikrisen sendes elektronisk samme dag som utskrivning." in html
    assert SECRET not in html
    code, _, _ = run(settings, capsys, "newsletter", "--tertial", TERTIAL, "--format", "pdf",
                     "--out", str(pdf_file))
    assert code == 0
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf_file.read_bytes())).pages)
    assert "Epikrisen sendes elektronisk" in text and SECRET not in text

    code, _, err = run(settings, capsys, "newsletter", "approve", "--tertial", TERTIAL)
    assert code == 2 and "--by NAVN" in err  # a named member approves
    code, out, _ = run(settings, capsys, "newsletter", "approve", "--tertial", TERTIAL,
                       "--by", "Kari Nordmann")
    assert code == 0 and "godkjent av Kari Nordmann" in out
    code, out, _ = run(settings, capsys, "newsletter", "publish", "--tertial", TERTIAL,
                       "--by", "Kari Nordmann")
    assert code == 0 and "https://meld.example.no/nyhetsbrev/" in out
    assert "Publisert til: web." in out
    code, out, _ = run(settings, capsys, "newsletter", "publish", "--tertial", TERTIAL)
    assert code == 0 and "allerede publisert" in out and "Publisert tidligere til: web." in out
    code, _, _ = run(settings, capsys, "newsletter", "--tertial", TERTIAL, "--out",
                     str(html_file))
    assert code == 0 and "Utkast" not in html_file.read_text(encoding="utf-8")


def test_a_wrong_tertial_is_refused_in_words(db_url: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(database_url=db_url, secret_key=KEY)
    code, _, err = run(settings, capsys, "newsletter", "--tertial", "2026-T4")
    assert code == 2 and "2026-T3" in err
    code, _, err = run(settings, capsys, "newsletter", "publish", "--tertial", "2026-T1")
    assert code != 0 and "nyhetsbrev" in err.lower()

"""The server process does not load what only an occasional request needs: fpdf2 (some 30
MB resident) and openpyxl are imported when a PDF or a spreadsheet is made, not when the
app is built, so an idle `meld serve` stays small."""

from __future__ import annotations

import subprocess
import sys

LAZY = ("fpdf", "openpyxl")


def test_building_the_app_loads_no_pdf_or_spreadsheet_library() -> None:
    code = ("import sys, intake.app, intake.cli.main; "
            f"print(','.join(m for m in {LAZY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == ""

"""The server process does not load what only an occasional request or a door that is off
needs: fpdf2 (some 30 MB resident) and openpyxl are imported when a PDF or a spreadsheet
is made, msal, PyJWT (with cryptography) and requests when someone signs in with Entra ID
(or the Teams door or Graph mail is on), psycopg (some 10 MB) only on PostgreSQL, not
when the app is built, so an idle `meld serve` stays small."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LAZY = ("fpdf", "openpyxl", "msal", "jwt", "cryptography", "requests", "slack_bolt",
        "psycopg")


def _loaded_after(tmp_path: Path, statements: str) -> set[str]:
    """Which of LAZY a fresh interpreter holds after `statements` (Slack, Teams, Entra
    off: no MELD_ settings but a database)."""
    code = f"import sys\n{statements}\nprint(','.join(m for m in {LAZY!r} if m in sys.modules))"
    env = {key: value for key, value in os.environ.items() if not key.startswith("MELD_")}
    env["MELD_DATABASE_URL"] = f"sqlite:///{tmp_path / 'meld.db'}"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True, env=env, cwd=tmp_path)
    return set(filter(None, done.stdout.strip().split(",")))


def test_building_the_app_loads_no_library_it_does_not_use_yet(tmp_path: Path) -> None:
    assert _loaded_after(tmp_path, "import intake.cli.main\n"
                                   "from intake.app import create_app\n"
                                   "from intake.settings import Settings\n"
                                   "create_app(Settings())") == set()


def test_the_check_sees_a_library_that_is_loaded(tmp_path: Path) -> None:
    """The check above can fail: once Entra ID's sign-in is used, its libraries are there."""
    assert _loaded_after(tmp_path, "from intake.http.web import board_entra\n"
                                   "from intake.settings import Settings\n"
                                   "board_entra._session(Settings())") >= {"msal", "requests"}

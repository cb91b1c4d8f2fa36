"""The deployment in deploy/ and docs/operations.md, checked with the tools a Debian server
runs it with: systemd-analyze, caddy, psql, pg_dump and pg_restore.

A tool that is not installed skips its test with the reason, except under CI=true, where
.ci/run installs every one of them and a missing tool fails the test.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
GUIDE = ROOT / "docs" / "operations.md"
IN_CI = os.environ.get("CI", "").lower() == "true"

# where the guide installs things; the units and the scripts name these paths
MELD_BIN = "/opt/meld/venv/bin/meld"
BACKUP_BIN = "/usr/local/sbin/meld-backup"


def tool(name: str) -> str:
    """The path of a command-line tool, or skip (fail under CI=true: .ci/run installs it)."""
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"CI=true but {name} is not installed (.ci/run installs it)")
        pytest.skip(f"{name} is not installed (Debian: see .ci/run)")
    return path

"""docs/operations.md stays true to deploy/ and to Meld: every file in deploy/ is in the
guide, every `meld` command in it parses with Meld's own parser, every MELD_* setting and
every unit it names exists, the SQL it shows is the SQL the scripts run, and the scripts
it installs are executable shell that parses."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from intake.cli.main import build_parser
from intake.i18n import Translator
from intake.settings import Settings
from tests.ops.conftest import DEPLOY, GUIDE, UNITS

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
KNOWN = {f"MELD_{name.upper()}" for name in Settings.model_fields} | {
    "MELD_ENV_FILE", "MELD_TEST_POSTGRES_URL"}


def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(guide()) if lang == language]


def deploy_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.is_file())


def test_every_file_in_deploy_is_in_the_guide() -> None:
    text = guide()
    missing = [str(p.relative_to(DEPLOY.parent)) for p in deploy_files()
               if str(p.relative_to(DEPLOY.parent)) not in text]
    assert missing == []


def meld_commands(text: str) -> list[list[str]]:
    """The arguments of every `meld` command in the guide's shell blocks and code spans."""
    found: list[list[str]] = []
    for body in [b for lang, b in FENCE.findall(text) if lang == "sh"]:
        for line in body.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            for prefix in (["sudo", "meld"], ["meld"], ["/opt/meld/venv/bin/meld"]):
                if words[:len(prefix)] == prefix:
                    found.append(words[len(prefix):])
    prose = FENCE.sub("", text)
    for span in re.findall(r"`meld ([^`]+)`", prose):
        if "..." not in span and "<" not in span:
            found.append(shlex.split(span.replace("\n", " ")))
    return found


def parse_problem(argv: list[str]) -> str | None:
    """Why Meld's parser refuses these arguments (None: it takes them)."""
    if "--help" in argv:
        return None
    try:
        build_parser(Translator("en")).parse_args(argv)
    except SystemExit as exc:
        return f"meld {' '.join(argv)}: refused ({exc.code})"
    return None


def test_every_meld_command_in_the_guide_parses(capsys: pytest.CaptureFixture[str]) -> None:
    commands = meld_commands(guide())
    assert ["doctor"] in commands and ["retention", "--apply"] in commands
    assert [p for p in map(parse_problem, commands) if p] == [], capsys.readouterr().err


def test_a_mistyped_command_is_caught(capsys: pytest.CaptureFixture[str]) -> None:
    text = guide().replace("meld token create --name kari --role triager",
                           "meld token create --name kari --role triage", 1)
    assert text != guide()
    assert [p for p in map(parse_problem, meld_commands(text)) if p] != []
    capsys.readouterr()  # argparse's complaint, expected


def test_every_meld_setting_named_exists() -> None:
    names = set(re.findall(r"\bMELD_[A-Z0-9_]*[A-Z0-9]\b", guide()))
    for path in deploy_files():
        names |= set(re.findall(r"\bMELD_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    assert "MELD_RUN_DIGEST_SCHEDULER" in names
    assert sorted(names - KNOWN) == []


def test_every_unit_named_exists() -> None:
    named = set(re.findall(r"\bmeld[\w@.-]*?\.(?:service|timer|target)\b", guide()))
    files = {p.name for p in UNITS.iterdir()}
    missing = sorted(n for n in named if re.sub(r"@\d+\.", "@.", n) not in files)
    assert missing == []
    assert {p.name for p in UNITS.iterdir()} <= named | {"meld@.service"}


def sql_statements(text: str) -> list[str]:
    lines = [line.split("--", 1)[0] for line in text.splitlines()
             if not line.lstrip().startswith("\\")]
    return [" ".join(s.split()) for s in " ".join(lines).split(";") if s.strip()]


def scripts_sql() -> set[str]:
    """The statements setup.sql and grants.sql send, with the default names and the
    \\gexec lines as the statements they make."""
    text = "\n".join((DEPLOY / "postgres" / name).read_text(encoding="utf-8")
                     for name in ("setup.sql", "grants.sql"))
    text = text.replace("\\gexec", ";")
    for var, value in (("db", "meld"), ("owner", "meld_owner"), ("app", "meld_app")):
        text = text.replace(f':"{var}"', value).replace(f":'{var}'", value)
    text = re.sub(r":'\w+_password'", "'...'", text)
    statements = set()
    for statement in sql_statements(text):
        made = re.fullmatch(r"SELECT format\('(.*?)', current_database\(\)(.*)\)", statement)
        if made:
            template, args = made.groups()
            values = ["meld", *(a.strip() for a in args.split(",") if a.strip())]
            for value in values:
                template = template.replace("%I", value, 1)
            statement = template
        statements.add(statement)
    return statements


def test_the_sql_in_the_guide_is_what_the_scripts_run() -> None:
    shown = [s for block in blocks("sql") for s in sql_statements(block)]
    assert any(s.startswith("GRANT USAGE, CREATE ON SCHEMA public") for s in shown)
    assert sorted(set(shown) - scripts_sql()) == []
    assert sorted(scripts_sql() - set(shown)) == []


@pytest.mark.parametrize("script", ["meld", "meld-backup"])
def test_the_scripts_are_executable_shell(script: str) -> None:
    path = DEPLOY / "bin" / script
    assert os.access(path, os.X_OK), f"{path} is not executable"
    assert path.read_text(encoding="utf-8").startswith("#!/bin/sh\n")
    sh = shutil.which("sh")
    assert sh is not None
    run = subprocess.run([sh, "-n", str(path)], capture_output=True, text=True, timeout=10)
    assert run.returncode == 0, run.stderr

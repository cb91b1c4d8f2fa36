"""The settings files in deploy/: only settings Meld knows, in the one form that systemd's
EnvironmentFile= and Meld's own .env reading (python-dotenv) read alike, and filled in as
docs/operations.md step 5 fills them, accepted by Meld; left as shipped, refused."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from dotenv import dotenv_values
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from intake.settings import Settings
from tests.ops.conftest import DEPLOY, GUIDE

# NAME=value with nothing either reader takes differently: no `export`, no quotes but a
# double-quoted whole value, no $ or backslash (expanded by one reader and not the other),
# no # or ; in a bare value (a comment to one of them), no spaces
LINE = re.compile(r'^([A-Z][A-Z0-9_]*)=("[^"\\$`]*"|[^\s"\'\\$`#;]*)$')
SET_BY_THE_UNITS = {"MELD_HOST", "MELD_PORT", "MELD_ENV_FILE"}
MELD_SETTINGS = {f"MELD_{name.upper()}" for name in Settings.model_fields}


def read_env(text: str) -> tuple[dict[str, str], list[str]]:
    """The NAME=value pairs of an environment file, and what is wrong with it."""
    values: dict[str, str] = {}
    problems: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = LINE.match(line)
        if match is None:
            problems.append(f"line {n} is not a plain NAME=value line: {line.split('=')[0]}")
            continue
        name, value = match.groups()
        if name in values:
            problems.append(f"line {n} sets {name} again")
        values[name] = value[1:-1] if value.startswith('"') else value
    return values, problems


def setting_problems(values: dict[str, str]) -> list[str]:
    found = [f"{name} is not a Meld setting" for name in values
             if name.startswith("MELD_") and name not in MELD_SETTINGS | SET_BY_THE_UNITS]
    found += [f"{name} is set per replica by meld@.service, not here"
              for name in values if name in SET_BY_THE_UNITS]
    found += [f"{name} is not a MELD_ setting" for name in values
              if not name.startswith("MELD_")]
    return found


def test_meld_env_holds_meld_settings_in_a_form_both_readers_share() -> None:
    text = (DEPLOY / "meld.env.example").read_text(encoding="utf-8")
    values, problems = read_env(text)
    assert problems == []
    assert setting_problems(values) == []
    assert {"MELD_DATABASE_URL", "MELD_SECRET_KEY", "MELD_BASE_URL"} <= set(values)
    # python-dotenv (Meld, through MELD_ENV_FILE) reads exactly the same values
    assert dict(dotenv_values(DEPLOY / "meld.env.example")) == values


@pytest.mark.parametrize(("line", "problem"), [
    ("MELD_DATABSE_URL=sqlite:///x.db", "not a Meld setting"),
    ("export MELD_LOCALE=nb", "not a plain NAME=value line"),
    ("MELD_LOCALE=nb # bokmål", "not a plain NAME=value line"),
    ("MELD_DIGEST_RRULE=FREQ=WEEKLY;BYDAY=MO", "not a plain NAME=value line"),
    ("MELD_SECRET_KEY='quoted'", "not a plain NAME=value line"),
    ("MELD_PORT=8000", "set per replica"),
    ("MELD_LOCALE=en", "sets MELD_LOCALE again"),
])
def test_a_line_either_reader_would_take_otherwise_is_caught(line: str, problem: str) -> None:
    text = (DEPLOY / "meld.env.example").read_text(encoding="utf-8") + line + "\n"
    values, problems = read_env(text)
    assert any(problem in p for p in problems + setting_problems(values))


def guide_substitutions() -> list[tuple[str, str]]:
    """The `sed -e 's|A|B|'` expressions of the guide's step 5, in order."""
    found = re.findall(r"s\|([^|]+)\|([^|]+)\|", GUIDE.read_text(encoding="utf-8"))
    assert found, "the guide fills the settings files with sed 's|...|...|'"
    return found


def fill(text: str, shell: dict[str, str]) -> str:
    """What the guide's sed commands make of a file, with these shell variables."""
    for pattern, replacement in guide_substitutions():
        for name, value in shell.items():
            replacement = replacement.replace(f"${name}", value)
        text = re.sub(pattern, replacement, text, flags=re.MULTILINE)
    return text


@pytest.fixture
def no_meld_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings() reads MELD_* variables too; none from this process may count here."""
    for name in MELD_SETTINGS | SET_BY_THE_UNITS:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_meld_environment")
def test_filled_in_as_the_guide_says_meld_accepts_them(tmp_path: Path) -> None:
    shell = {"APP_PW": secrets.token_urlsafe(32), "OWNER_PW": secrets.token_urlsafe(32),
             "KEY": secrets.token_urlsafe(48)}
    filled = {}
    for name in ("meld.env", "migrate.env", "backup.env"):
        path = tmp_path / name
        path.write_text(fill((DEPLOY / f"{name}.example").read_text(encoding="utf-8"),
                             shell), encoding="utf-8")
        values, problems = read_env(path.read_text(encoding="utf-8"))
        assert problems == []
        filled[name] = values
        assert not any("CHANGE-ME" in v or "PASSWORD" in v for v in values.values()), name

    settings = Settings(_env_file=tmp_path / "meld.env")
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == shell["KEY"]
    app = make_url(settings.database_url)
    assert (app.username, app.password) == ("meld_app", shell["APP_PW"])
    assert settings.base_url.startswith("https://")

    # meld-migrate.service: meld.env, then migrate.env (the later file wins)
    migrate = Settings(_env_file=(tmp_path / "meld.env", tmp_path / "migrate.env"))
    owner = make_url(migrate.database_url)
    assert (owner.username, owner.password) == ("meld_owner", shell["OWNER_PW"])
    assert (owner.host, owner.port, owner.database) == (app.host, app.port, app.database)
    assert set(filled["migrate.env"]) == {"MELD_DATABASE_URL"}

    # meld-backup.service: pg_dump as the owner, to the same database
    backup = filled["backup.env"]
    assert (backup["PGHOST"], int(backup["PGPORT"]), backup["PGDATABASE"]) == (
        app.host, app.port, app.database)
    assert (backup["PGUSER"], backup["PGPASSWORD"]) == ("meld_owner", shell["OWNER_PW"])


@pytest.mark.usefixtures("no_meld_environment")
def test_left_as_shipped_meld_refuses_them() -> None:
    with pytest.raises(ValidationError, match="secret_key"):
        Settings(_env_file=DEPLOY / "meld.env.example")

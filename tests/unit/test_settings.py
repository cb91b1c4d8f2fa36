"""Settings come from MELD_* variables; .env.example documents every one."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from intake.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_lists_every_setting() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    listed = {line.split("=", 1)[0].lstrip("# ").strip()
              for line in text.splitlines() if "=" in line and "MELD_" in line.split("=")[0]}
    expected = {f"MELD_{name.upper()}" for name in Settings.model_fields}
    assert expected <= listed, expected - listed


def test_settings_read_meld_variables_and_refuse_bad_values(monkeypatch) -> None:
    monkeypatch.setenv("MELD_FEEDBACK_DAYS", "5")
    monkeypatch.setenv("MELD_DATABASE_URL", "postgresql+psycopg://u@h/db")
    s = Settings()
    assert (s.feedback_days, s.is_sqlite) == (5, False)
    assert Settings(feedback_days=3).feedback_days == 3  # explicit values win
    monkeypatch.setenv("MELD_FEEDBACK_DAYS", "0")
    with pytest.raises(ValidationError, match="feedback_days"):
        Settings()


@pytest.fixture
def clean_env(monkeypatch, tmp_path: Path) -> Path:
    """No MELD_* variable from the developer's shell; the working directory is empty."""
    import os

    for name in [n for n in os.environ if n.startswith("MELD_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_meld_reads_dotenv_and_the_environment_wins(clean_env: Path, monkeypatch) -> None:
    (clean_env / ".env").write_text(
        "# a copy of .env.example, edited\n"
        "MELD_DATABASE_URL=postgresql+psycopg://meld:pw@db.example/meld\n"
        'MELD_DIGEST_RRULE="FREQ=WEEKLY;BYDAY=TU;BYHOUR=9"\n'
        "MELD_FEEDBACK_DAYS=10\n"
        "MELD_SECRET_KEY=\n", encoding="utf-8")
    s = Settings.from_environment()
    assert s.database_url == "postgresql+psycopg://meld:pw@db.example/meld"
    assert (s.feedback_days, s.digest_rrule) == (10, "FREQ=WEEKLY;BYDAY=TU;BYHOUR=9")
    assert s.secret_key is None  # an empty value counts as unset
    assert s.env_file == (clean_env / ".env").resolve() and s.read_from_environment
    monkeypatch.setenv("MELD_FEEDBACK_DAYS", "3")
    assert Settings.from_environment().feedback_days == 3
    # Settings() and Settings(...) never read a file: tests are not steered by a .env
    assert Settings().database_url == "sqlite:///./var/meld.db"
    assert Settings().env_file is None and not Settings().read_from_environment


def test_env_file_can_be_named_or_turned_off(clean_env: Path, monkeypatch) -> None:
    other = clean_env / "etc" / "meld.env"
    other.parent.mkdir()
    other.write_text("MELD_FEEDBACK_DAYS=21\n", encoding="utf-8")
    (clean_env / ".env").write_text("MELD_FEEDBACK_DAYS=10\n", encoding="utf-8")
    monkeypatch.setenv("MELD_ENV_FILE", str(other))
    assert (Settings.from_environment().feedback_days,
            Settings.from_environment().env_file) == (21, other.resolve())
    monkeypatch.setenv("MELD_ENV_FILE", "")
    assert Settings.from_environment().feedback_days == 14
    assert Settings.from_environment().env_file is None
    monkeypatch.setenv("MELD_ENV_FILE", "missing.env")
    with pytest.raises(SettingsError, match=r"missing\.env"):
        Settings.from_environment()
    monkeypatch.delenv("MELD_ENV_FILE")
    (clean_env / ".env").unlink()
    assert Settings.from_environment().env_file is None  # no .env: the environment alone


@pytest.mark.parametrize("key", ["x", "test-secret", "é" * 15 + "x"])  # 31 bytes
def test_a_secret_key_below_32_bytes_is_refused(key: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(secret_key=key)
    (error,) = refused.value.errors()
    assert error["type"] == "secret_key_too_short"
    assert error["ctx"]["length"] == len(key.encode()) and error["ctx"]["min"] == 32
    assert Settings(secret_key=key * 32).secret_key is not None


def test_secret_key_is_required_without_a_sqlite_file() -> None:
    Settings(database_url="sqlite:///var/meld.db").require_secret_key()  # kept beside it
    for url in ("postgresql+psycopg://u@h/db", "sqlite://", "sqlite:///:memory:"):
        with pytest.raises(SettingsError, match="MELD_SECRET_KEY"):
            Settings(database_url=url).require_secret_key()
        Settings(database_url=url, secret_key="k" * 32).require_secret_key()


def test_the_database_url_is_shown_without_its_password() -> None:
    s = Settings(database_url="postgresql+psycopg://meld:s3cr%40t@db:5432/meld")
    assert s.database_url_shown == "postgresql+psycopg://meld:***@db:5432/meld"
    assert Settings(database_url="sqlite:///./var/meld.db").database_url_shown == (
        "sqlite:///./var/meld.db")


def test_unknown_time_zone_and_port_are_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        Settings(timezone="Europe/Atlantis")
    with pytest.raises(ValidationError, match="port"):
        Settings(port=70000)


def test_the_database_url_is_one_meld_can_use() -> None:
    plain = Settings(database_url="postgresql://meld:p%40ss@db:5432/meld").database_url
    assert plain == "postgresql+psycopg://meld:p%40ss@db:5432/meld"  # the driver Meld has
    for url, words in (("nonsense", "not a database URL"), ("mysql://u@h/db", "not mysql")):
        with pytest.raises(ValidationError, match=words):
            Settings(database_url=url)


@pytest.mark.parametrize(("host", "port", "link"), [
    ("127.0.0.1", 8000, "http://127.0.0.1:8000"),
    ("127.0.0.1", 8123, "http://127.0.0.1:8123"),
    ("0.0.0.0", 9000, "http://127.0.0.1:9000"),  # every interface: a link to this machine
    ("::", 9001, "http://127.0.0.1:9001"),
    ("::1", 9002, "http://[::1]:9002"),
    ("meld.example.internal", 8080, "http://meld.example.internal:8080"),
])
def test_the_base_url_follows_host_and_port_when_unset(host: str, port: int,
                                                       link: str) -> None:
    assert Settings(host=host, port=port).base_url == link
    explicit = Settings(host=host, port=port, base_url="https://meld.example.no")
    assert explicit.base_url == "https://meld.example.no"  # a set MELD_BASE_URL wins


def test_the_base_url_follows_meld_port_from_the_environment(clean_env: Path,
                                                             monkeypatch) -> None:
    (clean_env / ".env").write_text("MELD_PORT=8123\nMELD_HOST=0.0.0.0\n", encoding="utf-8")
    assert Settings.from_environment().base_url == "http://127.0.0.1:8123"
    monkeypatch.setenv("MELD_BASE_URL", "")  # empty counts as unset
    assert Settings.from_environment().base_url == "http://127.0.0.1:8123"
    monkeypatch.setenv("MELD_BASE_URL", "https://meld.example.no")
    assert Settings.from_environment().base_url == "https://meld.example.no"
    monkeypatch.delenv("MELD_BASE_URL")
    (clean_env / ".env").write_text("MELD_PORT=8123\nMELD_BASE_URL=http://10.0.0.5:8000\n",
                                    encoding="utf-8")
    assert Settings.from_environment().base_url == "http://10.0.0.5:8000"


def test_the_mailbox_import_needs_a_way_to_answer_by_mail() -> None:
    graph = {"graph_tenant_id": "t", "graph_client_id": "c", "graph_client_secret": "s",
             "graph_mailbox": "legesamarbeid@example.no"}
    with pytest.raises(ValidationError, match="MELD_MAIL_TRANSPORT"):
        Settings(mailbox_import="graph", **graph)
    assert Settings(mailbox_import="graph", mail_transport="graph", **graph).mail_enabled

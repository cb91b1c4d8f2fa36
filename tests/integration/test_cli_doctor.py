"""`meld doctor`: one line per check (ok, or what is wrong and how to fix it), exit status 1
when something needs fixing and 0 when all is well. The database on both backends, the chat
doors against the fakes (FakeSlack's auth.test and conversations.info, FakeMicrosoft's
token endpoint), run in-process through main(argv, settings=...) and once as a process."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from intake.cli.main import main
from intake.i18n import Translator
from intake.ops.doctor import OK, PROBLEM, base_url_check
from intake.settings import Settings
from tests.slack_fake import FakeSlack
from tests.teams_fake import APP_ID, APP_PASSWORD, TENANT_ID, FakeMicrosoft

KEY = "k" * 32
CHANNEL = "C0TRIAGE01"
TEAMS_CHANNEL = "19:triage0000000000@thread.tacv2"
PUBLIC = "https://meld.example.no"
LABELS = ("Database", "Hemmelig nøkkel", "Offentlig adresse", "Slack-modus", "Slack",
          "Slack-kanal", "Teams", "Teams-kanal", "E-post")


def doctor(settings: Settings, capsys: pytest.CaptureFixture[str]
           ) -> tuple[int, dict[str, tuple[str, str]], str]:
    """Run `meld doctor`: (exit status, {label: (mark, text)}, the closing line)."""
    code = main(["doctor"], settings=settings)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return (code, *parse(captured.out))


def parse(out: str) -> tuple[dict[str, tuple[str, str]], str]:
    lines = out.splitlines()
    if lines and lines[0].startswith("Innstillinger:"):  # where the settings came from
        lines = lines[1:]
    *checks, closing = lines
    found: dict[str, tuple[str, str]] = {}
    for line in checks:
        mark, _, rest = line.partition("  ")
        label, _, said = rest.strip().partition(": ")
        assert mark.strip() in ("ok", "FEIL", "-") and label in LABELS, line
        assert label not in found, f"two lines for {label}"
        found[label] = (mark.strip(), said)
    problems = sum(mark == "FEIL" for mark, _ in found.values())
    if problems:
        assert closing == f"Må rettes: {problems} (linjene merket FEIL)."
    else:
        assert closing == "Alt er i orden."
    return found, closing


def slack_settings(url: str, slack: FakeSlack, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        database_url=url, secret_key=KEY, base_url=PUBLIC, slack_bot_token="xoxb-meld-doctor",
        slack_signing_secret="signing-secret", slack_api_url=slack.url,
        slack_triage_channel=CHANNEL)
    values.update(overrides)
    return Settings(**values)


def teams_settings(url: str, ms: FakeMicrosoft, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        database_url=url, secret_key=KEY, base_url=PUBLIC, teams_app_id=APP_ID,
        teams_app_password=APP_PASSWORD, teams_tenant_id=TENANT_ID,
        teams_authority_url=ms.url, teams_ca_bundle=ms.cert,
        teams_triage_conversation=TEAMS_CHANNEL)
    values.update(overrides)
    return Settings(**values)


# ------------------------------------------------------------------ the database


def test_all_is_well_on_a_migrated_database(db_url: str, capsys) -> None:
    code, lines, _ = doctor(Settings(database_url=db_url, secret_key=KEY), capsys)
    assert code == 0
    assert lines["Database"][0] == "ok" and "migrert til nyeste versjon" in lines["Database"][1]
    assert lines["Hemmelig nøkkel"] == ("ok", "MELD_SECRET_KEY er satt (32 byte; minst 32 "
                                               "trengs).")
    assert lines["Slack"] == ("-", "av (MELD_SLACK_BOT_TOKEN er ikke satt).")
    assert lines["Teams"] == ("-", "av (MELD_TEAMS_APP_ID er ikke satt).")
    assert KEY not in str(lines)


def test_an_unmigrated_sqlite_database_is_named_with_the_fix(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "var" / "meld.db"
    code, lines, _ = doctor(Settings(database_url=f"sqlite:///{missing}"), capsys)
    assert code == 1
    assert lines["Database"] == ("FEIL", f"SQLite-filen {missing} finnes ikke ennå: kjør meld "
                                         "migrate (make run gjør det også).")
    assert not missing.parent.exists()  # doctor only looks: no folder, file or key made
    # without MELD_SECRET_KEY, SQLite keeps a key beside the file: that is in order
    assert lines["Hemmelig nøkkel"][0] == "ok" and "secret_key" in lines["Hemmelig nøkkel"][1]

    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    code, lines, _ = doctor(Settings(database_url=f"sqlite:///{empty}", secret_key=KEY), capsys)
    assert code == 1
    assert lines["Database"] == ("FEIL", f"Databasen sqlite:///{empty} har ingen Meld-tabeller, "
                                         "eller eldre: kjør meld migrate først.")
    assert [label for label, (mark, _) in lines.items() if mark == "FEIL"] == ["Database"]


@pytest.mark.parametrize(("revision", "words"), [
    ("0007", "har ingen Meld-tabeller, eller eldre: kjør meld migrate først"),
    ("9999", "er migrert av en nyere Meld (versjon 9999; denne Meld kjenner til og med"),
])
def test_an_older_or_newer_schema_is_not_the_newest(sqlite_url: str, revision: str, words: str,
                                                    capsys) -> None:
    engine = create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()
    code, lines, _ = doctor(Settings(database_url=sqlite_url, secret_key=KEY), capsys)
    assert code == 1 and lines["Database"][0] == "FEIL" and words in lines["Database"][1]


def test_postgres_that_does_not_answer_and_no_key(capsys) -> None:
    settings = Settings(database_url="postgresql+psycopg://meld:pw@127.0.0.1:1/meld")
    code, lines, closing = doctor(settings, capsys)
    assert code == 1
    assert lines["Database"] == ("FEIL", "Ingenting svarer på 127.0.0.1:1: tilkoblingen ble "
                                         "avvist. Kjører PostgreSQL der, og stemmer vert og "
                                         "port i MELD_DATABASE_URL?")
    mark, said = lines["Hemmelig nøkkel"]
    assert mark == "FEIL" and said.startswith("MELD_SECRET_KEY er ikke satt. Meld trenger den "
                                              "med PostgreSQL: minst 32 tilfeldige byte")
    assert closing == "Må rettes: 2 (linjene merket FEIL)."
    assert "pw" not in str(lines)  # the password is never shown


@pytest.mark.postgres
def test_an_unmigrated_and_a_missing_postgres_database(pg_database_url: str, capsys) -> None:
    server = make_url(pg_database_url)
    name = f"meld_doctor_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        code, lines, _ = doctor(Settings(database_url=url, secret_key=KEY), capsys)
        assert code == 1 and lines["Database"][0] == "FEIL"
        assert "har ingen Meld-tabeller, eller eldre: kjør meld migrate først" in \
            lines["Database"][1]
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    absent = server.set(database=name).render_as_string(hide_password=False)
    code, lines, _ = doctor(Settings(database_url=absent, secret_key=KEY), capsys)
    assert code == 1
    assert lines["Database"][0] == "FEIL"
    assert lines["Database"][1].startswith(f"Databasen «{name}» finnes ikke på "
                                           f"{server.host}:{server.port or 5432}.")


def test_a_short_secret_key_is_a_line_too(sqlite_url: str, capsys) -> None:
    """Settings refuses a short key when it is read; a copied object is checked again."""
    settings = Settings(database_url=sqlite_url).model_copy(
        update={"secret_key": SecretStr("too-short")})
    code, lines, _ = doctor(settings, capsys)
    assert code == 1
    assert lines["Hemmelig nøkkel"][0] == "FEIL"
    assert "MELD_SECRET_KEY er for kort: 9 byte" in lines["Hemmelig nøkkel"][1]
    assert "too-short" not in str(lines)


# ------------------------------------------------------------------ the public address


@pytest.mark.parametrize(("url", "fine"), [
    ("https://meld.example.no", True),
    ("https://meld.example.no:8443/meld", True),
    ("https://193.90.0.10", True),
    ("https://203.0.113.10", False),  # a documentation block: no site's address
    ("http://meld.example.no", False),
    ("http://127.0.0.1:8000", False),
    ("https://localhost", False),
    ("https://127.0.0.2", False),
    ("https://10.1.2.3", False),
    ("https://172.16.5.4", False),
    ("https://192.168.0.5", False),
    ("https://100.64.0.1", False),
    ("https://169.254.1.1", False),
    ("https://[::1]:8443", False),
    ("https://[fd00::1]", False),
    ("https://meld", False),
    ("https://meld.local", False),
    ("https://meld.internal", False),
    ("https://meld.localhost", False),
    ("not a url", False),
])
def test_the_public_address_is_public_https_when_slack_http_or_teams_is_on(url: str,
                                                                            fine: bool) -> None:
    tr = Translator("nb")
    slack_http = Settings(base_url=url, slack_bot_token="xoxb-1", slack_signing_secret="s")
    teams = Settings(base_url=url, teams_app_id=APP_ID, teams_app_password=APP_PASSWORD,
                     teams_tenant_id=TENANT_ID)
    for settings in (slack_http, teams):
        check = base_url_check(settings, tr)
        assert check.status == (OK if fine else PROBLEM), (url, check.text)
        if not fine:
            assert "MELD_BASE_URL" in check.text and "https://meld.example.no" in check.text
    # Socket Mode, or no chat door: Slack and Teams never call Meld, a local address is fine
    socket_mode = Settings(base_url=url, slack_bot_token="xoxb-1", slack_signing_secret="s",
                           slack_app_token="xapp-1")
    assert base_url_check(socket_mode, tr).status == OK
    assert base_url_check(Settings(base_url=url), tr).status == OK


def test_an_unset_base_url_is_named_when_a_door_needs_it() -> None:
    tr = Translator("nb")
    check = base_url_check(Settings(port=8123, slack_bot_token="xoxb-1",
                                    slack_signing_secret="s"), tr)
    assert check.status == PROBLEM
    assert check.text.startswith("MELD_BASE_URL er ikke satt (lenker bruker "
                                 "http://127.0.0.1:8123), og Slack (HTTP-modus) trenger")


# ------------------------------------------------------------------ Slack


def test_slack_all_well(sqlite_url: str, capsys) -> None:
    with FakeSlack() as slack:
        slack.channels[CHANNEL] = {"name": "forbedringsgruppen"}
        code, lines, _ = doctor(slack_settings(sqlite_url, slack), capsys)
        [auth] = slack.calls_to("auth.test")
        [info] = slack.calls_to("conversations.info")
    assert code == 0
    assert auth.token == "xoxb-meld-doctor" and info.params["channel"] == CHANNEL
    assert lines["Slack-modus"] == ("ok", "på (HTTP, POST /slack/events)")
    assert lines["Slack"] == ("ok", "bot-tokenet virker: meld i arbeidsområdet Meld test.")
    assert lines["Slack-kanal"] == ("ok", f"#forbedringsgruppen ({CHANNEL}): boten er medlem.")
    assert lines["Offentlig adresse"] == ("ok", f"{PUBLIC} er en offentlig https-adresse.")
    assert "xoxb-meld-doctor" not in str(lines)


def test_slack_refuses_the_token(sqlite_url: str, capsys) -> None:
    with FakeSlack(tokens={"xoxb-the-right-one"}) as slack:
        code, lines, _ = doctor(slack_settings(sqlite_url, slack), capsys)
        assert slack.methods == ["auth.test"]  # the channel is not asked with a bad token
    assert code == 1
    assert lines["Slack"][0] == "FEIL"
    assert lines["Slack"][1].startswith("Slack avviste MELD_SLACK_BOT_TOKEN (invalid_auth). "
                                        "Kopier Bot User OAuth Token (xoxb-...)")
    assert lines["Slack-kanal"] == ("-", "ikke sjekket: bot-tokenet virker ikke.")


@pytest.mark.parametrize(("channel", "failure", "words"), [
    (None, None, f"Slack finner ingen kanal {CHANNEL} som boten kan se"),
    ({"name": "forbedring", "is_member": False}, None,
     f"Boten er ikke medlem av #forbedring ({CHANNEL}): skriv /invite @meld i kanalen."),
    ({"name": "forbedring", "is_archived": True}, None,
     f"#forbedring ({CHANNEL}) er arkivert"),
    ({"name": "forbedring"}, "missing_scope",
     "Boten får ikke lese kanalopplysninger (missing_scope: channels:read)"),
    ({"name": "forbedring"}, "ratelimited",
     "Slack svarte på conversations.info med en feil (ratelimited). Prøv igjen om litt."),
])
def test_the_slack_channel_meld_posts_to(sqlite_url: str, capsys, channel: dict | None,
                                         failure: str | None, words: str) -> None:
    with FakeSlack() as slack:
        if channel is not None:
            slack.channels[CHANNEL] = channel
        if failure is not None:
            slack.fail("conversations.info", error=failure)
        code, lines, _ = doctor(slack_settings(sqlite_url, slack), capsys)
        assert len(slack.calls_to("conversations.info")) == 1
    assert code == 1
    assert lines["Slack"][0] == "ok"
    assert lines["Slack-kanal"][0] == "FEIL" and words in lines["Slack-kanal"][1]


def test_slack_unset_channel_no_way_in_and_no_answer(sqlite_url: str, capsys,
                                                     unused_port: int) -> None:
    with FakeSlack() as slack:
        settings = slack_settings(sqlite_url, slack, slack_signing_secret=None,
                                  slack_triage_channel=None,
                                  slack_api_url=f"http://127.0.0.1:{unused_port}/api/")
        code, lines, closing = doctor(settings, capsys)
        assert slack.calls == []
    assert code == 1
    assert lines["Slack-modus"][0] == "FEIL" and lines["Slack-modus"][1].startswith(
        "Slack kan ikke nå Meld: sett MELD_SLACK_APP_TOKEN (Socket Mode, xapp-...) eller "
        "MELD_SLACK_SIGNING_SECRET")
    assert lines["Slack"][0] == "FEIL" and lines["Slack"][1].startswith(
        f"Slack svarte ikke på http://127.0.0.1:{unused_port}/api/ (")
    assert lines["Slack-kanal"][0] == "FEIL" and lines["Slack-kanal"][1].startswith(
        "MELD_SLACK_TRIAGE_CHANNEL er ikke satt, så nye meldinger når ikke Forbedringsgruppen.")
    assert closing == "Må rettes: 3 (linjene merket FEIL)."


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ Teams


def test_teams_all_well(sqlite_url: str, tmp_path: Path, capsys) -> None:
    with FakeMicrosoft(tmp_path) as ms:
        code, lines, _ = doctor(teams_settings(sqlite_url, ms), capsys)
        [request] = ms.token_requests
    assert code == 0
    assert request["client_id"] == [APP_ID] and request["grant_type"] == ["client_credentials"]
    assert lines["Teams"] == ("ok", f"Microsoft ga boten et token (app {APP_ID}, tenant "
                                    f"{TENANT_ID}).")
    assert lines["Teams-kanal"] == ("ok", f"MELD_TEAMS_TRIAGE_CONVERSATION er satt "
                                          f"({TEAMS_CHANNEL}).")
    assert APP_PASSWORD not in str(lines)


@pytest.mark.parametrize(("overrides", "label", "words"), [
    ({"teams_app_password": "a-wrong-secret"}, "Teams",
     "Microsoft avviste appens påloggingsopplysninger (invalid_client). Sjekk "
     "MELD_TEAMS_APP_ID og MELD_TEAMS_APP_PASSWORD"),
    ({"teams_tenant_id": "00000000-0000-0000-0000-000000000000"}, "Teams",
     "Meld fikk ikke noe brukbart svar fra Microsoft-innloggingen på https://127.0.0.1:"),
    ({"teams_triage_conversation": None}, "Teams-kanal",
     "MELD_TEAMS_TRIAGE_CONVERSATION er ikke satt, så nye meldinger når ikke "
     "Forbedringsgruppen."),
    ({"teams_triage_conversation": "Forbedringsgruppen"}, "Teams-kanal",
     "MELD_TEAMS_TRIAGE_CONVERSATION (Forbedringsgruppen) er ikke en kanal-id fra Teams."),
    ({"base_url": "http://10.0.0.5:8000"}, "Offentlig adresse",
     "MELD_BASE_URL (http://10.0.0.5:8000) peker til denne maskinen eller et privat nett, som "
     "Teams ikke når."),
])
def test_teams_problems(sqlite_url: str, tmp_path: Path, capsys, overrides: dict[str, Any],
                        label: str, words: str) -> None:
    with FakeMicrosoft(tmp_path) as ms:
        code, lines, closing = doctor(teams_settings(sqlite_url, ms, **overrides), capsys)
    assert code == 1
    assert lines[label][0] == "FEIL" and lines[label][1].startswith(words), lines[label]
    assert closing == "Må rettes: 1 (linjene merket FEIL)."


def test_one_group_channel_is_enough(sqlite_url: str, tmp_path: Path, capsys) -> None:
    """Slack and Teams both on: new reports reach the group through either door's channel."""
    with FakeMicrosoft(tmp_path) as ms, FakeSlack() as slack:
        slack.channels[CHANNEL] = {"name": "forbedring"}
        both = teams_settings(sqlite_url, ms, slack_bot_token="xoxb-1", slack_app_token="xapp-1",
                              slack_api_url=slack.url, slack_triage_channel=CHANNEL,
                              teams_triage_conversation=None)
        code, lines, _ = doctor(both, capsys)
        assert code == 0
        assert lines["Slack-modus"] == ("ok", "på (Socket Mode)")
        assert lines["Teams-kanal"] == ("-", "MELD_TEAMS_TRIAGE_CONVERSATION er ikke satt; nye "
                                             "meldinger når Forbedringsgruppen i Slack.")
        code, lines, _ = doctor(both.model_copy(update={
            "slack_triage_channel": None, "teams_triage_conversation": TEAMS_CHANNEL}), capsys)
        assert code == 0
        assert lines["Slack-kanal"] == ("-", "MELD_SLACK_TRIAGE_CHANNEL er ikke satt; nye "
                                             "meldinger når Forbedringsgruppen i Teams.")


# ------------------------------------------------------------------ as a real process


def test_meld_doctor_as_a_process(sqlite_url: str, tmp_path: Path) -> None:
    meld = Path(sys.executable).with_name("meld")
    empty = tmp_path / "unmigrated.db"
    sqlite3.connect(empty).close()
    with FakeSlack() as slack:
        slack.channels[CHANNEL] = {"name": "forbedring"}
        env = {k: v for k, v in os.environ.items() if not k.startswith("MELD_")}
        env.update(MELD_ENV_FILE="", MELD_SECRET_KEY=KEY, MELD_SLACK_BOT_TOKEN="xoxb-process",
                   MELD_SLACK_APP_TOKEN="xapp-process", MELD_SLACK_API_URL=slack.url,
                   MELD_SLACK_TRIAGE_CHANNEL=CHANNEL)
        runs = {}
        for name, url in (("migrated", sqlite_url), ("unmigrated", f"sqlite:///{empty}")):
            runs[name] = subprocess.run([str(meld), "doctor"], cwd=tmp_path, text=True,
                                        env={**env, "MELD_DATABASE_URL": url},
                                        capture_output=True, timeout=90, check=False)
        assert len(slack.calls_to("auth.test")) == 2
    good, bad = runs["migrated"], runs["unmigrated"]
    assert (good.returncode, good.stderr) == (0, ""), good.stderr
    assert good.stdout.splitlines()[0] == ("Innstillinger: bare MELD_*-miljøvariablene "
                                           "(MELD_ENV_FILE er tom).")
    lines, closing = parse(good.stdout)
    assert closing == "Alt er i orden." and lines["Slack-kanal"][0] == "ok"
    assert (bad.returncode, bad.stderr) == (1, ""), bad.stderr
    lines, _ = parse(bad.stdout)
    assert lines["Database"] == ("FEIL", f"Databasen sqlite:///{empty} har ingen "
                                         "Meld-tabeller, eller eldre: kjør meld migrate først.")
    assert "xoxb-process" not in good.stdout + bad.stdout

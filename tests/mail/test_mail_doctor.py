"""`meld doctor` on notices by e-mail: off, an SMTP server that answers (plain, STARTTLS with
login) or not, a Graph app that gets a token or is refused; in bokmål, no secrets shown."""

from __future__ import annotations

import pytest

from intake.cli.main import main
from intake.settings import Settings
from tests.mail.conftest import KEY, graph_settings, smtp_settings
from tests.mail.fakes import SMTP_PASSWORD, FakeGraph, SmtpServer, free_port


def mail_line(settings: Settings, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    main(["doctor"], settings=settings)
    out = capsys.readouterr().out
    for line in out.splitlines():
        mark, _, rest = line.partition("  ")
        if rest.strip().startswith("E-post: "):
            assert SMTP_PASSWORD not in line and "graph-test-secret" not in line
            return mark.strip(), rest.strip().removeprefix("E-post: ")
    raise AssertionError(f"no E-post line in:\n{out}")


def test_mail_off(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    mark, text = mail_line(Settings(database_url=db_url, secret_key=KEY), capsys)
    assert mark == "-" and "MELD_MAIL_TRANSPORT er ikke satt" in text


def test_smtp_answers(db_url: str, smtp: SmtpServer,
                      capsys: pytest.CaptureFixture[str]) -> None:
    mark, text = mail_line(smtp_settings(db_url, smtp), capsys)
    assert mark == "ok", text
    assert f"smtp://127.0.0.1:{smtp.port} svarer" in text
    assert smtp.mails == []  # a check sends nothing


def test_smtp_with_starttls_and_login(db_url: str, tls_smtp: SmtpServer,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    good = smtp_settings(db_url, tls_smtp, smtp_url=tls_smtp.url(login=True),
                         smtp_starttls="required", smtp_ca_bundle=tls_smtp.ca_path)
    assert mail_line(good, capsys)[0] == "ok"
    assert tls_smtp.logins
    wrong = good.model_copy(update={"smtp_url": tls_smtp.url().replace("//", "//meld:nei@")})
    mark, text = mail_line(wrong, capsys)
    assert mark == "FEIL" and "avviste innloggingen" in text
    untrusted = good.model_copy(update={"smtp_ca_bundle": None})
    mark, text = mail_line(untrusted, capsys)
    assert mark == "FEIL" and "MELD_SMTP_CA_BUNDLE" in text


def test_smtp_not_there(db_url: str, smtp: SmtpServer,
                        capsys: pytest.CaptureFixture[str]) -> None:
    settings = smtp_settings(db_url, smtp, smtp_url=f"smtp://127.0.0.1:{free_port()}")
    mark, text = mail_line(settings, capsys)
    assert mark == "FEIL" and "svarte ikke som den skulle (smtp_connection_error)" in text


def test_graph_token(db_url: str, graph: FakeGraph,
                     capsys: pytest.CaptureFixture[str]) -> None:
    mark, text = mail_line(graph_settings(db_url, graph), capsys)
    assert mark == "ok" and "forbedring@example.no" in text
    assert graph.mails == []
    mark, text = mail_line(graph_settings(db_url, graph, graph_client_secret="feil"), capsys)
    assert mark == "FEIL" and "invalid_client" in text
    away = graph_settings(db_url, graph, graph_authority_url=f"https://127.0.0.1:{free_port()}")
    mark, text = mail_line(away, capsys)
    assert mark == "FEIL" and "MELD_GRAPH_AUTHORITY_URL" in text

"""Notices by e-mail through Microsoft Graph's sendMail (a fake Graph and Entra authority
over HTTPS on loopback; msal gets its token there): the same mails as by SMTP, Retry-After
obeyed, a stale token replaced."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from intake import services
from intake.settings import Settings
from tests.mail.conftest import MailSite, graph_settings
from tests.mail.fakes import MAILBOX, FakeGraph
from tests.mail.helpers import GROUP, check_notice, email_rows, send_reply, submit, texts

Site = Callable[[Settings], MailSite]


def test_receipt_and_later_notices_by_graph(db_url: str, site: Site, graph: FakeGraph) -> None:
    s = site(graph_settings(db_url, graph, mail_from="meld@helse.example.no"))
    reference = submit(s)
    s.drain()
    assert len(graph.mails) == 1
    assert graph.mails[0].mailbox == MAILBOX
    send_reply(s, reference, "Vi ser på det.")
    services.move_status(ctx=s.ctx, actor=GROUP, reference=reference, status="in_progress")
    s.drain()
    rows = email_rows(s)
    assert len(graph.mails) == len(rows) == 4
    for row, mail in zip(rows, graph.mails, strict=True):
        check_notice(s, mail.message, row.id, reference, mail.raw)
    assert "Vi ser på det." in texts(graph.mails[2].message)[0]
    assert len(graph.token_requests) == 1  # msal's cache: one token for every mail
    assert graph.token_requests[0]["grant_type"] == ["client_credentials"]
    assert s.drain() == 0 and len(graph.mails) == 4


def test_sender_defaults_to_the_mailbox(db_url: str, site: Site, graph: FakeGraph) -> None:
    s = site(graph_settings(db_url, graph))
    submit(s)
    s.drain()
    (mail,) = graph.mails
    assert MAILBOX in mail.message["From"]
    assert mail.message["Message-ID"].endswith("@example.no>")


def test_429_retry_after_is_obeyed(db_url: str, site: Site, graph: FakeGraph) -> None:
    s = site(graph_settings(db_url, graph))
    submit(s)
    graph.answers.append((429, {"Retry-After": "120"}))
    s.drain()
    (row,) = email_rows(s)
    assert row.last_error == "graph_http_429" and row.failed_at is None
    assert row.next_attempt_at.replace(tzinfo=s.clock.now.tzinfo) == \
        s.clock.now + timedelta(seconds=120)
    assert graph.mails == []
    s.clock.advance(seconds=119)
    assert s.drain() == 0 and graph.mails == []  # not before Graph said
    s.clock.advance(seconds=1)
    s.drain()
    assert len(graph.mails) == 1
    assert email_rows(s)[0].delivered_at is not None


def test_503_with_retry_after_then_sent(db_url: str, site: Site, graph: FakeGraph) -> None:
    s = site(graph_settings(db_url, graph))
    submit(s)
    graph.answers.append((503, {"Retry-After": "5"}))
    s.drain()
    (row,) = email_rows(s)
    assert row.last_error == "graph_http_503"  # not ambiguous: Graph said it did not send
    s.clock.advance(seconds=5)
    s.drain()
    assert len(graph.mails) == 1


def test_503_without_retry_after_is_ambiguous(db_url: str, site: Site,
                                              graph: FakeGraph) -> None:
    s = site(graph_settings(db_url, graph))
    submit(s)
    graph.answers.append((503, {}))
    s.drain()
    (row,) = email_rows(s)
    assert row.last_error == "ambiguous:graph_http_503"


def test_stale_token_is_replaced(db_url: str, site: Site, graph: FakeGraph) -> None:
    s = site(graph_settings(db_url, graph))
    submit(s)
    s.drain()
    graph.revoked.update(graph.issued)  # Graph no longer takes the cached token
    reference = email_rows(s)[0].payload["reference"]
    send_reply(s, reference, "Svar.")
    s.drain()
    assert len(graph.mails) == 3  # receipt, status, reply
    assert len(graph.token_requests) == 2
    assert all(r.delivered_at is not None for r in email_rows(s))


def test_bad_request_fails_for_good(db_url: str, site: Site, graph: FakeGraph) -> None:
    s = site(graph_settings(db_url, graph))
    submit(s)
    graph.answers.append((400, {}))
    s.drain()
    (row,) = email_rows(s)
    assert row.last_error == "graph_http_400" and row.failed_at is not None

"""The outbox against a misbehaving Bot Connector: 429 with Retry-After, 500, and a timeout
after Teams already posted. It backs off as told, keeps each reporter's notices in order,
and never posts a Teams message twice on a guess: an ambiguous timeout parks the row for a
person (`meld outbox --unverified`), logged by its outbox id."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from intake import services
from intake.cli.main import main
from intake.domain.model import Actor, Role
from storage import models as m
from tests.teams.conftest import (
    REPORTER,
    TeamsHarness,
    _start,
    _stop,
    card_texts,
    teams_settings,
)
from tests.teams_fake import FakeMicrosoft

GROUP = Actor("slack:UGROUP", Role.TRIAGER)
PERSONAL = f"a:personal-{REPORTER}"
STATUS_MESSAGE = "Vi ser på saken nå."


@pytest.fixture
def reporter_chat(db_url: str, ms: FakeMicrosoft) -> Iterator[TeamsHarness]:
    """Teams on each database, no group channel (only the reporter's notices go out), a
    short call timeout, and a reporter whose personal chat Meld knows."""
    h = _start(teams_settings(db_url, ms, teams_triage_conversation=None,
                              teams_timeout_seconds=0.5), ms)
    try:
        h.message("meld")
        h.wait_replies()
        h.ms.sent.clear()
        yield h
    finally:
        _stop(h)


def rows(h: TeamsHarness) -> list[m.OutboxMessage]:
    with h.ctx.db.reading() as session:
        return list(session.scalars(select(m.OutboxMessage)
                                    .where(m.OutboxMessage.channel == "teams")
                                    .order_by(m.OutboxMessage.id)))


def make_due(h: TeamsHarness) -> None:
    with h.ctx.db.transaction() as session:
        for row in session.scalars(select(m.OutboxMessage)):
            row.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)


def to_reporter(h: TeamsHarness) -> list[str]:
    """What reached the reporter's chat, request by request (the card texts)."""
    return [card_texts(s.card) for s in h.ms.sent if s.conversation == PERSONAL]


def test_429_then_500_back_off_and_keep_the_reporters_order(
    reporter_chat: TeamsHarness,
) -> None:
    h = reporter_chat
    reference = h.seed_report()
    services.move_status(ctx=h.ctx, actor=GROUP, reference=reference, status="triage",
                         message=STATUS_MESSAGE)
    receipt, notice = rows(h)

    h.ms.fail_next = [429]
    before = datetime.now(UTC)
    assert h.drain() == 0
    after = datetime.now(UTC)
    receipt_row, notice_row = rows(h)
    assert receipt_row.last_error == "teams_http_429" and receipt_row.attempts == 1
    # Retry-After: 7 is obeyed, not the (shorter) first backoff step: 7 s from the answer,
    # which came between `before` and `after` (however long a loaded machine took)
    assert before + timedelta(seconds=6) <= receipt_row.next_attempt_at \
        <= after + timedelta(seconds=8)
    assert notice_row.attempts == 0, "the later notice waits for the earlier one"
    assert len(to_reporter(h)) == 1

    make_due(h)
    h.ms.fail_next = [500]
    assert h.drain() == 0
    receipt_row, notice_row = rows(h)
    assert receipt_row.last_error == "teams_http_500" and receipt_row.attempts == 2
    assert receipt_row.failed_at is None and receipt_row.next_attempt_at > datetime.now(UTC)
    assert notice_row.attempts == 0

    make_due(h)
    assert h.drain() == 2
    sent = to_reporter(h)
    assert len(sent) == 4  # 429, 500, then the receipt and the notice, in that order
    assert reference in sent[2] and STATUS_MESSAGE not in sent[2]
    assert STATUS_MESSAGE in sent[3]
    assert all(r.delivered_at is not None for r in rows(h))
    assert [r.id for r in rows(h)] == [receipt.id, notice.id]


def test_a_timeout_after_teams_posted_is_parked_not_resent(
    reporter_chat: TeamsHarness, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture
) -> None:
    h = reporter_chat
    reference = h.seed_report()
    h.ms.hang_next = [2.0]  # Teams posts the receipt, and answers after Meld gave up
    with caplog.at_level(logging.INFO, logger="meld.outbox"):
        assert h.drain() == 0
    [row] = rows(h)
    assert row.delivered_at is None and row.failed_at is not None
    assert row.last_error == "unverified:teams_timeout"
    assert f"outbox id={row.id} channel=teams" in caplog.text
    assert "parked for reconciliation" in caplog.text
    assert len(to_reporter(h)) == 1

    # however often the worker runs, it is not posted again on a guess
    make_due(h)
    assert h.drain() == 0
    assert len(to_reporter(h)) == 1

    # later notices to the same reporter are not held back by the parked one
    services.move_status(ctx=h.ctx, actor=GROUP, reference=reference, status="triage",
                         message=STATUS_MESSAGE)
    assert h.drain() == 1
    assert STATUS_MESSAGE in to_reporter(h)[-1]

    settings = h.ctx.settings
    assert main(["outbox", "--unverified"], settings=settings) == 0
    listing = capsys.readouterr().out
    assert f"{row.id}\tteams\treceipt\t{reference}\t" in listing
    assert "Epikrise manglet" not in listing  # codes only, never the report text
    # the person looked in the chat and saw it: delivered, nothing sent
    assert main(["outbox", "--delivered", str(row.id)], settings=settings) == 0
    [row, _] = rows(h)
    assert row.delivered_at is not None and row.failed_at is None
    assert main(["outbox", "--delivered", str(row.id)], settings=settings) == 1  # not parked
    assert len(to_reporter(h)) == 2


def test_a_parked_notice_a_person_found_missing_is_sent_once_more(
    reporter_chat: TeamsHarness, capsys: pytest.CaptureFixture
) -> None:
    h = reporter_chat
    h.seed_report()
    h.ms.hang_next = [2.0]
    assert h.drain() == 0
    [row] = rows(h)
    settings = h.ctx.settings
    assert main(["outbox", "--resend", str(row.id)], settings=settings) == 0
    assert f"{row.id}" in capsys.readouterr().out
    assert h.drain() == 1
    assert len(to_reporter(h)) == 2
    [row] = rows(h)
    assert row.delivered_at is not None


def test_only_an_answer_that_never_came_is_ambiguous(ms: FakeMicrosoft) -> None:
    """A connection refused or an HTTP error answer: Teams did not post, retry normally.
    No answer after the request went out: ambiguous."""
    import asyncio
    import socket
    import ssl

    import httpx

    from bot.teams.auth import BotTokens
    from bot.teams.connector import Connector, ConnectorError

    settings = teams_settings("sqlite://", ms)
    tls = ssl.create_default_context(cafile=str(ms.cert))

    def connector(timeout: float) -> Connector:
        return Connector(BotTokens(settings), allowed_origins=settings.teams_service_origins,
                         client=lambda: httpx.AsyncClient(verify=tls, timeout=timeout))

    def failure(conn: Connector, service_url: str) -> ConnectorError:
        with pytest.raises(ConnectorError) as err:
            asyncio.run(conn.send(service_url, "a:1", {"type": "message"}))
        return err.value

    ms.fail_next = [500]
    err = failure(connector(5.0), ms.service_url)
    assert (err.code, err.ambiguous, err.permanent) == ("http_500", False, False)
    ms.hang_next = [1.5]
    err = failure(connector(0.3), ms.service_url)
    assert (err.code, err.ambiguous) == ("timeout", True)
    with socket.socket() as closed:  # a port with nobody listening
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    refused = Connector(BotTokens(settings),
                        allowed_origins=frozenset({f"https://127.0.0.1:{port}"}),
                        client=lambda: httpx.AsyncClient(verify=tls, timeout=2.0))
    ms.fail_next = []
    err = failure(refused, f"https://127.0.0.1:{port}/teams")
    assert (err.code, err.ambiguous) == ("connection_error", False)

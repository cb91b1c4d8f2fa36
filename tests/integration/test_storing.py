"""How a submit is stored (intake.services.storing): SQLite writes it in a (grouped)
transaction of three Core inserts, PostgreSQL in one statement after its number. Both must
store the same rows, all of them or none, and a replay must take no number."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.exc import DBAPIError

from intake import services
from intake.delivery.outbox import Notification, OutboxWorker
from intake.domain.model import Actor, Role
from intake.domain.taxonomy import load_taxonomy
from intake.services.context import Context
from intake.settings import Settings
from storage import models as m
from storage.db import open_database
from tests.conftest import _truncate_all
from tests.fakes import FakeClock
from tests.integration.helpers import draft

SLACK = Actor("slack:U1", Role.REPORTER)
TEAMS = Actor("teams:29:abc", Role.REPORTER)
KEY_FREE = ("id", "report_id")  # given by each database


def _context(url: str, clock: FakeClock) -> Context:
    settings = Settings(database_url=url, secret_key="test-secret" * 3,
                        run_outbox_worker=False, mail_transport="smtp",
                        smtp_url="smtp://127.0.0.1:2525", mail_from="meld@example.org")
    return Context(db=open_database(url), settings=settings, taxonomy=load_taxonomy(),
                   secret_key=b"test-secret" * 3, clock=clock)


def _plain(value: Any) -> Any:
    """A stored value as comparable across databases (instants in UTC, naive)."""
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).replace(tzinfo=None)
    return value


def _stored(ctx: Context) -> dict[str, list[dict[str, Any]]]:
    """Every report, audit event and outbox row, without the ids the database gave."""
    out: dict[str, list[dict[str, Any]]] = {}
    with ctx.db.reading() as session:
        for model in (m.Report, m.AuditEvent, m.OutboxMessage):
            table = model.__table__
            rows = session.execute(select(table).order_by(table.c.id)).mappings().all()
            out[table.name] = [{k: _plain(v) for k, v in row.items() if k not in KEY_FREE}
                               for row in rows]
    return out


def _submit_several(ctx: Context) -> list[str]:
    """Reports of every shape a door sends: full, text only (filed by Meld or left to the
    group), with an e-mail address for notices, keyed, from Slack and from Teams."""
    receipts = [
        services.submit_report(ctx=ctx, actor=SLACK, draft=draft()),
        services.submit_report(ctx=ctx, actor=TEAMS, draft=draft(
            category=None, subcategory=None, severity=None, place=None, kind=None,
            reporter_party=None, concerned_party=None, occurred_on=None)),
        services.submit_report(ctx=ctx, actor=SLACK, draft=draft(
            category=None, subcategory=None, description="Noe gikk galt i går.")),
        services.submit_report(ctx=ctx, actor=TEAMS, draft=draft(
            email="lege@example.org", severity="severe"), idempotency_key="k-1"),
        services.submit_report(ctx=ctx, actor=SLACK, draft=draft(kind="suggestion",
                                                                  severity=None)),
    ]
    return [r.reference for r in receipts]


@pytest.fixture
def both(sqlite_url: str, pg_database_url: str,
         clock: FakeClock) -> Iterator[tuple[Context, Context]]:
    _truncate_all(pg_database_url)
    lite, pg = _context(sqlite_url, clock), _context(pg_database_url, clock)
    yield lite, pg
    lite.db.dispose()
    pg.db.dispose()


@pytest.mark.postgres
def test_both_databases_store_the_same_rows(both: tuple[Context, Context]) -> None:
    lite, pg = both
    assert _submit_several(lite) == _submit_several(pg)
    stored_lite, stored_pg = _stored(lite), _stored(pg)
    assert [len(rows) for rows in stored_pg.values()] == [5, 5, 11]  # one mail notice more
    for table in stored_lite:
        assert stored_pg[table] == stored_lite[table], table


def _refuse_group_cards(ctx: Context) -> None:
    """A trigger that makes the outbox refuse the group's new-report card."""
    with ctx.db.engine.begin() as conn:
        if ctx.db.dialect == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_cards BEFORE INSERT ON outbox "
                "WHEN NEW.event = 'new_report' BEGIN SELECT RAISE(ABORT, 'refused'); END")
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse_cards() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN IF NEW.event = 'new_report' THEN RAISE EXCEPTION 'refused'; END IF; "
                "RETURN NEW; END $$")
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_cards BEFORE INSERT ON outbox "
                "FOR EACH ROW EXECUTE FUNCTION refuse_cards()")


def _allow_group_cards(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS refuse_cards"
                             + ("" if engine.dialect.name == "sqlite" else " ON outbox"))
        if engine.dialect.name != "sqlite":
            conn.exec_driver_sql("DROP FUNCTION IF EXISTS refuse_cards()")
    engine.dispose()


def test_a_submit_is_stored_whole_or_not_at_all(ctx: Context) -> None:
    services.submit_report(ctx=ctx, actor=SLACK, draft=draft())
    _refuse_group_cards(ctx)
    try:
        with pytest.raises(DBAPIError):
            services.submit_report(ctx=ctx, actor=SLACK, draft=draft(description="Andre."))
        with pytest.raises(DBAPIError):
            services.submit_report(ctx=ctx, actor=TEAMS, draft=draft(), idempotency_key="k")
    finally:
        _allow_group_cards(ctx.settings.database_url)
    stored = _stored(ctx)
    # the first report whole; of the refused ones, no report, audit event or receipt
    assert [len(rows) for rows in stored.values()] == [1, 1, 2]
    later = services.submit_report(ctx=ctx, actor=TEAMS, draft=draft(), idempotency_key="k")
    assert later.created  # the refused submit left its key free


def test_a_replay_takes_no_number(ctx: Context) -> None:
    first = services.submit_report(ctx=ctx, actor=SLACK, draft=draft(), idempotency_key="a")
    for _ in range(3):
        again = services.submit_report(ctx=ctx, actor=SLACK, draft=draft(),
                                       idempotency_key="a")
        assert (again.reference, again.created) == (first.reference, False)
    other = services.submit_report(ctx=ctx, actor=SLACK, draft=draft())
    number = int(first.reference.rsplit("-", 1)[1])
    assert other.reference == first.reference.replace(f"{number:04d}", f"{number + 1:04d}")
    with ctx.db.reading() as session:
        assert session.scalar(text("SELECT count(*) FROM reports")) == 2


@pytest.mark.postgres
def test_twenty_requests_at_a_time_keep_their_connections(pg_database_url: str) -> None:
    """Twenty connections in use at once, given back, and taken again: none is closed on
    return and opened anew (each would be a new server process)."""
    db = open_database(pg_database_url)
    opened: list[int] = []
    event.listen(db.engine, "connect", lambda *_: opened.append(1))
    try:
        for _wave in range(3):
            held = [db.engine.connect() for _ in range(20)]
            for conn in held:
                assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
                conn.close()
    finally:
        db.dispose()
    assert len(opened) == 20


def test_a_web_reporter_gets_no_receipt_row_but_one_by_mail(db_url: str,
                                                            clock: FakeClock) -> None:
    """The answer to a web submit is its receipt (the status page shows no receipt
    notice): no row for the worker to mark delivered. An address asked for still gets
    its receipt by e-mail, and the group its card."""
    ctx = _context(db_url, clock)
    web = Actor(services.ANONYMOUS_WEB, Role.REPORTER)
    try:
        plain = services.submit_report(ctx=ctx, actor=web, draft=draft())
        mailed = services.submit_report(ctx=ctx, actor=web, draft=draft(
            email="lege@example.org"))
        chat = services.submit_report(ctx=ctx, actor=SLACK, draft=draft())
        with ctx.db.reading() as session:
            rows = session.execute(
                select(m.Report.reference, m.OutboxMessage.channel, m.OutboxMessage.event)
                .join(m.OutboxMessage, m.OutboxMessage.report_id == m.Report.id)
                .order_by(m.OutboxMessage.id)).all()
    finally:
        ctx.db.dispose()
    by_report: dict[str, list[tuple[str, str]]] = {}
    for reference, channel, what in rows:
        by_report.setdefault(reference, []).append((channel, what))
    assert by_report == {
        plain.reference: [("group", "new_report")],
        mailed.reference: [("email", "receipt"), ("group", "new_report")],
        chat.reference: [("slack", "receipt"), ("group", "new_report")],
    }


class _Recording:
    channel = "slack"

    def __init__(self) -> None:
        self.got: list[str] = []

    async def deliver(self, note: Notification) -> None:
        self.got.append(f"{note.event} {note.reference}")


class _CountingWorker(OutboxWorker):
    """An outbox worker that counts its looks at the outbox."""

    looks = 0

    async def run_once(self) -> int:
        self.looks += 1
        return await super().run_once()


def test_the_worker_is_woken_only_for_channels_it_delivers(ctx: Context) -> None:
    """A commit wakes the worker when it wrote a row for one of the worker's channels:
    a Slack receipt goes out at once; a web submit (only the group's card, and no group
    notifier here) costs the worker no look until its next poll."""
    notifier = _Recording()
    worker = _CountingWorker(db=ctx.db, notifiers={"slack": notifier}, clock=ctx.clock)
    ctx.outbox_signal.subscribe(worker.wake)
    web = Actor(services.ANONYMOUS_WEB, Role.REPORTER)

    async def until(done: Callable[[], bool]) -> None:
        for _ in range(500):
            if done():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("timed out")

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run_forever(stop, poll_seconds=60))
        try:
            await until(lambda: worker.looks == 1)  # the look at start
            await asyncio.to_thread(services.submit_report, ctx=ctx, actor=web, draft=draft())
            await asyncio.sleep(0.3)
            assert worker.looks == 1
            receipt = await asyncio.to_thread(services.submit_report, ctx=ctx, actor=SLACK,
                                              draft=draft())
            await until(lambda: notifier.got == [f"receipt {receipt.reference}"])
        finally:
            stop.set()
            await task

    try:
        asyncio.run(scenario())
    finally:
        ctx.outbox_signal.unsubscribe(worker.wake)

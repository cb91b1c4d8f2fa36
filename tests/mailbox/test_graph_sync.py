"""The Graph sync of the collaboration mailbox against a fake Graph and Entra authority over
HTTPS on loopback (msal gets its token there): delta pages, the stored delta link,
Retry-After, a 500 mid-round, an expired delta token, the Outlook marks, one replica at a
time, `meld mailbox sync`."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from intake import services
from intake.cli.main import main
from intake.domain.taxonomy import load_taxonomy
from intake.mailbox.graph import GraphMailbox
from intake.mailbox.sync import claim, mailbox_scheduler, stored_state, sync_key, sync_mailbox
from intake.settings import Settings
from storage import models as m
from storage.db import Database
from tests.fakes import FakeClock
from tests.mail.fakes import CLIENT_ID, CLIENT_SECRET, MAILBOX, TENANT_ID
from tests.mailbox import mails
from tests.mailbox.graph_fake import FakeMailbox, Script

KEY = "test-secret" * 3


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeMailbox]:
    with FakeMailbox(tmp_path) as server:
        yield server


def box_settings(db_url: str, fake: FakeMailbox, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        database_url=db_url, secret_key=KEY, run_outbox_worker=False,
        mailbox_import="graph", mail_transport="graph", graph_tenant_id=TENANT_ID,
        graph_client_id=CLIENT_ID,
        graph_client_secret=CLIENT_SECRET, graph_mailbox=MAILBOX, graph_url=fake.url,
        graph_authority_url=fake.url, graph_ca_bundle=fake.ca_path, mail_timeout_seconds=5)
    values.update(overrides)
    return Settings(**values)


def context(database: Database, settings: Settings, clock: FakeClock) -> services.Context:
    return services.Context(db=database, settings=settings, taxonomy=load_taxonomy(),
                            secret_key=KEY.encode(), clock=clock)


@pytest.fixture
def box(db_url: str, database: Database, clock: FakeClock,
        fake: FakeMailbox) -> services.Context:
    return context(database, box_settings(db_url, fake), clock)


def deliver(fake: FakeMailbox, n: int, *, start: int = 1, **kw: Any) -> list[str]:
    ids = []
    for i in range(start, start + n):
        mid = f"<mail{i}@legekontor.example.no>"
        raw = mails.plain(f"Epikrise nummer {i} kom aldri fram.", subject=f"Sak {i}",
                          message_id=mid)
        ids.append(fake.deliver(raw, internet_message_id=mid, **kw).id)
    return ids


def reports(ctx: services.Context) -> int:
    with ctx.db.reading() as session:
        return session.scalar(select(func.count()).select_from(m.Report)) or 0


def inbound(ctx: services.Context) -> int:
    with ctx.db.reading() as session:
        return session.scalar(select(func.count()).select_from(m.InboundMail)) or 0


def rounds(fake: FakeMailbox) -> list[str]:
    return [s.kind for s in fake.kinds("delta", "next")]


def test_first_sync_reads_every_page_marks_and_stores_the_link(box, fake) -> None:
    fake.page_size = 2
    deliver(fake, 4)
    coloured = fake.deliver(mails.plain(message_id="<red@x.no>"),
                            internet_message_id="<red@x.no>")
    fake.set_categories(coloured.id, ["Rød kategori"])
    result = sync_mailbox(box, box.settings)
    assert result.claimed and result.completed and result.error is None
    assert result.counts["imported"] == 5 and reports(box) == 5
    assert rounds(fake) == ["delta", "next", "next"]  # 2 + 2 + 1
    assert {s.prefer for s in fake.kinds("delta", "next")} == {"odata.maxpagesize=50"}
    first = fake.kinds("delta")[0].path
    assert "$select=id,internetMessageId,receivedDateTime,categories,parentFolderId" in first
    assert "/mailFolders/inbox/messages/delta" in first
    assert len(fake.kinds("value")) == 5 and len(fake.kinds("patch")) == 5
    assert all(msg.categories[-1] == "Meld" for msg in fake.in_folder())
    assert fake.messages[coloured.id].categories == ["Rød kategori", "Meld"]
    state = stored_state(box, sync_key(box.settings))
    assert state is not None and "$deltatoken=" in (state.delta_link or "")
    assert state.claimed_by is None and state.lease_until is None and state.last_error is None
    assert state.synced_at == box.clock()
    assert len(fake.kinds("token")) == 1
    # every new report is an "email" report with a receipt on its way (received today)
    with box.db.reading() as session:
        rows = session.scalars(select(m.OutboxMessage.event)
                               .where(m.OutboxMessage.channel == "email")).all()
    assert sorted(rows) == ["receipt"] * 5


def test_nothing_new_costs_one_delta_request_and_a_new_mail_comes_by_the_link(
        box, fake) -> None:
    deliver(fake, 3)
    sync_mailbox(box, box.settings)
    link = stored_state(box, sync_key(box.settings)).delta_link
    fake.seen.clear()
    # the round after: only Meld's own marks changed; read, skipped, nothing fetched
    result = sync_mailbox(box, box.settings)
    assert result.completed and result.counts["skipped"] == 3
    assert rounds(fake) == ["delta"] and fake.kinds("value", "patch") == []
    assert link.split("?", 1)[1] in fake.kinds("delta")[0].path  # the stored link
    fake.seen.clear()
    result = sync_mailbox(box, box.settings)
    assert result.completed and sum(result.counts.values()) == 0 and result.requests == 1
    assert rounds(fake) == ["delta"] and reports(box) == 3
    fake.seen.clear()
    deliver(fake, 1, start=10)
    result = sync_mailbox(box, box.settings)
    assert result.counts["imported"] == 1 and reports(box) == 4
    assert "$deltatoken=" in fake.kinds("delta")[0].path  # by the delta link, not a full read
    assert len(fake.kinds("value")) == 1


def test_retry_after_is_obeyed_and_a_long_one_gives_the_round_up(box, fake) -> None:
    fake.page_size = 2
    deliver(fake, 3)
    fake.script.append(Script("next", 429, {"Retry-After": "1"}))
    fake.script.append(Script("value", 503, {"Retry-After": "1"}))
    result = sync_mailbox(box, box.settings)
    assert result.completed and result.counts["imported"] == 3
    nexts = fake.kinds("next")
    assert len(nexts) == 2 and nexts[1].at - nexts[0].at >= 1.0
    values = fake.kinds("value")
    assert len(values) == 4 and values[1].at - values[0].at >= 1.0
    link = stored_state(box, sync_key(box.settings)).delta_link
    # Graph asks for an hour: the round is given up, the link stays, nothing lost
    deliver(fake, 1, start=10)
    fake.script.append(Script("delta", 429, {"Retry-After": "3600"}))
    result = sync_mailbox(box, box.settings)
    assert not result.completed and result.error == "graph_http_429"
    assert result.retry_after == 3600
    state = stored_state(box, sync_key(box.settings))
    assert state.delta_link == link and state.last_error == "graph_http_429"
    assert state.claimed_by is None
    assert sync_mailbox(box, box.settings).counts["imported"] == 1 and reports(box) == 4


def test_a_500_on_page_two_keeps_the_old_link_and_the_next_sync_takes_the_rest(
        box, fake, capsys) -> None:
    deliver(fake, 1)
    sync_mailbox(box, box.settings)
    old = stored_state(box, sync_key(box.settings)).delta_link
    fake.page_size = 2
    deliver(fake, 5, start=2)
    fake.script.append(Script("next", 500, code="ErrorInternalServerError"))
    fake.seen.clear()
    result = sync_mailbox(box, box.settings)
    assert not result.completed
    assert result.error == "graph_http_500_ErrorInternalServerError"
    assert result.counts["imported"] == 1  # page 1: Meld's old mark and one new mail
    state = stored_state(box, sync_key(box.settings))
    assert state.delta_link == old and state.last_error.startswith("graph_http_500")
    fake.seen.clear()
    result = sync_mailbox(box, box.settings)
    assert result.completed
    assert old.split("?", 1)[1] in fake.kinds("delta")[0].path  # resumed from the old link
    assert reports(box) == inbound(box) == 6  # every mail once, none twice
    assert all("Meld" in msg.categories for msg in fake.in_folder())


def test_an_expired_delta_token_restarts_fully_without_duplicates(box, fake) -> None:
    ids = deliver(fake, 3)
    sync_mailbox(box, box.settings)
    link = stored_state(box, sync_key(box.settings)).delta_link
    fake.expired.add(parse_qs(urlsplit(link).query)["$deltatoken"][0])
    for message_id in ids[:2]:  # someone took Meld's category off two of them in Outlook
        fake.set_categories(message_id, [])
    deliver(fake, 1, start=10)
    fake.seen.clear()
    result = sync_mailbox(box, box.settings)
    assert result.completed and result.restarted
    assert "$deltatoken=" in fake.kinds("delta")[0].path
    assert "$deltatoken=" not in fake.kinds("delta")[1].path  # the fresh full round
    assert (result.counts["imported"], result.counts["duplicate"],
            result.counts["skipped"]) == (1, 2, 1)
    assert reports(box) == 4
    assert all("Meld" in msg.categories for msg in fake.in_folder())  # marked again
    assert stored_state(box, sync_key(box.settings)).delta_link != link


def test_move_mode_moves_taken_mail_to_a_subfolder(db_url, database, clock, fake) -> None:
    ctx = context(database, box_settings(db_url, fake, mailbox_mark="move:Tatt av Meld"),
                  clock)
    fake.page_size = 2
    deliver(fake, 3)
    assert sync_mailbox(ctx, ctx.settings).counts["imported"] == 3
    subfolder = fake.folder_named("Tatt av Meld")
    assert subfolder is not None and len(fake.kinds("create_folder")) == 1
    assert fake.in_folder() == [] and len(fake.in_folder(subfolder)) == 3
    assert fake.kinds("patch") == []
    result = sync_mailbox(ctx, ctx.settings)
    assert result.completed and result.removed >= 3 and reports(ctx) == 3
    deliver(fake, 1, start=10)
    assert sync_mailbox(ctx, ctx.settings).counts["imported"] == 1
    assert len(fake.in_folder(subfolder)) == 4
    assert len(fake.kinds("create_folder")) == 1  # found by name the next time


def test_a_stale_token_is_replaced_once(box, fake) -> None:
    deliver(fake, 1)
    client = GraphMailbox(box.settings)
    sync_mailbox(box, box.settings, client=client)
    fake.revoked.add(fake.issued[-1])
    deliver(fake, 1, start=2)
    result = sync_mailbox(box, box.settings, client=client)
    assert result.completed and result.counts["imported"] == 1
    assert len(fake.kinds("token")) == 2 and len(fake.kinds("unauthorized")) == 1


def test_two_syncs_at_once_only_one_holds_the_claim(box, fake) -> None:
    deliver(fake, 3)
    fake.delay = 0.5
    barrier = threading.Barrier(2)
    results = []

    def run() -> None:
        barrier.wait()
        results.append(sync_mailbox(box, box.settings))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(r.claimed for r in results) == [False, True]
    loser = next(r for r in results if not r.claimed)
    assert loser.requests == 0 and not loser.completed
    assert reports(box) == 3 and len(fake.kinds("delta")) == 1
    state = stored_state(box, sync_key(box.settings))
    assert state.claimed_by is None  # freed at the end
    assert sync_mailbox(box, box.settings).claimed  # and free for the next


def test_a_live_claim_of_another_replica_is_respected_until_its_lease_runs_out(
        box, fake, clock) -> None:
    deliver(fake, 1)
    assert claim(box, sync_key(box.settings)) is not None  # a replica that crashed
    assert not sync_mailbox(box, box.settings).claimed and reports(box) == 0
    clock.advance(minutes=11)
    assert sync_mailbox(box, box.settings).completed and reports(box) == 1


def test_meld_mailbox_sync_command(db_url, fake, capsys) -> None:
    settings = box_settings(db_url, fake)
    deliver(fake, 2)
    assert main(["mailbox", "sync"], settings=settings) == 0
    out = capsys.readouterr().out
    assert "Importert: 2." in out and "Duplikater: 0." in out
    assert "Allerede merket i Outlook: 0." in out
    assert main(["mailbox", "sync"], settings=settings) == 0
    assert "Allerede merket i Outlook: 2." in capsys.readouterr().out
    fake.script.append(Script("delta", 500))
    assert main(["mailbox", "sync"], settings=settings) == 1
    captured = capsys.readouterr()
    assert "Synkroniseringen stoppet (graph_http_500_Scripted)" in captured.err
    off = box_settings(db_url, fake, mailbox_import=None)
    assert main(["mailbox", "sync"], settings=off) == 2
    assert "MELD_MAILBOX_IMPORT=graph" in capsys.readouterr().err


def test_the_scheduler_syncs_until_stopped(box, fake) -> None:
    deliver(fake, 2)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(mailbox_scheduler(box, box.settings, stop))
        for _ in range(200):
            if reports(box) == 2:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, timeout=10)

    asyncio.run(scenario())
    assert reports(box) == 2 and len(fake.kinds("delta")) == 1
    assert stored_state(box, sync_key(box.settings)).claimed_by is None

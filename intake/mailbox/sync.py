"""The Graph sync of the collaboration mailbox: one round at a time, by one replica.

A round (`sync_mailbox`):

1. claims the folder's row in `mailbox_sync` (INSERT ... ON CONFLICT DO NOTHING, or an
   UPDATE whose WHERE says the lease is free or ran out: of two takers only one wins);
   without the claim it does nothing (another replica or a cron run is syncing);
2. reads the pages of Graph's delta query from the stored delta link (none yet: a full
   round of the folder), and for each message not marked yet fetches its MIME, hands it
   to `services.take_mail` (one transaction per mail; a mail taken before is a
   "duplicate") and marks it in Outlook (graph.py);
3. only when the round reached its @odata.deltaLink, stores that link and frees the claim.
   A round that failed (a 5xx, throttled beyond the cap, the network) frees the claim with
   the error code and leaves the old link, so the next round reads the same changes again:
   what was taken is a duplicate or already marked. An expired delta token starts one
   fresh full round at once.

Receipts: a mail received more than RECEIPT_WINDOW before it is taken gets none (the first
full round of a mailbox with old mail in it must not answer all of it now).

`meld serve` runs `mailbox_scheduler` every MELD_MAILBOX_POLL_SECONDS; `meld mailbox sync`
runs one round (cron).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.dialects import postgresql, sqlite

from intake import services
from intake.mailbox.graph import (
    DeltaExpired,
    GraphMailbox,
    GraphSyncError,
    GraphThrottled,
    MailItem,
)
from intake.mailbox.parse import parse_message
from intake.services.mail_intake import MAIL_OUTCOMES
from intake.settings import Settings
from storage import models as m

log = logging.getLogger("meld.mailbox.sync")

SOURCE = "graph"
SYNC_LEASE = timedelta(minutes=10)  # renewed while a long round runs
RECEIPT_WINDOW = timedelta(days=2)


@dataclass
class SyncResult:
    """What one round did. `counts`: take_mail's outcomes, plus "skipped" (marked before)
    and "gone" (deleted before Meld read it)."""

    claimed: bool = False
    completed: bool = False
    restarted: bool = False  # the delta token had expired: a fresh full round
    counts: Counter[str] = field(default_factory=lambda: Counter(
        {kind: 0 for kind in (*MAIL_OUTCOMES, "skipped", "gone")}))
    removed: int = 0  # messages that left the folder (moved, deleted)
    requests: int = 0  # HTTP requests to Graph
    error: str | None = None
    retry_after: float | None = None


def sync_key(settings: Settings) -> str:
    """The `mailbox_sync` row of the configured mailbox and folder."""
    key = f"{(settings.graph_mailbox or '').lower()}/{settings.mailbox_folder}"
    if len(key) > 200:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


# ---------------------------------------------------------------- the claim


def claim(ctx: services.Context, key: str, *, lease: timedelta = SYNC_LEASE) -> str | None:
    """Claim the folder for one round: a token, or None while another holds it."""
    now = ctx.clock()
    token = uuid.uuid4().hex
    table = m.MailboxSync.__table__
    with ctx.db.transaction() as session:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        inserted = session.execute(
            insert(table).values(folder=key, claimed_by=token, lease_until=now + lease)
            .on_conflict_do_nothing(index_elements=["folder"]).returning(table.c.folder)
        ).scalar_one_or_none() is not None
    if inserted:
        return token
    with ctx.db.transaction() as session:
        taken = session.execute(
            update(table)
            .where(table.c.folder == key,
                   or_(table.c.lease_until.is_(None), table.c.lease_until < now))
            .values(claimed_by=token, lease_until=now + lease)).rowcount
    return token if taken == 1 else None


def _renew(ctx: services.Context, key: str, token: str, lease: timedelta) -> bool:
    table = m.MailboxSync.__table__
    with ctx.db.transaction() as session:
        return session.execute(
            update(table).where(table.c.folder == key, table.c.claimed_by == token)
            .values(lease_until=ctx.clock() + lease)).rowcount == 1


def _release(ctx: services.Context, key: str, token: str, *, delta_link: str | None = None,
             error: str | None = None) -> bool:
    """Free the claim; with `delta_link`, the round completed: store it."""
    table = m.MailboxSync.__table__
    values: dict[str, object] = {"claimed_by": None, "lease_until": None}
    if delta_link is not None:
        values.update(delta_link=delta_link, synced_at=ctx.clock(), last_error=None)
    else:
        values["last_error"] = (error or "failed")[:200]
    with ctx.db.transaction() as session:
        return session.execute(
            update(table).where(table.c.folder == key, table.c.claimed_by == token)
            .values(**values)).rowcount == 1


def stored_state(ctx: services.Context, key: str) -> m.MailboxSync | None:
    with ctx.db.reading() as session:
        row = session.get(m.MailboxSync, key)
        if row is not None:
            session.expunge(row)
        return row


# ---------------------------------------------------------------- one round


class _Round:
    def __init__(self, ctx: services.Context, client: GraphMailbox, result: SyncResult,
                 key: str, token: str, lease: timedelta) -> None:
        self.ctx, self.client, self.result = ctx, client, result
        self.key, self.token, self.lease = key, token, lease
        self.renewed = ctx.clock()

    def keep_claim(self) -> None:
        if self.ctx.clock() - self.renewed < self.lease / 3:
            return
        if not _renew(self.ctx, self.key, self.token, self.lease):
            raise GraphSyncError("claim_lost")
        self.renewed = self.ctx.clock()

    def run(self, start: str | None) -> str:
        """Read every page from `start`; the round's new delta link."""
        seen: set[str] = set()
        for page in self.client.pages(start):
            self.result.removed += page.removed
            for item in page.items:
                if item.id not in seen:
                    seen.add(item.id)
                    self.take(item)
                    self.keep_claim()
            if page.delta_link is not None:
                return page.delta_link
            self.keep_claim()
        raise GraphSyncError("graph_delta_without_link")  # pragma: no cover - pages() ends so

    def take(self, item: MailItem) -> None:
        counts = self.result.counts
        if item.marked:
            counts["skipped"] += 1
            return
        raw = self.client.mime(item.id)
        if raw is None:
            counts["gone"] += 1
            return
        mail = parse_message(raw, received_at=item.received_at)
        received = mail.received_at
        receipt = received is None or self.ctx.clock() - received <= RECEIPT_WINDOW
        outcome = services.take_mail(ctx=self.ctx, mail=mail, source=SOURCE,
                                     send_receipt=receipt)
        counts[outcome.kind] += 1
        self.client.mark(item)


def sync_mailbox(ctx: services.Context, settings: Settings, *,
                 client: GraphMailbox | None = None,
                 lease: timedelta = SYNC_LEASE) -> SyncResult:
    """One round of the Graph sync (see the module's docstring). Graph's failures end in
    `result.error` (a code); a database failure is raised, after the claim is freed."""
    result = SyncResult()
    key = sync_key(settings)
    token = claim(ctx, key, lease=lease)
    if token is None:
        log.info("mailbox sync: another process is syncing; not syncing")
        return result
    result.claimed = True
    client = client if client is not None else GraphMailbox(settings)
    before = client.requests
    try:
        state = stored_state(ctx, key)
        start = state.delta_link if state is not None else None
        run = _Round(ctx, client, result, key, token, lease)
        with client:
            try:
                link = run.run(start)
            except DeltaExpired as exc:
                log.warning("mailbox sync: delta token expired (%s); a full round", exc.code)
                result.restarted = True
                link = run.run(None)
    except GraphSyncError as exc:
        result.error = exc.code
        result.retry_after = exc.retry_after if isinstance(exc, GraphThrottled) else None
        _release(ctx, key, token, error=exc.code)
    except BaseException as exc:
        _release(ctx, key, token, error=type(exc).__name__)
        raise
    else:
        if _release(ctx, key, token, delta_link=link):
            result.completed = True
        else:  # the lease ran out and another took over: it stores its own link
            result.error = "claim_lost"
    finally:
        result.requests = client.requests - before
    _log(result)
    return result


def _log(result: SyncResult) -> None:
    counts = " ".join(f"{kind}={n}" for kind, n in result.counts.items() if n)
    if result.completed:
        log.info("mailbox sync: done (%s; removed=%s; requests=%s%s)", counts or "nothing new",
                 result.removed, result.requests, "; full round" if result.restarted else "")
    else:
        log.warning("mailbox sync: stopped (%s) after %s; the next round resumes from the "
                    "stored delta link", result.error, counts or "nothing")


# ---------------------------------------------------------------- in meld serve


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))
    except TimeoutError:
        pass


async def mailbox_scheduler(ctx: services.Context, settings: Settings, stop: asyncio.Event,
                            *, client: GraphMailbox | None = None) -> None:
    """A round every MELD_MAILBOX_POLL_SECONDS until `stop` is set (a longer Retry-After
    is waited out). Every replica may run this: the claim lets one sync at a time."""
    client = client if client is not None else GraphMailbox(settings)
    log.info("mailbox sync: every %.0f s", settings.mailbox_poll_seconds)
    while not stop.is_set():
        wait = settings.mailbox_poll_seconds
        job = asyncio.ensure_future(asyncio.to_thread(sync_mailbox, ctx, settings,
                                                      client=client))
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({job, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not job.done():
            client.stopping.set()  # the round ends at its next Graph call
        stopper.cancel()
        try:
            result = await job
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database: logged, and tried again next time
            log.warning("mailbox sync failed (%s)", type(exc).__name__)
        else:
            if result.retry_after is not None:
                wait = max(wait, result.retry_after)
        await _sleep(stop, wait)

"""Chat events already received: one claim in the database, so every process knows them.

Slack retries an event it got no timely answer for (X-Slack-Retry-Num), and Teams may
deliver an activity twice; with MELD_WORKERS processes or several replicas the repeat may
land on another process than the first delivery. `first_delivery` claims the (door, event
id) in `received_events` with INSERT ... ON CONFLICT DO NOTHING on its primary key: of any
number of deliveries, in any processes, exactly one is told "first". Only a hash of the id
is stored. Claims older than RECEIVED_KEEP (a day; Slack retries for minutes) are
deleted, at most once per PRUNE_EVERY in each process.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from intake.services.context import Context
from storage.models_limits import ReceivedEvent

RECEIVED_KEEP = timedelta(days=1)
PRUNE_EVERY = timedelta(hours=1)

_pruned: dict[str, datetime] = {}  # database URL -> when this process last pruned it
_prune_lock = threading.Lock()


def first_delivery(*, ctx: Context, door: str, event_id: str) -> bool:
    """True for the first delivery of `event_id` on `door` ("slack", "teams") that any
    process has seen; False for a repeat. One INSERT in its own transaction."""
    now = ctx.clock()
    table = ReceivedEvent.__table__
    values = {"door": door, "event": hashlib.sha256(event_id.encode()).hexdigest(),
              "received_at": now}
    insert = postgresql.insert if ctx.db.dialect == "postgresql" else sqlite.insert
    with ctx.db.transaction() as session:
        claimed = session.execute(
            insert(table).values(**values)
            .on_conflict_do_nothing(index_elements=["door", "event"])
            .returning(table.c.event)
        ).scalar_one_or_none() is not None
    _prune(ctx, now)
    return claimed


def _prune(ctx: Context, now: datetime) -> None:
    url = str(ctx.db.engine.url)
    with _prune_lock:
        last = _pruned.get(url)
        if last is not None and timedelta(0) <= now - last < PRUNE_EVERY:
            return
        _pruned[url] = now
    table = ReceivedEvent.__table__
    with ctx.db.transaction() as session:
        session.execute(delete(table).where(table.c.received_at < now - RECEIVED_KEEP))

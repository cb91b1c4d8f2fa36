"""The claim on chat events received (services.first_delivery): one first delivery per
(door, event id) whatever process asks, only a hash kept, claims pruned after a day."""

from __future__ import annotations

import threading

from sqlalchemy import select

from intake import services
from intake.services import received
from storage.db import open_database
from storage.models_limits import ReceivedEvent
from tests.fakes import FakeClock


def test_first_delivery_once_per_door_and_id_then_pruned_after_a_day(
        ctx: services.Context, clock: FakeClock) -> None:
    received._pruned.clear()
    assert services.first_delivery(ctx=ctx, door="slack", event_id="Ev0ONE")
    assert not services.first_delivery(ctx=ctx, door="slack", event_id="Ev0ONE")
    assert services.first_delivery(ctx=ctx, door="teams", event_id="Ev0ONE")  # another door
    with ctx.db.reading() as session:
        kept = session.scalars(select(ReceivedEvent.event)).all()
    assert len(kept) == 2 and all("Ev0ONE" not in k and len(k) == 64 for k in kept)
    clock.advance(hours=23)
    assert not services.first_delivery(ctx=ctx, door="slack", event_id="Ev0ONE")
    clock.advance(hours=2)  # a day and an hour: the claim is pruned, the id is new again
    assert services.first_delivery(ctx=ctx, door="slack", event_id="Ev0TWO")
    assert services.first_delivery(ctx=ctx, door="slack", event_id="Ev0ONE")


def test_first_delivery_is_one_claim_across_connections_at_once(ctx: services.Context) -> None:
    """Eight threads on two engines (as two processes) claim one id: one is first."""
    dbs = [open_database(ctx.settings.database_url) for _ in range(2)]
    ctxs = [services.Context(db=db, settings=ctx.settings, taxonomy=ctx.taxonomy,
                             secret_key=ctx.secret_key, clock=ctx.clock) for db in dbs]
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def deliver(n: int) -> None:
        barrier.wait()
        results.append(services.first_delivery(ctx=ctxs[n % 2], door="slack",
                                               event_id="Ev0RACE"))

    try:
        threads = [threading.Thread(target=deliver, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        for db in dbs:
            db.dispose()
    assert sorted(results) == [False] * 7 + [True]

"""Two replicas (two Context and Database objects on one database: a PostgreSQL database
and a SQLite file) checking for cluster alerts at the same moment raise each alert once,
with one notice: also when their clocks fall either side of local midnight, so that they
look at windows ending on different days."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from intake import services
from intake.services import Context
from storage import models as m
from storage.db import open_database
from tests.clusters.helpers import alert_notices, alerts, receive
from tests.fakes import FakeClock

PLACES = ("stolav_akutt", "stolav_medisinsk", "stolav_kirurgisk", "stolav_kreft")


@pytest.fixture
def replicas(ctx: Context) -> Iterator[tuple[Context, Context]]:
    """Two more processes' worth of service: own engine, own clock, the same database."""
    made = []
    for _ in range(2):
        made.append(Context(db=open_database(ctx.settings.database_url),
                            settings=ctx.settings, taxonomy=ctx.taxonomy,
                            secret_key=ctx.secret_key, clock=FakeClock()))
    try:
        yield made[0], made[1]
    finally:
        for replica in made:
            replica.db.dispose()


def race(*contexts: Context) -> list[list[services.ClusterAlertView]]:
    """check_clusters in each context at once (one thread each, started together)."""
    start = threading.Barrier(len(contexts))
    results: list[list[services.ClusterAlertView]] = [[] for _ in contexts]
    errors: list[BaseException] = []

    def run(i: int, replica: Context) -> None:
        try:
            start.wait(timeout=10)
            results[i] = services.check_clusters(replica)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(contexts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return results


def audited(ctx: Context) -> int:
    with ctx.db.reading() as session:
        return session.scalar(select(func.count()).select_from(m.AuditEvent)
                              .where(m.AuditEvent.action == "cluster_alert")) or 0


def test_two_replicas_at_the_same_moment_raise_each_alert_once(ctx, clock, replicas) -> None:
    a, b = replicas
    total = 0
    for round_ in range(3):  # each round a window later: fresh clusters, a fresh race
        day = date(2026, 3, 2) + timedelta(days=31 * round_)
        for place in PLACES:  # four place clusters and their one direction cluster
            for _ in range(3):
                receive(ctx, clock, day, place=place)
        a.clock.now = b.clock.now = datetime.combine(day, datetime.min.time(), UTC) \
            + timedelta(hours=15)
        first, second = race(a, b)
        total += 5
        assert len(first) + len(second) == 5
        assert {(x.dim, x.place) for x in first} & {(x.dim, x.place) for x in second} == set()
        assert len(alerts(ctx)) == len(alert_notices(ctx)) == audited(ctx) == total
    assert race(a, b) == [[], []]  # and nothing again


def test_replicas_either_side_of_midnight_raise_one_alert(ctx, clock, replicas) -> None:
    a, b = replicas
    for day in (date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 2)):
        receive(ctx, clock, day)
    # 23:59:59 on 2 March in Oslo (CET) and a second later, 3 March: two windows
    a.clock.now = datetime(2026, 3, 2, 22, 59, 59, tzinfo=UTC)
    b.clock.now = datetime(2026, 3, 2, 23, 0, 0, tzinfo=UTC)
    for _ in range(5):  # the race again and again: never a second alert of a cluster
        first, second = race(a, b)
        assert len(first) + len(second) in (0, 2)
    stored = alerts(ctx)
    assert sorted(x.dim for x in stored) == ["direction", "place"]
    assert len(alert_notices(ctx)) == audited(ctx) == 2
    assert {x.window_end for x in stored} <= {date(2026, 3, 2), date(2026, 3, 3)}

"""Builders for the cluster tests: reports received on a given local day, the day counts
as stored and as they should be, and the alerts and notices written."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import select

from intake import services
from intake.domain.model import Actor, Role
from intake.services import Context
from storage import models as m
from storage.models_clusters import CLUSTER_KINDS, ClusterAlert, ReportDayCount
from tests.fakes import FakeClock
from tests.integration.helpers import draft

GROUP = Actor("slack:UGROUP", Role.TRIAGER)
_reporters = itertools.count(1)

DayKey = tuple[date, str, str, str, str, str]  # (day, dim, k1, k2, k3, kind)


def noon(day: date) -> datetime:
    """12:00 UTC: 13:00 or 14:00 in Oslo, the same local day."""
    return datetime.combine(day, time(12), tzinfo=UTC)


def receive(ctx: Context, clock: FakeClock, day: date, *, at: datetime | None = None,
            **overrides: Any) -> str:
    """Submit a valid report that occurred on `day`, received then at noon UTC (or `at`);
    its reference."""
    clock.now = at or noon(day)
    actor = Actor(f"slack:U{next(_reporters):06d}", Role.REPORTER)
    values = {"occurred_on": day.isoformat(), **overrides}
    return services.submit_report(ctx=ctx, actor=actor, draft=draft(**values)).reference


def with_settings(ctx: Context, **changes: Any) -> Context:
    """The same context with some settings changed."""
    return dataclasses.replace(ctx, settings=ctx.settings.model_copy(update=changes))


def stored_day_counts(ctx: Context) -> dict[DayKey, int]:
    c = ReportDayCount
    with ctx.db.reading() as session:
        rows = session.execute(select(c.day, c.dim, c.k1, c.k2, c.k3, c.kind, c.n)).all()
    return {tuple(r[:6]): r[6] for r in rows if r[6] != 0}


def expected_day_counts(ctx: Context) -> dict[DayKey, int]:
    """report_day_counts as it should be, computed in Python from every report."""
    r = m.Report
    expected: dict[DayKey, int] = {}
    with ctx.db.reading() as session:
        rows = session.execute(select(r.reported_on, r.kind, r.place_id, r.category_id,
                                      r.subcategory_id, r.direction)).all()
    for day, kind, place, category, sub, direction in rows:
        if day is None or kind not in CLUSTER_KINDS:
            continue
        keys = []
        if place is not None and sub is not None:
            keys.append((day, "place", place, category, sub, kind))
        if direction is not None:
            keys.append((day, "direction", category, direction, "", kind))
        for key in keys:
            expected[key] = expected.get(key, 0) + 1
    return expected


def alerts(ctx: Context) -> list[ClusterAlert]:
    with ctx.db.reading() as session:
        return list(session.scalars(select(ClusterAlert).order_by(ClusterAlert.id)).all())


def alert_notices(ctx: Context) -> list[m.OutboxMessage]:
    with ctx.db.reading() as session:
        return list(session.scalars(
            select(m.OutboxMessage).where(m.OutboxMessage.event == "cluster_alert")
            .order_by(m.OutboxMessage.id)).all())

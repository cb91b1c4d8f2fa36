"""Cluster alerts: when many deviations and inputs of one place and subcategory, or of one
category and direction, come in within a rolling window, the group's channel is told once,
with the references.

The clusters. dim "place": the reports' place, category and subcategory (reports without
a place or a subcategory are in no place cluster); dim "direction": their category and
direction ('gp->hospital'; none without a direction). Counted are deviations and inputs
(`storage.models_clusters.CLUSTER_KINDS`) by their local received day (`reports.reported_on`,
MELD_TIMEZONE), whatever their status; suggestions, good collaboration and rows without
reported_on never are. The counts come from `report_day_counts`, kept by triggers
(migration 0016): a check sums a window's day rows, it never scans reports. Only the
references of a cluster that passed are read from reports.

The rule, on the local date T of ctx.clock (settings `cluster_*`):

- the window is the N = cluster_window_days days [T-N+1, T];
- a cluster passes when its count in the window is at least cluster_min_reports and, with
  cluster_require_rise, greater than its count in the same window one year earlier
  ([T-N+1, T] moved back one calendar year; 29 February counts as 28 February);
- once per cluster and window: an alert raised on day D has the window [D-N+1, D]. The
  same cluster alerts again only with a window that does not overlap an earlier alert's:
  no alert of the cluster may have window_end >= T-N+1. So after an alert on D the next
  one comes on D+N at the earliest, counting only reports received after D: a report is
  in at most one alert of each of its clusters. (A place cluster and a direction cluster
  may both alert about the same reports.)

Exactly once across replicas: each alert is one transaction holding the check and the
writes. It serialises per cluster first (PostgreSQL: `pg_advisory_xact_lock` on the
cluster's key; SQLite: the write transaction is BEGIN IMMEDIATE, one writer at a time),
then re-reads the cluster's count and earlier alerts, and inserts the `cluster_alerts` row
with ON CONFLICT DO NOTHING on UNIQUE(dim, k1, k2, k3, window_end); only the caller whose
row went in writes the group's outbox row (`notify_group`, on the cluster's newest report
like every group notice; event "cluster_alert": codes, counts, dates and the references,
no report text) and the audit event, in that same transaction. Two replicas checking at
the same moment thus raise one alert and one notice.

`intake.reporting.cluster_schedule` runs `check_clusters` from `meld serve`; `meld
clusters check` runs it once.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.domain.model import Actor, Role
from intake.services.common import db_now, notify_group, record_audit, transaction
from intake.services.context import Context
from storage import models as m
from storage.models_clusters import (
    CLUSTER_KINDS,
    PLACE_DIM,
    ClusterAlert,
    ReportDayCount,
)

log = logging.getLogger("meld.clusters")

CLUSTER_ALERT_EVENT = "cluster_alert"
MAX_REFERENCES = 100  # references named in one alert, the newest (the count is the whole)
# pg_advisory_xact_lock(namespace, key): the namespace of cluster alerts' locks
LOCK_NAMESPACE = 0x4D43  # "MC"

# who the audit log names for what the service does by itself
SYSTEM_ACTOR = Actor("system:clusters", Role.ADMIN)

ClusterKey = tuple[str, str, str, str]  # (dim, k1, k2, k3) as in report_day_counts


@dataclass(frozen=True, slots=True)
class ClusterAlertView:
    """One cluster alert raised (or, in a dry run, due)."""

    dim: str                   # "place" or "direction"
    category: str
    place: str | None          # dim "place"
    subcategory: str | None    # dim "place"
    direction: str | None      # dim "direction"
    window_start: date
    window_end: date           # the local day it was raised
    count: int                 # deviations and inputs in the window
    previous: int              # in the same window one year earlier
    references: tuple[str, ...]

    @property
    def days(self) -> int:
        return (self.window_end - self.window_start).days + 1

    def payload(self) -> dict[str, Any]:
        """The group's outbox row: codes, counts, dates and references only."""
        return {"dim": self.dim, "category": self.category, "place": self.place,
                "subcategory": self.subcategory, "direction": self.direction,
                "count": self.count, "previous": self.previous, "days": self.days,
                "window_start": self.window_start.isoformat(),
                "window_end": self.window_end.isoformat(),
                "references": list(self.references)}


def cluster_window(today: date, days: int) -> tuple[date, date]:
    """The window of a check on `today`: the `days` days up to and including it."""
    return today - timedelta(days=days - 1), today


def year_earlier(day: date) -> date:
    """The same date one calendar year earlier (29 February: 28 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def _view(key: ClusterKey, start: date, end: date, count: int, previous: int,
          references: list[str]) -> ClusterAlertView:
    dim, k1, k2, k3 = key
    if dim == PLACE_DIM:
        return ClusterAlertView(dim, k2, k1, k3, None, start, end, count, previous,
                                tuple(references))
    return ClusterAlertView(dim, k1, None, None, k2, start, end, count, previous,
                            tuple(references))


# ---------------------------------------------------------------- reading the counts

_DAYS = ReportDayCount.__table__.c
_ALERTS = ClusterAlert.__table__.c


def _is(key: ClusterKey, c: Any) -> Any:
    return and_(c.dim == key[0], c.k1 == key[1], c.k2 == key[2], c.k3 == key[3])


def _sums(session: Session, start: date, end: date, *, minimum: int = 0,
          key: ClusterKey | None = None) -> dict[ClusterKey, int]:
    """Each cluster's count in [start, end], summed from report_day_counts (at least
    `minimum`; only `key` when given)."""
    total = func.sum(_DAYS.n)
    stmt = (select(_DAYS.dim, _DAYS.k1, _DAYS.k2, _DAYS.k3, total)
            .where(_DAYS.day >= start, _DAYS.day <= end, _DAYS.kind.in_(CLUSTER_KINDS))
            .group_by(_DAYS.dim, _DAYS.k1, _DAYS.k2, _DAYS.k3))
    if key is not None:
        stmt = stmt.where(_is(key, _DAYS))
    if minimum > 0:
        stmt = stmt.having(total >= minimum)
    return {(d, k1, k2, k3): int(n) for d, k1, k2, k3, n in session.execute(stmt).all()}


def _alerted(session: Session, start: date) -> set[ClusterKey]:
    """The clusters with an alert whose window reaches `start` or later (an overlap)."""
    rows = session.execute(select(_ALERTS.dim, _ALERTS.k1, _ALERTS.k2, _ALERTS.k3)
                           .where(_ALERTS.window_end >= start)).all()
    return {(d, k1, k2, k3) for d, k1, k2, k3 in rows}


def _passes(ctx: Context, count: int, previous: int) -> bool:
    settings = ctx.settings
    if count < settings.cluster_min_reports:
        return False
    return count > previous or not settings.cluster_require_rise


def _local_midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz))


def _reports(session: Session, ctx: Context, key: ClusterKey, start: date,
             end: date) -> list[tuple[int, str]]:
    """The cluster's reports in the window (id, reference), oldest first, the newest
    MAX_REFERENCES of them: the rows the day counts counted (reported_on in the window),
    found by reported_at's index."""
    dim, k1, k2, k3 = key
    r = m.Report
    keyed = ([r.place_id == k1, r.category_id == k2, r.subcategory_id == k3]
             if dim == PLACE_DIM else [r.category_id == k1, r.direction == k2])
    tz = ctx.settings.timezone
    stmt = (select(r.id, r.reference)
            .where(r.reported_at >= _local_midnight(start - timedelta(days=1), tz),
                   r.reported_at < _local_midnight(end + timedelta(days=2), tz),
                   r.reported_on >= start, r.reported_on <= end,
                   r.kind.in_(CLUSTER_KINDS), *keyed)
            .order_by(r.reported_at.desc(), r.id.desc()).limit(MAX_REFERENCES))
    return [(int(i), str(ref)) for i, ref in reversed(session.execute(stmt).all())]


# ---------------------------------------------------------------- raising one alert


def _lock(session: Session, key: ClusterKey) -> None:
    """Serialise the writers of one cluster's alerts until this transaction ends (SQLite:
    its write transaction already holds the one write lock)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = zlib.crc32("\x1f".join(key).encode()) - 2**31  # a signed 32-bit key
    session.execute(text("SELECT pg_advisory_xact_lock(CAST(:ns AS integer), "
                         "CAST(:key AS integer))"),
                    {"ns": LOCK_NAMESPACE, "key": digest})


def _claim(session: Session, values: dict[str, Any]) -> int | None:
    """INSERT the alert row unless its (cluster, window_end) is there: its id, or None."""
    table = ClusterAlert.__table__
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = (insert(table).values(**values)
                .on_conflict_do_nothing(index_elements=["dim", "k1", "k2", "k3",
                                                        "window_end"])
                .returning(table.c.id))
        return session.execute(stmt).scalar_one_or_none()
    try:  # pragma: no cover - other databases: a unique violation means "raised"
        with session.begin_nested():
            return session.execute(table.insert().values(**values)
                                   .returning(table.c.id)).scalar_one()
    except IntegrityError:  # pragma: no cover
        return None


def _raise(ctx: Context, key: ClusterKey, start: date, end: date) -> ClusterAlertView | None:
    """Raise the cluster's alert for the window ending `end`, in one transaction, unless
    it does not pass (any more) or an earlier alert's window overlaps (see the module)."""
    with transaction(ctx) as session:
        _lock(session, key)
        overlapping = session.scalar(select(_ALERTS.id).where(
            _is(key, _ALERTS), _ALERTS.window_end >= start).limit(1))
        if overlapping is not None:
            return None
        count = _sums(session, start, end, key=key).get(key, 0)
        previous = _sums(session, year_earlier(start), year_earlier(end), key=key).get(key, 0)
        if not _passes(ctx, count, previous):
            return None
        found = _reports(session, ctx, key, start, end)
        newest = session.get(m.Report, found[-1][0]) if found else None
        if newest is None:  # counted, but not found: nothing to name (never expected)
            return None
        view = _view(key, start, end, count, previous, [ref for _, ref in found])
        alert_id = _claim(session, {
            "dim": key[0], "k1": key[1], "k2": key[2], "k3": key[3], "window_start": start,
            "window_end": end, "count": count, "previous_count": previous,
            "report_refs": list(view.references), "created_at": db_now(session)})
        if alert_id is None:
            return None
        # the group's notice, on the newest report like every group notice
        notify_group(session, newest, CLUSTER_ALERT_EVENT, alert_id=alert_id,
                     **view.payload())
        record_audit(session, SYSTEM_ACTOR, CLUSTER_ALERT_EVENT, None, alert_id=alert_id,
                     dim=key[0], keys=list(key[1:]), count=count, previous=previous,
                     window_start=start.isoformat(), window_end=end.isoformat())
        return view


def check_clusters(ctx: Context, *, dry_run: bool = False) -> list[ClusterAlertView]:
    """Raise the cluster alerts due on today's local date (ctx.clock, MELD_TIMEZONE): each
    once per cluster and window, whichever process or replica runs this (see the module).
    Returns the alerts this call raised; a dry run returns those due and writes nothing.
    Database errors propagate (the scheduler logs and retries)."""
    settings = ctx.settings
    start, end = cluster_window(ctx.today(), settings.cluster_window_days)
    with ctx.db.reading() as session:
        counts = _sums(session, start, end, minimum=settings.cluster_min_reports)
        if not counts:
            return []
        before = _sums(session, year_earlier(start), year_earlier(end))
        alerted = _alerted(session, start)
        due = sorted(key for key, n in counts.items()
                     if key not in alerted and _passes(ctx, n, before.get(key, 0)))
        if dry_run:
            return [_view(key, start, end, counts[key], before.get(key, 0),
                          [ref for _, ref in _reports(session, ctx, key, start, end)])
                    for key in due]
    raised = [view for key in due if (view := _raise(ctx, key, start, end)) is not None]
    if raised:
        log.info("clusters: %s alerts raised", len(raised))
    return raised

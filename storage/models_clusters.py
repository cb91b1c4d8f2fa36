"""Cluster alerts: daily report counts kept by triggers, and the alerts raised (migration 0016).

`report_day_counts` counts the deviations and inputs of each local received day
(`reports.reported_on`) along the two cluster dimensions; `intake.services.clusters` sums a
window's days from it instead of scanning reports. `cluster_alerts` holds one row per alert
raised; its UNIQUE key is the claim that makes an alert go out once (see the service).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, utcnow

# the kinds a cluster counts: problems someone met, not suggestions nor good collaboration
CLUSTER_KINDS = ("deviation", "input")
# the cluster dimensions (report_day_counts.dim, cluster_alerts.dim) and their keys
PLACE_DIM = "place"          # k1 place_id, k2 category_id, k3 subcategory_id
DIRECTION_DIM = "direction"  # k1 category_id, k2 direction ('gp->hospital'), k3 ''


class ReportDayCount(Base):
    """Deviations and inputs per local received day (reported_on), kind and cluster key.

    dim "place": k1 place, k2 category, k3 subcategory (reports without a place or a
    subcategory are not in it); dim "direction": k1 category, k2 direction, k3 '' (reports
    without a direction are not in it). Reports with reported_on NULL are not counted.
    Maintained by triggers on `reports` (migration 0016) like report_counts, in the same
    transaction as the change; never written by the application. Moves leave rows with
    n = 0. `storage.report_counts.recount` rebuilds it from scratch.
    """

    __tablename__ = "report_day_counts"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    dim: Mapped[str] = mapped_column(String(12), primary_key=True)
    k1: Mapped[str] = mapped_column(String(64), primary_key=True)
    k2: Mapped[str] = mapped_column(String(64), primary_key=True)
    k3: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class ClusterAlert(Base):
    """One alert to the group: a cluster (dim and keys as in report_day_counts) passed the
    threshold in the window [window_start, window_end] (window_end: the local day it was
    raised). UNIQUE(cluster, window_end): two replicas checking at once insert one row."""

    __tablename__ = "cluster_alerts"
    # its index also answers "has this cluster an alert whose window reaches this day?"
    __table_args__ = (UniqueConstraint("dim", "k1", "k2", "k3", "window_end"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dim: Mapped[str] = mapped_column(String(12))
    k1: Mapped[str] = mapped_column(String(64))
    k2: Mapped[str] = mapped_column(String(64))
    k3: Mapped[str] = mapped_column(String(64))
    window_start: Mapped[date] = mapped_column(Date)
    window_end: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer)           # reports in the window
    previous_count: Mapped[int] = mapped_column(Integer)  # the same window a year earlier
    # the matching reports' references (MELD-YYYY-NNNN) when it was raised
    report_refs: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

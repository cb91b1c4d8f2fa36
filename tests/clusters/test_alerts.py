"""Cluster alerts on both databases: the threshold and the rise against a year earlier,
from the day counts; the settings; once per cluster and window and again after it; the
group's notice written in the alert's transaction. The clock starts Monday 2026-03-02
(13:00 in Oslo); the window is 30 days, so it starts 2026-02-01."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from intake import services
from storage import models as m
from tests.clusters.helpers import alert_notices, alerts, noon, receive, with_settings

TODAY = date(2026, 3, 2)
START = date(2026, 2, 1)
PLACE = ("place", "stolav_medisinsk", "discharge_summary", "missing")
DIRECTION = ("direction", "discharge_summary", "gp->hospital", "")


def dims(raised: list[services.ClusterAlertView]) -> set[str]:
    return {a.dim for a in raised}


def audited(ctx: services.Context) -> list[m.AuditEvent]:
    with ctx.db.reading() as session:
        return list(session.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "cluster_alert")).all())


def test_three_reports_in_the_window_alert_two_do_not(ctx, clock) -> None:
    first = receive(ctx, clock, START)  # the window's first day
    receive(ctx, clock, START - timedelta(days=1))  # the day before: outside
    receive(ctx, clock, TODAY, kind="suggestion")  # suggestions are never counted
    second = receive(ctx, clock, date(2026, 2, 20), kind="input")  # inputs are
    clock.now = noon(TODAY)
    assert services.check_clusters(ctx) == []
    third = receive(ctx, clock, TODAY)
    raised = services.check_clusters(ctx)
    assert dims(raised) == {"place", "direction"}  # both clusters of the same reports
    for alert in raised:
        assert (alert.window_start, alert.window_end, alert.days) == (START, TODAY, 30)
        assert (alert.count, alert.previous) == (3, 0)
        assert alert.references == (first, second, third)  # oldest first
        assert alert.category == "discharge_summary"
    place = next(a for a in raised if a.dim == "place")
    assert (place.place, place.subcategory, place.direction) == (
        "stolav_medisinsk", "missing", None)
    assert [(a.dim, a.k1, a.k2, a.k3, a.count, a.report_refs) for a in alerts(ctx)] == [
        (*key, 3, [first, second, third]) for key in sorted([DIRECTION, PLACE])]


def test_no_alert_without_a_rise_against_the_same_window_a_year_earlier(ctx, clock) -> None:
    for day in (date(2025, 2, 1), date(2025, 2, 15), date(2025, 3, 2)):  # a year earlier
        receive(ctx, clock, day)
    receive(ctx, clock, date(2025, 1, 30))  # before last year's window: not compared
    for day in (date(2026, 2, 1), date(2026, 2, 15), TODAY):
        receive(ctx, clock, day)
    assert services.check_clusters(ctx) == []  # 3, as many as a year earlier
    # without the rise rule the threshold alone decides
    plain = with_settings(ctx, cluster_require_rise=False)
    assert [(a.count, a.previous) for a in services.check_clusters(plain, dry_run=True)] \
        == [(3, 3), (3, 3)]
    assert alerts(ctx) == []  # a dry run writes nothing
    receive(ctx, clock, TODAY, kind="input")
    raised = services.check_clusters(ctx)
    assert [(a.dim, a.count, a.previous) for a in raised] == [
        ("direction", 4, 3), ("place", 4, 3)]


def test_the_settings_decide_threshold_and_window(ctx, clock) -> None:
    receive(ctx, clock, date(2026, 2, 20))
    receive(ctx, clock, TODAY)
    assert services.check_clusters(ctx) == []
    assert dims(services.check_clusters(with_settings(ctx, cluster_min_reports=2),
                                        dry_run=True)) == {"place", "direction"}
    receive(ctx, clock, TODAY)
    assert services.check_clusters(with_settings(ctx, cluster_window_days=7)) == []
    assert alerts(ctx) == []  # 20 February is outside a week's window
    raised = services.check_clusters(with_settings(ctx, cluster_window_days=11))
    assert {(a.window_start, a.count) for a in raised} == {(date(2026, 2, 20), 3)}


def test_once_per_cluster_and_window_then_again_after_the_window(ctx, clock) -> None:
    first = [receive(ctx, clock, date(2026, 3, 1)), receive(ctx, clock, TODAY),
             receive(ctx, clock, TODAY)]
    assert dims(services.check_clusters(ctx)) == {"place", "direction"}
    assert services.check_clusters(ctx) == []  # the same moment again
    later = receive(ctx, clock, date(2026, 3, 3))
    assert services.check_clusters(ctx) == []  # 4 now, but the window overlaps
    clock.now = datetime(2026, 3, 31, 12, tzinfo=UTC)  # window 2 March to 31 March
    assert services.check_clusters(ctx, dry_run=True) == []  # 3 in it; it overlaps still
    clock.now = datetime(2026, 4, 1, 12, tzinfo=UTC)  # window 3 March to 1 April: 1 report
    assert services.check_clusters(ctx) == []
    # 23:30 on 1 April in Oslo is 21:30 UTC: a report then, and the check, count that day
    evening = datetime(2026, 4, 1, 21, 30, tzinfo=UTC)
    second = [receive(ctx, clock, date(2026, 4, 1), at=evening) for _ in range(2)]
    raised = services.check_clusters(ctx)
    assert dims(raised) == {"place", "direction"}
    for alert in raised:
        assert (alert.window_start, alert.window_end) == (date(2026, 3, 3), date(2026, 4, 1))
        assert alert.references == (later, *second)
        assert not set(alert.references) & set(first)  # a report alerts once per cluster
    assert services.check_clusters(ctx) == []
    assert len(alerts(ctx)) == len(alert_notices(ctx)) == len(audited(ctx)) == 4


def test_the_notice_carries_the_references_and_is_written_with_the_alert(ctx, clock) -> None:
    refs = [receive(ctx, clock, TODAY, subcategory="late", concerned_party="gp")
            for _ in range(3)]
    raised = services.check_clusters(ctx)
    assert {(a.dim, a.direction) for a in raised} == {("place", None),
                                                      ("direction", "gp->gp")}
    rows = alert_notices(ctx)
    stored = {a.dim: a for a in alerts(ctx)}
    assert len(rows) == len(stored) == 2
    notice = next(r for r in rows if r.payload["dim"] == "place")
    with ctx.db.reading() as session:  # on the newest report, like every group notice
        newest = session.scalar(select(m.Report.id).where(m.Report.reference == refs[-1]))
    assert (notice.channel, notice.recipient, notice.report_id) == ("group", "group", newest)
    assert notice.payload == {
        "reference": refs[-1],
        "alert_id": stored["place"].id, "dim": "place", "category": "discharge_summary",
        "place": "stolav_medisinsk", "subcategory": "late", "direction": None, "count": 3,
        "previous": 0, "days": 30, "window_start": "2026-02-01", "window_end": "2026-03-02",
        "references": refs}
    assert notice.created_at == stored["place"].created_at
    assert {(a.actor_id, a.details["alert_id"]) for a in audited(ctx)} == {
        ("system:clusters", a.id) for a in stored.values()}


@contextmanager
def outbox_down(ctx: services.Context) -> Iterator[None]:
    """The outbox refuses every new row: a real database failure inside the alert's
    transaction, after its row was inserted."""
    pg = ctx.db.dialect == "postgresql"
    with ctx.db.transaction() as session:
        if pg:
            session.execute(text("CREATE FUNCTION meld_test_outbox_down() RETURNS trigger "
                                 "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'outbox "
                                 "down'; END $$"))
            session.execute(text("CREATE TRIGGER meld_test_outbox_down BEFORE INSERT ON "
                                 "outbox FOR EACH ROW EXECUTE FUNCTION "
                                 "meld_test_outbox_down()"))
        else:
            session.execute(text("CREATE TRIGGER meld_test_outbox_down BEFORE INSERT ON "
                                 "outbox BEGIN SELECT RAISE(ABORT, 'outbox down'); END"))
    try:
        yield
    finally:
        with ctx.db.transaction() as session:
            session.execute(text("DROP TRIGGER IF EXISTS meld_test_outbox_down"
                                 + (" ON outbox" if pg else "")))
            if pg:
                session.execute(text("DROP FUNCTION IF EXISTS meld_test_outbox_down()"))


def test_an_alert_is_never_kept_without_its_notice(ctx, clock) -> None:
    refs = [receive(ctx, clock, TODAY) for _ in range(3)]
    with outbox_down(ctx), pytest.raises(DBAPIError, match="outbox down"):
        services.check_clusters(ctx)
    assert alerts(ctx) == [] and audited(ctx) == []  # all rolled back together
    raised = services.check_clusters(ctx)  # the next check raises it after all
    assert dims(raised) == {"place", "direction"}
    assert [r.payload["references"] for r in alert_notices(ctx)] == [refs, refs]

"""report_day_counts, kept by the triggers of migration 0016 on both databases: every
insert, update of a counted column and delete of a report moves the counts of its local
received day, whatever code path writes it; `recount` rebuilds them; the migration counts
the reports already there, and its downgrade takes the triggers away."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, delete, insert, text, update

from intake import services
from storage import models as m
from storage.migrate import upgrade
from storage.report_counts import recount
from tests.clusters.helpers import (
    GROUP,
    expected_day_counts,
    receive,
    stored_day_counts,
)

DAY = date(2026, 3, 2)
_numbers = iter(range(9000, 9999))


def raw_report(**fields: Any) -> dict[str, Any]:
    """A reports row written without the services (a bulk load, a fix by hand)."""
    at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    values = {"reference": f"MELD-2026-{next(_numbers)}", "kind": "deviation",
              "category_id": "discharge_summary", "subcategory_id": "missing",
              "description": "x", "occurred_on": date(2026, 2, 27), "reported_at": at,
              "reported_on": date(2026, 3, 1), "reported_severity": "minor",
              "status": "received", "channel": "web", "locale": "nb", "updated_at": at,
              "place_id": "stolav_medisinsk", "direction": "gp->hospital"}
    values.update(fields)
    return values


def test_submits_count_deviations_and_inputs_by_day_place_and_direction(ctx, clock) -> None:
    receive(ctx, clock, DAY)
    receive(ctx, clock, DAY, kind="input")
    receive(ctx, clock, DAY, kind="suggestion")  # not counted
    receive(ctx, clock, DAY, place=None)  # no place: the direction cluster only
    receive(ctx, clock, DAY - timedelta(days=1), reporter_party="hospital",
            concerned_party="gp", subcategory="late")
    assert stored_day_counts(ctx) == expected_day_counts(ctx) == {
        (DAY, "place", "stolav_medisinsk", "discharge_summary", "missing", "deviation"): 1,
        (DAY, "place", "stolav_medisinsk", "discharge_summary", "missing", "input"): 1,
        (DAY, "direction", "discharge_summary", "gp->hospital", "", "deviation"): 2,
        (DAY, "direction", "discharge_summary", "gp->hospital", "", "input"): 1,
        (DAY - timedelta(days=1), "place", "stolav_medisinsk", "discharge_summary", "late",
         "deviation"): 1,
        (DAY - timedelta(days=1), "direction", "discharge_summary", "hospital->gp", "",
         "deviation"): 1,
    }


def test_rows_written_directly_are_counted_and_the_rest_left_out(ctx) -> None:
    with ctx.db.transaction() as session:
        session.execute(insert(m.Report), [
            raw_report(),
            raw_report(kind="good_collaboration"),  # counted apart, never in a cluster
            raw_report(kind="suggestion"),
            raw_report(reported_on=None),  # a bulk load without the local day
            raw_report(subcategory_id=None, direction=None),  # no cluster keys at all
        ])
    assert stored_day_counts(ctx) == expected_day_counts(ctx) == {
        (date(2026, 3, 1), "place", "stolav_medisinsk", "discharge_summary", "missing",
         "deviation"): 1,
        (date(2026, 3, 1), "direction", "discharge_summary", "gp->hospital", "",
         "deviation"): 1,
    }


def test_updates_of_counted_columns_move_the_counts(ctx, clock) -> None:
    ref = receive(ctx, clock, DAY)
    other = receive(ctx, clock, DAY, kind="input")
    # the group's assessment moves the report to another category and subcategory
    services.assess(ctx=ctx, actor=GROUP, reference=ref, category="medication",
                    subcategory="med_list")
    assert stored_day_counts(ctx) == expected_day_counts(ctx)
    changes: list[dict[str, Any]] = [
        {"place_id": "stolav_akutt"}, {"direction": "hospital->gp"}, {"direction": None},
        {"kind": "suggestion"}, {"kind": "deviation"}, {"reported_on": DAY + timedelta(1)},
        {"reported_on": None}, {"reported_on": DAY}, {"subcategory_id": None},
        {"kind": "good_collaboration"}, {"kind": "input", "place_id": None},
        {"status": "triage"},  # not counted: nothing moves
    ]
    for change in changes:
        with ctx.db.transaction() as session:
            session.execute(update(m.Report).where(m.Report.reference == ref)
                            .values(**change))
        assert stored_day_counts(ctx) == expected_day_counts(ctx), change
    with ctx.db.transaction() as session:  # several rows in one statement
        session.execute(update(m.Report).where(m.Report.reference.in_([ref, other]))
                        .values(place_id="stolav_kreft", subcategory_id="late",
                                category_id="discharge_summary"))
    assert stored_day_counts(ctx) == expected_day_counts(ctx)


def test_deletes_take_reports_out(ctx) -> None:
    with ctx.db.transaction() as session:
        session.execute(insert(m.Report), [raw_report(), raw_report(kind="input"),
                                           raw_report(reported_on=date(2026, 2, 1))])
    with ctx.db.transaction() as session:
        session.execute(delete(m.Report).where(m.Report.kind == "input"))
    assert stored_day_counts(ctx) == expected_day_counts(ctx)
    assert sum(n for key, n in stored_day_counts(ctx).items() if key[1] == "place") == 2
    with ctx.db.transaction() as session:
        session.execute(delete(m.Report))
    assert stored_day_counts(ctx) == {}


def test_recount_rebuilds_the_day_counts(ctx, clock) -> None:
    for offset in range(5):
        receive(ctx, clock, DAY - timedelta(days=offset), kind=("deviation", "input")[offset % 2])
    kept = stored_day_counts(ctx)
    with ctx.db.transaction() as session:  # drifted (say, a bulk load with triggers off)
        session.execute(text("DELETE FROM report_day_counts WHERE dim = 'place'"))
        session.execute(text("UPDATE report_day_counts SET n = n + 5"))
    assert stored_day_counts(ctx) != kept
    with ctx.db.transaction() as session:
        recount(session.connection())
    assert stored_day_counts(ctx) == kept == expected_day_counts(ctx)


# ---------------------------------------------------------------- the migration



def _table_rows(engine: Any) -> dict[tuple[Any, ...], int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT day, dim, k1, k2, k3, kind, n "
                                 "FROM report_day_counts")).all()
    return {(date.fromisoformat(str(r[0])), *r[1:6]): r[6] for r in rows if r[6]}


def test_upgrade_counts_existing_reports_and_downgrade_removes_the_triggers(
        empty_url: str) -> None:
    from alembic import command

    from storage.migrate import alembic_config

    upgrade(empty_url, "0015")
    engine = create_engine(empty_url)
    reports = m.Report.__table__
    columns = ("reference", "kind", "category_id", "subcategory_id", "description",
               "occurred_on", "reported_at", "reported_on", "reported_severity", "status",
               "channel", "locale", "updated_at", "place_id", "direction")
    old = [raw_report(), raw_report(kind="input"), raw_report(kind="suggestion"),
           raw_report(reported_on=None), raw_report(place_id=None, direction="gp->gp")]
    with engine.begin() as conn:
        conn.execute(insert(reports), [{k: r[k] for k in columns} for r in old])
    upgrade(empty_url, "0016")
    counted = {
        (date(2026, 3, 1), "place", "stolav_medisinsk", "discharge_summary", "missing",
         "deviation"): 1,
        (date(2026, 3, 1), "place", "stolav_medisinsk", "discharge_summary", "missing",
         "input"): 1,
        (date(2026, 3, 1), "direction", "discharge_summary", "gp->hospital", "",
         "deviation"): 1,
        (date(2026, 3, 1), "direction", "discharge_summary", "gp->hospital", "",
         "input"): 1,
        (date(2026, 3, 1), "direction", "discharge_summary", "gp->gp", "", "deviation"): 1,
    }
    assert _table_rows(engine) == counted
    with engine.begin() as conn:  # the triggers count from now on
        conn.execute(insert(reports), [{k: raw_report()[k] for k in columns}])
    counted[(date(2026, 3, 1), "place", "stolav_medisinsk", "discharge_summary", "missing",
             "deviation")] += 1
    counted[(date(2026, 3, 1), "direction", "discharge_summary", "gp->hospital", "",
             "deviation")] += 1
    assert _table_rows(engine) == counted

    command.downgrade(alembic_config(empty_url), "0015")
    with engine.begin() as conn:  # no trigger left that would write to a dropped table
        conn.execute(insert(reports), [{k: raw_report()[k] for k in columns}])
        conn.execute(update(reports).values(place_id="stolav_akutt"))
        conn.execute(delete(reports).where(reports.c.kind == "suggestion"))
        assert conn.execute(text("SELECT count(*) FROM reports")).scalar_one() == 6
    upgrade(empty_url, "0016")  # and up again: everything counted afresh
    # five counted reports (the one without reported_on is not), each now with a place
    # cluster and a direction cluster
    assert sum(_table_rows(engine).values()) == 5 * 2
    engine.dispose()

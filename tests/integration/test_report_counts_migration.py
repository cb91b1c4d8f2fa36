"""Migration 0003 counts the reports that are already there (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import column, create_engine, insert, select, table, text

from storage import models as m
from storage.migrate import upgrade


def test_upgrade_counts_existing_reports(empty_url: str) -> None:
    upgrade(empty_url, "0002")
    engine = create_engine(empty_url)
    reported = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    rows = [
        {"reference": f"MELD-2026-{i:04d}", "kind": kind, "category_id": "medication",
         "subcategory_id": sub, "description": "x", "occurred_on": day,
         "reported_at": reported, "reported_severity": "minor", "assessed_severity": assessed,
         "direction": "gp->hospital", "place_id": None, "guideline_breached": breached,
         "first_feedback_at": feedback, "status": "triage", "channel": "web",
         "locale": "nb", "updated_at": reported}
        for i, (kind, sub, day, assessed, breached, feedback) in enumerate([
            ("deviation", "med_list", date(2026, 2, 27), None, None, None),
            ("deviation", "med_list", date(2026, 2, 3), "moderate", True,
             reported + timedelta(hours=49, minutes=59)),
            ("deviation", None, date(2026, 2, 28), "minor", False,
             reported + timedelta(hours=2)),
            ("suggestion", None, date(2026, 3, 1), None, None, None),
        ], start=1)
    ]
    # the tables as revision 0002 has them (the models are newer)
    reports = table("reports", *(column(name) for name in rows[0]))
    plus_ones = table("plus_ones", column("report_id"), column("actor_id"),
                      column("created_at"))
    with engine.begin() as conn:
        conn.execute(insert(reports), rows)
        ids = dict(conn.execute(text("SELECT reference, id FROM reports")).all())
        conn.execute(insert(plus_ones), [
            {"report_id": ids["MELD-2026-0004"], "actor_id": f"web:{i}", "created_at": reported}
            for i in range(3)])
    upgrade(empty_url)
    rc = m.ReportCount
    with engine.connect() as conn:
        got = {tuple(r[:5]): tuple(r[5:]) for r in conn.execute(
            select(rc.month, rc.dim, rc.k1, rc.k2, rc.k3, rc.n, rc.fb, rc.dev, rc.breach))}
    feb, mar = date(2026, 2, 1), date(2026, 3, 1)
    assert got == {
        (feb, "class", "deviation", "medication", "med_list"): (2, 1, 2, 1),
        (feb, "class", "deviation", "medication", ""): (1, 1, 1, 0),
        (mar, "class", "suggestion", "medication", ""): (1, 0, 0, 0),
        (feb, "severity", "minor", "", ""): (1, 0, 1, 0),
        (feb, "severity", "minor", "moderate", ""): (1, 1, 1, 1),
        (feb, "severity", "minor", "minor", ""): (1, 1, 1, 0),
        (mar, "severity", "minor", "", ""): (1, 0, 0, 0),
        (feb, "direction", "gp->hospital", "", ""): (3, 2, 3, 1),
        (mar, "direction", "gp->hospital", "", ""): (1, 0, 0, 0),
        (feb, "place", "", "", ""): (3, 2, 3, 1),
        (mar, "place", "", "", ""): (1, 0, 0, 0),
        (feb, "feedback", "000049", "", ""): (1, 1, 1, 1),
        (feb, "feedback", "000002", "", ""): (1, 1, 1, 0),
    }
    with engine.connect() as conn:
        assert dict(conn.execute(select(m.Report.reference, m.Report.plus_one_count)).all()) == {
            "MELD-2026-0001": 0, "MELD-2026-0002": 0, "MELD-2026-0003": 0,
            "MELD-2026-0004": 3}
    engine.dispose()


def test_upgrade_to_0007_fills_local_dates_status_times_and_week_counts(
    empty_url: str,
) -> None:
    """Migration 0007 on reports already there: reported_on is the local date of
    reported_at in the zone `meld migrate` hands over (across both DST changes and
    midnight), status_changed_at is the last status change in the audit log (else the
    submit), and report_week_counts and report_open_weeks count them by the Monday of
    that date."""
    upgrade(empty_url, "0006")
    engine = create_engine(empty_url)
    stamps = [  # UTC -> Oslo
        datetime(2026, 3, 29, 22, 30, tzinfo=UTC),   # Mon 30 March 00:30 CEST (week 14)
        datetime(2026, 3, 29, 0, 30, tzinfo=UTC),    # Sun 29 March 01:30 CET (week 13)
        datetime(2026, 3, 1, 22, 59, tzinfo=UTC),    # Sun 1 March 23:59 CET (week 9)
        datetime(2026, 3, 1, 23, 0, tzinfo=UTC),     # Mon 2 March 00:00 CET (week 10)
        datetime(2026, 10, 25, 22, 30, tzinfo=UTC),  # Sun 25 Oct 23:30 CET (week 43)
        datetime(2026, 10, 24, 22, 30, tzinfo=UTC),  # Sun 25 Oct 00:30 CEST (week 43)
    ]
    rows = [
        {"reference": f"MELD-2026-{i:04d}", "kind": "deviation",
         "category_id": ("medication", "referral")[i % 2], "subcategory_id": None,
         "description": "x", "occurred_on": date(2026, 3, 1), "reported_at": at,
         "reported_severity": "minor", "status": "needs_info" if i == 1 else "triage",
         "channel": "web", "locale": "nb", "updated_at": at + timedelta(days=9)}
        for i, at in enumerate(stamps, start=1)
    ]
    reports = table("reports", *(column(name) for name in rows[0]))
    audit = table("audit_events", column("at"), column("actor_id"), column("actor_role"),
                  column("action"), column("report_id"), column("details"))
    asked = stamps[0] + timedelta(days=2)
    with engine.begin() as conn:
        conn.execute(insert(reports), rows)
        ids = dict(conn.execute(text("SELECT reference, id FROM reports")).all())
        first = ids["MELD-2026-0001"]
        conn.execute(insert(audit), [
            {"at": stamps[0] + timedelta(days=1), "actor_id": "slack:U1", "actor_role":
             "triager", "action": "status_changed", "report_id": first,
             "details": '{"previous": "received", "status": "triage"}'},
            {"at": asked, "actor_id": "slack:U1", "actor_role": "triager",
             "action": "status_changed", "report_id": first,
             "details": '{"previous": "triage", "status": "needs_info"}'},
            {"at": asked + timedelta(days=1), "actor_id": "slack:U1", "actor_role": "triager",
             "action": "assessed", "report_id": first, "details": "{}"},
        ])
    upgrade(empty_url, timezone="Europe/Oslo")
    r, wc = m.Report, m.ReportWeekCount
    with engine.connect() as conn:
        got = {ref: (on, changed) for ref, on, changed in conn.execute(
            select(r.reference, r.reported_on, r.status_changed_at))}
        weeks = {tuple(row[:4]): row[4] for row in conn.execute(
            select(wc.week, wc.kind, wc.category_id, wc.severity, wc.n))}
        ow = m.ReportOpenWeek
        open_weeks = {w: (a, b) for w, a, b in conn.execute(
            select(ow.week, ow.waiting, ow.asked))}
    assert [got[f"MELD-2026-{i:04d}"][0] for i in range(1, 7)] == [
        date(2026, 3, 30), date(2026, 3, 29), date(2026, 3, 1), date(2026, 3, 2),
        date(2026, 10, 25), date(2026, 10, 25)]
    assert got["MELD-2026-0001"][1] == asked
    assert [got[f"MELD-2026-{i:04d}"][1] for i in range(2, 7)] == stamps[1:]
    assert weeks == {
        (date(2026, 3, 30), "deviation", "referral", "minor"): 1,
        (date(2026, 3, 23), "deviation", "medication", "minor"): 1,
        (date(2026, 2, 23), "deviation", "referral", "minor"): 1,
        (date(2026, 3, 2), "deviation", "medication", "minor"): 1,
        (date(2026, 10, 19), "deviation", "medication", "minor"): 1,
        (date(2026, 10, 19), "deviation", "referral", "minor"): 1,
    }
    # the first waits for the reporter's answer, the others for triage
    assert open_weeks == {date(2026, 3, 30): (0, 1), date(2026, 3, 23): (1, 0),
                          date(2026, 2, 23): (1, 0), date(2026, 3, 2): (1, 0),
                          date(2026, 10, 19): (2, 0)}
    engine.dispose()


def test_upgrade_to_0008_marks_the_reporters_unread_messages(empty_url: str) -> None:
    """Migration 0008 on reports already there: a reporter's message that no message from
    the group and no read of the report by the group followed is unread, since the first
    such message."""
    upgrade(empty_url, "0007")
    engine = create_engine(empty_url)
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    rows = [
        {"reference": f"MELD-2026-{i:04d}", "kind": "deviation", "category_id": "medication",
         "description": "x", "occurred_on": date(2026, 3, 1), "reported_at": t0,
         "reported_on": date(2026, 3, 2), "status_changed_at": t0, "reported_severity": "minor",
         "status": "closed" if i == 1 else "triage", "channel": "web", "locale": "nb",
         "updated_at": t0}
        for i in range(1, 6)
    ]
    reports = table("reports", *(column(name) for name in rows[0]))
    messages = table("messages", column("report_id"), column("author_id"),
                     column("direction"), column("purpose"), column("body"),
                     column("created_at"))
    audit = table("audit_events", column("at"), column("actor_id"), column("actor_role"),
                  column("action"), column("report_id"), column("details"))

    def at(hours: int) -> datetime:
        return t0 + timedelta(hours=hours)

    with engine.begin() as conn:
        conn.execute(insert(reports), rows)
        ids = dict(conn.execute(text("SELECT reference, id FROM reports")).all())
        one, two, three, four, five = (ids[f"MELD-2026-{i:04d}"] for i in range(1, 6))

        def msg(report: int, direction: str, hours: int) -> dict:
            return {"report_id": report, "author_id": "x", "direction": direction,
                    "purpose": "answer" if direction == "reporter" else "reply",
                    "body": "b", "created_at": at(hours)}

        conn.execute(insert(messages), [
            msg(one, "reporter", 1), msg(one, "reporter", 2),      # unread since 1
            msg(two, "reporter", 1), msg(two, "group", 3),          # answered
            msg(three, "reporter", 1), msg(three, "reporter", 5),   # read at 3: from 5
            msg(four, "group", 1), msg(four, "internal", 2),        # none from the reporter
            msg(five, "reporter", 1),                               # a reporter's read only
        ])
        conn.execute(insert(audit), [
            {"at": at(3), "actor_id": "slack:U1", "actor_role": "triager", "action": "read",
             "report_id": three, "details": "{}"},
            {"at": at(3), "actor_id": "slack:U9", "actor_role": "reporter", "action": "read",
             "report_id": five, "details": "{}"},
        ])
    upgrade(empty_url)
    with engine.connect() as conn:
        got = dict(conn.execute(select(m.Report.reference,
                                       m.Report.reporter_unread_since)).all())
    assert got == {"MELD-2026-0001": at(1), "MELD-2026-0002": None, "MELD-2026-0003": at(5),
                   "MELD-2026-0004": None, "MELD-2026-0005": at(1)}
    engine.dispose()

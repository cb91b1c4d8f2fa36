"""Migration 0003 counts the reports that are already there (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import column, create_engine, insert, select, table, text
from sqlalchemy.engine import make_url

from storage import models as m
from storage.migrate import upgrade
from tests.conftest import _pg_server_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it (no migrations run), on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    server = _pg_server_url()
    if not server:
        pytest.skip("no PostgreSQL server given (MELD_TEST_POSTGRES_URL is not set)")
    base = make_url(server).set(drivername="postgresql+psycopg")
    name = f"meld_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


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

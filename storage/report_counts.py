"""report_counts from scratch: what migration 0003 runs for the reports already there, and
what a bulk load does after loading with the triggers off (`recount`).

The triggers that keep the table current as reports change are in migration 0003.
"""

from __future__ import annotations

from sqlalchemy import Connection, text


def recount_sql(dialect: str) -> str:
    """INSERT every report's counts into an empty report_counts, with the triggers' keys
    and flags (one GROUP BY per dimension)."""
    if dialect == "postgresql":
        month = "date_trunc('month', occurred_on)::date"
        breached = "guideline_breached"
        hours = ("lpad(greatest(0, floor(extract(epoch FROM first_feedback_at - reported_at)"
                 " / 3600))::bigint::text, 6, '0')")
    else:
        month = "date(occurred_on, 'start of month')"
        breached = "coalesce(guideline_breached, 0) = 1"
        hours = ("printf('%06d', max(0, (CAST(strftime('%s', first_feedback_at) AS INTEGER)"
                 " - CAST(strftime('%s', reported_at) AS INTEGER)) / 3600))")
    sums = ("count(*), "
            "sum(CASE WHEN first_feedback_at IS NOT NULL THEN 1 ELSE 0 END), "
            "sum(CASE WHEN kind = 'deviation' THEN 1 ELSE 0 END), "
            f"sum(CASE WHEN kind = 'deviation' AND {breached} THEN 1 ELSE 0 END)")
    parts = {
        "class": ("kind", "coalesce(category_id, '')", "coalesce(subcategory_id, '')", ""),
        "severity": ("coalesce(reported_severity, '')", "coalesce(assessed_severity, '')",
                     "''", ""),
        "direction": ("coalesce(direction, '')", "''", "''", ""),
        "place": ("coalesce(place_id, '')", "''", "''", ""),
        "feedback": (hours, "''", "''", "WHERE first_feedback_at IS NOT NULL"),
    }
    selects = [
        f"SELECT {month}, '{dim}', {k1}, {k2}, {k3}, {sums} FROM reports {where} "  # noqa: S608 (constants)
        f"GROUP BY 1, 2, 3, 4, 5"
        for dim, (k1, k2, k3, where) in parts.items()
    ]
    return ("INSERT INTO report_counts (month, dim, k1, k2, k3, n, fb, dev, breach) "
            + " UNION ALL ".join(selects))


def recount(conn: Connection) -> None:
    """Replace report_counts with a count of every report (in the caller's transaction)."""
    conn.execute(text("DELETE FROM report_counts"))
    conn.execute(text(recount_sql(conn.dialect.name)))

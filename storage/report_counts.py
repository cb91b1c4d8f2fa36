"""What the triggers of migrations 0003, 0007 and 0016 keep, from scratch: report_counts
(0003 counts the reports already there with `recount_sql`), report_week_counts and
report_open_weeks (0007, `week_recount_sql`), report_day_counts (0016, `day_recount_sql`)
and reports.plus_one_count. A bulk load with the triggers off runs `recount` afterwards.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from storage.models import NEEDS_INFO_PREDICATE, WAITING_PREDICATE


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


# the week triggers' upserts onto report_week_counts and report_open_weeks (aliased `t`)
WEEK_UPSERT = ("ON CONFLICT (week, kind, category_id, severity) "
               "DO UPDATE SET n = {t}.n + excluded.n")
OPEN_WEEK_UPSERT = ("ON CONFLICT (week) DO UPDATE SET waiting = {t}.waiting + excluded.waiting, "
                    "asked = {t}.asked + excluded.asked")


def week_recount_sql(dialect: str) -> list[str]:
    """INSERTs counting every report into empty week tables, as the triggers key them (the
    ISO week of reported_on, by its Monday): report_week_counts by kind, category and
    reported severity, and report_open_weeks for the reports waiting for the group or for
    the reporter's answer."""
    week = ("date_trunc('week', reported_on)::date" if dialect == "postgresql"
            else "date(reported_on, 'weekday 0', '-6 days')")
    return [
        "INSERT INTO report_week_counts (week, kind, category_id, severity, n) "  # noqa: S608 (constants)
        f"SELECT {week}, kind, coalesce(category_id, ''), coalesce(reported_severity, ''), "
        "count(*) FROM reports WHERE reported_on IS NOT NULL GROUP BY 1, 2, 3, 4 "
        "ORDER BY 1, 2, 3, 4",  # a week's rows together on disk, as the triggers leave them
        f"INSERT INTO report_open_weeks (week, waiting, asked) SELECT {week}, "  # noqa: S608 (constants)
        f"sum(CASE WHEN {WAITING_PREDICATE} THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN {NEEDS_INFO_PREDICATE} THEN 1 ELSE 0 END) FROM reports "
        f"WHERE reported_on IS NOT NULL AND ({WAITING_PREDICATE} OR {NEEDS_INFO_PREDICATE}) "
        "GROUP BY 1 ORDER BY 1",
    ]


# report_day_counts (migration 0016): its triggers' upsert (the table aliased `t`), and
# what it counts: the deviations and inputs (storage.models_clusters.CLUSTER_KINDS) with a
# local received day, along each cluster dimension whose keys the report has. `{r}` is the
# row's prefix: "" in a query over reports, "NEW." or "OLD." in a trigger, "r." in a function.
DAY_UPSERT = "ON CONFLICT (day, dim, k1, k2, k3, kind) DO UPDATE SET n = {t}.n + excluded.n"
DAY_COUNTED = "{r}reported_on IS NOT NULL AND {r}kind IN ('deviation', 'input')"
DAY_DIMENSIONS = (  # (dim, (k1, k2, k3), the condition for a report to have the keys)
    ("place", ("{r}place_id", "{r}category_id", "{r}subcategory_id"),
     "{r}place_id IS NOT NULL AND {r}subcategory_id IS NOT NULL"),
    ("direction", ("{r}category_id", "{r}direction", "''"), "{r}direction IS NOT NULL"),
)


def day_row_selects(r: str, n: str) -> list[str]:
    """One SELECT per dimension giving the row `r` ("NEW.", "OLD.", "r.") counted `n`
    times (no FROM: for triggers and the PostgreSQL row function)."""
    return [
        f"SELECT {r}reported_on, '{dim}', {', '.join(k.format(r=r) for k in keys)}, "
        f"{r}kind, {n} WHERE {DAY_COUNTED.format(r=r)} AND {where.format(r=r)}"
        for dim, keys, where in DAY_DIMENSIONS
    ]


def day_recount_sql() -> str:
    """An INSERT counting every report into an empty report_day_counts, keyed as the
    triggers key them (the same SQL on both databases)."""
    selects = []
    for dim, keys, where in DAY_DIMENSIONS:
        cols = [k.format(r="") for k in keys]
        grouped = ", ".join(c for c in cols if c != "''")
        selects.append(
            f"SELECT reported_on, '{dim}', {', '.join(cols)}, kind, count(*) "  # noqa: S608 (constants)
            f"FROM reports WHERE {DAY_COUNTED.format(r='')} AND {where.format(r='')} "
            f"GROUP BY reported_on, kind, {grouped}")
    return ("INSERT INTO report_day_counts (day, dim, k1, k2, k3, kind, n) "
            + " UNION ALL ".join(selects))


PLUS_ONE_COUNT_SQL = (
    "UPDATE reports SET plus_one_count = (SELECT count(*) FROM plus_ones "
    "WHERE plus_ones.report_id = reports.id) "
    "WHERE plus_one_count <> (SELECT count(*) FROM plus_ones "
    "WHERE plus_ones.report_id = reports.id)"
)


def recount_statements(dialect: str) -> list[str]:
    """What the triggers keep, from scratch: report_counts, report_week_counts,
    report_open_weeks, report_day_counts and reports.plus_one_count."""
    return ["DELETE FROM report_counts", recount_sql(dialect),
            "DELETE FROM report_week_counts", "DELETE FROM report_open_weeks",
            *week_recount_sql(dialect), "DELETE FROM report_day_counts", day_recount_sql(),
            PLUS_ONE_COUNT_SQL]


def recount(conn: Connection) -> None:
    """Recount everything the triggers keep (in the caller's transaction), e.g. after a bulk
    import with the triggers off."""
    for statement in recount_statements(conn.dialect.name):
        conn.execute(text(statement))

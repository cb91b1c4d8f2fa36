"""The weekly digest's figures as SQL: one statement per dialect (`digest_statement`).

It reads a week's counts from the tables the triggers keep (report_week_counts,
report_open_weeks) and the short lists from partial indexes in the order shown, all as
they stood at the week's end (:asof), using the status history in the audit log for the
few reports changed since. Only `intake.reporting.digest` (which turns the rows into a
`Digest`) and tests of the statement's plan import this.
"""

from __future__ import annotations

import functools

from sqlalchemy import Integer, String, TextClause, bindparam, column, text

from intake.domain.model import Kind
from storage import models as m

LIST_MAX = 50                         # rows fetched per list; the rest is counted
TOP_SUGGESTIONS = 5

OPEN = ("received", "triage", "needs_info", "in_progress")
# good collaboration is counted apart (not in the trend) and promised no feedback date
APART = Kind.GOOD_COLLABORATION.value


@functools.cache
def digest_statement(dialect: str) -> TextClause:
    """The digest's one statement for `dialect`, built once; the week comes as
    parameters (see `intake.reporting.digest.build_digest`)."""
    r, wc = m.Report, m.ReportWeekCount
    stamp = r.reported_at.type  # binds instants as the columns store them
    monday, trend = bindparam("monday", type_=wc.week.type), bindparam("trend", type_=wc.week.type)
    start, asof = bindparam("start", type_=stamp), bindparam("asof", type_=stamp)
    cutoff = bindparam("cutoff", type_=stamp)
    overdue = bindparam("overdue", type_=stamp)

    # The lists read partial indexes holding just their reports, in the order shown. Each
    # query repeats its index's predicate word for word (SQLite uses a partial index only
    # then), and names the index on SQLite: without statistics it would rather take the
    # status index; INDEXED BY also fails loudly should the two ever stop matching.
    def hint(index: str) -> str:
        return f"INDEXED BY {index}" if dialect == "sqlite" else ""

    def none(pg_type: str) -> str:  # PostgreSQL types a bare NULL in a subquery as text
        return f"CAST(NULL AS {pg_type})" if dialect == "postgresql" else "NULL"

    def json_status(alias: str) -> str:
        return (f"({alias}.details ->> 'status')" if dialect == "postgresql"
                else f"json_extract({alias}.details, '$.status')")

    # The state as of :asof (the end of the week). A report whose status has not changed
    # since has the status it has now ("unchanged"); for the few whose status changed after
    # :asof (ix_reports_status_changed_at), the status it had then is that of the last
    # status change before :asof in the audit log, else 'received' (as submitted).
    unchanged = "(status_changed_at IS NULL OR status_changed_at < :asof)"
    last_change = ("(SELECT e.id FROM audit_events e "  # noqa: S608 (constants)
                   f"{hint('ix_audit_events_status_changes')} WHERE e.report_id = {{r}}.id "
                   f"AND e.{m.STATUS_CHANGE_PREDICATE} AND e.at < :asof "
                   "ORDER BY e.at DESC, e.id DESC LIMIT 1)")
    open_list = ", ".join(f"'{s}'" for s in OPEN)
    # the reports (submitted before :asof) whose status changed after it, with the status
    # they have now (`status`), the one they had at :asof (`was`) and since when (`was_at`)
    moved = (
        "moved AS (SELECT c.id, c.reference, c.category_id, c.kind, c.status, c.reported_at, "  # noqa: S608
        "c.first_feedback_at, c.plus_one_count, c.learning_point, c.measure, "
        f"coalesce({json_status('a')}, 'received') AS was, "
        "coalesce(a.at, c.reported_at) AS was_at "
        "FROM (SELECT id, reference, category_id, kind, status, reported_at, first_feedback_at, "
        f"plus_one_count, learning_point, measure, {last_change.format(r='reports')} AS ev "
        f"FROM reports {hint('ix_reports_status_changed_at')} "
        "WHERE status_changed_at >= :asof AND reported_at < :asof) AS c "
        "LEFT JOIN audit_events a ON a.id = c.ev)"
    )
    # waiting for the group at :asof: received or in triage, or in progress with no
    # feedback given before :asof
    was_waiting = ("(was IN ('received', 'triage') OR (was = 'in_progress' AND "
                   "(first_feedback_at IS NULL OR first_feedback_at >= :asof)))")
    # Unread reporter's messages at :asof: a mark set before :asof and still set was set
    # then (setting it needs it clear; clearing it writes the audit event); a mark cleared
    # after :asof may have been set then: its reports are found from those audit events
    # (ix_audit_events_unread_cleared), and the mark at :asof is their first reporter's
    # message before :asof that no clearing before :asof followed.
    cleared = (
        "cleared AS (SELECT u.id, u.reference, u.category_id, u.status, "  # noqa: S608
        "u.status_changed_at, (SELECT min(x.at) FROM audit_events x "
        "WHERE x.report_id = u.id AND x.action = 'reporter_answered' AND x.at < :asof "
        "AND NOT EXISTS (SELECT 1 FROM audit_events y WHERE y.report_id = u.id "
        f"AND y.action = '{m.UNREAD_CLEARED_ACTION}' AND y.at < :asof "
        "AND (y.at > x.at OR (y.at = x.at AND y.id > x.id)))) AS since "
        "FROM reports u WHERE u.id IN (SELECT report_id FROM audit_events "
        f"{hint('ix_audit_events_unread_cleared')} WHERE {m.UNREAD_CLEARED_PREDICATE} "
        "AND at >= :asof))"
    )

    def status_at(alias: str) -> str:
        """The status of the row `alias` at :asof (an audit lookup only if it changed)."""
        return (f"CASE WHEN {alias}.status_changed_at >= :asof THEN coalesce((SELECT "  # noqa: S608
                f"{json_status('s')} FROM audit_events s WHERE s.id = "
                f"{last_change.format(r=alias)}), 'received') ELSE {alias}.status END")

    # waiting for triage (received, triage), or for a first feedback while measures run
    is_waiting = (f"FROM reports {hint('ix_reports_waiting')} "
                  f"WHERE ({m.WAITING_PREDICATE}) AND reported_at < :cutoff")
    # in progress, with the first feedback given only after :asof (waiting at :asof)
    fed_later = (f"FROM reports {hint('ix_reports_in_progress_feedback')} "
                 f"WHERE {m.IN_PROGRESS_PREDICATE} AND first_feedback_at >= :asof "
                 f"AND reported_at < :cutoff AND {unchanged}")
    # the feedback promise broken at :asof: waiting then with no feedback given before it,
    # reported before :overdue (so the feedback-by date had passed by :asof); good
    # collaboration is promised no date, so it is never overdue
    no_feedback = ("((first_feedback_at IS NULL OR first_feedback_at >= :asof) "
                   f"AND kind <> '{APART}')")
    is_overdue = (f"FROM reports {hint('ix_reports_waiting')} "
                  f"WHERE ({m.WAITING_PREDICATE}) AND reported_at < :overdue "
                  f"AND {no_feedback}")
    fed_after_due = (f"FROM reports {hint('ix_reports_in_progress_feedback')} "
                     f"WHERE {m.IN_PROGRESS_PREDICATE} AND first_feedback_at >= :asof "
                     f"AND reported_at < :overdue AND kind <> '{APART}' AND {unchanged}")
    # waiting for the reporter: since the group asked (the status changed to needs_info)
    is_asked = f"FROM reports {hint('ix_reports_needs_info')} WHERE {m.NEEDS_INFO_PREDICATE}"
    is_unread = (f"FROM reports {hint('ix_reports_unread')} WHERE {m.UNREAD_PREDICATE} "
                 "AND reporter_unread_since < :asof")
    # the +1s of the week, counted for the few suggestions listed
    plus_week = ("(SELECT count(*) FROM plus_ones WHERE plus_ones.report_id = {r}.id "
                 "AND plus_ones.created_at >= :start AND plus_ones.created_at < :asof)")
    # every count, each from a few rows: this week's counts by kind, category and severity
    # (a hundred rows at most; weeks are keyed by their Monday), then one row each (no kind)
    # with a total, named in category_id
    counts = (
        "SELECT kind, category_id, severity, n FROM report_week_counts "  # noqa: S608
        "WHERE week = :monday AND n <> 0 "
        # the TREND_WEEKS weeks before
        "UNION ALL SELECT NULL, 'previous', NULL, (SELECT coalesce(sum(n), 0) "
        "FROM report_week_counts WHERE week >= :trend AND week < :monday "
        f"AND kind <> '{APART}') "
        # waiting now: whole weeks before the cutoff's from the triggers' row a week, the
        # cutoff's own week from the index (at most a week of reports); then those whose
        # status changed after :asof count as they were at :asof, not as they are now (in
        # one pass over `moved`: :cutoff is before :asof, so all of them are in it), and
        # those given their first feedback after :asof count too
        "UNION ALL SELECT NULL, 'waiting', NULL, (SELECT coalesce(sum(waiting), 0) FROM "
        "report_open_weeks WHERE week < :cutoff_monday) + (SELECT count(*) "
        f"{is_waiting} AND reported_at >= :cutoff_week) + (SELECT coalesce(sum("
        f"CASE WHEN {was_waiting} THEN 1 ELSE 0 END - CASE WHEN ({m.WAITING_PREDICATE}) "
        "THEN 1 ELSE 0 END), 0) FROM moved WHERE reported_at < :cutoff) + (SELECT count(*) "
        f"{fed_later}) "
        # waiting for the reporter's answer: all of them now, from the row a week, less
        # those asked after :asof (from the index), then as they were at :asof
        "UNION ALL SELECT NULL, 'needs_info', NULL, (SELECT coalesce(sum(asked), 0) "
        f"FROM report_open_weeks) - (SELECT count(*) {is_asked} "
        "AND status_changed_at >= :asof) + (SELECT count(*) FROM moved "
        "WHERE was = 'needs_info') "
        # closed in the week and still closed at :asof (closed_at is cleared by
        # reopening; a report closed in the week and reopened after it is in `moved`)
        "UNION ALL SELECT NULL, 'learned', NULL, (SELECT count(*) FROM reports "
        "WHERE closed_at >= :start AND closed_at < :asof) + (SELECT count(*) FROM moved "
        "WHERE was = 'closed' AND was_at >= :start) "
        f"UNION ALL SELECT NULL, 'unread', NULL, (SELECT count(*) {is_unread}) "
        "+ (SELECT count(*) FROM cleared WHERE since IS NOT NULL) "
        # past the feedback-by date without feedback at :asof: from the waiting index as
        # now, those changed after :asof as they were then, and those fed after :asof
        f"UNION ALL SELECT NULL, 'overdue', NULL, (SELECT count(*) {is_overdue}) + (SELECT "
        f"coalesce(sum(CASE WHEN {was_waiting} AND {no_feedback} THEN 1 ELSE 0 END - CASE "
        f"WHEN ({m.WAITING_PREDICATE}) AND {no_feedback} THEN 1 ELSE 0 END), 0) FROM moved "
        f"WHERE reported_at < :overdue) + (SELECT count(*) {fed_after_due})"
    )
    # One statement: the lists, each the first rows of its index in the order shown
    # (and the few reports whose state at :asof differs from now), tagged with its
    # number and sorted by it, then by its own order: `backed` (the +1s, most first),
    # `key_at` and id; then every count (list 9). The reports changed after :asof are
    # read once, for all of them.
    return text(
        f"WITH {moved}, {cleared}, "  # noqa: S608 (constants)
        # the reports given +1s at or after :asof (ix_plus_ones_created_at)
        "plus_after AS (SELECT report_id FROM plus_ones "
        f"{hint('ix_plus_ones_created_at')} WHERE created_at >= :asof), "
        # the most +1'ed suggestions open at :asof, by their +1s then: plus_one_count is
        # kept by triggers on plus_ones and ix_reports_backed holds only the open
        # suggestions that have any, most first. A suggestion given no +1 since :asof
        # keeps its place, so the first few of those in the index are the candidates,
        # with every one that was given some (its count lowered) and those whose status
        # changed after :asof (from `moved`).
        "backed AS MATERIALIZED (SELECT b.id, b.reference, b.category_id, b.reported_at, "
        "b.plus_one_count - (SELECT count(*) FROM plus_ones q WHERE q.report_id = b.id "
        "AND q.created_at >= :asof) AS n FROM (SELECT * FROM (SELECT id, "
        "reference, category_id, reported_at, plus_one_count FROM reports "
        f"{hint('ix_reports_backed')} WHERE {m.BACKED_PREDICATE} AND {unchanged} "
        "AND id NOT IN (SELECT report_id FROM plus_after) "
        f"ORDER BY plus_one_count DESC, reported_at, id LIMIT {TOP_SUGGESTIONS}) AS kept "
        # (looked up by id: SQLite, without statistics, would read the status index)
        "UNION ALL SELECT id, reference, category_id, reported_at, plus_one_count "
        f"FROM reports {'NOT INDEXED' if dialect == 'sqlite' else ''} "
        "WHERE id IN (SELECT report_id FROM plus_after) "
        f"AND {m.BACKED_PREDICATE} AND {unchanged} "
        "UNION ALL SELECT id, reference, category_id, reported_at, plus_one_count "
        f"FROM moved WHERE kind = 'suggestion' AND was IN ({open_list})) AS b) "
        # 0: waiting for triage, or for a first feedback while measures run, oldest first
        "SELECT * FROM (SELECT 0 AS list, 0 AS backed, reported_at AS key_at, id, "
        "reference, category_id, CASE WHEN first_feedback_at < :asof "
        f"THEN first_feedback_at END AS other_at, status AS text_a, {none('text')} "
        f"AS text_b, {none('bigint')} AS this_week {is_waiting} AND {unchanged} "
        f"ORDER BY reported_at, id LIMIT {LIST_MAX}) AS waiting "
        "UNION ALL SELECT * FROM (SELECT 0, 0, reported_at, id, reference, category_id, "
        f"{none('timestamptz')}, status, {none('text')}, {none('bigint')} {fed_later} "
        f"LIMIT {LIST_MAX}) AS fed_later "
        "UNION ALL SELECT * FROM (SELECT 0, 0, reported_at, id, reference, category_id, "
        "CASE WHEN first_feedback_at < :asof THEN first_feedback_at END, was, "
        f"{none('text')}, {none('bigint')} FROM moved WHERE reported_at < :cutoff "
        f"AND {was_waiting} ORDER BY reported_at, id LIMIT {LIST_MAX}) AS moved_waiting "
        # 1: waiting for the reporter's answer, longest first
        "UNION ALL SELECT * FROM (SELECT 1, 0, status_changed_at, id, reference, "
        f"category_id, updated_at, {none('text')}, {none('text')}, {none('bigint')} "
        f"{is_asked} AND status_changed_at < :asof "
        f"ORDER BY status_changed_at, id LIMIT {LIST_MAX}) AS asked "
        "UNION ALL SELECT * FROM (SELECT 1, 0, was_at, id, reference, category_id, "
        f"{none('timestamptz')}, {none('text')}, {none('text')}, {none('bigint')} "
        f"FROM moved WHERE was = 'needs_info' ORDER BY was_at, id LIMIT {LIST_MAX}) "
        "AS moved_asked "
        # 2: closed this week (closed_at is set by closing, which requires the learning
        # point, and cleared by reopening)
        "UNION ALL SELECT * FROM (SELECT 2, 0, closed_at, id, reference, category_id, "
        f"{none('timestamptz')}, learning_point, measure, {none('bigint')} FROM reports "
        "WHERE closed_at >= :start AND closed_at < :asof "
        f"ORDER BY closed_at, id LIMIT {LIST_MAX}) AS learned "
        "UNION ALL SELECT * FROM (SELECT 2, 0, was_at, id, reference, category_id, "
        f"{none('timestamptz')}, learning_point, measure, {none('bigint')} FROM moved "
        f"WHERE was = 'closed' AND was_at >= :start ORDER BY was_at, id LIMIT {LIST_MAX}) "
        "AS moved_learned "
        # 3: the top suggestions at :asof, with the week's own +1s
        "UNION ALL SELECT 3, n, reported_at, id, reference, category_id, "
        f"{none('timestamptz')}, {none('text')}, {none('text')}, "
        f"{plus_week.format(r='top')} FROM (SELECT * FROM backed WHERE n > 0 "
        f"ORDER BY n DESC, reported_at, id LIMIT {TOP_SUGGESTIONS}) AS top "
        # 4: an unread message from the reporter, waiting longest first, with the status
        # at :asof (a closed one is to be reopened or not)
        "UNION ALL SELECT * FROM (SELECT 4, 0, reporter_unread_since, id, reference, "
        f"category_id, {none('timestamptz')}, {status_at('reports')}, {none('text')}, "
        f"{none('bigint')} {is_unread} ORDER BY reporter_unread_since, id "
        f"LIMIT {LIST_MAX}) AS unread "
        "UNION ALL SELECT * FROM (SELECT 4, 0, since, id, reference, category_id, "
        f"{none('timestamptz')}, {status_at('cleared')}, {none('text')}, "
        f"{none('bigint')} FROM cleared WHERE since IS NOT NULL ORDER BY since, id "
        f"LIMIT {LIST_MAX}) AS read_later "
        # 5: past the feedback-by date without feedback at :asof, oldest first
        "UNION ALL SELECT * FROM (SELECT 5, 0, reported_at, id, reference, category_id, "
        f"{none('timestamptz')}, status, {none('text')}, {none('bigint')} {is_overdue} "
        f"AND {unchanged} ORDER BY reported_at, id LIMIT {LIST_MAX}) AS overdue "
        "UNION ALL SELECT * FROM (SELECT 5, 0, reported_at, id, reference, category_id, "
        f"{none('timestamptz')}, status, {none('text')}, {none('bigint')} {fed_after_due} "
        f"LIMIT {LIST_MAX}) AS overdue_fed_later "
        "UNION ALL SELECT * FROM (SELECT 5, 0, reported_at, id, reference, category_id, "
        f"{none('timestamptz')}, was, {none('text')}, {none('bigint')} FROM moved "
        f"WHERE reported_at < :overdue AND {was_waiting} AND {no_feedback} "
        f"ORDER BY reported_at, id LIMIT {LIST_MAX}) AS moved_overdue "
        # 9: the counts, n in `backed`, kind, category and severity in the text columns
        f"UNION ALL SELECT 9, n, {none('timestamptz')}, 0, {none('text')}, category_id, "
        f"{none('timestamptz')}, kind, severity, {none('bigint')} FROM ({counts}) AS counts "
        "ORDER BY list, backed DESC, key_at, id",
    ).bindparams(monday, trend, cutoff, start, asof, overdue,
                 bindparam("cutoff_monday", type_=wc.week.type),
                 bindparam("cutoff_week", type_=stamp)).columns(
        column("list", Integer), column("backed", Integer), column("key_at", stamp),
        column("id", Integer), column("reference", String), column("category_id", String),
        column("other_at", stamp), column("text_a", String), column("text_b", String),
        column("this_week", Integer))

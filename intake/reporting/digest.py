"""The weekly digest for Forbedringsgruppen: content, plain text, schedule, exactly-once run.

`build_digest` reads one ISO week from counts kept by triggers (report_week_counts,
report_open_weeks) and short lists read in index order, into a door-neutral `Digest`:
coded keys, references, category labels, and the group's own learning points and
measures. It never carries a report's description or who reported it. A week's digest
is the week as it stood when it ended, whenever it is built (see `build_digest`); a digest
is posted only for a week that has ended (`check_postable`, in `run_digest`).
`render_text` turns it into the text `meld digest --dry-run` prints; the doors render the
same data their own way (`bot.slack.digest`), with the shared lines below.

Schedule: an RFC 5545 RRULE in local time (default Monday 08:00 Europe/Oslo), expanded by
dateutil with a naive local DTSTART, so 08:00 stays 08:00 across daylight-saving changes.
A run covers the ISO week that ended before it.

Exactly once per (channel, period): `run_digest` claims a row in `digest_runs` in its own
transaction before it posts (INSERT ... ON CONFLICT DO NOTHING on the unique key). A claim
holds a lease; one that was never marked posted and whose lease ran out (the claimer
crashed, or the post failed) is taken over with an UPDATE whose WHERE re-checks both, so
two takers cannot both win. A posted claim is never posted again. The one window left is
a crash after Slack accepted the message and before `posted_at` is written: that digest
is posted again when the lease runs out (at least once there; chat.postMessage has no
idempotency key).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal
from dateutil.rrule import rrulestr
from sqlalchemy import Integer, String, bindparam, column, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from intake.domain.model import DomainError, Kind, Severity, Status
from intake.i18n import Translator
from intake.texts import KIND_LABELS, SEVERITY_LABELS, label
from storage import models as m

if TYPE_CHECKING:
    from intake.services import Context
    from intake.settings import Settings

log = logging.getLogger("meld.digest")

DIGEST_LEASE = timedelta(minutes=5)   # a claim not posted within this may be taken over
POST_DEADLINE = 120.0                 # seconds one post may take; well inside the lease
LIST_MAX = 50                         # rows fetched per list; the rest is counted
TOP_SUGGESTIONS = 5
TREND_WEEKS = 4
RETRY_BASE_SECONDS = 60.0             # the scheduler's first retry after a failed post
RETRY_MAX_SECONDS = 3600.0
MAX_SLEEP_SECONDS = 600.0             # the scheduler re-reads the clock at least this often

_WEEK_RE = re.compile(r"^\s*(\d{4})-?[Ww](\d{1,2})\s*$")


# ---------------------------------------------------------------- ISO weeks


@dataclass(frozen=True, slots=True)
class IsoWeek:
    """An ISO 8601 week, Monday to Sunday, in local time."""

    year: int
    week: int

    @property
    def key(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def start(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def end(self) -> date:
        """The Sunday, inclusive."""
        return self.start + timedelta(days=6)

    def bounds(self, tz: str) -> tuple[datetime, datetime]:
        """[Monday 00:00, next Monday 00:00) local time, as UTC instants."""
        zone = ZoneInfo(tz)
        start = datetime.combine(self.start, time(0), tzinfo=zone)
        end = datetime.combine(self.start + timedelta(days=7), time(0), tzinfo=zone)
        return start.astimezone(UTC), end.astimezone(UTC)

    def shifted(self, weeks: int) -> IsoWeek:
        return week_of(self.start + timedelta(weeks=weeks))


def parse_week(value: str) -> IsoWeek:
    """'2026-W10' (also '2026W10', '2026-w1') -> IsoWeek; ValueError if there is no such week."""
    match = _WEEK_RE.match(value or "")
    if not match:
        raise ValueError(f"not an ISO week: {value!r} (write it like 2026-W10)")
    year, week = int(match.group(1)), int(match.group(2))
    try:
        date.fromisocalendar(year, week, 1)  # refuses W00, W54, and W53 of 52-week years
    except ValueError:
        raise ValueError(f"{year} has no ISO week {week}") from None
    return IsoWeek(year, week)


def week_of(day: date) -> IsoWeek:
    year, week, _ = day.isocalendar()
    return IsoWeek(year, week)


def week_ended_before(moment: datetime, tz: str = "Europe/Oslo") -> IsoWeek:
    """The last ISO week that had ended at `moment` (local time): Monday 08:00 -> last week."""
    local = moment.astimezone(ZoneInfo(tz)).date()
    return week_of(local - timedelta(days=local.isoweekday()))


# ---------------------------------------------------------------- schedule


def _rule_around(rule: str, moment: datetime, zone: ZoneInfo) -> tuple[Any, datetime]:
    """The rule expanded in naive local time from a DTSTART shortly before `moment`."""
    local = moment.astimezone(zone).replace(tzinfo=None)
    if "DTSTART" in rule.upper():
        return rrulestr(rule, ignoretz=True), local
    dtstart = datetime.combine(local.date() - timedelta(days=8), time(0))
    return rrulestr(rule, dtstart=dtstart), local


def _to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    # a wall-clock time in a spring-forward gap resolves forward (02:30 -> 03:30 CEST)
    return local.replace(tzinfo=zone).astimezone(UTC)


def next_run(after: datetime, rule: str, tz: str = "Europe/Oslo") -> datetime:
    """The first occurrence of `rule` (local wall-clock time in tz) strictly after `after`."""
    zone = ZoneInfo(tz)
    expanded, local = _rule_around(rule, after, zone)
    candidate = expanded.after(local - timedelta(hours=3), inc=False)
    while candidate is not None and _to_utc(candidate, zone) <= after:
        candidate = expanded.after(candidate, inc=False)
    if candidate is None:
        raise ValueError("the digest rule has no further occurrences")
    return _to_utc(candidate, zone)


def previous_run(before: datetime, rule: str, tz: str = "Europe/Oslo") -> datetime | None:
    """The last occurrence of `rule` at or before `before` (looking back about a week)."""
    zone = ZoneInfo(tz)
    expanded, local = _rule_around(rule, before, zone)
    candidate = expanded.before(local + timedelta(hours=3), inc=True)
    while candidate is not None and _to_utc(candidate, zone) > before:
        candidate = expanded.before(candidate, inc=False)
    return _to_utc(candidate, zone) if candidate is not None else None


# ---------------------------------------------------------------- content


@dataclass(frozen=True, slots=True)
class Count:
    key: str
    label: str   # category label; kinds and severities are translated by the renderer
    count: int


@dataclass(frozen=True, slots=True)
class WaitingItem:
    reference: str
    category: str          # label
    days: int              # since it was reported
    status: str
    has_feedback: bool


@dataclass(frozen=True, slots=True)
class NeedsInfoItem:
    reference: str
    category: str
    days: int              # since the group asked


@dataclass(frozen=True, slots=True)
class LearningItem:
    reference: str
    category: str
    learning_point: str    # the group's own words, written when closing
    measure: str


@dataclass(frozen=True, slots=True)
class SuggestionItem:
    reference: str
    category: str
    plus_ones: int
    plus_ones_this_week: int


@dataclass(frozen=True, slots=True)
class UnreadItem:
    reference: str
    category: str
    days: int              # since the first unread message came in
    status: str            # at the end of the week (closed: reopen or not)


@dataclass(frozen=True, slots=True)
class Digest:
    """One week for the group: counts and short lists, no report text, no reporter."""

    week: IsoWeek
    generated_at: datetime
    stale_days: int
    total: int
    by_kind: tuple[Count, ...]
    by_category: tuple[Count, ...]
    by_severity: tuple[Count, ...]          # as reported
    waiting: tuple[WaitingItem, ...]        # oldest first, at most LIST_MAX
    waiting_total: int
    needs_info: tuple[NeedsInfoItem, ...]
    needs_info_total: int
    learned: tuple[LearningItem, ...]       # closed this week
    learned_total: int
    top_suggestions: tuple[SuggestionItem, ...]
    previous_weeks_total: int               # reports in the TREND_WEEKS weeks before
    as_of: datetime | None = None           # the state shown: the week's end (or now)
    unread: tuple[UnreadItem, ...] = ()     # a reporter's message the group has not read
    unread_total: int = 0
    ended: bool = True                      # False: a week still running, shown so far

    @property
    def is_empty(self) -> bool:
        return self.total == 0

    @property
    def previous_average(self) -> float:
        return self.previous_weeks_total / TREND_WEEKS


def _marginal(groups: list[tuple[str, str, str, int]], index: int) -> dict[str, int]:
    """Sum this week's counts of the grouped rows (at most kinds x categories x severities)
    over one of the three keys; zero counts are left out."""
    out: dict[str, int] = {}
    for row in groups:
        if row[3]:
            out[row[index]] = out.get(row[index], 0) + row[3]
    return out


def _in_order(counts: dict[str, int], order: list[str]) -> tuple[Count, ...]:
    rank = {key: i for i, key in enumerate(order)}
    return tuple(Count(key, key, counts[key])
                 for key in sorted(counts, key=lambda k: (rank.get(k, len(rank)), k)))


def _days(today: date, then: datetime, zone: ZoneInfo) -> int:
    """Calendar days from an instant to today, counted in local time (as people count)."""
    return max(0, (today - then.astimezone(zone).date()).days)


@dataclass(frozen=True, slots=True)
class _Queries:
    """The digest's statements for one dialect, built once; the week comes as parameters."""

    digest: Any


OPEN = ("received", "triage", "needs_info", "in_progress")


@functools.cache
def _queries(dialect: str) -> _Queries:
    r, wc = m.Report, m.ReportWeekCount
    stamp = r.reported_at.type  # binds instants as the columns store them
    monday, trend = bindparam("monday", type_=wc.week.type), bindparam("trend", type_=wc.week.type)
    start, asof = bindparam("start", type_=stamp), bindparam("asof", type_=stamp)
    cutoff = bindparam("cutoff", type_=stamp)

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
    # they had at :asof (`was`) and since when (`was_at`)
    moved = (
        "moved AS (SELECT c.id, c.reference, c.category_id, c.kind, c.reported_at, "  # noqa: S608
        "c.first_feedback_at, c.plus_one_count, c.learning_point, c.measure, "
        f"coalesce({json_status('a')}, 'received') AS was, "
        "coalesce(a.at, c.reported_at) AS was_at "
        "FROM (SELECT id, reference, category_id, kind, reported_at, first_feedback_at, "
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
    # waiting for the reporter: since the group asked (the status changed to needs_info)
    is_asked = f"FROM reports {hint('ix_reports_needs_info')} WHERE {m.NEEDS_INFO_PREDICATE}"
    changed = (f"FROM reports {hint('ix_reports_status_changed_at')} "
               "WHERE status_changed_at >= :asof")
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
        "FROM report_week_counts WHERE week >= :trend AND week < :monday) "
        # waiting now: whole weeks before the cutoff's from the triggers' row a week, the
        # cutoff's own week from the index (at most a week of reports); then those whose
        # status changed after :asof count as they were at :asof, and those given their
        # first feedback after :asof count too
        "UNION ALL SELECT NULL, 'waiting', NULL, (SELECT coalesce(sum(waiting), 0) FROM "
        "report_open_weeks WHERE week < :cutoff_monday) + (SELECT count(*) "
        f"{is_waiting} AND reported_at >= :cutoff_week) - (SELECT count(*) {changed} "
        f"AND reported_at < :cutoff AND ({m.WAITING_PREDICATE})) + (SELECT count(*) "
        f"FROM moved WHERE reported_at < :cutoff AND {was_waiting}) + (SELECT count(*) "
        f"{fed_later}) "
        # waiting for the reporter's answer: all of them now, from the row a week, then
        # as they were at :asof
        "UNION ALL SELECT NULL, 'needs_info', NULL, (SELECT coalesce(sum(asked), 0) "
        f"FROM report_open_weeks) - (SELECT count(*) {changed} "
        f"AND {m.NEEDS_INFO_PREDICATE}) + (SELECT count(*) FROM moved "
        "WHERE was = 'needs_info') "
        # closed in the week and still closed at :asof (closed_at is cleared by
        # reopening; a report closed in the week and reopened after it is in `moved`)
        "UNION ALL SELECT NULL, 'learned', NULL, (SELECT count(*) FROM reports "
        "WHERE closed_at >= :start AND closed_at < :asof) + (SELECT count(*) FROM moved "
        "WHERE was = 'closed' AND was_at >= :start) "
        f"UNION ALL SELECT NULL, 'unread', NULL, (SELECT count(*) {is_unread}) "
        "+ (SELECT count(*) FROM cleared WHERE since IS NOT NULL)"
    )
    return _Queries(
        # One statement: the lists, each the first rows of its index in the order shown
        # (and the few reports whose state at :asof differs from now), tagged with its
        # number and sorted by it, then by its own order: `backed` (the +1s, most first),
        # `key_at` and id; then every count (list 9). The reports changed after :asof are
        # read once, for all of them.
        digest=text(
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
            # 9: the counts, n in `backed`, kind, category and severity in the text columns
            f"UNION ALL SELECT 9, n, {none('timestamptz')}, 0, {none('text')}, category_id, "
            f"{none('timestamptz')}, kind, severity, {none('bigint')} FROM ({counts}) AS counts "
            "ORDER BY list, backed DESC, key_at, id",
        ).bindparams(monday, trend, cutoff, start, asof,
                     bindparam("cutoff_monday", type_=wc.week.type),
                     bindparam("cutoff_week", type_=stamp)).columns(
            column("list", Integer), column("backed", Integer), column("key_at", stamp),
            column("id", Integer), column("reference", String), column("category_id", String),
            column("other_at", stamp), column("text_a", String), column("text_b", String),
            column("this_week", Integer)),
    )


def has_ended(week: IsoWeek, now: datetime, tz: str) -> bool:
    """Whether the ISO week (local time in tz) is over at `now`."""
    return week.bounds(tz)[1] <= now


def check_begun(week: IsoWeek, now: datetime, tz: str) -> None:
    """A week that has not begun has no digest: DomainError('week_not_started')."""
    if week.bounds(tz)[0] > now:
        raise DomainError("week_not_started", week=week.key)


def check_postable(week: IsoWeek, now: datetime, tz: str) -> None:
    """The rule for posting: a digest is posted only for a week that has ended. Posting a
    week still running would also claim it, and the full week's digest would then never
    be posted. DomainError('week_not_ended') otherwise."""
    if not has_ended(week, now, tz):
        raise DomainError("week_not_ended", week=week.key)


def build_digest(*, ctx: Context, week: str | None, now: datetime,
                 locale: str | None = None) -> Digest:
    """The digest of one ISO week (default: the last full week before `now`), as of the
    end of that week.

    "As of the end of the week" is the instant the week ends: the following Monday 00:00
    local time (MELD_TIMEZONE). Everything in the digest is as it stood then, whenever it
    is built (on Monday morning or months later): new reports by kind, category and
    severity are those reported in the week (local dates, by their category now); closed
    are those closed in the week and not reopened before its end; waiting, needs-info,
    unread messages and the suggestions' +1s are the state at that instant, from the
    status history in the audit log, the first-feedback and unread times and the +1s'
    times; days are counted in local calendar days up to the Monday. The learning points
    are the group's words as they stand now. A week still running (a dry run) is shown as
    it stands at `now`. A week that has not begun is refused (DomainError
    'week_not_started'): there is nothing to describe. Posting has its own rule
    (`check_postable`).

    None of it reads the week's reports one by one, nor loops over reports in Python. Two
    statements: every count (from report_week_counts and report_open_weeks, kept by
    triggers, and small index counts), and the lists (each the first entries of an index,
    in the order shown). The reports whose status changed after the week's end are read
    with their audit events (a few for last week; more for a week long past).
    """
    settings = ctx.settings
    tz = settings.timezone
    zone = ZoneInfo(tz)
    lang = locale or settings.locale
    period = parse_week(week) if week else week_ended_before(now, tz)
    check_begun(period, now, tz)
    start, end = period.bounds(tz)
    asof = min(end, now)
    label_of = ctx.taxonomy.category_label
    q = _queries(ctx.db.dialect)
    # waiting "more than N days": reported before the same local time N days earlier
    cutoff = (asof.astimezone(zone) - timedelta(days=settings.digest_stale_days)) \
        .astimezone(UTC)
    cutoff_week = week_of(ctx.local_date(cutoff))
    params = {"monday": period.start, "trend": period.shifted(-TREND_WEEKS).start,
              "start": start, "asof": asof, "cutoff": cutoff,
              "cutoff_monday": cutoff_week.start, "cutoff_week": cutoff_week.bounds(tz)[0]}

    with ctx.db.reading() as session:
        conn = session.connection()  # plain rows, no ORM loading
        rows = conn.execute(q.digest, params).all()

    lists: tuple[list[Any], ...] = ([], [], [], [], [])  # by list number, in one pass
    count_rows = []
    for row in rows:
        if row[0] == 9:  # a count: kind, category, severity, n
            count_rows.append((row[7], row[5], row[8], row[1]))
        else:
            lists[row[0]].append(row)
    today = ctx.local_date(asof)
    groups = [(kind, category, severity, int(n))
              for kind, category, severity, n in count_rows if kind is not None]
    totals = {name: int(n) for kind, name, _, n in count_rows if kind is None}
    total = sum(g[3] for g in groups)
    categories = _marginal(groups, 1)
    labels: dict[str, str] = {}

    def cat(key: str, lang: str) -> str:  # a few categories, each looked up once
        if key not in labels:
            labels[key] = label_of(key, lang)
        return labels[key]

    return Digest(
        week=period, generated_at=now, stale_days=settings.digest_stale_days, total=total,
        by_kind=_in_order(_marginal(groups, 0), [k.value for k in Kind]),
        by_category=tuple(
            Count(key, cat(key, lang), n)
            for key, n in sorted(categories.items(), key=lambda kv: (-kv[1], cat(kv[0], lang)))
        ),
        by_severity=_in_order(_marginal(groups, 2), [s.value for s in Severity]),
        # the lists' columns: list, backed, key_at, id, reference, category_id, other_at,
        # text_a, text_b, this_week (unpacked by position: cheaper than by name); a list
        # merges a few rows whose state changed after the week into its index's first ones
        waiting=tuple(WaitingItem(ref, cat(cid, lang), _days(today, reported, zone), status,
                                  feedback is not None)
                      for _, _, reported, _, ref, cid, feedback, status, _, _
                      in lists[0][:LIST_MAX]),
        waiting_total=totals["waiting"],
        needs_info=tuple(NeedsInfoItem(ref, cat(cid, lang), _days(today, asked or updated, zone))
                         for _, _, asked, _, ref, cid, updated, _, _, _ in lists[1][:LIST_MAX]),
        needs_info_total=totals["needs_info"],
        learned=tuple(LearningItem(ref, cat(cid, lang), lp or "", me or "")
                      for _, _, _, _, ref, cid, _, lp, me, _ in lists[2][:LIST_MAX]),
        learned_total=totals["learned"],
        top_suggestions=tuple(SuggestionItem(ref, cat(cid, lang), int(n), int(n_week or 0))
                              for _, n, _, _, ref, cid, _, _, _, n_week in lists[3]),
        previous_weeks_total=totals["previous"],
        as_of=asof,
        ended=asof >= end,
        unread=tuple(UnreadItem(ref, cat(cid, lang), _days(today, since, zone), status)
                     for _, _, since, _, ref, cid, _, status, _, _ in lists[4][:LIST_MAX]),
        unread_total=totals["unread"],
    )


# ---------------------------------------------------------------- shared wording


def title(d: Digest, tr: Translator) -> str:
    return tr("Weekly digest for Forbedringsgruppen, week {week} {year}",
              week=d.week.week, year=d.week.year)


def period_line(d: Digest, tr: Translator) -> str:
    return tr("{first} to {last}", first=tr.date(d.week.start, "d. MMMM"),
              last=tr.date(d.week.end))


def as_of_line(d: Digest, tr: Translator) -> str | None:
    """For a week still running (a dry run): that it shows the week so far."""
    if d.ended or d.as_of is None:
        return None
    return tr("The week has not ended: this is how it stands at {time}.",
              time=tr.datetime(d.as_of))


def summary_line(d: Digest, tr: Translator) -> str:
    if d.is_empty:
        return tr("No new reports this week")
    return tr("New reports this week: {count}", count=d.total)


def trend_line(d: Digest, tr: Translator) -> str:
    """This week against the average of the four weeks before, in one line."""
    if d.previous_weeks_total == 0:
        return tr("Trend: {count} this week; none in the four weeks before.", count=d.total)
    average = d.previous_average
    change = round((d.total - average) / average * 100)
    change_text = tr("unchanged") if change == 0 else f"{change:+d} %".replace("-", "−")
    return tr("Trend: {count} this week against an average of {average} a week in the four "
              "weeks before ({change}).", count=d.total,
              average=format_decimal(average, format="#,##0.#", locale=tr.babel_locale),
              change=change_text)


def days_text(days: int, tr: Translator) -> str:
    return tr("1 day") if days == 1 else tr("{days} days", days=days)


def breakdowns(d: Digest, tr: Translator) -> list[tuple[str, list[tuple[str, int]]]]:
    """(heading, [(label, count)]) for kind, category and reported severity."""
    return [
        (tr("By kind"), [(label(KIND_LABELS, c.key, tr), c.count) for c in d.by_kind]),
        (tr("By category"), [(c.label, c.count) for c in d.by_category]),
        (tr("By severity (as reported)"),
         [(label(SEVERITY_LABELS, c.key, tr), c.count) for c in d.by_severity]),
    ]


def waiting_heading(d: Digest, tr: Translator) -> str:
    return tr("Waiting more than {days} days for triage or feedback, oldest first",
              days=d.stale_days)


def waiting_line(item: WaitingItem, tr: Translator) -> str:
    if item.status in (Status.RECEIVED, Status.TRIAGE):
        why = (tr("waiting for triage") if item.has_feedback
               else tr("waiting for triage, no feedback yet"))
    else:
        why = tr("no feedback to the reporter yet")
    return f"{item.reference} · {item.category} · {days_text(item.days, tr)} · {why}"


def needs_info_line(item: NeedsInfoItem, tr: Translator) -> str:
    return (f"{item.reference} · {item.category} · "
            + tr("asked {days} ago", days=days_text(item.days, tr)))


def unread_heading(d: Digest, tr: Translator) -> str:
    return tr("Unread answers from reporters, oldest first")


def unread_line(item: UnreadItem, tr: Translator) -> str:
    line = (f"{item.reference} · {item.category} · "
            + tr("unread for {days}", days=days_text(item.days, tr)))
    if item.status == Status.CLOSED:
        line += " · " + tr("closed: reopen?")
    return line


def suggestion_line(item: SuggestionItem, tr: Translator) -> str:
    line = f"{item.reference} · {item.category} · +1: {item.plus_ones}"
    if item.plus_ones_this_week:
        line += " " + tr("({count} this week)", count=item.plus_ones_this_week)
    return line


def more_line(count: int, tr: Translator) -> str:
    return tr("… and {count} more", count=count)


# ---------------------------------------------------------------- plain text


def render_text(digest: Digest, tr: Translator) -> str:
    """The digest as plain text (what `meld digest --dry-run` prints)."""
    d = digest
    out = [title(d, tr), period_line(d, tr)]
    as_of = as_of_line(d, tr)
    if as_of:
        out.append(as_of)
    out += ["", summary_line(d, tr)]
    if not d.is_empty:
        out.append(trend_line(d, tr))
        for heading, rows in breakdowns(d, tr):
            out += ["", heading + ":"]
            out += [f"  {name}: {count}" for name, count in rows]
    elif d.previous_weeks_total:
        out.append(trend_line(d, tr))

    out += ["", waiting_heading(d, tr) + ":"]
    if d.waiting:
        out += ["  " + waiting_line(w, tr) for w in d.waiting]
        if d.waiting_total > len(d.waiting):
            out.append("  " + more_line(d.waiting_total - len(d.waiting), tr))
    else:
        out.append("  " + tr("None."))

    if d.needs_info:
        out += ["", tr("Waiting for more information from the reporter") + ":"]
        out += ["  " + needs_info_line(n, tr) for n in d.needs_info]
        if d.needs_info_total > len(d.needs_info):
            out.append("  " + more_line(d.needs_info_total - len(d.needs_info), tr))

    if d.unread:
        out += ["", unread_heading(d, tr) + ":"]
        out += ["  " + unread_line(u, tr) for u in d.unread]
        if d.unread_total > len(d.unread):
            out.append("  " + more_line(d.unread_total - len(d.unread), tr))

    if d.learned:
        out += ["", tr("This we have learned (closed this week)") + ":"]
        for item in d.learned:
            out.append(f"  {item.reference} · {item.category}")
            out.append("    " + tr("Learning point") + ": " + _one_line(item.learning_point))
            out.append("    " + tr("Measure") + ": " + _one_line(item.measure))
        if d.learned_total > len(d.learned):
            out.append("  " + more_line(d.learned_total - len(d.learned), tr))

    if d.top_suggestions:
        out += ["", tr("Most supported suggestions") + ":"]
        out += ["  " + suggestion_line(s, tr) for s in d.top_suggestions]
    return "\n".join(out) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------- exactly once


@dataclass(frozen=True, slots=True)
class RunState:
    """What `digest_runs` says about one (channel, period)."""

    posted_at: datetime | None
    lease_until: datetime
    attempts: int
    last_error: str | None


def digest_channel(settings: Settings) -> str | None:
    """The claim key of the configured destination: 'slack:<triage channel id>', or None."""
    if settings.slack_enabled and settings.slack_triage_channel:
        return f"slack:{settings.slack_triage_channel}"
    return None


def run_state(ctx: Context, channel: str, period: str) -> RunState | None:
    with ctx.db.reading() as session:
        row = session.execute(
            select(m.DigestRun.posted_at, m.DigestRun.lease_until, m.DigestRun.attempts,
                   m.DigestRun.last_error)
            .where(m.DigestRun.channel == channel, m.DigestRun.period == period)
        ).one_or_none()
    return RunState(*row) if row is not None else None


def claim(ctx: Context, channel: str, period: str, *,
          lease: timedelta = DIGEST_LEASE) -> str | None:
    """Claim (channel, period) in its own transaction: a token if this caller may post.

    A new row is inserted; if the row exists, it is taken over only when it was never
    posted and its lease has run out (one UPDATE whose WHERE checks both, so of two
    concurrent takers only one changes the row).
    """
    now = ctx.clock()
    token = uuid.uuid4().hex
    values = {"channel": channel, "period": period, "claimed_at": now, "claimed_by": token,
              "lease_until": now + lease, "attempts": 1}
    table = m.DigestRun.__table__
    with ctx.db.transaction() as session:
        dialect = session.get_bind().dialect.name
        if dialect in ("postgresql", "sqlite"):
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            stmt = (insert(table).values(**values)
                    .on_conflict_do_nothing(index_elements=["channel", "period"])
                    .returning(table.c.id))
            inserted = session.execute(stmt).scalar_one_or_none() is not None
        else:  # pragma: no cover - other databases: a unique violation means "taken"
            try:
                with session.begin_nested():
                    session.execute(table.insert().values(**values))
                inserted = True
            except IntegrityError:
                inserted = False
    if inserted:
        return token
    with ctx.db.transaction() as session:
        taken = session.execute(
            update(table)
            .where(table.c.channel == channel, table.c.period == period,
                   table.c.posted_at.is_(None), table.c.lease_until < now)
            .values(claimed_at=now, claimed_by=token, lease_until=now + lease,
                    attempts=table.c.attempts + 1)
        ).rowcount
    return token if taken == 1 else None


def _mark_posted(ctx: Context, channel: str, period: str, token: str) -> bool:
    table = m.DigestRun.__table__
    now = ctx.clock()
    with ctx.db.transaction() as session:
        done = session.execute(
            update(table)
            .where(table.c.channel == channel, table.c.period == period,
                   table.c.claimed_by == token, table.c.posted_at.is_(None))
            .values(posted_at=now, lease_until=now, last_error=None)
        ).rowcount
    return done == 1


def _release(ctx: Context, channel: str, period: str, token: str, error: str) -> None:
    """A failed post: free the claim at once (the caller decides when to try again)."""
    table = m.DigestRun.__table__
    now = ctx.clock()
    with ctx.db.transaction() as session:
        session.execute(
            update(table)
            .where(table.c.channel == channel, table.c.period == period,
                   table.c.claimed_by == token, table.c.posted_at.is_(None))
            .values(lease_until=now, last_error=error[:200])
        )


def _error_code(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    return str(code) if isinstance(code, str) and code else type(exc).__name__


Poster = Callable[[Digest], Awaitable[None]] | Callable[[Digest], None]


def _is_async(post: Poster) -> bool:
    return inspect.iscoroutinefunction(post) or inspect.iscoroutinefunction(
        getattr(post, "__call__", None))  # noqa: B004 - an object with `async def __call__`


async def run_digest(*, ctx: Context, channel: str, period: str, post: Poster,
                     lease: timedelta = DIGEST_LEASE) -> bool:
    """Claim (channel, period), build the digest, post it, mark it posted.

    Returns True if this call posted; False if the period was posted already or another
    live claim holds it. A failing post frees the claim, records the error code and
    raises. `post` may be a coroutine function or a plain function (run in a thread). A
    week that has not ended is refused before anything is claimed (`check_postable`).
    """
    week = parse_week(period)
    check_postable(week, ctx.clock(), ctx.settings.timezone)
    token = await asyncio.to_thread(claim, ctx, channel, week.key, lease=lease)
    if token is None:
        log.info("digest %s for %s: claimed or posted elsewhere; not posting", week.key,
                 channel)
        return False
    try:
        digest = await asyncio.to_thread(build_digest, ctx=ctx, week=week.key,
                                         now=ctx.clock())
        async with asyncio.timeout(min(POST_DEADLINE, lease.total_seconds() / 2)):
            if _is_async(post):
                await post(digest)  # type: ignore[misc]
            else:
                result = await asyncio.to_thread(post, digest)
                if inspect.isawaitable(result):
                    await result
    except BaseException as exc:
        code = _error_code(exc)
        log.warning("digest %s for %s: post failed (%s); the claim is freed for a retry",
                    week.key, channel, code)
        await asyncio.shield(asyncio.to_thread(_release, ctx, channel, week.key, token, code))
        raise
    if not await asyncio.to_thread(_mark_posted, ctx, channel, week.key, token):
        log.warning("digest %s for %s: posted, but the claim had been taken over (lease "
                    "ran out while posting); it may have been posted twice", week.key, channel)
    else:
        log.info("digest %s for %s: posted", week.key, channel)
    return True


# ---------------------------------------------------------------- in-process scheduler


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))
    except TimeoutError:
        pass


async def digest_scheduler(ctx: Context, settings: Settings, post: Poster,
                           stop: asyncio.Event, *, channel: str | None = None,
                           max_sleep: float = MAX_SLEEP_SECONDS,
                           retry_base: float = RETRY_BASE_SECONDS) -> None:
    """Post the digest at every occurrence of settings.digest_rrule until `stop` is set.

    On start it first catches up on the last scheduled run (the week that ended before
    it) if that digest is not posted yet (no claim, or a stale one). Every replica may run
    this: the claim in `digest_runs` lets exactly one of them post. A failed post, or a
    claim another process holds, is retried until the next occurrence comes due. Times
    come from ctx.clock; the loop re-reads it at least every `max_sleep` seconds.
    """
    channel = channel or digest_channel(settings)
    if channel is None:
        log.info("digest scheduler: no destination configured; not running")
        return
    try:
        await _schedule(ctx, settings, post, stop, channel, max_sleep, retry_base)
    except ValueError as exc:  # the rule ran out of occurrences (COUNT or UNTIL)
        log.error("digest scheduler stopped: %s", exc)


async def _schedule(ctx: Context, settings: Settings, post: Poster, stop: asyncio.Event,
                    channel: str, max_sleep: float, retry_base: float) -> None:
    rule, tz = settings.digest_rrule, settings.timezone
    clock = ctx.clock
    due: datetime | None = previous_run(clock(), rule, tz)  # catch up on the last one
    retry_at: datetime | None = None
    failures = 0
    log.info("digest scheduler: next digest %s",
             next_run(clock(), rule, tz).isoformat())
    while not stop.is_set():
        now = clock()
        if due is None:
            due = next_run(now, rule, tz)
        newest = previous_run(now, rule, tz)
        if newest is not None and newest > due:
            due, retry_at, failures = newest, None, 0  # a newer run came due meanwhile
        wake = retry_at or due
        if wake > now:
            await _sleep(stop, min(max_sleep, (wake - now).total_seconds()))
            continue
        period = week_ended_before(due, tz).key
        try:
            state = await asyncio.to_thread(run_state, ctx, channel, period)
            if state is not None and state.posted_at is not None:
                posted = False
            else:
                posted = await run_digest(ctx=ctx, channel=channel, period=period, post=post)
                if not posted:
                    state = await asyncio.to_thread(run_state, ctx, channel, period)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed post or the database: retry with backoff
            failures += 1
            delay = min(RETRY_MAX_SECONDS, retry_base * 2 ** (failures - 1))
            retry_at = clock() + timedelta(seconds=delay)
            log.warning("digest %s: attempt %s failed (%s); retrying in %.0f s", period,
                        failures, _error_code(exc), delay)
            continue
        if posted or state is None or state.posted_at is not None:
            due, retry_at, failures = next_run(max(now, due), rule, tz), None, 0
            log.info("digest scheduler: next digest %s", due.isoformat())
        else:
            # another process holds a live claim: look again when its lease has run out
            retry_at = max(state.lease_until, clock()) + timedelta(seconds=1)

"""The weekly digest for Forbedringsgruppen: its content, door-neutral (`Digest`), and
the ISO weeks it is about.

`build_digest` reads one ISO week with the statement in `digest_query` (counts kept by
triggers, short lists read in index order) into a `Digest`: coded keys, references,
category labels, and the group's own learning points and measures. It never carries a
report's description or who reported it. A week's digest is the week as it stood when it
ended, whenever it is built (see `build_digest`); a digest is posted only for a week that
has ended (`check_postable`, in `digest_schedule.run_digest`).

`digest_text` words it (shared by the doors) and renders the plain text; `digest_schedule`
posts it exactly once per week. Doors, the CLI and tests import the data classes and
`build_digest` from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from intake.domain.model import PROBLEM_KINDS, DomainError, Kind, Severity
from intake.reporting.digest_query import LIST_MAX, digest_statement

if TYPE_CHECKING:
    from intake.services import Context

TREND_WEEKS = 4

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
class OverdueItem:
    reference: str
    category: str
    feedback_by: date      # the date promised, passed by the end of the week
    days: int              # since that date


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
    overdue: tuple[OverdueItem, ...] = ()   # the feedback-by date passed without feedback
    overdue_total: int = 0
    # good collaboration, counted apart: never in `total`, the breakdowns or the trend
    good_total: int = 0
    good_by_category: tuple[Count, ...] = ()

    @property
    def is_empty(self) -> bool:
        return self.total == 0 and self.good_total == 0

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


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _days(today: date, then: datetime, zone: ZoneInfo) -> int:
    """Calendar days from an instant to today, counted in local time (as people count)."""
    return max(0, (today - then.astimezone(zone).date()).days)


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
    severity are those reported in the week (local dates, by their category now), good
    collaboration counted apart (never in those counts nor in the trend); closed
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
    statement = digest_statement(ctx.db.dialect)
    # waiting "more than N days": reported before the same local time N days earlier
    cutoff = (asof.astimezone(zone) - timedelta(days=settings.digest_stale_days)) \
        .astimezone(UTC)
    cutoff_week = week_of(ctx.local_date(cutoff))
    params = {"monday": period.start, "trend": period.shifted(-TREND_WEEKS).start,
              "start": start, "asof": asof, "cutoff": cutoff,
              "cutoff_monday": cutoff_week.start, "cutoff_week": cutoff_week.bounds(tz)[0],
              # the feedback-by date (local reported date + feedback_days) passed by :asof
              "overdue": _local_midnight(ctx.local_date(asof)
                                         - timedelta(days=settings.feedback_days), zone)}

    with ctx.db.reading() as session:
        conn = session.connection()  # plain rows, no ORM loading
        rows = conn.execute(statement, params).all()

    lists: tuple[list[Any], ...] = ([], [], [], [], [], [])  # by list number, in one pass
    count_rows = []
    for row in rows:
        if row[0] == 9:  # a count: kind, category, severity, n
            count_rows.append((row[7], row[5], row[8], row[1]))
        else:
            lists[row[0]].append(row)
    today = ctx.local_date(asof)
    counted = [(kind, category, severity, int(n))
               for kind, category, severity, n in count_rows if kind is not None]
    # good collaboration is counted apart, never among the other kinds' counts
    groups = [g for g in counted if g[0] != Kind.GOOD_COLLABORATION]
    good = _marginal([g for g in counted if g[0] == Kind.GOOD_COLLABORATION], 1)
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
        by_kind=_in_order(_marginal(groups, 0), [k.value for k in PROBLEM_KINDS]),
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
        overdue=tuple(OverdueItem(ref, cat(cid, lang), due, (today - due).days)
                      for _, _, reported, _, ref, cid, _, _, _, _ in lists[5][:LIST_MAX]
                      for due in (ctx.local_date(reported)
                                  + timedelta(days=settings.feedback_days),)),
        overdue_total=totals["overdue"],
        good_total=sum(good.values()),
        good_by_category=tuple(
            Count(key, cat(key, lang), n)
            for key, n in sorted(good.items(), key=lambda kv: (-kv[1], cat(kv[0], lang)))),
    )

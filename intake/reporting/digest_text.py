"""The weekly digest in words: the lines every door shares (`title`, `waiting_line`, ...)
and the plain text `meld digest --dry-run` prints (`render_text`).

The doors render the same `Digest` their own way (`bot.slack.digest`, `bot.teams.cards`)
with these lines; they, the CLI and tests import this module.
"""

from __future__ import annotations

from babel.numbers import format_decimal

from intake.domain.model import Status
from intake.i18n import Translator
from intake.reporting.digest import (
    Digest,
    NeedsInfoItem,
    OverdueItem,
    SuggestionItem,
    UnreadItem,
    WaitingItem,
)
from intake.texts import KIND_LABELS, SEVERITY_LABELS, label
from intake.texts_good import GOOD_DIGEST_LINE, GOOD_SECTION_TITLE

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
    line = tr("New reports this week: {count}", count=d.total)
    if d.good_total:  # counted apart, never in the count before it
        line += " · " + tr(GOOD_DIGEST_LINE, count=d.good_total)
    return line


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
    """(heading, [(label, count)]) for kind, category and reported severity, and good
    collaboration by category, counted apart (only the lists with any count)."""
    lists = [
        (tr("By kind"), [(label(KIND_LABELS, c.key, tr), c.count) for c in d.by_kind]),
        (tr("By category"), [(c.label, c.count) for c in d.by_category]),
        (tr("By severity (as reported)"),
         [(label(SEVERITY_LABELS, c.key, tr), c.count) for c in d.by_severity]),
        (tr(GOOD_SECTION_TITLE), [(c.label, c.count) for c in d.good_by_category]),
    ]
    return [(heading, rows) for heading, rows in lists if rows]


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


def overdue_heading(d: Digest, tr: Translator) -> str:
    return tr("Past the feedback date without feedback: {count}", count=d.overdue_total)


def overdue_line(item: OverdueItem, tr: Translator) -> str:
    return (f"{item.reference} · {item.category} · "
            + tr("promised by {date}, {days} ago", date=tr.date(item.feedback_by, "short"),
                 days=days_text(item.days, tr)))


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

    if d.overdue:
        out += ["", overdue_heading(d, tr) + ":"]
        out += ["  " + overdue_line(o, tr) for o in d.overdue]
        if d.overdue_total > len(d.overdue):
            out.append("  " + more_line(d.overdue_total - len(d.overdue), tr))

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

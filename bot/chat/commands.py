"""Running the triage command language shared by Slack `/triage` and Teams text.

`run_command(...)` parses one command line (`bot.chat.parsing`), makes ONE call into
intake.services for it and returns a door-neutral CommandResult that each door renders.
The services check roles, transitions and texts; nothing here decides what is allowed.
Command text is never logged: it may hold report text. The chat doors import this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from babel.numbers import format_percent

from bot.chat.parsing import (
    UNASSIGN_WORDS,
    Cmd,
    ParsedCommand,
    default_assignee,
    echo_word,
    help_text,
    parse,
    parse_error_text,
    slack_user_id,
    usage_line,
)
from intake import services
from intake.domain.model import Actor, DomainError
from intake.i18n import Translator
from intake.presenting import category_label, list_line, report_text, status_line
from intake.texts import (
    REDIRECT_LABELS,
    SEVERITY_LABELS,
    STATUS_LABELS,
    domain_error_text,
    label,
    similar_reasons_text,
)

LIST_LINES = 20  # lines shown by `liste`
LIST_FETCH = 200  # rows asked for, so the hint can say how many more there are
SEARCH_LINES = 10  # matches shown by `søk`, best first (one more is asked for, for the hint)
SIMILAR_LINES = 5  # reports shown by `lik`


@dataclass(frozen=True, slots=True)
class CommandResult:
    """A door-neutral answer: plain text, and what a door may do besides showing it."""

    text: str
    ok: bool = True
    dialog: str | None = None  # a door should open a form: "assess" or "close"
    reference: str | None = None
    report: services.ReportView | None = None  # for `vis`
    # for `liste`: the service's page as it came (up to LIST_FETCH rows, newest first);
    # the text shows the first LIST_LINES of them.
    page: services.Page | None = None


def _category_id(ctx: services.Context, word: str) -> str | None:
    """A category by id or by its label in either language (case-insensitive)."""
    wanted = word.strip().casefold()
    for cat in ctx.taxonomy.categories:
        if wanted in (cat.id, cat.nb.casefold(), cat.en.casefold()):
            return cat.id
    return None


def run_command(
    *,
    ctx: services.Context,
    actor: Actor,
    text: str,
    tr: Translator,
    assignee_of: Callable[[str], str] | None = None,
) -> CommandResult:
    """Parse one command line and run it; unknown input returns the help text (ok=False)."""
    cmd = parse(text)
    if cmd.name == Cmd.HELP:
        return CommandResult(help_text(tr))
    if cmd.name == Cmd.UNKNOWN:
        first = tr("Unknown command “{word}”.", word=echo_word(cmd.word))
        return CommandResult(f"{first}\n\n{help_text(tr)}", ok=False)
    if cmd.error is not None:
        return CommandResult(parse_error_text(cmd, tr), ok=False, reference=cmd.reference)
    try:
        return _run(ctx, actor, cmd, tr, assignee_of)
    except DomainError as err:
        return CommandResult(domain_error_text(err, tr), ok=False, reference=cmd.reference)


def _run(
    ctx: services.Context,
    actor: Actor,
    cmd: ParsedCommand,
    tr: Translator,
    assignee_of: Callable[[str], str] | None,
) -> CommandResult:
    ref = cmd.reference
    assert cmd.name in (Cmd.LIST, Cmd.REPORT, Cmd.SEARCH) or ref is not None

    def done(sentence: str, view: services.ReportView) -> CommandResult:
        return CommandResult(f"{sentence}\n{status_line(view, tr)}", reference=view.reference)

    match cmd.name:
        case Cmd.LIST:
            return _run_list(ctx, actor, cmd, tr)
        case Cmd.SEARCH:
            return _run_search(ctx, actor, cmd, tr)
        case Cmd.SIMILAR:
            return _run_similar(ctx, actor, cmd, tr)
        case Cmd.REPORT:
            url = services.report_link(ctx=ctx, actor=actor, period=cmd.args[0])
            return CommandResult(tr("The report for {period}: {url}\nThe link works for 24 "
                                    "hours; counts below 3 are shown as <3.",
                                    period=cmd.args[0].upper(), url=url))
        case Cmd.SHOW:
            view = services.get_report(ctx=ctx, actor=actor, reference=ref)
            return CommandResult(report_text(ctx, view, tr, for_group=actor.is_group),
                                 reference=view.reference, report=view)
        case Cmd.ASSESS:
            if not cmd.options:
                return CommandResult(tr("The assessment form for {reference} opens.",
                                        reference=ref), dialog="assess", reference=ref)
            opts = cmd.options
            category = opts.get("category")
            if category is not None:
                category = _category_id(ctx, category) or category
            breached = opts.get("breached")
            view = services.assess(
                ctx=ctx, actor=actor, reference=ref, category=category,
                subcategory=opts.get("subcategory"),
                assessed_severity=opts.get("severity"),
                agreement_reference=opts.get("agreement"),
                guideline_breached=None if breached is None else breached == "true",
            )
            facts = [
                (tr("Severity assessed"),
                 label(SEVERITY_LABELS, view.assessed_severity, tr) or "-"),
                (tr("Category"), category_label(ctx, view, tr)),
            ]
            if view.agreement_reference or view.guideline_breached:
                facts.append((tr("Guideline breached"), view.agreement_reference or tr("yes")))
            lines = [tr("The assessment of {reference} is saved.", reference=view.reference),
                     status_line(view, tr)]
            lines += [f"{name}: {value}" for name, value in facts]
            return CommandResult("\n".join(lines), reference=view.reference)
        case Cmd.ASSIGN:
            raw = cmd.text
            if raw.casefold() in UNASSIGN_WORDS:
                view = services.assign(ctx=ctx, actor=actor, reference=ref, assignee=None)
                return done(tr("{reference} is no longer assigned to anyone.",
                               reference=view.reference), view)
            try:
                assignee = assignee_of(raw) if assignee_of else default_assignee(raw)
            except ValueError:
                assignee = ""
            if not assignee:
                missing = tr("Something is missing.")
                return CommandResult(f"{missing}\n{usage_line(Cmd.ASSIGN, tr)}", ok=False,
                                     reference=ref)
            view = services.assign(ctx=ctx, actor=actor, reference=ref, assignee=assignee)
            shown = raw if slack_user_id(raw) else (view.assignee or assignee)
            return done(tr("{reference} is assigned to {assignee}.",
                           reference=view.reference, assignee=shown), view)
        case Cmd.STATUS:
            view = services.move_status(ctx=ctx, actor=actor, reference=ref,
                                        status=cmd.args[0], message=cmd.text or None)
            sentence = tr("{reference} has a new status.", reference=view.reference)
            if view.reporter_id:
                sentence += " " + tr("The reporter is told.")
            return done(sentence, view)
        case Cmd.REPLY:
            view = services.reply(ctx=ctx, actor=actor, reference=ref, text=cmd.text)
            return done(tr("Your answer on {reference} is sent to the reporter.",
                           reference=view.reference), view)
        case Cmd.REQUEST_INFO:
            view = services.request_info(ctx=ctx, actor=actor, reference=ref,
                                         question=cmd.text)
            return done(tr("Your question on {reference} is sent to the reporter; the report "
                           "waits for the answer.", reference=view.reference), view)
        case Cmd.NOTE:
            view = services.add_note(ctx=ctx, actor=actor, reference=ref, text=cmd.text)
            return done(tr("Internal note added to {reference}. The reporter does not see it.",
                           reference=view.reference), view)
        case Cmd.TITLE:
            title = None if cmd.text.strip() in UNASSIGN_WORDS else cmd.text
            saved = services.set_public_title(ctx=ctx, actor=actor, reference=ref, title=title)
            view = services.get_report(ctx=ctx, actor=actor, reference=ref, mark_read=False)
            if saved is None:
                return done(tr("{reference} has no public title: it is never suggested to "
                               "reporters.", reference=view.reference), view)
            return done(tr("The public title of {reference} is “{title}”.",
                           reference=view.reference, title=saved), view)
        case Cmd.REDIRECT:
            view = services.redirect(ctx=ctx, actor=actor, reference=ref, target=cmd.args[0],
                                     external_reference=cmd.args[1] if len(cmd.args) > 1
                                     else None, message=cmd.text or None)
            sentence = tr("{reference} is forwarded to {target}.", reference=view.reference,
                          target=label(REDIRECT_LABELS, view.redirect_target, tr))
            if view.redirect_reference:
                sentence += " " + tr("Their reference: {external_reference}.",
                                     external_reference=view.redirect_reference)
            if view.reporter_id or view.notify_email:
                sentence += " " + (tr("The reporter is told what to do there and where, "
                                      "with your message.") if cmd.text else
                                   tr("The reporter is told what to do there and where."))
            return done(sentence, view)
        case Cmd.DUPLICATE:
            view = services.mark_duplicate(ctx=ctx, actor=actor, reference=ref,
                                           duplicate_of=cmd.args[0])
            return done(tr("{reference} is marked as a duplicate of {other_reference}.",
                           reference=view.reference,
                           other_reference=view.duplicate_of or cmd.args[0]), view)
        case Cmd.CLOSE:
            if not cmd.options:
                return CommandResult(
                    tr("The closing form for {reference} opens: write what we learned and "
                       "the measure.", reference=ref), dialog="close", reference=ref)
            view = services.close(ctx=ctx, actor=actor, reference=ref,
                                  learning_point=cmd.options["learning"],
                                  measure=cmd.options["measure"])
            return done(tr("{reference} is closed.", reference=view.reference), view)
        case Cmd.REOPEN:
            view = services.reopen(ctx=ctx, actor=actor, reference=ref)
            return done(tr("{reference} is reopened and will be assessed again.",
                           reference=view.reference), view)
        case Cmd.PLUS_ONE:
            count = services.plus_one(ctx=ctx, actor=actor, reference=ref)
            return CommandResult(tr("+1 registered on {reference} ({count} in all).",
                                    reference=ref, count=count), reference=ref)
    raise AssertionError(cmd.name)  # pragma: no cover - parse() only yields the cases above


def _run_list(
    ctx: services.Context, actor: Actor, cmd: ParsedCommand, tr: Translator
) -> CommandResult:
    category = None
    if cmd.args:
        category = _category_id(ctx, cmd.args[0])
        if category is None:
            first = tr("I did not understand “{word}”: give a status, a kind or a category.",
                       word=echo_word(cmd.args[0]))
            return CommandResult(f"{first}\n{usage_line(Cmd.LIST, tr)}", ok=False)
    filters = services.ReportFilter(status=cmd.options.get("status"),
                                    kind=cmd.options.get("kind"), category=category,
                                    unread=cmd.options.get("unread") == "true")
    page = services.list_reports(ctx=ctx, actor=actor, filters=filters, limit=LIST_FETCH)
    if not page.items:
        return CommandResult(tr("No reports."), page=page)
    lines = [list_line(ctx, v, tr) for v in page.items[:LIST_LINES]]
    hidden = len(page.items) - LIST_LINES
    if page.next_cursor is not None:
        lines.append(tr("… and more than {count} more. Narrow the list with a status, "
                        "kind or category.", count=hidden))
    elif hidden > 0:
        lines.append(tr("… and {count} more. Narrow the list with a status, kind or "
                        "category.", count=hidden))
    return CommandResult("\n".join(lines), page=page)


def _run_search(
    ctx: services.Context, actor: Actor, cmd: ParsedCommand, tr: Translator
) -> CommandResult:
    """`søk`: one line per match as in `liste` (coded fields only), best match first."""
    query = cmd.text
    views = services.search_reports(ctx=ctx, actor=actor, query=query,
                                     limit=SEARCH_LINES + 1)
    if not views:
        return CommandResult(tr("No reports match “{query}”.", query=echo_word(query)))
    lines = [tr("Reports matching “{query}”, best match first:", query=echo_word(query))]
    lines += [list_line(ctx, v, tr) for v in views[:SEARCH_LINES]]
    if len(views) > SEARCH_LINES:
        lines.append(tr("… and more. Add a word to narrow the search."))
    return CommandResult("\n".join(lines))


def _run_similar(
    ctx: services.Context, actor: Actor, cmd: ParsedCommand, tr: Translator
) -> CommandResult:
    """`lik REF`: the reports most like this one, open ones first: reference, status, how
    alike (a percentage) and why, never anybody's text."""
    assert cmd.reference is not None
    found = services.similar_reports(ctx=ctx, actor=actor, reference=cmd.reference,
                                     limit=SIMILAR_LINES)
    if not found:
        return CommandResult(tr("No similar reports."), reference=cmd.reference)
    lines = [tr("Reports like {reference}, open ones first:", reference=cmd.reference)]
    for match in found:
        parts = [match.view.reference, label(STATUS_LABELS, match.view.status, tr),
                 tr("{percent} alike", percent=format_percent(match.score,
                                                              locale=tr.babel_locale)),
                 similar_reasons_text(match.reasons, tr)]
        lines.append(" · ".join(p for p in parts if p))
    return CommandResult("\n".join(lines), reference=cmd.reference)


__all__ = [
    "CommandResult",
    "run_command",
]

"""`meld triage ...`: Forbedringsgruppen's work on one report (assess, assign, status, note,
reply, ask, redirect, duplicate, close, reopen), each one call into `intake.services`.
`intake.cli.main` registers them through `add_parser(sub, tr, taxonomy)`; no other module
imports this one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from intake import services
from intake.cli.base import cli_actor
from intake.domain.model import DomainError, RedirectTarget, Severity, Status
from intake.i18n import N_
from intake.texts import REDIRECT_LABELS, SEVERITY_LABELS, STATUS_LABELS, label

if TYPE_CHECKING:
    from intake.cli.base import Cli
    from intake.domain.taxonomy import Taxonomy
    from intake.i18n import Translator

# statuses `meld triage status` does not set itself: the command that does, and its words
_DEDICATED = {
    Status.CLOSED: ("close", (N_("LEARNING_POINT"), N_("MEASURE"))),
    Status.NEEDS_INFO: ("ask", (N_("QUESTION"),)),
    Status.REDIRECTED: ("redirect", (N_("TARGET"),)),
    Status.DUPLICATE: ("duplicate", (N_("OTHER_REF"),)),
}
_SIMPLE_STATUSES = (Status.TRIAGE, Status.IN_PROGRESS, Status.REJECTED)


def _dedicated_command(tr: Translator, status: str, reference: str) -> str:
    """`meld triage close MELD-2026-0001 LÆRINGSPUNKT TILTAK` for status 'closed'."""
    if status == Status.TRIAGE:  # from closed: reopening is its own operation
        name, words = "reopen", ()
    else:
        name, words = _DEDICATED[Status(status)]
    return " ".join(("meld triage", name, reference, *(tr(w) for w in words)))


def cmd_triage_status(cli: Cli, args: argparse.Namespace) -> int:
    tr = cli.tr
    if args.status not in (*_SIMPLE_STATUSES, *_DEDICATED):
        print("meld: " + tr("Unknown status “{value}”. Choose one of: {values}.",
                            value=args.status[:40], values=", ".join(_SIMPLE_STATUSES)),
              file=sys.stderr)
        return 2
    if args.status in _DEDICATED:
        print("meld: " + tr("The status “{label}” is set with its own command: {command}",
                            label=label(STATUS_LABELS, args.status, tr),
                            command=_dedicated_command(tr, args.status, args.reference)),
              file=sys.stderr)
        return 2
    try:
        return _triage(cli, services.move_status, reference=args.reference,
                       status=args.status, message=args.message)
    except DomainError as exc:
        if exc.code != "status_needs_details":
            raise
        print("meld: " + tr("The status “{label}” is set with its own command: {command}",
                            label=label(STATUS_LABELS, args.status, tr),
                            command=_dedicated_command(tr, args.status, args.reference)),
              file=sys.stderr)
        return 2


def _triage(cli: Cli, op: Callable[..., Any], **kwargs: Any) -> int:
    ctx = cli.ctx
    view = op(ctx=ctx, actor=cli_actor(), **kwargs)
    tr = cli.tr
    if isinstance(view, services.ReportView):
        print(f"{view.reference}: {label(STATUS_LABELS, view.status, tr)}")
    else:
        print(view)
    return 0


def add_parser(sub: Any, tr: Translator, taxonomy: Taxonomy | None = None) -> None:
    """Register `triage` on the `meld` parser; with the taxonomy, the help lists the
    category ids."""
    from intake.cli.args import choices_help

    if taxonomy is not None:
        assess_category_help = choices_help(
            tr, tr("the category"), [c.id for c in taxonomy.active_categories()],
            {c.id: c.label(tr.locale) for c in taxonomy.categories})
    else:
        assess_category_help = tr("the category id, e.g. discharge_summary")
    tg = sub.add_parser("triage", help=tr("Forbedringsgruppen's work on one report"))
    tgs = tg.add_subparsers(dest="triage_command", required=True, title=tr("commands"),
                            metavar=tr("COMMAND"))
    ref_help = tr("the report's reference, e.g. MELD-2026-0042")

    def op(name: str, help_: str, fn: Callable[..., Any],
           params: Sequence[tuple[str, str, str, dict[str, Any]]] = (),
           optional: Sequence[tuple[str, str, dict[str, Any]]] = ()) -> argparse.ArgumentParser:
        sp = tgs.add_parser(name, help=help_, description=help_)
        sp.add_argument("reference", metavar="REF", help=ref_help)
        for dest, metavar, text, extra in params:
            sp.add_argument(dest, metavar=metavar, help=text, **extra)
        for dest, text, extra in optional:
            sp.add_argument(f"--{dest.replace('_', '-')}", dest=dest, help=text, **extra)
        names = [p[0] for p in (*params, *optional)]
        sp.set_defaults(func=lambda st, a: _triage(
            st, fn, reference=a.reference, **{k: getattr(a, k) for k in names}))
        return sp

    op("assess", tr("set category, assessed severity and breached guideline (starts "
                    "triage)"), services.assess, optional=(
        ("category", assess_category_help, {"metavar": tr("CATEGORY")}),
        ("subcategory", tr("the subcategory id within that category"),
         {"metavar": tr("SUBCATEGORY")}),
        ("assessed_severity",
         choices_help(tr, tr("the group's assessment of the consequence"), Severity,
                      SEVERITY_LABELS),
         {"choices": [str(v) for v in Severity], "metavar": tr("SEVERITY")}),
        ("agreement_reference", tr("the guideline or agreement that was breached (marks "
                                   "the report as a breach)"), {"metavar": tr("REFERENCE")}),
    ))
    op("assign", tr("give the report to a member of the group"), services.assign,
       (("assignee", tr("PERSON"), tr("who takes it (a name or user id)"), {}),))
    st = tgs.add_parser("status", help=tr("move to triage, in_progress or rejected"),
                        description=tr("move to triage, in_progress or rejected; the other "
                                       "statuses have their own commands: close, ask, "
                                       "redirect, duplicate, reopen"))
    st.add_argument("reference", metavar="REF", help=ref_help)
    st.add_argument("status", metavar=tr("STATUS"),  # checked in cmd_triage_status
                    help=choices_help(tr, tr("the new status"), _SIMPLE_STATUSES,
                                      STATUS_LABELS))
    st.add_argument("--message", metavar=tr("TEXT"),
                    help=tr("words to the reporter with the status notice"))
    st.set_defaults(func=cmd_triage_status)
    op("note", tr("an internal note (the group only; the reporter never sees it)"),
       services.add_note, (("text", tr("TEXT"), tr("the note"), {}),))
    op("reply", tr("a message to the reporter"), services.reply,
       (("text", tr("TEXT"), tr("the message"), {}),))
    op("ask", tr("ask the reporter for more information (status: needs more information)"),
       services.request_info, (("question", tr("QUESTION"), tr("the question"), {}),))
    op("redirect", tr("forward to a formal system (status: forwarded)"), services.redirect,
       (("target", tr("TARGET"), choices_help(tr, tr("where to"), RedirectTarget,
                                                  REDIRECT_LABELS),
         {"choices": [str(v) for v in RedirectTarget]}),),
       optional=(("external_reference", tr("the case number there"),
                  {"metavar": tr("REFERENCE")}),
                 ("message", tr("words to the reporter with the forwarding notice"),
                  {"metavar": tr("TEXT")})))
    op("duplicate", tr("mark as a duplicate of another report"), services.mark_duplicate,
       (("duplicate_of", tr("OTHER_REF"), tr("the report that covers the same matter"), {}),))
    op("close", tr("close with a learning point and a measure"), services.close,
       (("learning_point", tr("LEARNING_POINT"), tr("what we learned"), {}),
        ("measure", tr("MEASURE"), tr("what was done"), {})))
    op("reopen", tr("reopen a closed report (status: being assessed)"), services.reopen)

"""`meld reports list`, `show`, `search` and `similar`: the working group's reading of
reports from the command line (the same services and texts as the chat doors). `intake.cli.main`
registers them through `add_parser(sub, tr, taxonomy)`; no other module imports this one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from babel.numbers import format_decimal

from intake import services
from intake.cli.base import cli_actor
from intake.domain.model import FieldError, Kind, Status, ValidationFailed
from intake.services.search import MAX_QUERY
from intake.texts import (
    KIND_LABELS,
    STATUS_LABELS,
    UNREAD_MARK,
    label,
    similar_reasons_text,
)

if TYPE_CHECKING:
    from intake.cli.base import Cli
    from intake.domain.taxonomy import Taxonomy
    from intake.i18n import Translator

MAX_LIST_LIMIT = 200  # services.list_reports returns at most this many in one page
MAX_SEARCH_LIMIT = 100  # services.search_reports returns at most this many
MAX_SIMILAR_LIMIT = 20  # services.similar_reports returns at most this many


def add_parser(sub: Any, tr: Translator, taxonomy: Taxonomy | None = None) -> None:
    """Register `reports` on the `meld` parser; with the taxonomy, the help lists the
    category ids."""
    from intake.cli.args import choices_help, whole_number

    if taxonomy is not None:
        category_help = choices_help(
            tr, tr("only reports in this category"), [c.id for c in taxonomy.categories],
            {c.id: c.label(tr.locale) for c in taxonomy.categories})
    else:
        category_help = tr("only reports in this category (its id, e.g. discharge_summary)")
    r = sub.add_parser("reports", help=tr("list or show reports"))
    rsub = r.add_subparsers(dest="reports_command", required=True, title=tr("commands"),
                            metavar=tr("COMMAND"))
    rl = rsub.add_parser("list", help=tr("the newest reports, one line each"))
    rl.add_argument("--status", choices=[str(v) for v in Status], metavar=tr("STATUS"),
                    help=choices_help(tr, tr("only reports with this status"), Status,
                                      STATUS_LABELS))
    rl.add_argument("--kind", choices=[str(v) for v in Kind], metavar=tr("KIND"),
                    help=choices_help(tr, tr("only reports of this kind"), Kind, KIND_LABELS))
    rl.add_argument("--category", metavar=tr("CATEGORY"), help=category_help)
    rl.add_argument("--unread", action="store_true",
                    help=tr("only reports with an unread answer from the reporter"))
    rl.add_argument("--limit", type=whole_number(tr, 1, MAX_LIST_LIMIT), default=50,
                    metavar="N",
                    help=tr("show at most N reports, newest first (1 to {max}, default 50)",
                            max=MAX_LIST_LIMIT))
    rl.set_defaults(func=cmd_reports_list)
    rs = rsub.add_parser("show", help=tr("one report: its facts, text and conversation"))
    rs.add_argument("reference", metavar="REF", help=tr("the report's reference, e.g. "
                                                        "MELD-2026-0042"))
    rs.set_defaults(func=cmd_reports_show)
    rq = rsub.add_parser("search", help=tr("reports whose reference, title or text hold the "
                                           "words, best match first"))
    rq.add_argument("words", nargs="+", metavar=tr("TEXT"),
                    help=tr("the words to look for; other forms of a word are found too "
                            "(epikrise finds epikrisen)"))
    rq.add_argument("--limit", type=whole_number(tr, 1, MAX_SEARCH_LIMIT), default=20,
                    metavar="N",
                    help=tr("show at most N reports, best match first (1 to {max}, "
                            "default 20)", max=MAX_SEARCH_LIMIT))
    rq.set_defaults(func=cmd_reports_search)
    rm = rsub.add_parser("similar", help=tr("reports like this one (possible duplicates), "
                                            "open ones first"))
    rm.add_argument("reference", metavar="REF", help=tr("the report's reference, e.g. "
                                                        "MELD-2026-0042"))
    rm.add_argument("--limit", type=whole_number(tr, 1, MAX_SIMILAR_LIMIT), default=5,
                    metavar="N",
                    help=tr("show at most N similar reports (1 to {max}, default 5)",
                            max=MAX_SIMILAR_LIMIT))
    rm.set_defaults(func=cmd_reports_similar)


def cmd_reports_list(cli: Cli, args: argparse.Namespace) -> int:
    ctx = cli.ctx
    tr = cli.tr
    page = services.list_reports(
        ctx=ctx, actor=cli_actor(),
        filters=services.ReportFilter(status=args.status, kind=args.kind,
                                      category=args.category,
                                      unread=getattr(args, "unread", False)),
        limit=args.limit,
    )
    if not page.items:
        print(tr("No reports."))
        return 0
    _print_reports(cli, page.items)
    if page.next_cursor is not None and len(page.items) < MAX_LIST_LIMIT:
        print(tr("Only the newest {count} are shown; there are more. Raise --limit (at most "
                 "{max}) or narrow with --status, --kind or --category.",
                 count=len(page.items), max=MAX_LIST_LIMIT), file=sys.stderr)
    elif page.next_cursor is not None:
        print(tr("Only the newest {count} are shown; there are more. Narrow with --status, "
                 "--kind or --category.", count=len(page.items)), file=sys.stderr)
    return 0


def _print_reports(cli: Cli, views: Sequence[services.ReportView]) -> None:
    """One line each under a header: reference, date, status, kind, category."""
    ctx, tr = cli.ctx, cli.tr
    header = (tr("Reference"), tr("Reported"), tr("Status"), tr("Kind"), tr("Category"))
    rows = [(v.reference, tr.date(tr.local_date(v.reported_at), "short"),
             label(STATUS_LABELS, v.status, tr), label(KIND_LABELS, v.kind, tr),
             ctx.taxonomy.category_label(v.category, tr.locale)
             + ("  ✉ " + tr(UNREAD_MARK) if v.unread_from_reporter else ""))
            for v in views]
    _print_table(header, rows)


def _print_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """Columns lined up; the last one as long as it is."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]
    for row in (header, *rows):
        print("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)),
                         row[-1]]))


def cmd_reports_search(cli: Cli, args: argparse.Namespace) -> int:
    tr = cli.tr
    query = " ".join(args.words)
    try:
        views = services.search_reports(ctx=cli.ctx, actor=cli_actor(), query=query,
                                         limit=args.limit)
    except ValidationFailed as exc:
        # the service speaks of its field "q": here it is the TEXT argument
        raise ValidationFailed([
            FieldError(tr("TEXT"), e.code, e.warning, {"max": MAX_QUERY, **e.params})
            for e in exc.errors]) from None
    if not views:
        print(tr("No reports match “{query}”.", query=query))
        return 0
    _print_reports(cli, views)
    return 0


def cmd_reports_similar(cli: Cli, args: argparse.Namespace) -> int:
    tr = cli.tr
    found = services.similar_reports(ctx=cli.ctx, actor=cli_actor(),
                                     reference=args.reference, limit=args.limit)
    if not found:
        print(tr("No similar reports."))
        return 0
    header = (tr("Reference"), tr("Score"), tr("Status"), tr("Why"))
    rows = [(s.view.reference, format_decimal(s.score, "0.00", locale=tr.babel_locale),
             label(STATUS_LABELS, s.view.status, tr), similar_reasons_text(s.reasons, tr))
            for s in found]
    _print_table(header, rows)
    return 0


def cmd_reports_show(cli: Cli, args: argparse.Namespace) -> int:
    ctx = cli.ctx
    tr = cli.tr
    from intake.presenting import report_text  # the same view as /triage vis in chat

    view = services.get_report(ctx=ctx, actor=cli_actor(), reference=args.reference)
    print(report_text(ctx, view, tr, for_group=True))
    return 0

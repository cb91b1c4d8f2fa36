"""`meld audit`: the audit log, newest last (who read, exported or changed which report).

    meld audit                             the last 100 events
    meld audit --report MELD-2026-0042     everything that happened to one report
    meld audit --access                    reads, lists and exports only (Normen)
    meld audit --actor token:3:kari --since 2026-03-01 --until 2026-03-31 --format csv
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from intake.services import audit

if TYPE_CHECKING:
    from intake.cli.base import Cli
    from intake.i18n import Translator

COLUMNS = ("id", "at", "actor", "role", "action", "reference", "details")


def add_parser(sub: Any, tr: Translator) -> None:
    """Register the subcommand on the `meld` parser (argparse subparsers)."""
    from intake.cli.args import iso_date, whole_number

    p = sub.add_parser("audit", help=tr("list the audit log (reads, exports and changes)"))
    p.add_argument("--report", metavar="REF",
                   help=tr("only events of this report (e.g. MELD-2026-0042)"))
    p.add_argument("--actor", metavar="ID",
                   help=tr("only events by this actor id (e.g. token:3:kari)"))
    p.add_argument("--action", action="append", default=[], metavar=tr("ACTION"),
                   help=tr("only this action (read, list, export, auth_failed, ...); "
                           "repeatable"))
    p.add_argument("--access", action="store_true",
                   help=tr("only accesses to report data: reads, lists and exports"))
    p.add_argument("--since", type=iso_date(tr), metavar="YYYY-MM-DD",
                   help=tr("from this local date"))
    p.add_argument("--until", type=iso_date(tr), metavar="YYYY-MM-DD",
                   help=tr("to this local date, inclusive"))
    p.add_argument("--limit", type=whole_number(tr, 1), default=100, metavar="N",
                   help=tr("the newest N events (default 100)"))
    p.add_argument("--format", choices=["text", "csv"], default="text",
                   help=tr("text (default) or csv"))
    p.set_defaults(func=cmd_audit)


def cmd_audit(cli: Cli, args: argparse.Namespace) -> int:
    from intake.cli.base import cli_actor
    from intake.reporting.spreadsheet import CsvWriter

    actions = tuple(args.action) + (audit.ACCESS_ACTIONS if args.access else ())
    rows = audit.list_events(
        ctx=cli.ctx, actor=cli_actor(), reference=args.report, actor_id=args.actor,
        actions=actions, since=args.since, until=args.until, limit=args.limit,
    )
    tr = cli.tr
    if args.format == "csv":
        writer = CsvWriter(sys.stdout)  # text a spreadsheet would run as a formula is defused
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow([r.id, r.at.isoformat(), r.actor_id or "", r.actor_role, r.action,
                             r.reference or "", json.dumps(r.details, sort_keys=True)])
        return 0
    if not rows:
        print(tr("No audit events."))
        return 0
    for r in rows:
        details = json.dumps(r.details, sort_keys=True, ensure_ascii=False) if r.details else ""
        print(f"{tr.datetime(r.at, 'short'):<18} {r.actor_id or '-':<28} {r.actor_role:<9} "
              f"{r.action:<16} {r.reference or '-':<15} {details}".rstrip())
    return 0

"""`meld seed-demo`: fill an empty database with realistic synthetic reports."""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from intake.texts import KIND_LABELS, STATUS_LABELS, label

if TYPE_CHECKING:
    from intake.cli.base import Cli
    from intake.i18n import Translator


def add_parser(sub: Any, tr: Translator) -> None:
    """Register the subcommand on the `meld` parser (argparse subparsers)."""
    from intake.cli.args import whole_number
    from intake.ops.demo import MAX_REPORTS

    p = sub.add_parser(
        "seed-demo",
        help=tr("fill an empty database with synthetic demo reports and triage history"),
        description=tr("Fill an empty database with realistic synthetic reports spread over "
                       "the last two years, with triage history, so the digest and the "
                       "tertial report have something to show. No real people, no identity "
                       "numbers; nobody is messaged."),
    )
    p.add_argument("--reports", type=whole_number(tr, 1, MAX_REPORTS), default=500,
                   metavar="N", help=tr("how many reports (1 to {max}, default 500)",
                                        max=MAX_REPORTS))
    p.add_argument("--seed", type=whole_number(tr, 0), default=42, metavar="N",
                   help=tr("random seed; the same seed gives the same data (default: 42)"))
    p.add_argument("--force", action="store_true",
                   help=tr("add the demo reports even if the database already holds reports"))
    p.add_argument("--no-migrate", dest="migrate", action="store_false",
                   help=tr("do not update the database tables first (default: update them)"))
    p.set_defaults(func=cmd_seed_demo)


def _last_tertial(today: date) -> str:
    """The last tertial that has ended, e.g. 2026-03-02 -> '2025-T3'."""
    current = (today.month - 1) // 4 + 1
    if current == 1:
        return f"{today.year - 1}-T3"
    return f"{today.year}-T{current - 1}"


def _last_week(today: date) -> str:
    year, week, _ = (today - timedelta(days=7)).isocalendar()
    return f"{year}-W{week:02d}"


def cmd_seed_demo(cli: Cli, args: argparse.Namespace) -> int:
    from intake.ops.demo import DemoRefused, seed_demo

    tr = cli.tr  # --reports is checked by the parser: 1 to MAX_REPORTS
    if args.migrate:
        from storage.migrate import upgrade

        upgrade(cli.settings.database_url, timezone=cli.settings.timezone)
    ctx = cli.ctx
    print(tr("Making {count} demo reports ...", count=args.reports), file=sys.stderr,
          flush=True)
    try:
        summary = seed_demo(ctx=ctx, count=args.reports, seed=args.seed, force=args.force)
    except DemoRefused as exc:
        print(tr("The database already holds {count} reports. seed-demo fills an empty "
                 "database only; add --force to add the demo reports anyway.",
                 count=exc.count), file=sys.stderr)
        return 1

    def listing(mapping: dict[Any, str], counts: dict[str, int]) -> str:
        order = [str(k) for k in mapping]
        keys = sorted(counts, key=lambda k: (order.index(k) if k in order else len(order), k))
        return ", ".join(f"{label(mapping, k, tr)} {counts[k]}" for k in keys)

    print(tr("Demo data: {count} reports that happened between {first} and {last} "
             "(seed {seed}, {seconds} s).", count=summary.reports,
             first=tr.date(summary.first_day), last=tr.date(summary.last_day),
             seed=args.seed, seconds=f"{summary.seconds:.1f}"))
    print(tr("Demo reports by kind: {counts}.", counts=listing(KIND_LABELS, summary.by_kind)))
    print(tr("Demo reports by status: {counts}.",
             counts=listing(STATUS_LABELS, summary.by_status)))
    print(tr("Messages: {messages}. +1s: {plus_ones}.", messages=summary.messages,
             plus_ones=summary.plus_ones))
    print(tr("{count} notifications were marked as sent: nobody is messaged about demo data.",
             count=summary.delivered))
    today = ctx.today()
    print(tr("Try: meld digest --week {week} --dry-run, and meld report --tertial {tertial} "
             "--format html --out report.html", week=_last_week(today),
             tertial=_last_tertial(today)))
    return 0

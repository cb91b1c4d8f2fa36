"""`meld promises`: the feedback promise's reminders and overdue notices, once (for cron
or a systemd timer, beside or instead of `meld serve`'s scheduler).

    meld promises              send what is due now, print how many went out
    meld promises --dry-run    print what is due; send and claim nothing

Each notice is claimed once per report (report_notices), so a run beside the scheduler,
or on another machine, never sends one twice.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from intake import services

if TYPE_CHECKING:
    from intake.cli.base import Cli
    from intake.i18n import Translator

MAX_RUNS = 50  # full batches handled back to back in one command


def add_parser(sub: Any, tr: Translator) -> None:
    """Register the subcommand on the `meld` parser (argparse subparsers)."""
    p = sub.add_parser("promises", help=tr("send the feedback reminders and overdue notices "
                                           "that are due, once (for cron)"))
    p.add_argument("--dry-run", action="store_true",
                   help=tr("print what is due; send nothing and claim nothing"))
    p.set_defaults(func=cmd_promises)


def cmd_promises(cli: Cli, args: argparse.Namespace) -> int:
    tr = cli.tr
    ctx = cli.ctx
    if args.dry_run:
        run = services.send_due_promise_notices(ctx, dry_run=True)
        for ref in run.reminded:
            print(tr("{reference}: reminder to the group", reference=ref))
        for ref in run.overdue_refs:
            print(tr("{reference}: overdue notice to the reporter", reference=ref))
        print(tr("Due now: {reminders} reminders and {overdue} overdue notices (nothing was "
                 "sent).", reminders=run.reminders, overdue=run.overdue))
        return 0
    reminders = overdue = 0
    for _ in range(MAX_RUNS):
        run = services.send_due_promise_notices(ctx)
        reminders += run.reminders
        overdue += run.overdue
        if not run.more or not (run.reminders or run.overdue):
            break
    print(tr("Sent {reminders} reminders to the group and {overdue} overdue notices to "
             "reporters.", reminders=reminders, overdue=overdue))
    return 0

"""`meld mailbox sync`: one round of the Microsoft Graph sync of the collaboration mailbox
(MELD_MAILBOX_IMPORT=graph), for cron; `meld serve` runs the same round on its own every
MELD_MAILBOX_POLL_SECONDS. Exit 0 when the round completed (or another process is syncing
right now), 1 when it stopped (it resumes from the stored point next time), 2 when the
import is not configured."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from intake.cli.base import Cli
    from intake.i18n import Translator


def add_sync_parser(msub: Any, tr: Translator) -> None:
    s = msub.add_parser("sync", help=tr("read new mail from the mailbox with Microsoft Graph "
                                        "once (for cron; meld serve does it on its own)"))
    s.set_defaults(func=cmd_sync)


def cmd_sync(cli: Cli, args: argparse.Namespace) -> int:
    from intake.mailbox.sync import sync_mailbox

    tr = cli.tr
    settings = cli.settings
    if settings.mailbox_import != "graph":
        print("meld: " + tr("The mailbox import is off: set MELD_MAILBOX_IMPORT=graph and the "
                            "MELD_GRAPH_* settings."), file=sys.stderr)
        return 2
    result = sync_mailbox(cli.ctx, settings)
    if not result.claimed:
        print(tr("Another process is syncing the mailbox right now: nothing done."))
        return 0
    counts = result.counts
    print(tr("Imported: {imported}. Withheld (identity numbers): {withheld}. Replies: {reply}. "
             "Duplicates: {duplicate}. Auto-mail: {auto}. Refused: {refused}.", **counts))
    print(tr("Already marked in Outlook: {skipped}. Deleted before Meld read them: {gone}.",
             skipped=counts["skipped"], gone=counts["gone"]))
    if result.restarted:
        print(tr("The mailbox's sync point had expired: the whole folder was read again "
                 "(nothing is imported twice)."))
    if not result.completed:
        print("meld: " + tr("The sync stopped ({error}); the next sync resumes from the last "
                            "completed one.", error=result.error or "-"), file=sys.stderr)
        return 1
    return 0

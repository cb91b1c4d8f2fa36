"""`meld mailbox ...`: the collaboration mailbox, where every mail becomes a report.

    meld mailbox import PATH                        the backlog: no receipts
    meld mailbox import PATH --receipts --since D   receipts for mail received on/after D

PATH is an .mbox file or a folder of .eml files, read one message at a time. Safe to run
twice: a mail already taken is a duplicate. `meld mailbox sync` (Microsoft Graph) is
registered in `add_parser` below, beside `import`.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from intake.mailbox.backlog import BacklogError, count_messages, import_backlog

if TYPE_CHECKING:
    from intake.cli.base import Cli
    from intake.i18n import Translator


def add_parser(sub: Any, tr: Translator) -> None:
    """Register `mailbox` and its subcommands on the `meld` parser."""
    p = sub.add_parser("mailbox", help=tr("the collaboration mailbox: every e-mail becomes a "
                                          "report"))
    msub = p.add_subparsers(dest="mailbox_command", required=True, title=tr("commands"),
                            metavar=tr("COMMAND"))
    add_import_parser(msub, tr)
    from intake.cli.mailbox_sync import add_sync_parser  # Microsoft Graph, its own module

    add_sync_parser(msub, tr)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(value) from None


def add_import_parser(msub: Any, tr: Translator) -> None:
    i = msub.add_parser("import", help=tr("import the mailbox's backlog from an .mbox file or "
                                          "a folder of .eml files (safe to run twice)"))
    i.add_argument("path", metavar=tr("PATH"), help=tr("an .mbox file or a folder of .eml "
                                                       "files"))
    i.add_argument("--receipts", action="store_true",
                   help=tr("send receipts, only for mail received on or after --since"))
    i.add_argument("--since", type=_day, metavar="YYYY-MM-DD",
                   help=tr("the first day whose mail gets a receipt"))
    i.set_defaults(func=cmd_import)


class _Progress:
    """Counts and rate on stderr, on one line, when stderr is a terminal."""

    def __init__(self, tr: Translator, total: int) -> None:
        self.tr = tr
        self.total = total
        self.started = self.shown = time.monotonic()

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self.shown < 0.2 and done != self.total:
            return
        self.shown = now
        rate = done / max(now - self.started, 1e-9)
        width = 30
        filled = width * done // self.total if self.total else width
        bar = "#" * filled + "-" * (width - filled)
        sys.stderr.write("\r" + self.tr("[{bar}] {done}/{total} e-mails, {rate}/s", bar=bar,
                                        done=done, total=self.total, rate=f"{rate:.0f}"))
        sys.stderr.flush()

    def end(self) -> None:
        sys.stderr.write("\n")


def cmd_import(cli: Cli, args: argparse.Namespace) -> int:
    tr = cli.tr
    path = Path(args.path)
    if args.receipts and args.since is None:
        print("meld: " + tr("--receipts needs --since: the first day whose mail gets a "
                            "receipt."), file=sys.stderr)
        return 2
    try:
        total = count_messages(path)
    except (OSError, BacklogError):
        print("meld: " + tr("Cannot read {path}: give an .mbox file or a folder of .eml "
                            "files.", path=str(path)), file=sys.stderr)
        return 1
    progress = _Progress(tr, total) if sys.stderr.isatty() else None
    try:
        counts = import_backlog(cli.ctx, path,
                                receipts_since=args.since if args.receipts else None,
                                progress=progress)
    finally:
        if progress is not None:
            progress.end()
    print(tr("Imported: {imported}. Withheld (identity numbers): {withheld}. Replies: {reply}. "
             "Duplicates: {duplicate}. Auto-mail: {auto}. Refused: {refused}.", **counts))
    return 0

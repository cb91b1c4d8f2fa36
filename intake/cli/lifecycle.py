"""`meld retention` and `meld backup`: the data lifecycle, for cron or a systemd timer.

    meld retention --dry-run          which reports are due for erasure (references only)
    meld retention --apply            erase their free text and the reporters' identity
    meld retention --apply --days 365 another limit than MELD_RETENTION_DAYS
    meld backup --out FILE            SQLite: a consistent online copy (Meld may run)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from intake.ops import backup, retention

if TYPE_CHECKING:
    from intake.cli.base import Cli
    from intake.i18n import Translator


def add_parser(sub: Any, tr: Translator) -> None:
    """Register the subcommands on the `meld` parser (argparse subparsers)."""
    from intake.cli.args import whole_number

    r = sub.add_parser("retention", help=tr("erase free text and reporter identity of "
                                            "reports closed longer ago than "
                                            "MELD_RETENTION_DAYS"))
    mode = r.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dry-run", action="store_true",
                      help=tr("list what is due; change nothing"))
    mode.add_argument("--apply", action="store_true", help=tr("erase what is due"))
    r.add_argument("--days", type=whole_number(tr, 1), default=None, metavar=tr("DAYS"),
                   help=tr("days after closing (default: MELD_RETENTION_DAYS)"))
    r.set_defaults(func=cmd_retention)

    b = sub.add_parser("backup", help=tr("a consistent copy of the SQLite database (online)"))
    b.add_argument("--out", required=True, metavar=tr("FILE"),
                   help=tr("the backup file to write"))
    b.set_defaults(func=cmd_backup)


def cmd_retention(cli: Cli, args: argparse.Namespace) -> int:
    from intake.cli.base import cli_actor

    tr = cli.tr
    if args.days is not None and args.days < 1:
        print(tr("meld: --days must be at least 1."), file=sys.stderr)
        return 2
    days = args.days if args.days is not None else cli.settings.retention_days
    if args.dry_run:
        result = retention.due_reports(ctx=cli.ctx, days=days)
        print(tr("Reports closed on or before {date} ({days} days ago) that still hold free "
                 "text or the reporter's identity: {count}.",
                 date=tr.date(tr.local_date(result.cutoff)), days=days,
                 count=len(result.references)))
    else:
        result = retention.apply(ctx=cli.ctx, actor=cli_actor(), days=days)
        print(tr("Erased free text and reporter identity of {count} reports closed on or "
                 "before {date}.", count=len(result.references),
                 date=tr.date(tr.local_date(result.cutoff))))
    for reference in result.references:
        print(reference)
    return 0


def cmd_backup(cli: Cli, args: argparse.Namespace) -> int:
    tr = cli.tr
    if backup.sqlite_path(cli.settings.database_url) is None:
        print(tr("meld: backup copies a SQLite database. For PostgreSQL use its own tools: "
                 "pg_dump -Fc -f meld.dump DATABASE, and pg_restore to restore (see the "
                 "README)."), file=sys.stderr)
        return 2
    try:
        result = backup.backup_sqlite(cli.settings.database_url, Path(args.out))
    except backup.BackupError as exc:
        print(tr("meld: the backup failed ({error}); nothing was written.", error=str(exc)),
              file=sys.stderr)
        return 1
    print(tr("Backup written to {path}: {count} reports, {size} bytes.", path=str(result.path),
             count=result.reports, size=result.bytes))
    return 0

"""`meld clusters check`: cluster alerts, once (for cron or a systemd timer, beside or
instead of `meld serve`'s scheduler).

    meld clusters check              raise the alerts due now, print each
    meld clusters check --dry-run    print the alerts due; raise nothing

An alert is raised once per cluster and window (intake.services.clusters), so a run beside
the scheduler, or on another machine, never tells the group twice.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from intake import services
from intake.texts_clusters import cluster_alert_text

if TYPE_CHECKING:
    from intake.cli.base import Cli
    from intake.i18n import Translator


def add_parser(sub: Any, tr: Translator) -> None:
    """Register the subcommand on the `meld` parser (argparse subparsers)."""
    p = sub.add_parser("clusters", help=tr("cluster alerts: many reports of one place or "
                                           "direction in a short time"))
    csub = p.add_subparsers(dest="clusters_command", required=True, title=tr("commands"),
                            metavar=tr("COMMAND"))
    c = csub.add_parser("check", help=tr("raise the cluster alerts that are due, once (for "
                                         "cron), and print them"))
    c.add_argument("--dry-run", action="store_true",
                   help=tr("print the alerts that are due; raise nothing"))
    c.set_defaults(func=cmd_clusters_check)


def cmd_clusters_check(cli: Cli, args: argparse.Namespace) -> int:
    tr = cli.tr
    ctx = cli.ctx
    alerts = services.check_clusters(ctx, dry_run=args.dry_run)
    for alert in alerts:
        print(cluster_alert_text(alert.payload(), tr, ctx.taxonomy))
        print()
    if args.dry_run:
        print(tr("Cluster alerts due now: {count} (nothing was raised).", count=len(alerts)))
    else:
        print(tr("Cluster alerts raised: {count}.", count=len(alerts)))
    return 0

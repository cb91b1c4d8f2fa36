"""`meld suggest train`: train the category suggestions anew from the group's assessed
reports, once (for cron, beside or instead of `meld serve`'s nightly training), and say
how many reports they learned from.

The model lives in each process: a `meld serve` picks up what this run saw at its own
nightly training (or restart). The command is for checking what the suggestions rest on.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from intake import services

if TYPE_CHECKING:
    from intake.cli.base import Cli
    from intake.i18n import Translator


def add_parser(sub: Any, tr: Translator) -> None:
    """Register the subcommand on the `meld` parser (argparse subparsers)."""
    p = sub.add_parser("suggest", help=tr("category suggestions from the report text"))
    ssub = p.add_subparsers(dest="suggest_command", required=True, title=tr("commands"),
                            metavar=tr("COMMAND"))
    t = ssub.add_parser("train", help=tr("train the suggestions from the group's assessed "
                                         "reports and say how many they rest on"))
    t.set_defaults(func=cmd_suggest_train)


def cmd_suggest_train(cli: Cli, args: argparse.Namespace) -> int:
    model = services.refresh_category_model(cli.ctx)
    print(cli.tr("Suggestions trained on {count} reports assessed by Forbedringsgruppen, "
                 "and on the words of the categories.", count=model.example_count))
    return 0

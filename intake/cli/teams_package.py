"""`meld teams-package`: builds the Teams app zip (intake.ops.teams_package) from the
settings: the bot's app id and the public base URL."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from intake.cli.base import Cli
from intake.i18n import Translator
from intake.ops import teams_package


def add_parser(sub: Any, tr: Translator) -> None:
    p = sub.add_parser("teams-package", help=tr("build the Teams app package (zip)"),
                       description=tr("build the Teams app package (zip)"))
    p.add_argument("--output", type=Path, default=Path("meld-teams.zip"),
                   help=tr("where to write the zip (default: meld-teams.zip)"))
    p.add_argument("--source", type=Path, default=teams_package.SOURCE,
                   help=tr("folder with manifest.json, color.png and outline.png "
                           "(default: the one shipped with Meld)"))
    p.set_defaults(func=cmd_teams_package)


def cmd_teams_package(cli: Cli, args: argparse.Namespace) -> int:
    settings, tr = cli.settings, cli.tr
    if not settings.teams_app_id:
        print(tr("meld: set MELD_TEAMS_APP_ID (the bot's Microsoft App ID) first."),
              file=sys.stderr)
        return 2
    try:
        teams_package.build_package(args.output, app_id=settings.teams_app_id,
                                    base_url=settings.base_url, source=args.source)
    except (teams_package.PackageError, OSError) as exc:
        print(f"meld: {exc}", file=sys.stderr)
        return 2
    print(tr("{path}: upload it in Teams (Apps > Manage your apps > Upload an app).",
             path=str(args.output)))
    return 0

"""`meld login-link`: a one-time sign-in link to the group's web board (/gruppe).

    meld login-link --name "Kari Lege" --role triager   prints a link valid for 10 minutes
    meld login-link --name "Kari Lege" --role reader    read-only (committee members)
    meld login-link --name "Kari Lege" --revoke         signs that person out everywhere
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from intake import services

if TYPE_CHECKING:
    from intake.cli.base import Cli
    from intake.i18n import Translator


def add_parser(sub: Any, tr: Translator) -> None:
    """Register the subcommand on the `meld` parser (argparse subparsers)."""
    p = sub.add_parser("login-link", help=tr("a one-time sign-in link to the group's board "
                                             "(/gruppe)"))
    p.add_argument("--name", required=True, metavar=tr("NAME"),
                   help=tr("who signs in (shown on the board and in the audit log)"))
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--role", choices=["triager", "reader"],
                      help=tr("triager (Forbedringsgruppen's work) or reader (reads, "
                              "changes nothing)"))
    mode.add_argument("--revoke", action="store_true",
                      help=tr("end every board session of this person and the links not "
                              "used yet"))
    p.set_defaults(func=cmd_login_link)


def cmd_login_link(cli: Cli, args: argparse.Namespace) -> int:
    from intake.cli.base import cli_actor

    tr = cli.tr
    if args.revoke:
        count = services.revoke_sessions(ctx=cli.ctx, actor=cli_actor(), name=args.name)
        print(tr("Board sessions ended for {name}: {count}.", name=args.name, count=count))
        return 0
    link = services.create_login_link(ctx=cli.ctx, actor=cli_actor(), name=args.name,
                                      role=args.role)
    print(link)
    print(tr("Sign-in link for {name} ({role}): it works once, within {minutes} minutes.",
             name=args.name, role=args.role, minutes=services.LOGIN_LINK_MINUTES),
          file=sys.stderr)
    return 0

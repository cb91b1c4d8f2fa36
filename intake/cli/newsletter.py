"""`meld newsletter`: the tertial newsletter of learning points from the command line.

    meld newsletter --tertial 2026-T3                     the newsletter as it stands (the
                                                          draft, or the approved or published
                                                          version) as HTML on standard output
    meld newsletter --tertial 2026-T3 --format pdf --out nyhetsbrev.pdf
    meld newsletter approve --tertial 2026-T3 --by "Kari Nordmann"
    meld newsletter publish --tertial 2026-T3 --by "Kari Nordmann"

Approving needs the approving member's name (`--by`). Publishing claims each configured
channel once (a second run publishes nothing twice, only to channels configured since)
and writes the posts and the contributors' notices to the outbox, which `meld serve`
delivers. The board (/gruppe/nyhetsbrev) does the same, and edits the title,
introduction and items.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING, Any

from intake import services
from intake.cli.base import cli_actor
from intake.domain.model import Actor, Role
from intake.texts_newsletter import STATUS_LABELS

if TYPE_CHECKING:
    from intake.cli.base import Cli
    from intake.i18n import Translator

ACTIONS = ("show", "approve", "publish")


def add_parser(sub: Any, tr: Translator) -> None:
    """Register the subcommand on the `meld` parser (argparse subparsers)."""
    p = sub.add_parser("newsletter", help=tr("the tertial newsletter of learning points: "
                                             "write it out, approve it, publish it"))
    p.add_argument("action", nargs="?", choices=ACTIONS, default="show",
                   help=tr("show (default): write the newsletter as it stands; approve; "
                           "publish"))
    p.add_argument("--tertial", required=True, metavar="YYYY-TN",
                   help=tr("the tertial, e.g. 2026-T3"))
    p.add_argument("--format", choices=["html", "pdf"], default="html",
                   help=tr("html (default) or pdf"))
    p.add_argument("--out", metavar=tr("FILE"),
                   help=tr("the file to write (default: standard output)"))
    p.add_argument("--by", metavar=tr("NAME"),
                   help=tr("the name of the member of Forbedringsgruppen who approves or "
                           "publishes"))
    p.set_defaults(func=cmd_newsletter)


def _member(args: argparse.Namespace) -> Actor:
    name = (args.by or "").strip() or None
    return Actor(identity=f"cli:{getpass.getuser()}", role=Role.ADMIN, display_name=name)


def _write(cli: Cli, args: argparse.Namespace) -> int:
    from intake.reporting.newsletter_pdf import render_pdf
    from intake.reporting.newsletter_render import render_html

    tr = cli.tr
    view = services.newsletter(ctx=cli.ctx, actor=cli_actor(), tertial=args.tertial)
    data = (render_pdf(view, tr) if args.format == "pdf"
            else render_html(view, tr).encode("utf-8"))
    if args.out:
        try:
            with open(args.out, "wb") as fh:
                fh.write(data)
        except OSError as exc:
            print("meld: " + tr("Cannot write {path} ({reason}).", path=args.out,
                                reason=exc.strerror or str(exc)), file=sys.stderr)
            return 1
        print(tr("The newsletter for {tertial} ({status}) was written to {path}.",
                 tertial=view.tertial, status=tr(STATUS_LABELS[view.status]).lower(),
                 path=args.out), file=sys.stderr)
        return 0
    if args.format == "pdf" and sys.stdout.isatty():
        print("meld: " + tr("A PDF is not for the terminal: give --out FILE."),
              file=sys.stderr)
        return 2
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return 0


def cmd_newsletter(cli: Cli, args: argparse.Namespace) -> int:
    tr = cli.tr
    if args.action == "show":
        return _write(cli, args)
    if args.action == "approve":
        view = services.approve_newsletter(ctx=cli.ctx, actor=_member(args),
                                           tertial=args.tertial)
        print(tr("The newsletter for {tertial} is approved by {name}.", tertial=view.tertial,
                 name=view.approved_by or ""))
        return 0
    result = services.publish_newsletter(ctx=cli.ctx, actor=_member(args), tertial=args.tertial)
    view = result.view
    if result.published_now:
        url = f"{cli.settings.base_url.rstrip('/')}/nyhetsbrev/{view.slug}"
        print(tr("The newsletter for {tertial} is published: {url}", tertial=view.tertial,
                 url=url))
        print(tr("Contributors told: {count}.", count=result.notices))
    else:
        print(tr("The newsletter for {tertial} was published already; nothing is published "
                 "twice.", tertial=view.tertial))
    if result.claimed:
        print(tr("Published to: {channels}. The posts go out through the outbox of "
                 "meld serve.", channels=", ".join(result.claimed)))
    if result.already:
        print(tr("Published before to: {channels}.", channels=", ".join(result.already)))
    return 0

"""`meld digest`: the weekly digest, once (for cron or a systemd timer).

    meld digest                      the last full ISO week, posted to the triage channel
    meld digest --week 2026-W10      that week
    meld digest --dry-run            print the digest as text; post and claim nothing
    meld digest --teams              to the Teams channel (MELD_TEAMS_TRIAGE_CONVERSATION)

Posting goes through the same claim as `meld serve`'s scheduler, so a manual run beside
the scheduled one (or on another machine) never posts a week twice.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any

from intake.reporting import digest, digest_schedule
from intake.reporting.digest_text import render_text

if TYPE_CHECKING:
    from intake.cli.base import Cli
    from intake.i18n import Translator


def add_parser(sub: Any, tr: Translator) -> None:
    """Register the subcommand on the `meld` parser (argparse subparsers)."""
    p = sub.add_parser("digest",
                       help=tr("the weekly digest, once (for cron or a systemd timer)"))
    p.add_argument("--week", metavar="YYYY-WNN",
                   help=tr("ISO week, e.g. 2026-W10 (default: the last full week)"))
    p.add_argument("--dry-run", action="store_true",
                   help=tr("print the digest as text; post nothing and claim nothing"))
    p.add_argument("--teams", action="store_true",
                   help=tr("post to the group's Teams channel instead of the Slack one"))
    p.set_defaults(func=cmd_digest)


def cmd_digest(cli: Cli, args: argparse.Namespace) -> int:
    tr = cli.tr
    settings = cli.settings
    try:
        week = digest.parse_week(args.week) if args.week else None
    except ValueError:
        print(tr("meld: {week} is not an ISO week; write it like 2026-W10.", week=args.week),
              file=sys.stderr)
        return 2
    if getattr(args, "teams", False):
        if not (settings.teams_enabled and settings.teams_triage_conversation):
            print(tr("meld: Teams is not configured (MELD_TEAMS_APP_ID and "
                     "MELD_TEAMS_TRIAGE_CONVERSATION), so the digest was not posted."),
                  file=sys.stderr)
            return 1
        channel: str | None = f"teams:{settings.teams_triage_conversation}"
    else:
        channel = digest_schedule.digest_channel(settings)
    if not args.dry_run and channel is None:
        print(tr("meld: Slack is not configured (MELD_SLACK_BOT_TOKEN and "
                 "MELD_SLACK_TRIAGE_CHANNEL), so the digest was not posted. "
                 "Use --dry-run to print it."), file=sys.stderr)
        return 1
    ctx = cli.ctx
    now = ctx.clock()
    if week is None:
        week = digest.week_ended_before(now, settings.timezone)
    digest.check_begun(week, now, settings.timezone)  # a future week: nothing to show
    if args.dry_run:
        content = digest.build_digest(ctx=ctx, week=week.key, now=now)
        sys.stdout.write(render_text(content, tr))
        return 0

    assert channel is not None
    if not digest.has_ended(week, now, settings.timezone):  # the rule of run_digest
        # posting it now would also claim it: the full week's digest would never be posted
        print(tr("meld: week {week} has not ended yet, so its digest cannot be posted; "
                 "--dry-run shows it as it stands.", week=week.key), file=sys.stderr)
        return 2
    from intake.app import digest_poster  # the composition root knows the doors

    poster = digest_poster(settings, ctx, teams=getattr(args, "teams", False))
    try:
        posted = asyncio.run(digest_schedule.run_digest(ctx=ctx, channel=channel,
                                                        period=week.key, post=poster))
    except Exception as exc:
        print(tr("meld: the digest for {week} could not be posted ({error}); "
                 "run the command again later.", week=week.key,
                 error=getattr(exc, "code", type(exc).__name__)), file=sys.stderr)
        return 1
    if posted:
        print(tr("The digest for {week} was posted to the triage channel.", week=week.key))
        return 0
    state = digest_schedule.run_state(ctx, channel, week.key)
    if state is not None and state.posted_at is not None:
        print(tr("The digest for {week} was already posted ({when}); not posted again.",
                 week=week.key, when=tr.datetime(state.posted_at)))
        return 0
    print(tr("The digest for {week} is being posted by another process right now.",
             week=week.key))
    return 0

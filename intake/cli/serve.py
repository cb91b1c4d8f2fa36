"""`meld serve` and `meld migrate`: start Meld (the app from the composition root,
`intake.app`, under uvicorn) and bring the database tables up to date. `intake.cli.main`
registers them through `add_parser(sub, tr)`; no other module imports this one.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from intake.cli.base import settings_source
from intake.logs import configure_logging

if TYPE_CHECKING:
    from intake.cli.base import Cli
    from intake.i18n import Translator


def add_parser(sub: Any, tr: Translator) -> None:
    """Register `serve` and `migrate` on the `meld` parser (argparse subparsers)."""
    s = sub.add_parser("serve", help=tr("start Meld: the web form, the API, Slack and Teams "
                                        "(when configured) and the notification worker"))
    s.add_argument("--no-migrate", dest="migrate", action="store_false",
                   help=tr("do not update the database tables first (default: update them)"))
    s.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help=tr("create or update the database tables (after every "
                                      "upgrade)")).set_defaults(func=cmd_migrate)


def _upgrade(cli: Cli) -> None:
    from storage.migrate import upgrade

    upgrade(cli.settings.database_url, timezone=cli.settings.timezone)


def cmd_migrate(cli: Cli, args: argparse.Namespace) -> int:
    source = settings_source(cli)
    if source:
        print(source)
    print(cli.tr("Database: {url}.", url=cli.settings.database_url_shown), flush=True)
    _upgrade(cli)
    print(cli.tr("The database is up to date."))
    return 0


def cmd_serve(cli: Cli, args: argparse.Namespace) -> int:
    import uvicorn

    from intake.app import create_app, settle_heap
    from intake.cli.checks import DATABASE_MESSAGES, check_schema, listen_problem

    settings = cli.settings
    tr = cli.tr
    source = settings_source(cli)
    if source:
        print(source, flush=True)
    # everything that can stop Meld is checked before it says it is running
    settings.require_secret_key()
    problem = listen_problem(settings.host, settings.port, tr)
    if problem:
        print(f"meld: {problem}", file=sys.stderr)
        return 1
    if args.migrate:
        _upgrade(cli)
        print(tr("The database is up to date."))
    elif not check_schema(settings.database_url):
        print("meld: " + tr(DATABASE_MESSAGES["not_migrated"], url=settings.database_url_shown),
              file=sys.stderr)
        return 1
    configure_logging(settings.log_level)
    app = create_app(settings) if settings.workers == 1 else None
    if not settings.slack_enabled:
        slack = cli.tr("off")
    elif settings.slack_app_token is not None:
        slack = cli.tr("on (Socket Mode)")
    else:
        slack = cli.tr("on (HTTP, POST /slack/events)")
    teams = (cli.tr("on (POST /api/messages)") if settings.teams_enabled
             else cli.tr("off"))
    print(cli.tr("Meld is running on {url} (database: {database}, processes: {workers}). "
                 "Slack: {slack}. Teams: {teams}.",
                 url=f"http://{settings.host}:{settings.port}/",
                 database=settings.database_url_shown, workers=settings.workers,
                 slack=slack, teams=teams), flush=True)
    common = {"host": settings.host, "port": settings.port, "log_config": None,
              "proxy_headers": False, "server_header": False}
    if app is None:
        # worker processes build their own app from the same environment and .env
        uvicorn.run("intake.app:app_from_env", factory=True, workers=settings.workers,
                    **common)
    else:
        settle_heap()
        uvicorn.run(app, **common)
    return 0

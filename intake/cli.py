"""The `meld` command: serve, migrate, tokens, reports, triage and export."""

from __future__ import annotations

import argparse
import asyncio
import csv
import getpass
import logging
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from intake import services
from intake.domain import Actor, DomainError, Role
from intake.i18n import Translator
from intake.settings import Settings
from intake.texts import KIND_LABELS, STATUS_LABELS, domain_error_text, label

_TOKEN_IN_PATH = re.compile(r"/status/[0-9a-f]{16,}")
_REPORT_LINK_IN_PATH = re.compile(r"/rapport/[^\s?#\"/]+")  # a 24-hour link to a report


class RedactStatusTokens(logging.Filter):
    """Access logs must not carry the reporters' private status tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(
                _REPORT_LINK_IN_PATH.sub("/rapport/<token>", _TOKEN_IN_PATH.sub(
                    "/status/<token>", a)) if isinstance(a, str) else a
                for a in record.args
            )
        return True


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("uvicorn.access").addFilter(RedactStatusTokens())


class Cli:
    """What a command needs: settings, and a service context built on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._ctx: services.Context | None = None

    @property
    def ctx(self) -> services.Context:
        if self._ctx is None:
            from intake.context import build_context

            self._ctx = build_context(self.settings)
        return self._ctx

    @property
    def tr(self) -> Translator:
        return Translator(self.settings.locale, self.settings.timezone)

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.db.dispose()


def _cli_actor() -> Actor:
    return Actor(identity=f"cli:{getpass.getuser()}", role=Role.ADMIN)


def cmd_migrate(cli: Cli, args: argparse.Namespace) -> int:
    from storage.migrate import upgrade

    upgrade(cli.settings.database_url, timezone=cli.settings.timezone)
    print(cli.tr("The database is up to date."))
    return 0


def cmd_serve(cli: Cli, args: argparse.Namespace) -> int:
    import uvicorn

    from intake.app import create_app

    settings = cli.settings
    if args.migrate:
        cmd_migrate(cli, args)
    configure_logging(settings.log_level)
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
                 database=settings.database_url.split("://")[0], workers=settings.workers,
                 slack=slack, teams=teams))
    common = {"host": settings.host, "port": settings.port, "log_config": None,
              "proxy_headers": False, "server_header": False}
    if settings.workers > 1:
        # worker processes build their own app from the same MELD_* environment
        uvicorn.run("intake.app:app_from_env", factory=True, workers=settings.workers,
                    **common)
    else:
        uvicorn.run(create_app(settings), **common)
    return 0


def cmd_token_create(cli: Cli, args: argparse.Namespace) -> int:
    token = services.create_token(ctx=cli.ctx, name=args.name, role=args.role,
                                  valid_days=args.days)
    print(token)
    print(cli.tr("Token for {name} ({role}). It is shown only once: store it safely.",
                 name=args.name, role=args.role), file=sys.stderr)
    return 0


def cmd_token_revoke(cli: Cli, args: argparse.Namespace) -> int:
    count = services.revoke_token(ctx=cli.ctx, name=args.name)
    print(cli.tr("Tokens revoked for {name}: {count}.", name=args.name, count=count))
    return 0 if count else 1


def cmd_reports_list(cli: Cli, args: argparse.Namespace) -> int:
    ctx = cli.ctx
    tr = cli.tr
    page = services.list_reports(
        ctx=ctx, actor=_cli_actor(),
        filters=services.ReportFilter(status=args.status, kind=args.kind,
                                      category=args.category),
        limit=args.limit,
    )
    if not page.items:
        print(tr("No reports."))
        return 0
    for v in page.items:
        print(f"{v.reference}  {tr.date(tr.local_date(v.reported_at), 'short'):>10}  "
              f"{label(STATUS_LABELS, v.status, tr):<24} {label(KIND_LABELS, v.kind, tr):<24} "
              f"{ctx.taxonomy.category_label(v.category, tr.locale)}")
    return 0


def cmd_reports_show(cli: Cli, args: argparse.Namespace) -> int:
    ctx = cli.ctx
    tr = cli.tr
    v = services.get_report(ctx=ctx, actor=_cli_actor(), reference=args.reference)
    rows = [
        (tr("Reference"), v.reference),
        (tr("Status"), label(STATUS_LABELS, v.status, tr)),
        (tr("Kind"), label(KIND_LABELS, v.kind, tr)),
        (tr("Category"), ctx.taxonomy.category_label(v.category, tr.locale)),
        (tr("When"), tr.date(v.occurred_on)),
        (tr("Where"), ctx.taxonomy.place_label(v.place, tr.locale) or v.place_text or "-"),
        (tr("Reporter"), v.reporter_id or "-"),
    ]
    for name, value in rows:
        print(f"{name:<14} {value}")
    print()
    print(v.description or "")
    for msg in v.messages:
        who = tr("Forbedringsgruppen") if msg.direction != "reporter" else tr("Reporter")
        if msg.direction == "internal":
            who += " (" + tr("internal note") + ")"
        print(f"\n[{tr.datetime(msg.created_at)}] {who}: {msg.body}")
    return 0


def _triage(cli: Cli, op: Callable[..., Any], **kwargs: Any) -> int:
    ctx = cli.ctx
    view = op(ctx=ctx, actor=_cli_actor(), **kwargs)
    tr = cli.tr
    if isinstance(view, services.ReportView):
        print(f"{view.reference}: {label(STATUS_LABELS, view.status, tr)}")
    else:
        print(view)
    return 0


def cmd_export(cli: Cli, args: argparse.Namespace) -> int:
    ctx = cli.ctx
    out = open(args.out, "w", newline="", encoding="utf-8") if args.out else sys.stdout
    try:
        writer = csv.writer(out)
        writer.writerow(services.EXPORT_COLUMNS)
        for row in services.export_rows(ctx=ctx, actor=_cli_actor()):
            writer.writerow(["" if v is None else v for v in row])
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def cmd_outbox(cli: Cli, args: argparse.Namespace) -> int:
    from intake.notify import OutboxWorker, WebStatusNotifier, reconcile, unverified

    ctx = cli.ctx
    tr = cli.tr
    if args.unverified:
        rows = unverified(ctx.db)
        for row in rows:
            print(f"{row.id}\t{row.channel}\t{row.event}\t{row.reference or '-'}\t"
                  f"{row.created_at:%Y-%m-%d %H:%M}\t{row.last_error}")
        print(tr("Notifications that may or may not have arrived: {count}. Check the "
                 "recipient's chat, then --delivered ID or --resend ID.", count=len(rows)))
        return 0
    if args.delivered or args.resend:
        ids = args.delivered or args.resend
        changed = reconcile(ctx.db, ids, delivered=bool(args.delivered))
        print(tr("Reconciled: {ids}.", ids=", ".join(map(str, changed)) or "-"))
        return 0 if len(changed) == len(set(ids)) else 1
    worker = OutboxWorker(db=ctx.db, notifiers={"web": WebStatusNotifier()})
    delivered = asyncio.run(worker.drain())
    print(cli.tr("Notifications delivered: {count}.", count=delivered))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="meld", description="Meld: report, triage, feedback.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="start the web form, the API and the notifier")
    s.add_argument("--no-migrate", dest="migrate", action="store_false",
                   help="do not apply migrations first")
    s.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

    t = sub.add_parser("token", help="API tokens for the working group")
    tsub = t.add_subparsers(dest="token_command", required=True)
    tc = tsub.add_parser("create", help="create a bearer token (printed once)")
    tc.add_argument("--name", required=True)
    tc.add_argument("--role", required=True, choices=["triager", "admin"])
    tc.add_argument("--days", type=int, default=None, help="expire after this many days")
    tc.set_defaults(func=cmd_token_create)
    tr_ = tsub.add_parser("revoke", help="revoke tokens by name")
    tr_.add_argument("--name", required=True)
    tr_.set_defaults(func=cmd_token_revoke)

    r = sub.add_parser("reports", help="list or show reports")
    rsub = r.add_subparsers(dest="reports_command", required=True)
    rl = rsub.add_parser("list")
    rl.add_argument("--status")
    rl.add_argument("--kind")
    rl.add_argument("--category")
    rl.add_argument("--limit", type=int, default=50)
    rl.set_defaults(func=cmd_reports_list)
    rs = rsub.add_parser("show")
    rs.add_argument("reference")
    rs.set_defaults(func=cmd_reports_show)

    tg = sub.add_parser("triage", help="the working group's operations")
    tgs = tg.add_subparsers(dest="triage_command", required=True)

    def op(name: str, help_: str, fn: Callable[..., Any], *params: str,
           optional: Sequence[str] = ()) -> None:
        sp = tgs.add_parser(name, help=help_)
        sp.add_argument("reference")
        for param in params:
            sp.add_argument(param)
        for param in optional:
            sp.add_argument(f"--{param.replace('_', '-')}", dest=param)
        sp.set_defaults(func=lambda st, a: _triage(
            st, fn, reference=a.reference,
            **{k: getattr(a, k) for k in (*params, *optional)}))

    op("assess", "set category, assessed severity, breached guideline", services.assess,
       optional=("category", "subcategory", "assessed_severity", "agreement_reference"))
    op("assign", "give the report to a group member", services.assign, "assignee")
    op("status", "move to triage, in_progress or rejected", services.move_status, "status",
       optional=("message",))
    op("note", "internal note (group only)", services.add_note, "text")
    op("reply", "message to the reporter", services.reply, "text")
    op("ask", "ask the reporter for more information", services.request_info, "question")
    op("redirect", "forward to eqs|compilo|tqm|melde_no|other", services.redirect, "target",
       optional=("external_reference",))
    op("duplicate", "mark as duplicate of another report", services.mark_duplicate,
       "duplicate_of")
    op("close", "close with learning point and measure", services.close, "learning_point",
       "measure")
    op("reopen", "reopen a closed report", services.reopen)

    e = sub.add_parser("export", help="coded fields of all reports (no free text)")
    e.add_argument("--format", choices=["csv"], default="csv")
    e.add_argument("--out", help="file (default: standard output)")
    e.set_defaults(func=cmd_export)

    o = sub.add_parser("outbox", help="deliver pending notifications once, or reconcile "
                       "the ones parked with an unknown outcome")
    og = o.add_mutually_exclusive_group()
    og.add_argument("--unverified", action="store_true",
                    help="list notifications that may have arrived (parked, not resent)")
    og.add_argument("--delivered", type=int, nargs="+", metavar="ID",
                    help="parked notifications that did arrive: mark them delivered")
    og.add_argument("--resend", type=int, nargs="+", metavar="ID",
                    help="parked notifications that did not arrive: send them once more")
    o.set_defaults(func=cmd_outbox)

    # commands that live in their own modules: each has add_parser(sub)
    from intake import cli_audit, cli_demo, cli_digest, cli_lifecycle, cli_report

    for module in (cli_report, cli_digest, cli_demo, cli_lifecycle, cli_audit):
        module.add_parser(sub)
    from bot.teams import package as teams_package  # the Teams app zip

    teams_package.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    args = build_parser().parse_args(argv)
    cli = Cli(settings or Settings())
    try:
        return int(args.func(cli, args) or 0)
    except DomainError as exc:
        print(f"meld: {domain_error_text(exc, cli.tr)}", file=sys.stderr)
        return 2
    finally:
        cli.close()


if __name__ == "__main__":
    raise SystemExit(main())

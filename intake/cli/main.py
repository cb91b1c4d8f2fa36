"""The `meld` command: serve, migrate, tokens, reports, triage and export."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from intake import services
from intake.cli.base import Cli, cli_actor
from intake.domain.model import (
    DomainError,
    Kind,
    RedirectTarget,
    Severity,
    Status,
    ValidationFailed,
)
from intake.domain.taxonomy import Taxonomy
from intake.i18n import N_, Translator, normalize_locale
from intake.logs import configure_logging
from intake.settings import ENV_FILE_VARIABLE, Settings, SettingsError
from intake.texts import (
    KIND_LABELS,
    REDIRECT_LABELS,
    SEVERITY_LABELS,
    STATUS_LABELS,
    UNREAD_MARK,
    domain_error_text,
    field_error_text,
    label,
)


def settings_source(cli: Cli) -> str | None:
    """Where the settings came from, for the start lines (None: built in code)."""
    settings, tr = cli.settings, cli.tr
    if not settings.read_from_environment:
        return None
    if settings.env_file is not None:
        return tr("Settings: {path} and the MELD_* environment variables (a variable set in "
                  "the environment wins).", path=str(settings.env_file))
    if os.environ.get(ENV_FILE_VARIABLE) is not None:  # set, and empty: no file wanted
        return tr("Settings: the MELD_* environment variables only ({variable} is empty).",
                  variable=ENV_FILE_VARIABLE)
    return tr("Settings: the MELD_* environment variables only (there is no .env file in "
              "{folder}).", folder=str(Path.cwd()))


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

    from intake.app import create_app
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
        uvicorn.run(app, **common)
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
        ctx=ctx, actor=cli_actor(),
        filters=services.ReportFilter(status=args.status, kind=args.kind,
                                      category=args.category,
                                      unread=getattr(args, "unread", False)),
        limit=args.limit,
    )
    if not page.items:
        print(tr("No reports."))
        return 0
    header = (tr("Reference"), tr("Reported"), tr("Status"), tr("Kind"), tr("Category"))
    rows = [(v.reference, tr.date(tr.local_date(v.reported_at), "short"),
             label(STATUS_LABELS, v.status, tr), label(KIND_LABELS, v.kind, tr),
             ctx.taxonomy.category_label(v.category, tr.locale)
             + ("  ✉ " + tr(UNREAD_MARK) if v.unread_from_reporter else ""))
            for v in page.items]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]
    for row in (header, *rows):
        print("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)),
                         row[-1]]))
    if page.next_cursor is not None and len(page.items) < MAX_LIST_LIMIT:
        print(tr("Only the newest {count} are shown; there are more. Raise --limit (at most "
                 "{max}) or narrow with --status, --kind or --category.",
                 count=len(page.items), max=MAX_LIST_LIMIT), file=sys.stderr)
    elif page.next_cursor is not None:
        print(tr("Only the newest {count} are shown; there are more. Narrow with --status, "
                 "--kind or --category.", count=len(page.items)), file=sys.stderr)
    return 0


def cmd_reports_show(cli: Cli, args: argparse.Namespace) -> int:
    ctx = cli.ctx
    tr = cli.tr
    from intake.presenting import report_text  # the same view as /triage vis in chat

    view = services.get_report(ctx=ctx, actor=cli_actor(), reference=args.reference)
    print(report_text(ctx, view, tr, for_group=True))
    return 0


def _triage(cli: Cli, op: Callable[..., Any], **kwargs: Any) -> int:
    ctx = cli.ctx
    view = op(ctx=ctx, actor=cli_actor(), **kwargs)
    tr = cli.tr
    if isinstance(view, services.ReportView):
        print(f"{view.reference}: {label(STATUS_LABELS, view.status, tr)}")
    else:
        print(view)
    return 0


def cmd_export(cli: Cli, args: argparse.Namespace) -> int:
    from intake.reporting.spreadsheet import CsvWriter

    ctx = cli.ctx
    tr = cli.tr
    try:
        out = open(args.out, "w", newline="", encoding="utf-8") if args.out else sys.stdout
    except OSError as exc:
        print("meld: " + tr("Cannot write {path} ({reason}).", path=args.out,
                            reason=exc.strerror or str(exc)), file=sys.stderr)
        return 1
    count = 0
    try:
        writer = CsvWriter(out)  # text a spreadsheet would run as a formula is defused
        writer.writerow(services.EXPORT_COLUMNS)
        for row in services.export_rows(ctx=ctx, actor=cli_actor()):
            writer.writerow(row)
            count += 1
    finally:
        if out is not sys.stdout:
            out.close()
    sys.stdout.flush()  # a closed pipe shows here, before the summary claims success
    print(tr("Exported {count} reports (coded fields, no free text) to {target}.", count=count,
             target=args.out or tr("standard output")), file=sys.stderr)
    return 0


def cmd_outbox(cli: Cli, args: argparse.Namespace) -> int:
    from intake.delivery.outbox import OutboxWorker, WebStatusNotifier, reconcile, unverified

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


MAX_LIST_LIMIT = 200  # services.list_reports returns at most this many in one page

# statuses `meld triage status` does not set itself: the command that does, and its words
_DEDICATED = {
    Status.CLOSED: ("close", (N_("LEARNING_POINT"), N_("MEASURE"))),
    Status.NEEDS_INFO: ("ask", (N_("QUESTION"),)),
    Status.REDIRECTED: ("redirect", (N_("TARGET"),)),
    Status.DUPLICATE: ("duplicate", (N_("OTHER_REF"),)),
}
_SIMPLE_STATUSES = (Status.TRIAGE, Status.IN_PROGRESS, Status.REJECTED)


def _dedicated_command(tr: Translator, status: str, reference: str) -> str:
    """`meld triage close MELD-2026-0001 LÆRINGSPUNKT TILTAK` for status 'closed'."""
    if status == Status.TRIAGE:  # from closed: reopening is its own operation
        name, words = "reopen", ()
    else:
        name, words = _DEDICATED[Status(status)]
    return " ".join(("meld triage", name, reference, *(tr(w) for w in words)))


def cmd_triage_status(cli: Cli, args: argparse.Namespace) -> int:
    tr = cli.tr
    if args.status not in (*_SIMPLE_STATUSES, *_DEDICATED):
        print("meld: " + tr("Unknown status “{value}”. Choose one of: {values}.",
                            value=args.status[:40], values=", ".join(_SIMPLE_STATUSES)),
              file=sys.stderr)
        return 2
    if args.status in _DEDICATED:
        print("meld: " + tr("The status “{label}” is set with its own command: {command}",
                            label=label(STATUS_LABELS, args.status, tr),
                            command=_dedicated_command(tr, args.status, args.reference)),
              file=sys.stderr)
        return 2
    try:
        return _triage(cli, services.move_status, reference=args.reference,
                       status=args.status, message=args.message)
    except DomainError as exc:
        if exc.code != "status_needs_details":
            raise
        print("meld: " + tr("The status “{label}” is set with its own command: {command}",
                            label=label(STATUS_LABELS, args.status, tr),
                            command=_dedicated_command(tr, args.status, args.reference)),
              file=sys.stderr)
        return 2


def build_parser(tr: Translator | None = None,
                 taxonomy: Taxonomy | None = None) -> argparse.ArgumentParser:
    """The `meld` parser; every help text in the language of `tr` (bokmål by default).
    With the taxonomy, the help lists the category ids."""
    from intake.cli.args import choices_help, whole_number

    tr = tr or Translator()
    if taxonomy is not None:
        category_help = choices_help(
            tr, tr("only reports in this category"), [c.id for c in taxonomy.categories],
            {c.id: c.label(tr.locale) for c in taxonomy.categories})
        assess_category_help = choices_help(
            tr, tr("the category"), [c.id for c in taxonomy.active_categories()],
            {c.id: c.label(tr.locale) for c in taxonomy.categories})
    else:
        category_help = tr("only reports in this category (its id, e.g. discharge_summary)")
        assess_category_help = tr("the category id, e.g. discharge_summary")
    p = argparse.ArgumentParser(
        prog="meld",
        description=tr("Meld: reports of collaboration deviations and suggestions, triage "
                       "and feedback. Settings come from the MELD_* environment variables "
                       "and the .env file in the working directory (see the README)."))
    sub = p.add_subparsers(dest="command", required=True, title=tr("commands"),
                           metavar=tr("COMMAND"))

    s = sub.add_parser("serve", help=tr("start Meld: the web form, the API, Slack and Teams "
                                        "(when configured) and the notification worker"))
    s.add_argument("--no-migrate", dest="migrate", action="store_false",
                   help=tr("do not update the database tables first (default: update them)"))
    s.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help=tr("create or update the database tables (after every "
                                      "upgrade)")).set_defaults(func=cmd_migrate)

    t = sub.add_parser("token", help=tr("API tokens for Forbedringsgruppen"))
    tsub = t.add_subparsers(dest="token_command", required=True, title=tr("commands"),
                            metavar=tr("COMMAND"))
    tc = tsub.add_parser("create", help=tr("create a bearer token (shown only once)"))
    tc.add_argument("--name", required=True, metavar=tr("NAME"),
                    help=tr("whose token it is (shown in the audit log)"))
    tc.add_argument("--role", required=True, choices=["triager", "admin"],
                    help=tr("what the token may do: triager (Forbedringsgruppen's work) or "
                            "admin"))
    tc.add_argument("--days", type=whole_number(tr, 1), default=None, metavar=tr("DAYS"),
                    help=tr("the token expires after this many days (default: never)"))
    tc.set_defaults(func=cmd_token_create)
    tr_ = tsub.add_parser("revoke", help=tr("revoke every token with this name"))
    tr_.add_argument("--name", required=True, metavar=tr("NAME"),
                     help=tr("the name the tokens were created with"))
    tr_.set_defaults(func=cmd_token_revoke)

    r = sub.add_parser("reports", help=tr("list or show reports"))
    rsub = r.add_subparsers(dest="reports_command", required=True, title=tr("commands"),
                            metavar=tr("COMMAND"))
    rl = rsub.add_parser("list", help=tr("the newest reports, one line each"))
    rl.add_argument("--status", choices=[str(v) for v in Status], metavar=tr("STATUS"),
                    help=choices_help(tr, tr("only reports with this status"), Status,
                                      STATUS_LABELS))
    rl.add_argument("--kind", choices=[str(v) for v in Kind], metavar=tr("KIND"),
                    help=choices_help(tr, tr("only reports of this kind"), Kind, KIND_LABELS))
    rl.add_argument("--category", metavar=tr("CATEGORY"), help=category_help)
    rl.add_argument("--unread", action="store_true",
                    help=tr("only reports with an unread answer from the reporter"))
    rl.add_argument("--limit", type=whole_number(tr, 1, MAX_LIST_LIMIT), default=50,
                    metavar="N",
                    help=tr("show at most N reports, newest first (1 to {max}, default 50)",
                            max=MAX_LIST_LIMIT))
    rl.set_defaults(func=cmd_reports_list)
    rs = rsub.add_parser("show", help=tr("one report: its facts, text and conversation"))
    rs.add_argument("reference", metavar="REF", help=tr("the report's reference, e.g. "
                                                        "MELD-2026-0042"))
    rs.set_defaults(func=cmd_reports_show)

    tg = sub.add_parser("triage", help=tr("Forbedringsgruppen's work on one report"))
    tgs = tg.add_subparsers(dest="triage_command", required=True, title=tr("commands"),
                            metavar=tr("COMMAND"))
    ref_help = tr("the report's reference, e.g. MELD-2026-0042")

    def op(name: str, help_: str, fn: Callable[..., Any],
           params: Sequence[tuple[str, str, str, dict[str, Any]]] = (),
           optional: Sequence[tuple[str, str, dict[str, Any]]] = ()) -> argparse.ArgumentParser:
        sp = tgs.add_parser(name, help=help_, description=help_)
        sp.add_argument("reference", metavar="REF", help=ref_help)
        for dest, metavar, text, extra in params:
            sp.add_argument(dest, metavar=metavar, help=text, **extra)
        for dest, text, extra in optional:
            sp.add_argument(f"--{dest.replace('_', '-')}", dest=dest, help=text, **extra)
        names = [p[0] for p in (*params, *optional)]
        sp.set_defaults(func=lambda st, a: _triage(
            st, fn, reference=a.reference, **{k: getattr(a, k) for k in names}))
        return sp

    op("assess", tr("set category, assessed severity and breached guideline (starts "
                    "triage)"), services.assess, optional=(
        ("category", assess_category_help, {"metavar": tr("CATEGORY")}),
        ("subcategory", tr("the subcategory id within that category"),
         {"metavar": tr("SUBCATEGORY")}),
        ("assessed_severity",
         choices_help(tr, tr("the group's assessment of the consequence"), Severity,
                      SEVERITY_LABELS),
         {"choices": [str(v) for v in Severity], "metavar": tr("SEVERITY")}),
        ("agreement_reference", tr("the guideline or agreement that was breached (marks "
                                   "the report as a breach)"), {"metavar": tr("REFERENCE")}),
    ))
    op("assign", tr("give the report to a member of the group"), services.assign,
       (("assignee", tr("PERSON"), tr("who takes it (a name or user id)"), {}),))
    st = tgs.add_parser("status", help=tr("move to triage, in_progress or rejected"),
                        description=tr("move to triage, in_progress or rejected; the other "
                                       "statuses have their own commands: close, ask, "
                                       "redirect, duplicate, reopen"))
    st.add_argument("reference", metavar="REF", help=ref_help)
    st.add_argument("status", metavar=tr("STATUS"),  # checked in cmd_triage_status
                    help=choices_help(tr, tr("the new status"), _SIMPLE_STATUSES,
                                      STATUS_LABELS))
    st.add_argument("--message", metavar=tr("TEXT"),
                    help=tr("words to the reporter with the status notice"))
    st.set_defaults(func=cmd_triage_status)
    op("note", tr("an internal note (the group only; the reporter never sees it)"),
       services.add_note, (("text", tr("TEXT"), tr("the note"), {}),))
    op("reply", tr("a message to the reporter"), services.reply,
       (("text", tr("TEXT"), tr("the message"), {}),))
    op("ask", tr("ask the reporter for more information (status: needs more information)"),
       services.request_info, (("question", tr("QUESTION"), tr("the question"), {}),))
    op("redirect", tr("forward to a formal system (status: forwarded)"), services.redirect,
       (("target", tr("TARGET"), choices_help(tr, tr("where to"), RedirectTarget,
                                                  REDIRECT_LABELS),
         {"choices": [str(v) for v in RedirectTarget]}),),
       optional=(("external_reference", tr("the case number there"),
                  {"metavar": tr("REFERENCE")}),))
    op("duplicate", tr("mark as a duplicate of another report"), services.mark_duplicate,
       (("duplicate_of", tr("OTHER_REF"), tr("the report that covers the same matter"), {}),))
    op("close", tr("close with a learning point and a measure"), services.close,
       (("learning_point", tr("LEARNING_POINT"), tr("what we learned"), {}),
        ("measure", tr("MEASURE"), tr("what was done"), {})))
    op("reopen", tr("reopen a closed report (status: being assessed)"), services.reopen)

    e = sub.add_parser("export", help=tr("the coded fields of every report as CSV (no free "
                                         "text, no reporter)"))
    e.add_argument("--format", choices=["csv"], default="csv",
                   help=tr("the file format; only csv (default)"))
    e.add_argument("--out", metavar=tr("FILE"),
                   help=tr("the file to write (default: standard output)"))
    e.set_defaults(func=cmd_export)

    o = sub.add_parser("outbox", help=tr("deliver pending notifications once, or settle the "
                                         "ones parked with an unknown outcome"))
    og = o.add_mutually_exclusive_group()
    og.add_argument("--unverified", action="store_true",
                    help=tr("list notifications that may have arrived (parked, not resent)"))
    og.add_argument("--delivered", type=whole_number(tr, 1), nargs="+", metavar="ID",
                    help=tr("parked notifications that did arrive: mark them delivered"))
    og.add_argument("--resend", type=whole_number(tr, 1), nargs="+", metavar="ID",
                    help=tr("parked notifications that did not arrive: send them once more"))
    o.set_defaults(func=cmd_outbox)

    # commands that live in their own modules: each has add_parser(sub, tr)
    from intake.cli import audit as cli_audit
    from intake.cli import demo as cli_demo
    from intake.cli import digest as cli_digest
    from intake.cli import lifecycle as cli_lifecycle
    from intake.cli import report as cli_report
    from intake.cli import teams_package as cli_teams_package

    for module in (cli_report, cli_digest, cli_demo, cli_lifecycle, cli_audit,
                   cli_teams_package):
        module.add_parser(sub, tr)
    return p


def _settings_problem(error: Exception, tr: Translator) -> list[str]:
    """Lines for settings Meld cannot run with; never the values (they may be secrets)."""
    if isinstance(error, SettingsError):
        return [error.text(tr)]
    assert isinstance(error, ValidationError)
    lines = []
    for err in error.errors(include_input=False):
        loc = err.get("loc") or ()
        variable = f"MELD_{str(loc[0]).upper()}" if loc else ""
        ctx = err.get("ctx") or {}
        reason = str(err.get("msg", "")).removeprefix("Value error, ")
        if err.get("type") == "secret_key_too_short":
            lines.append(tr("MELD_SECRET_KEY is too short: {length} bytes, and it needs at "
                            "least {min}. Make one with: {command}", **ctx))
        elif variable:
            lines.append(tr("{variable} has a value Meld cannot use: {reason}",
                            variable=variable, reason=reason))
        else:
            lines.append(tr("The settings do not fit together: {reason}", reason=reason))
    return lines


def _validation_text(error: ValidationFailed, tr: Translator) -> str:
    """A service's refusal, field by field (the argument it is about first). The choices
    the services check are argparse choices here, refused with the allowed values."""
    return "; ".join(f"{err.field.replace('_', '-')}: {field_error_text(err, tr)}"
                     for err in error.errors)


def _run(argv: Sequence[str] | None, settings: Settings | None) -> int:
    from intake.cli.args import argparse_speaks

    problem: Exception | None = None
    if settings is None:
        try:
            settings = Settings.from_environment()
        except (ValidationError, SettingsError) as exc:
            problem = exc
    if settings is not None:
        tr = Translator(settings.locale, settings.timezone)
    else:  # the settings are broken: still answer in the language asked for
        tr = Translator(normalize_locale(os.environ.get("MELD_LOCALE")))
    taxonomy = None
    if settings is not None:
        from intake.domain.taxonomy import TaxonomyError, load_taxonomy

        try:
            taxonomy = load_taxonomy(settings.taxonomy_dir)
        except (TaxonomyError, OSError):
            pass  # said in words when a command needs it
    with argparse_speaks(tr):  # --help works with broken settings too
        args = build_parser(tr, taxonomy).parse_args(argv)
    if problem is not None:
        for line in _settings_problem(problem, tr):
            print(f"meld: {line}", file=sys.stderr)
        return 2
    assert settings is not None

    from alembic.util.exc import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from intake.cli.checks import database_problem
    from intake.domain.taxonomy import TaxonomyError

    cli = Cli(settings)
    try:
        return int(args.func(cli, args) or 0)
    except ValidationFailed as exc:
        print(f"meld: {_validation_text(exc, tr)}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"meld: {domain_error_text(exc, tr)}", file=sys.stderr)
        return 2
    except SettingsError as exc:
        print(f"meld: {exc.text(tr)}", file=sys.stderr)
        return 2
    except TaxonomyError as exc:  # MELD_TAXONOMY_DIR with a broken file
        print(f"meld: MELD_TAXONOMY_DIR: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        line = database_problem(exc, settings.database_url, tr)
        if line is None:
            raise
        print(f"meld: {line}", file=sys.stderr)
        return 1
    except CommandError as exc:  # Alembic: e.g. a database migrated by a newer Meld
        print("meld: " + tr("The migration failed: {reason}", reason=str(exc)),
              file=sys.stderr)
        return 1
    except BrokenPipeError:
        raise  # main() ends quietly
    except OSError as exc:  # a folder or file Meld cannot make, read or write
        print("meld: " + tr("Meld cannot use {path} ({reason}).",
                            path=exc.filename or "-", reason=exc.strerror or str(exc)),
              file=sys.stderr)
        return 1
    finally:
        cli.close()


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    """`meld`: settings from the environment and ./.env unless given (tests give them)."""
    try:
        try:
            return _run(argv, settings)
        finally:
            sys.stdout.flush()  # a reader that went away shows here at the latest
    except BrokenPipeError:
        # `meld ... | head`: the reader has all it wanted. Stop quietly, as Unix tools do
        # (status 128 + SIGPIPE), and point stdout at /dev/null so the flush at exit is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    raise SystemExit(main())

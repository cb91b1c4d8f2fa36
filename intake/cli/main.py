"""The `meld` command: the parser, `main()` with its one-line answers to errors, and the
small commands (token, export, outbox). The larger command families live in their own
modules (`serve`, `reports`, `triage`, `report`, `digest`, ...), each registered here
through its `add_parser`. Only the `meld` entry point, `python -m` and tests import this.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from intake import services
from intake.cli.base import Cli, cli_actor
from intake.domain.model import DomainError, ValidationFailed
from intake.domain.taxonomy import Taxonomy
from intake.i18n import Translator, normalize_locale
from intake.settings import Settings, SettingsError
from intake.texts import domain_error_text, field_error_text


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


def build_parser(tr: Translator | None = None,
                 taxonomy: Taxonomy | None = None) -> argparse.ArgumentParser:
    """The `meld` parser; every help text in the language of `tr` (bokmål by default).
    With the taxonomy, the help lists the category ids."""
    from intake.cli import reports as cli_reports
    from intake.cli import serve as cli_serve
    from intake.cli import triage as cli_triage
    from intake.cli.args import whole_number

    tr = tr or Translator()
    p = argparse.ArgumentParser(
        prog="meld",
        description=tr("Meld: reports of collaboration deviations and suggestions, triage "
                       "and feedback. Settings come from the MELD_* environment variables "
                       "and the .env file in the working directory (see the README)."))
    sub = p.add_subparsers(dest="command", required=True, title=tr("commands"),
                           metavar=tr("COMMAND"))

    cli_serve.add_parser(sub, tr)  # serve, migrate

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

    # their help lists the taxonomy's category ids when it could be read
    cli_reports.add_parser(sub, tr, taxonomy)
    cli_triage.add_parser(sub, tr, taxonomy)

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
    from intake.cli import board as cli_board
    from intake.cli import clusters as cli_clusters
    from intake.cli import demo as cli_demo
    from intake.cli import digest as cli_digest
    from intake.cli import doctor as cli_doctor
    from intake.cli import lifecycle as cli_lifecycle
    from intake.cli import mailbox as cli_mailbox
    from intake.cli import newsletter as cli_newsletter
    from intake.cli import promises as cli_promises
    from intake.cli import report as cli_report
    from intake.cli import suggest as cli_suggest
    from intake.cli import teams_package as cli_teams_package

    for module in (cli_report, cli_digest, cli_demo, cli_lifecycle, cli_audit,
                   cli_teams_package, cli_doctor, cli_promises, cli_mailbox, cli_board,
                   cli_clusters, cli_newsletter, cli_suggest):
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

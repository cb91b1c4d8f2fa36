"""`meld report`: the tertial and annual report for the committee (HTML, CSV or XLSX)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from intake.reporting.spreadsheet import CSV_DIALECTS, STANDARD

if TYPE_CHECKING:
    from intake.cli.base import Cli
    from intake.i18n import Translator

FORMATS = ("html", "csv", "xlsx")
_TERTIAL = re.compile(r"^\d{4}-T[1-3]$")
_YEAR = re.compile(r"^\d{4}$")


def add_parser(sub: Any, tr: Translator) -> None:
    """Register the subcommand on the `meld` parser (argparse subparsers)."""
    p = sub.add_parser(
        "report", help=tr("the tertial or annual report for the committee (html, csv, xlsx)"),
        description=tr("Counts below 3 are shown as <3 in HTML and XLSX unless "
                       "--unsuppressed; CSV is for the working group and always exact."))
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--tertial", metavar="YYYY-TN",
                       help=tr("a tertial (T1 January–April, T2 May–August, T3 "
                               "September–December), e.g. 2026-T1"))
    which.add_argument("--year", metavar="YYYY", help=tr("a calendar year, e.g. 2026"))
    p.add_argument("--format", choices=FORMATS, default=None,
                   help=tr("html, csv or xlsx (default: from the --out file name's ending, "
                           "else html)"))
    p.add_argument("--out", required=True, metavar=tr("FILE"), help=tr("the file to write"))
    p.add_argument("--unsuppressed", action="store_true",
                   help=tr("show counts below 3 as they are (for the working group only)"))
    p.add_argument("--csv-dialect", choices=tuple(CSV_DIALECTS), default=STANDARD.name,
                   help=tr("CSV only: standard (comma, decimal point) or excel-nb (semicolon, "
                           "decimal comma: what a Norwegian Excel opens as columns)"))
    p.set_defaults(func=cmd_report)


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    suffix = Path(args.out).suffix.lower().lstrip(".")
    return suffix if suffix in FORMATS else "html"


def cmd_report(cli: Cli, args: argparse.Namespace) -> int:
    from intake.cli.base import cli_actor
    from intake.domain.periods import parse_period

    tr = cli.tr
    key = (args.tertial or args.year or "").strip().upper()
    if args.tertial is not None:
        pattern, example = _TERTIAL, "2026-T1"
    else:
        pattern, example = _YEAR, "2026"
    if not pattern.match(key):
        message = tr("Unknown period “{period}”. Write it like {example}.", period=key[:40],
                     example=example)
        print(f"meld: {message}", file=sys.stderr)
        return 2
    try:
        period = parse_period(key, tr)
    except ValueError as exc:  # the message is already in words
        print(f"meld: {exc}", file=sys.stderr)
        return 2

    from intake.reporting.period_report import build_period_report
    from intake.reporting.render_html import render_html
    from intake.reporting.render_tables import render_csv, render_xlsx

    fmt = _format(args)
    report = build_period_report(ctx=cli.ctx, actor=cli_actor(), period=period,
                                 suppress=not args.unsuppressed)
    if fmt == "html":
        data = render_html(report, tr).encode("utf-8")
    elif fmt == "csv":
        # with a byte-order mark, so spreadsheet programs read æøå as UTF-8
        data = render_csv(report, tr, args.csv_dialect).encode("utf-8-sig")
    else:
        data = render_xlsx(report, tr)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    partial.write_bytes(data)
    partial.replace(out)  # a reader never sees half a file
    print(tr("Report for {period} written to {path}.", period=period.label, path=str(out)))
    if args.unsuppressed or fmt == "csv":  # the CSV is always exact
        print(tr("Counts below 3 are not suppressed: for Forbedringsgruppen only."),
              file=sys.stderr)
    return 0

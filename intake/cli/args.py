"""The `meld` command line in the user's language: argparse's own words, checked arguments.

argparse looks its words up through its module-level `_` (gettext) each time it speaks:
`argparse_speaks(tr)` points that at Meld's catalogue while the parser is built and the
arguments are parsed, and puts it back afterwards. The msgids below are argparse's own
(Python 3.11); a word argparse has but Meld's catalogue lacks stays English.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from typing import Any

from intake.i18n import N_, Translator

ARGPARSE_MSGIDS = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("unrecognized arguments: %s"),
    N_("not allowed with argument %s"),
    N_("ignored explicit argument %r"),
    N_("the following arguments are required: %s"),
    N_("one of the arguments %s is required"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("invalid %(type)s value: %(value)r"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("can't open '%(filename)s': %(error)s"),
)


@contextmanager
def argparse_speaks(tr: Translator) -> Iterator[None]:
    """While inside, argparse's usage line, headings and errors come from Meld's catalogue."""
    saved = argparse._  # type: ignore[attr-defined]
    argparse._ = tr  # type: ignore[attr-defined]  # tr(msgid) without params: the text as is
    try:
        yield
    finally:
        argparse._ = saved  # type: ignore[attr-defined]


def whole_number(tr: Translator, low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from low (to high), refused in words otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                tr("“{value}” is not a whole number.", value=text[:40])) from None
        if high is not None and not low <= value <= high:
            raise argparse.ArgumentTypeError(
                tr("{value} is not between {low} and {high}.", value=value, low=low,
                   high=high))
        if value < low:
            raise argparse.ArgumentTypeError(
                tr("{value} is less than {low}.", value=value, low=low))
        return value

    return parse


def iso_date(tr: Translator) -> Callable[[str], date]:
    """An argparse type: a date written YYYY-MM-DD."""

    def parse(text: str) -> date:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                tr("“{value}” is not a date; write it as YYYY-MM-DD.", value=text[:40])
            ) from None

    return parse


def choices_help(tr: Translator, text: str, values: Iterable[Any],
                 labels: Mapping[Any, str] | None = None) -> str:
    """Help text that names every allowed value, with its label in the user's language."""
    names = []
    for value in values:
        shown = str(value)
        if labels is not None and value in labels:
            shown += f" – {tr(labels[value])}"
        names.append(shown)
    return f"{text}: {'; '.join(names)}".replace("%", "%%")  # argparse %-formats help

"""`videresend REF target [their reference] [message]`: where the external reference ends and
the group's message to the reporter begins.

- With a `--` word: what stands between the target and `--` is the reference (one or more
  words, quotes dropped), everything after `--` the message, verbatim.
- Without: the first word is the reference if it was quoted or has a digit (EQS-2026-118,
  2026/1234, "Sak 77"); all the rest is the message. So `videresend REF tqm Takk, vi har
  sendt den videre` is a message only, and `videresend REF eqs 2026-1 Takk` both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

SEPARATOR = "--"


class Span(Protocol):
    """A word of the command line and where it sits (bot.chat.parsing.Word)."""

    @property
    def value(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


def _rest(text: str, words: Sequence[Span], index: int) -> str:
    return text[words[index].start:].strip() if index < len(words) else ""


def external_and_message(text: str, words: Sequence[Span], at: int,
                         quotes: str) -> tuple[str, str]:
    """(external reference, message) from words[at:]; "" for what is not there. `quotes`
    are the characters that open a quoted word."""
    cut = next((i for i in range(at, len(words))
                if text[words[i].start:words[i].end] == SEPARATOR), None)
    if cut is not None:
        external = text[words[at].start:words[cut - 1].end] if cut > at else ""
        return external.strip().strip(quotes + "”»’").strip(), _rest(text, words, cut + 1)
    if at < len(words) and (text[words[at].start] in quotes
                            or any(c.isdigit() for c in words[at].value)):
        return words[at].value.strip(), _rest(text, words, at + 1)
    return "", _rest(text, words, at)

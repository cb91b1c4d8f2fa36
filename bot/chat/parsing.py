"""The words of the triage command language shared by Slack `/triage` and Teams text.

`parse(text)` is pure: it splits one command line into a ParsedCommand (keyword,
reference, plain words, key=value options and the free text after the reference, verbatim).
Here too: mention syntax (`slack_user_id`, `default_assignee`) and the help and usage
texts; the words themselves are in `bot.chat.vocabulary` (`Cmd` is re-exported here).
Nothing here touches the services; `bot.chat.commands` runs what this parses, and the chat
doors and tests may import either.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from bot.chat.redirect_words import external_and_message
from bot.chat.vocabulary import (
    ASSESS_OPTIONS,
    CLOSE_OPTIONS,
    KEYWORDS,
    KIND_WORDS,
    REDIRECT_WORDS,
    SEVERITY_WORDS,
    STATUS_WORDS,
    UNASSIGN_WORDS,
    UNREAD_WORDS,
    USAGE,
    YES_NO,
    Cmd,
    word_key,
)
from intake.i18n import Translator

MAX_ECHO = 40  # characters of an unknown word repeated back to the user


class ParseError(StrEnum):
    MISSING_REFERENCE = "missing_reference"
    BAD_REFERENCE = "bad_reference"
    MISSING_ARGUMENT = "missing_argument"
    UNKNOWN_WORD = "unknown_word"


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    """One command line, split but not yet run."""

    name: Cmd
    word: str = ""  # the keyword as typed
    reference: str | None = None  # normalised: MELD-YYYY-NNNN
    args: tuple[str, ...] = ()  # resolved words: status id, redirect target, other reference
    options: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # free text after the arguments, verbatim (surrounding blanks trimmed); for `søk`, the
    # words to look for
    text: str = ""
    error: ParseError | None = None
    bad: str | None = None  # the word that could not be understood


# ---------------------------------------------------------------- splitting

# Opening quote -> the characters that close it. Typographic quotes count too, because
# Slack, Teams and phones replace " as people type.
_QUOTES = {
    '"': '"',
    "'": "'",
    "“": "”“\"",
    "”": "”\"",
    "„": "“”\"",
    "«": "»",
    "‘": "’'",
}
_DASHES = dict.fromkeys(map(ord, "‐‑‒–—−"), "-")
_REFERENCE = re.compile(r"MELD-(\d{4})-(\d{1,9})", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a command line and where it sits, so the rest can be taken verbatim."""

    value: str
    start: int
    end: int


def split_words(text: str) -> list[Word]:
    """Split on blanks like shlex: quotes group words. A quote opens only at the start of a
    word or right after `=`, and closes only before a blank or the end of the line, so
    apostrophes inside words stay as they are. An unclosed quote runs to the end of the
    line instead of failing."""
    words: list[Word] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        parts: list[str] = []
        while i < n and not text[i].isspace():
            ch = text[i]
            if ch in _QUOTES and (i == start or text[i - 1] == "="):
                closers = _QUOTES[ch]
                j = i + 1
                # A quote closes only before a blank or the end: "group's" stays whole.
                while j < n and not (text[j] in closers and (j + 1 == n or text[j + 1].isspace())):
                    j += 1
                parts.append(text[i + 1:j])
                i = min(j + 1, n)
            else:
                parts.append(ch)
                i += 1
        words.append(Word("".join(parts), start, i))
    return words


def normalize_reference(word: str) -> str | None:
    """'meld-2026-42' -> 'MELD-2026-0042'; None when the word is not a reference."""
    candidate = word.translate(_DASHES).strip().rstrip(":,.;!?)")
    match = _REFERENCE.fullmatch(candidate)
    if match is None:
        return None
    return f"MELD-{match.group(1)}-{int(match.group(2)):04d}"


def _rest(text: str, words: list[Word], index: int) -> str:
    """The line after words[:index], verbatim (only the surrounding blanks trimmed)."""
    if index >= len(words):
        return ""
    return text[words[index].start:].strip()


def _single_value(text: str, words: list[Word], index: int) -> str:
    """Like _rest, but a value given as one quoted word loses its quotes."""
    if len(words) == index + 1:
        return words[index].value.strip()
    return _rest(text, words, index)


def slack_user_id(raw: str) -> str | None:
    """The user id in a Slack mention '<@U123ABC>' or '<@U123ABC|kari>'; None otherwise."""
    match = re.fullmatch(r"<@([A-Z0-9]+)(?:\|[^>]*)?>", raw.strip())
    return match.group(1) if match else None


def default_assignee(raw: str) -> str:
    """What is stored for `tildel` when the door gives no mapping: the id of a Slack mention,
    the name of a Teams mention, else the text without its leading @."""
    raw = raw.strip()
    user = slack_user_id(raw)
    if user is not None:
        return user
    teams = re.fullmatch(r"<at>(.*?)</at>", raw, re.DOTALL)
    if teams is not None:
        raw = teams.group(1).strip()
    return raw.removeprefix("@").strip()


# ---------------------------------------------------------------- parsing


def _fail(name: Cmd, word: str, error: ParseError, bad: str | None = None,
          reference: str | None = None) -> ParsedCommand:
    return ParsedCommand(name=name, word=word, reference=reference, error=error, bad=bad)


def _options(words: list[Word], aliases: dict[str, str]) -> tuple[dict[str, str], str | None]:
    """key=value words -> {canonical key: value}; the first word that is not one is returned."""
    found: dict[str, str] = {}
    for w in words:
        key, sep, value = w.value.partition("=")
        canonical = aliases.get(key.strip().casefold())
        if not sep or canonical is None:
            return found, w.value
        found[canonical] = value.strip()
    return found, None


def parse(text: str) -> ParsedCommand:
    """Split one command line; never raises. Unknown keywords give Cmd.UNKNOWN."""
    text = unicodedata.normalize("NFC", text or "").strip()
    words = split_words(text)
    if not words:
        return ParsedCommand(name=Cmd.HELP)
    first = words[0].value
    name = KEYWORDS.get(word_key(first))
    consumed = 1
    if name is None and word_key(first) == "trenger" and len(words) > 1 \
            and word_key(words[1].value) == "info":
        name, first, consumed = Cmd.REQUEST_INFO, f"{first} {words[1].value}", 2
    if name is None:
        return ParsedCommand(name=Cmd.UNKNOWN, word=first)
    if name == Cmd.HELP:
        return ParsedCommand(name=Cmd.HELP, word=first)
    if name == Cmd.LIST:
        return _parse_list(first, words[consumed:])
    if name == Cmd.REPORT:
        if len(words) <= consumed:
            return _fail(name, first, ParseError.MISSING_ARGUMENT)
        return ParsedCommand(name=name, word=first, args=(words[consumed].value,))
    if name == Cmd.SEARCH:
        return _parse_search(first, words[consumed:])

    if len(words) <= consumed:
        return _fail(name, first, ParseError.MISSING_REFERENCE)
    reference = normalize_reference(words[consumed].value)
    if reference is None:
        return _fail(name, first, ParseError.BAD_REFERENCE, bad=words[consumed].value)
    at = consumed + 1  # index of the first word after the reference
    rest = words[at:]
    ok = ParsedCommand(name=name, word=first, reference=reference)

    match name:
        case Cmd.SHOW | Cmd.REOPEN | Cmd.PLUS_ONE | Cmd.SIMILAR:
            if rest:
                return _fail(name, first, ParseError.UNKNOWN_WORD, rest[0].value, reference)
            return ok
        case Cmd.ASSESS:
            options, bad = _options(rest, ASSESS_OPTIONS)
            if bad is not None:
                return _fail(name, first, ParseError.UNKNOWN_WORD, bad, reference)
            if "severity" in options:
                severity = SEVERITY_WORDS.get(word_key(options["severity"]))
                if severity is None:
                    return _fail(name, first, ParseError.UNKNOWN_WORD, options["severity"],
                                 reference)
                options["severity"] = severity.value
            if "breached" in options:
                yes_no = YES_NO.get(options["breached"].casefold())
                if yes_no is None:
                    return _fail(name, first, ParseError.UNKNOWN_WORD, options["breached"],
                                 reference)
                options["breached"] = yes_no
            return ParsedCommand(name=name, word=first, reference=reference,
                                 options=MappingProxyType(options))
        case Cmd.CLOSE:
            options, bad = _options(rest, CLOSE_OPTIONS)
            if bad is not None:
                return _fail(name, first, ParseError.UNKNOWN_WORD, bad, reference)
            if options and not (options.get("learning") and options.get("measure")):
                return _fail(name, first, ParseError.MISSING_ARGUMENT, reference=reference)
            return ParsedCommand(name=name, word=first, reference=reference,
                                 options=MappingProxyType(options))
        case Cmd.ASSIGN:
            person = _single_value(text, words, at)
            if not person:
                return _fail(name, first, ParseError.MISSING_ARGUMENT, reference=reference)
            return ParsedCommand(name=name, word=first, reference=reference, text=person)
        case Cmd.STATUS:
            if not rest:
                return _fail(name, first, ParseError.MISSING_ARGUMENT, reference=reference)
            status, used = None, 1
            if len(rest) > 1:  # two-word names: "under vurdering", "tiltak pågår"
                status = STATUS_WORDS.get(word_key(f"{rest[0].value} {rest[1].value}"))
                used = 2
            if status is None:
                status, used = STATUS_WORDS.get(word_key(rest[0].value)), 1
            if status is None:
                return _fail(name, first, ParseError.UNKNOWN_WORD, rest[0].value, reference)
            return ParsedCommand(name=name, word=first, reference=reference,
                                 args=(status.value,), text=_rest(text, words, at + used))
        case Cmd.REPLY | Cmd.REQUEST_INFO | Cmd.NOTE | Cmd.TITLE:
            body = _rest(text, words, at)
            if not body:
                return _fail(name, first, ParseError.MISSING_ARGUMENT, reference=reference)
            return ParsedCommand(name=name, word=first, reference=reference, text=body)
        case Cmd.REDIRECT:
            if not rest:
                return _fail(name, first, ParseError.MISSING_ARGUMENT, reference=reference)
            target = REDIRECT_WORDS.get(word_key(rest[0].value))
            if target is None:
                return _fail(name, first, ParseError.UNKNOWN_WORD, rest[0].value, reference)
            external, message = external_and_message(text, words, at + 1, "".join(_QUOTES))
            return ParsedCommand(name=name, word=first, reference=reference, text=message,
                                 args=(target.value, external) if external else (target.value,))
        case Cmd.DUPLICATE:
            if not rest:
                return _fail(name, first, ParseError.MISSING_ARGUMENT, reference=reference)
            other = normalize_reference(rest[0].value)
            if other is None:
                return _fail(name, first, ParseError.BAD_REFERENCE, rest[0].value, reference)
            if len(rest) > 1:
                return _fail(name, first, ParseError.UNKNOWN_WORD, rest[1].value, reference)
            return ParsedCommand(name=name, word=first, reference=reference, args=(other,))
    raise AssertionError(name)  # pragma: no cover - every keyword is handled above


def _parse_search(first: str, words: list[Word]) -> ParsedCommand:
    """`søk` words: the words to look for, one blank between them (quotes only group, as
    in a shell); a lone reference is normalised, so `søk meld-2026-42` finds it."""
    query = " ".join(w.value.strip() for w in words if w.value.strip())
    if not query:
        return _fail(Cmd.SEARCH, first, ParseError.MISSING_ARGUMENT)
    return ParsedCommand(name=Cmd.SEARCH, word=first,
                         text=normalize_reference(query) or query)


def _parse_list(first: str, words: list[Word]) -> ParsedCommand:
    """`liste` filters in any order: a status, a kind; anything else is a category word."""
    options: dict[str, str] = {}
    categories: list[str] = []
    for w in words:
        key = word_key(w.value)
        if key in UNREAD_WORDS and "unread" not in options:
            options["unread"] = "true"
        elif key in STATUS_WORDS and "status" not in options:
            options["status"] = STATUS_WORDS[key].value
        elif key in KIND_WORDS and "kind" not in options:
            options["kind"] = KIND_WORDS[key].value
        elif not categories:
            categories.append(w.value)
        else:
            return _fail(Cmd.LIST, first, ParseError.UNKNOWN_WORD, w.value)
    return ParsedCommand(name=Cmd.LIST, word=first, args=tuple(categories),
                         options=MappingProxyType(options))


# ---------------------------------------------------------------- texts


def help_text(tr: Translator) -> str:
    """Every command with its usage and one line of explanation."""
    lines = [tr("Commands for Forbedringsgruppen (REF is a reference like MELD-2026-0042):")]
    for usage, what in USAGE.values():
        lines.append(f"• {tr(usage)}: {tr(what)}")
    return "\n".join(lines)


def usage_line(name: Cmd, tr: Translator) -> str:
    return tr("Usage: {usage}", usage=tr(USAGE[name][0]))


def echo_word(word: str | None) -> str:
    word = (word or "").replace("\n", " ")
    return word if len(word) <= MAX_ECHO else word[: MAX_ECHO - 1] + "…"


def parse_error_text(cmd: ParsedCommand, tr: Translator) -> str:
    match cmd.error:
        case ParseError.MISSING_REFERENCE:
            first = tr("Give the report's reference, like MELD-2026-0042.")
        case ParseError.BAD_REFERENCE:
            first = tr("“{word}” is not a reference. A reference looks like MELD-2026-0042.",
                       word=echo_word(cmd.bad))
        case ParseError.MISSING_ARGUMENT:
            first = tr("Something is missing.")
        case _:
            first = tr("I did not understand “{word}”.", word=echo_word(cmd.bad))
    return f"{first}\n{usage_line(cmd.name, tr)}"


__all__ = [
    "UNASSIGN_WORDS",
    "Cmd",
    "ParseError",
    "ParsedCommand",
    "default_assignee",
    "echo_word",
    "help_text",
    "normalize_reference",
    "parse",
    "parse_error_text",
    "slack_user_id",
    "split_words",
    "usage_line",
]

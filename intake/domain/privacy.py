"""Detect patient identifiers in free text.

National identity numbers (fødselsnummer, D-, H-, FH-, synthetic and 2032-rule numbers)
are refused however their digits are split: by any short run of characters that are not
letters or digits, with look-alike letters (O/o for 0, l/I for 1) among the digits.
Phone numbers, e-mail addresses, name-like patterns and bank account numbers (an 11-digit
number in the 4.2.5 grouping or after a word like "konto") are warnings the reporter
confirms. Every free-text field of every door goes through `find_identifiers`.
Nothing here logs or stores the scanned text.
"""

from __future__ import annotations

import bisect
import datetime
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

import phonenumbers
from stdnum.no import fodselsnummer

__all__ = ["Finding", "FindingKind", "find_identifiers", "is_national_id"]

FindingKind = Literal["national_id", "account_number", "phone", "email", "name"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One identifier-like span in the original text."""

    kind: FindingKind
    start: int
    end: int

    @property
    def refuse(self) -> bool:
        """True for national identity numbers; the other kinds are warnings."""
        return self.kind == "national_id"


# --- National identity numbers ------------------------------------------------

_W1 = (3, 7, 6, 1, 8, 9, 4, 5, 2, 1)  # k1 weights, including k1 itself
_W2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2, 1)  # k2 weights, including k2 itself
# Month offsets: ordinary, H-number / NAV synthetic (+40), NAV synthetic (+65),
# Skatteetaten Tenor synthetic (+80).
_MONTH_OFFSETS = (0, 40, 65, 80)
_DAY_OFFSETS = (0, 40)  # ordinary, D-number


def _k1_ok(d: list[int], *, relaxed: bool) -> bool:
    """First control digit: remainder 0, or 0-3 under the 2032 rule."""
    rem1 = sum(w * x for w, x in zip(_W1, d[:10], strict=True)) % 11
    return rem1 <= 3 if relaxed else rem1 == 0


def _date_ok(day: int, month: int, yy: int) -> bool:
    """True if day/month (offsets removed) is a date in some century 1854-2039."""
    # 2000 + yy is a leap year exactly when yy % 4 == 0, which is also when
    # 29 February exists in at least one of 18yy/19yy/20yy; so one check suffices.
    try:
        datetime.date(2000 + yy, month, day)
    except ValueError:
        return False
    return True


def _date_based_ok(d: list[int]) -> bool:
    day = d[0] * 10 + d[1]
    month = d[2] * 10 + d[3]
    yy = d[4] * 10 + d[5]
    for day_off in _DAY_OFFSETS:
        for month_off in _MONTH_OFFSETS:
            if _date_ok(day - day_off, month - month_off, yy):
                return True
    return False


def is_national_id(digits: str) -> bool:
    """True if an 11-digit string is a Norwegian national identity number under any rule."""
    if len(digits) != 11 or not digits.isascii() or not digits.isdigit():
        return False
    d = [int(c) for c in digits]
    if sum(w * x for w, x in zip(_W2, d, strict=True)) % 11:
        return False  # k2 is the classic check under every rule
    if fodselsnummer.is_valid(digits):  # classic fnr, D- and H-numbers
        return True
    if d[0] >= 8:
        # FH-number: no date meaning, classic control digits only.
        return _k1_ok(d, relaxed=False)
    # fnr / D / H / synthetic, classic or 2032 control digits, lenient century.
    return _k1_ok(d, relaxed=True) and _date_based_ok(d)


# --- Text normalisation ------------------------------------------------------

_NEEDS_WORK = re.compile(r"[^\x00-\x7f]")


def _normalise(text: str) -> tuple[str, list[int] | None]:
    """NFKC per character, ASCII digits, no invisible format characters.

    Returns the scanning text and, for each of its characters, the index of the
    original character it came from (None when the text is unchanged).
    """
    if not _NEEDS_WORK.search(text):
        return text, None
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if ch.isascii():
            out.append(ch)
            index.append(i)
            continue
        category = unicodedata.category(ch)
        if category == "Cf":
            continue  # zero-width space/joiners, soft hyphen, BOM, bidi controls
        if category[0] == "M" and out and out[-1].isdigit():
            continue  # a combining mark must not split a digit run
        dec = unicodedata.decimal(ch, None)
        norm = str(dec) if dec is not None else unicodedata.normalize("NFKC", ch)
        if category[0] in "PSZC" and (len(norm) != 1 or norm.isalnum()):
            norm = " "  # one separator stays one separator: "™", "㎏" or "΅" are no letters
        for n in norm:
            if unicodedata.category(n) != "Cf":
                out.append(n)
                index.append(i)
    return "".join(out), index


# --- Where identity numbers hide ------------------------------------------------
#
# One general rule instead of a list of separators: the digits of a number may be split by
# any short run of characters that are neither letters nor digits (whitespace of every
# kind, line and paragraph breaks, punctuation, symbols, the underscore), and the letters
# O/o and l/I typed for 0 and 1 count as those digits where they stand among digits.
MAX_SEPARATOR_RUN = 8
_SEP = rf"[\W_]{{1,{MAX_SEPARATOR_RUN}}}"
_GROUP = re.compile(rf"[0-9]+(?:{_SEP}[0-9]+)*")
_RUN = re.compile(r"[0-9]+")

# Letters that stand for digits. Inside a word they count only between two digits
# ("12O344"); a token of its own ("Ol0344", "lO") counts whole.
_LOOKALIKE = str.maketrans("OoIl", "0011")
_LOOKALIKE_INSIDE = re.compile(r"(?<=[0-9])[OoIl]+(?=[0-9])")
_LOOKALIKE_TOKEN = re.compile(r"(?<![^\W\d_])(?=[0-9]*[OoIl])[0-9OoIl]+(?![^\W\d_])")
_HAS_LOOKALIKE = re.compile(r"[OoIl]")


def _digit_view(scan: str) -> str:
    """The scan text with look-alike letters read as digits; same length, same positions."""
    if not _HAS_LOOKALIKE.search(scan):
        return scan
    chars = list(scan)
    for rx in (_LOOKALIKE_INSIDE, _LOOKALIKE_TOKEN):
        for m in rx.finditer(scan):
            chars[m.start():m.end()] = m.group().translate(_LOOKALIKE)
    return "".join(chars)


# A Norwegian bank account number has 11 digits and the same check digit as an identity
# number's second control digit, and its first digits often read as a date. Written in its
# usual 4.2.5 grouping, or right after a word like "konto", it is taken for an account
# number: a warning the reporter confirms, not a refusal.
_ACCOUNT_SEPARATORS = frozenset({" ", "."})
_ACCOUNT_WORD = re.compile(
    r"(?i:\b(?:bank)?(?:konto|kto|account|acct)\w*"
    r"(?:[\W_]{0,3}(?:nr|no|nummer|number)\b)?)[\W_]{0,4}$"
)
_ACCOUNT_LOOKBACK = 32


def _looks_like_account(scan: str, text: str, runs: list[tuple[int, int]], base: int) -> bool:
    """runs: the three or more digit runs (within text, at base in scan) of one candidate."""
    lengths = [e - s for s, e in runs]
    if lengths == [4, 2, 5]:
        first = text[runs[0][1]:runs[1][0]]
        if first == text[runs[1][1]:runs[2][0]] and first in _ACCOUNT_SEPARATORS:
            return True
    start = base + runs[0][0]
    return _ACCOUNT_WORD.search(scan, max(start - _ACCOUNT_LOOKBACK, 0), start) is not None


def _national_id_spans(scan: str) -> list[tuple[int, int, FindingKind]]:
    """Refused identity numbers, and account-number-shaped ones (a warning)."""
    view = _digit_view(scan)
    spans: list[tuple[int, int, FindingKind]] = []
    for group in _GROUP.finditer(view):
        text = group.group()
        runs = [(m.start(), m.end()) for m in _RUN.finditer(text)]
        # prefix[k] = digits in runs[:k]; runs i..j hold 11 digits iff
        # prefix[j + 1] - prefix[i] == 11 (a run longer than 11 never fits).
        prefix = [0]
        for s, e in runs:
            prefix.append(prefix[-1] + e - s)
        end_of = {total: k for k, total in enumerate(prefix)}
        in_date = _runs_in_dates(text, runs)
        base = group.start()
        i = 0
        while i < len(runs):
            k = end_of.get(prefix[i] + 11)
            if k is not None and not any(in_date[i:k]):
                digits = "".join(text[s:e] for s, e in runs[i:k])
                if is_national_id(digits):
                    kind: FindingKind = (
                        "account_number"
                        if _looks_like_account(scan, text, runs[i:k], base)
                        else "national_id"
                    )
                    spans.append((base + runs[i][0], base + runs[k - 1][1], kind))
                    i = k
                    continue
            i += 1
    return spans


# A date with a four-digit year: no identity number holds one, so its digits are never
# part of one ("01.01.2003 19.1.1991" is two dates, not 20031911991).
_FULL_DATE = re.compile(
    r"(?<!\d)(?:(?P<d>\d{1,2})(?P<s>[./-])(?P<m>\d{1,2})(?P=s)(?P<y>\d{4})"
    r"|(?P<y2>\d{4})-(?P<m2>\d{1,2})-(?P<d2>\d{1,2}))(?!\d)"
)


def _runs_in_dates(text: str, runs: list[tuple[int, int]]) -> list[bool]:
    """For each digit run of a group: is it part of a plausible dd.mm.yyyy / yyyy-mm-dd?"""
    marked = [False] * len(runs)
    for m in _FULL_DATE.finditer(text):
        day, month, year = (m["d"], m["m"], m["y"]) if m["d"] else (m["d2"], m["m2"], m["y2"])
        if 1 <= int(day) <= 31 and 1 <= int(month) <= 12 and 1800 <= int(year) <= 2099:
            for n, (s, e) in enumerate(runs):
                if m.start() <= s and e <= m.end():
                    marked[n] = True
    return marked


# --- Warnings ----------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.%+\-])[\w.%+\-]+@[^\W_](?:[\w\-]*[^\W_])?(?:\.[^\W_](?:[\w\-]*[^\W_])?)*"
    r"\.[^\W\d_]{2,}(?![\w\-])"
)

_UPPER = "A-ZÆØÅÄÖÜÉÈÁ"
_LOWER = "a-zæøåäöüéèáóíñ"
_CAP_WORD = rf"[{_UPPER}][{_LOWER}]+(?:-[{_UPPER}]?[{_LOWER}]+)?"
_NAME = rf"{_CAP_WORD}(?:[ \t]+{_CAP_WORD}){{0,2}}"
_BIRTH_DATE = r"(?:\d{1,2}\.\s?\d{1,2}\.\s?(?:\d{4}|\d{2})|\d{4})(?!\d)"
_BIRTH = rf"(?:\bf\.|\b(?i:født))[ \t]*(?:den[ \t]+)?{_BIRTH_DATE}"
# Capitalised words after a trigger that are not names (pronouns and the like).
_NOT_NAMES = frozenset(
    "Han Hun Den Det De Dette Denne Vi Jeg Du Som Var Er Ble Har Hadde Og Men Etter Med "
    "Til Fra Ved Uten Skal Kan".split()
)

_TRIGGER_NAME = re.compile(
    rf"(?<![\w.])(?i:pasient|pas\.|pt\.?|hr\.?|fru|frk\.?)[ \t]+(?P<name>{_NAME})"
    rf"(?:[ \t]*,?[ \t]*\(?[ \t]*{_BIRTH}\)?)?"
)
_NAME_BIRTH = re.compile(rf"(?<![\w.]){_NAME}[ \t]*,?[ \t]*\(?[ \t]*{_BIRTH}\)?")
_BIRTH_NAME = re.compile(rf"{_BIRTH}[ \t]*,?[ \t]+{_NAME}")
_BORN = re.compile(rf"\b(?i:født)[ \t]+(?:den[ \t]+)?{_BIRTH_DATE}")


def _name_spans(scan: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for m in _TRIGGER_NAME.finditer(scan):
        first = m.group("name").split()[0]
        if first not in _NOT_NAMES:
            spans.append(m.span())
    for rx in (_NAME_BIRTH, _BIRTH_NAME, _BORN):
        spans.extend(m.span() for m in rx.finditer(scan))
    return spans


# Digit stretches the phone matcher could care about. The matcher is run on small
# windows around stretches with at least five digits (no valid number is shorter),
# which is much faster than handing it the whole text.
_PHONE_STRETCH = re.compile(r"\d(?:[\d \t.\-()\[\]/~*\u2010-\u2015\u2212]*\d)?")
_PHONE_CONTEXT = 12
_MIN_PHONE_DIGITS = 5
# The matcher takes dates such as 21.01.2020 for Oslo numbers; those are not phones.
_DATE_SHAPE = re.compile(
    r"(?P<d>\d{1,2})(?P<sep>[./-])(?P<m>\d{1,2})(?P=sep)(?:\d{4}|\d{2})"
    r"|\d{4}(?P<sep2>[./-])(?P<m2>\d{1,2})(?P=sep2)(?P<d2>\d{1,2})"
)


def _is_date(raw: str) -> bool:
    m = _DATE_SHAPE.fullmatch(raw.strip(" \t()[]"))
    if m is None:
        return False
    day, month = (m["d"], m["m"]) if m["d"] is not None else (m["d2"], m["m2"])
    return 1 <= int(day) <= 31 and 1 <= int(month) <= 12


def _worth_matching(scan: str, start: int, end: int, skip: list[tuple[int, int]]) -> bool:
    """Cheap filter for stretches that cannot hold a phone number."""
    stretch = scan[start:end]
    digits = sum(c.isdigit() for c in stretch)
    # Digits already refused as a national identity number need no phone check.
    digits -= sum(
        sum(c.isdigit() for c in scan[max(s, start) : min(e, end)])
        for s, e in skip
        if s < end and start < e
    )
    if digits < _MIN_PHONE_DIGITS or _is_date(stretch):
        return False
    # A bare run of more than 12 digits is too long for a Norwegian number
    # unless it is written with an international prefix.
    return not (
        stretch.isdigit()
        and len(stretch) > 12
        and not stretch.startswith("00")
        and not scan[max(start - 2, 0) : start].strip().endswith("+")
    )


def _phone_spans(scan: str, skip: list[tuple[int, int]]) -> list[tuple[int, int]]:
    stretches = [m.span() for m in _PHONE_STRETCH.finditer(scan)]
    starts = [s for s, _ in stretches]

    def widen(pos: int) -> tuple[int, int]:
        """The stretch containing pos, so a window never cuts a number in two."""
        k = bisect.bisect_right(starts, pos) - 1
        if k >= 0 and stretches[k][0] <= pos < stretches[k][1]:
            return stretches[k]
        return pos, pos

    windows: list[list[int]] = []
    for s, e in stretches:
        if not _worth_matching(scan, s, e, skip):
            continue
        lo = widen(max(s - _PHONE_CONTEXT, 0))[0]
        hi = max(widen(e + _PHONE_CONTEXT)[1], e + _PHONE_CONTEXT)
        if windows and lo <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], hi)
        else:
            windows.append([lo, hi])
    spans: list[tuple[int, int]] = []
    for lo, hi in _cut(windows, skip):
        for m in phonenumbers.PhoneNumberMatcher(scan[lo:hi], "NO"):
            if not _is_date(m.raw_string):
                spans.append((lo + m.start, lo + m.end))
    return spans


def _cut(windows: list[list[int]], holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Windows with the (sorted) holes taken out."""
    pieces: list[tuple[int, int]] = []
    for lo, hi in windows:
        for s, e in holes:
            if s >= hi or e <= lo:
                continue
            if s > lo:
                pieces.append((lo, s))
            lo = max(lo, e)
        if lo < hi:
            pieces.append((lo, hi))
    return pieces


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _overlaps(span: tuple[int, int], others: list[tuple[int, int]]) -> bool:
    return any(span[0] < e and s < span[1] for s, e in others)


def find_identifiers(text: str) -> list[Finding]:
    """All findings in text, ordered by start; never logs or stores the text."""
    scan, index = _normalise(text)
    numbers = _national_id_spans(scan)
    found: list[tuple[int, int, FindingKind]] = list(numbers)
    ids = [(s, e) for s, e, _ in numbers]
    # A warning that overlaps a refused number adds nothing.
    found += [(s, e, "phone") for s, e in _phone_spans(scan, ids) if not _overlaps((s, e), ids)]
    found += [(m.start(), m.end(), "email") for m in _EMAIL.finditer(scan)]
    found += [(s, e, "name") for s, e in _merge(_name_spans(scan))]
    found.sort()
    if index is None:
        return [Finding(kind, s, e) for s, e, kind in found]
    return [Finding(kind, index[s], index[e - 1] + 1) for s, e, kind in found]

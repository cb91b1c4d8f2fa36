"""The identifier guard's general rule, as properties: an identity number is refused
whatever short run of non-alphanumeric characters splits its digits (every Unicode
separator, punctuation and symbol class, at every digit position) and with look-alike
letters typed for 0 and 1; a bank account number in its usual 4.2.5 grouping or after a
word like "konto" only warns. The same through the JSON API, the Slack modal and the Teams
card, on SQLite and PostgreSQL, and for the working group's own texts.

The separators are drawn from the Unicode classes themselves, not from a list of known
separators, so a class the guard special-cases would show up here.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from intake import services
from intake.domain.model import Actor, Role, ValidationFailed
from intake.domain.privacy import MAX_SEPARATOR_RUN, find_identifiers, is_national_id
from tests.bot.conftest import (  # noqa: F401
    _join_stopped_slack_servers,
    fake_slack,
    report_values,
    slack_both,
    view_submission,
)
from tests.doors.conftest import door, error_codes, report_body  # noqa: F401
from tests.integration.helpers import draft
from tests.teams.conftest import form_data, ms, ms_session, teams_both  # noqa: F401
from tests.unit.test_privacy import valid_numbers

UNIT = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
# A door example costs a real HTTP round trip; the unit properties carry the breadth.
DOOR = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])

# Every class of character that is neither a letter nor a digit (surrogates and private or
# unassigned code points aside; format characters are invisible and tested elsewhere).
SEPARATOR_CLASSES = ("Zs", "Zl", "Zp", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po",
                     "Sm", "Sc", "Sk", "So", "Cc")
LINE_BREAKS = ["\n", "\r\n", "\r", "\u2028", "\u2029", "\x85", "\x0b", "\x0c"]


def separator_char(category: str) -> st.SearchStrategy[str]:
    return st.characters(categories=[category])  # type: ignore[list-item]


SEPARATOR_CHAR = st.one_of([separator_char(c) for c in SEPARATOR_CLASSES]
                           + [st.sampled_from(LINE_BREAKS)])


def separator_run(max_size: int = MAX_SEPARATOR_RUN) -> st.SearchStrategy[str]:
    """One run between digit groups: 1..max characters, each of any separator class
    (a CRLF counts as two)."""
    return st.lists(SEPARATOR_CHAR, min_size=1, max_size=max_size).map("".join).filter(
        lambda s: 1 <= len(s) <= max_size)


_DATE = re.compile(r"(?<!\d)(?:(\d{1,2})([./-])(\d{1,2})\2(\d{4})|(\d{4})-(\d{1,2})-(\d{1,2}))"
                   r"(?!\d)")


def reads_as_a_full_date(text: str) -> bool:
    """dd.mm.yyyy or yyyy-mm-dd with a plausible year: read as a date by design."""
    for m in _DATE.finditer(unicodedata.normalize("NFKC", text)):
        d, mo, y = (m[1], m[3], m[4]) if m[1] else (m[7], m[6], m[5])
        if 1 <= int(d) <= 31 and 1 <= int(mo) <= 12 and 1800 <= int(y) <= 2099:
            return True
    return False


ACCOUNT_SHAPE = re.compile(r"\d{4}([ .])\d{2}\1\d{5}")


def account_shaped(text: str) -> bool:
    """The 4.2.5 grouping with one space or one dot: an account number by design."""
    return ACCOUNT_SHAPE.search(unicodedata.normalize("NFKC", text)) is not None


@st.composite
def split_number(draw: st.DrawFn, max_cuts: int = 4) -> tuple[str, str]:
    """(number, written): cut at any digit positions, each cut a separator run."""
    number = draw(valid_numbers())
    cuts = sorted(draw(st.sets(st.integers(1, 10), min_size=1, max_size=max_cuts)))
    chunks = [number[a:b] for a, b in zip([0, *cuts], [*cuts, 11], strict=True)]
    written = chunks[0] + "".join(draw(separator_run()) + c for c in chunks[1:])
    assume(not reads_as_a_full_date(written) and not account_shaped(written))
    return number, written


def refused_digits(text: str) -> list[str]:
    """The digits of each refused span (a symbol such as "⒊" is a separator, not a 3)."""
    return ["".join(str(d) for ch in text[f.start:f.end]
                    if (d := unicodedata.decimal(ch, None)) is not None)
            for f in find_identifiers(text) if f.refuse]


# --- the rule ----------------------------------------------------------------------------


@UNIT
@given(split_number(), st.sampled_from(["", "Pasient ", "fnr:", "Se nr.\n", "("]),
       st.sampled_from(["", ".", " ble skrevet ut.", ")", "\r\n"]))
@example(("12034423421", "120344\r\n23421"), "", "")
@example(("12034423421", "120344\u00b723421"), "", "")
@example(("12034423421", "120344    23421"), "", "")
def test_property_any_separator_run_at_any_position_is_refused(
        case: tuple[str, str], before: str, after: str) -> None:
    number, written = case
    assert refused_digits(before + written + after) == [number], repr(written)


@functools.cache
def chars_of(category: str) -> list[str]:
    return [c for c in map(chr, range(0x110000)) if unicodedata.category(c) == category]


@UNIT
@given(valid_numbers(), st.sampled_from(SEPARATOR_CLASSES), st.integers(1, MAX_SEPARATOR_RUN))
def test_property_every_class_splits_the_six_and_five(number: str, category: str,
                                                     length: int) -> None:
    """The form the doctors use, "ddmmyy nnnnn", with a run of one class between."""
    chars = chars_of(category)
    run = "".join(chars[(i * 7919 + int(number)) % len(chars)] for i in range(length))
    assume(not account_shaped(number[:6] + run + number[6:]))
    assert refused_digits(f"Gjelder {number[:6]}{run}{number[6:]} i går") == [number]


@st.composite
def look_alike(draw: st.DrawFn) -> tuple[str, str]:
    """A number with some 0s typed as O/o and some 1s as l/I, maybe split 6+5."""
    number = draw(valid_numbers())
    positions = [i for i, c in enumerate(number) if c in "01"]
    assume(positions)
    chosen = draw(st.sets(st.sampled_from(positions), min_size=1))
    typed = "".join(draw(st.sampled_from("Oo" if c == "0" else "lI")) if i in chosen else c
                    for i, c in enumerate(number))
    if draw(st.booleans()):
        typed = typed[:6] + draw(st.sampled_from([" ", "\n", "-", ".", ", "])) + typed[6:]
    return number, typed


@UNIT
@given(look_alike(), st.sampled_from(["", "Pasient ", "nr: ", "(fnr "]),
       st.sampled_from(["", ".", " mangler epikrise", ")"]))
def test_property_look_alike_letters_among_the_digits_are_read_as_digits(
        case: tuple[str, str], before: str, after: str) -> None:
    number, typed = case
    assert len(refused_digits(before + typed + after)) == 1, typed
    found = next(f for f in find_identifiers(before + typed + after) if f.refuse)
    span = (before + typed + after)[found.start:found.end]
    assert span.translate(str.maketrans("OolI", "0011")).replace(" ", "").replace(
        "\n", "").replace("-", "").replace(".", "").replace(",", "") == number


@pytest.mark.parametrize("text", [
    "Ole og Ingrid var på vakt", "kl. 1O", "Lillehammer 2026", "Pol 1", "I 2026 ble det",
    "Tlf. 73 86 80 OO",  # a phone with look-alikes stays a phone-shaped number
])
def test_look_alike_letters_in_ordinary_words_are_not_refused(text: str) -> None:
    assert not any(f.refuse for f in find_identifiers(text))


# --- bank account numbers: a warning, not a refusal --------------------------------------

BANK_PREFIXES = ("1503", "1254", "1822", "3000", "4200", "0530", "1206", "2801", "3208",
                 "4312", "6345", "9710", "8601", "1506", "4202", "9365", "2050", "1080")
ACCOUNT_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def with_account_check(ten: str) -> str | None:
    """The MOD11 account check digit, or None where no valid digit exists."""
    rest = sum(w * int(c) for w, c in zip(ACCOUNT_WEIGHTS, ten, strict=True)) % 11
    check = (11 - rest) % 11
    return None if check == 10 else ten + str(check)


@st.composite
def account_numbers(draw: st.DrawFn) -> str:
    ten = draw(st.sampled_from(BANK_PREFIXES)) + draw(st.from_regex(r"\A[0-9]{6}\Z"))
    account = with_account_check(ten)
    assume(account is not None)
    assert account is not None
    return account


ACCOUNT_FORMS = ["{a}.{b}.{c}", "{a} {b} {c}", "konto {n}", "kontonr. {n}",
                 "Kontonummer: {n}", "bankkonto {a} {b}{c}", "til konto {a}.{b}.{c}",
                 "kto.nr {n}", "faktura betales til kontonr {a}{b} {c}"]


@UNIT
@given(account_numbers(), st.sampled_from(ACCOUNT_FORMS))
@example("12034423421", "{a}.{b}.{c}")  # valid as an fnr too
@example("12034423421", "{a} {b} {c}")
@example("12034423421", "kontonr. {n}")
def test_property_account_numbers_warn_and_are_never_refused(account: str, form: str) -> None:
    text = "Refusjon: " + form.format(a=account[:4], b=account[4:6], c=account[6:], n=account)
    found = find_identifiers(text)
    assert not any(f.refuse for f in found), text
    if is_national_id(account):  # it reads as an identity number too: the reporter confirms
        assert [f.kind for f in found] == ["account_number"], text
        codes = {e.code for e in services.check_free_text("description", text,
                                                         max_chars=3000, warn=True)}
        assert codes == {"possible_account_number"}


def test_an_identity_number_shaped_account_warns_as_an_account() -> None:
    text = "Beløpet ble betalt til 1203 44 23421."  # valid as an fnr too
    found = find_identifiers(text)
    assert [(f.kind, text[f.start:f.end]) for f in found] == [
        ("account_number", "1203 44 23421")]
    errors = services.check_free_text("description", text, max_chars=3000, warn=True)
    assert [(e.code, e.warning) for e in errors] == [("possible_account_number", True)]


@pytest.mark.parametrize("written", ["1203-44-23421", "1203 44-23421", "1203\n44\n23421",
                                     "12034 4 23421", "120 344 23421"])
def test_other_groupings_of_the_same_digits_are_refused(written: str) -> None:
    assert refused_digits(f"Pasient {written}") == ["12034423421"]


# --- the group's texts and the reporter's answers -----------------------------------------


def test_group_texts_and_answers_refuse_a_line_break_split_number(
        ctx: services.Context) -> None:
    reporter = Actor("web:lege-1", Role.REPORTER)
    group = Actor("cli:kari", Role.TRIAGER)
    reference = services.submit_report(ctx=ctx, actor=reporter, draft=draft()).reference
    for split in ("Gjelder 120344\r\n23421.", "Gjelder 120344\n23421.",
                  "Gjelder 12O344 2342l."):
        for op in (
            lambda t: services.add_note(ctx=ctx, actor=group, reference=reference, text=t),
            lambda t: services.reply(ctx=ctx, actor=group, reference=reference, text=t),
            lambda t: services.request_info(ctx=ctx, actor=group, reference=reference,
                                            question=t),
            lambda t: services.reporter_answer(ctx=ctx, actor=reporter,
                                               reference=reference, text=t,
                                               confirm_warnings=True),
        ):
            with pytest.raises(ValidationFailed) as err:
                op(split)
            assert "patient_identifier" in {e.code for e in err.value.errors}
    view = services.get_report(ctx=ctx, actor=group, reference=reference)
    assert not any("23421" in (m.body or "") for m in view.messages)


# --- through the doors, on both databases -------------------------------------------------


@DOOR
@given(split_number(max_cuts=2), st.sampled_from(["description", "place_text"]))
def test_property_api_refuses_and_stores_nothing(door, case: tuple[str, str],  # noqa: F811
                                                  field: str) -> None:
    _number, written = case
    body = report_body(**{field: f"Pasient {written} fikk ikke epikrise"},
                       confirm_warnings=True)
    with door.client() as client:
        r = client.post("/api/v1/reports", json=body)
    assert r.status_code == 422, r.text
    assert "patient_identifier" in error_codes(r.json())[field]
    assert door.stored_nothing()


@DOOR
@given(split_number(max_cuts=2))
def test_property_slack_modal_refuses_and_stores_nothing(slack_both,  # noqa: F811
                                                         case: tuple[str, str]) -> None:
    _number, written = case
    values = report_values(description=f"Pasient {written} fikk ikke epikrise.",
                           confirm_warnings=True)
    ack = slack_both.submit_view(view_submission("meld_report", values,
                                                 private_metadata="{}"))
    assert ack.get("response_action") == "errors", ack
    assert "fødselsnummer" in ack["errors"]["description"]
    assert slack_both.reports() == []


@DOOR
@given(split_number(max_cuts=2))
def test_property_teams_card_refuses_and_stores_nothing(teams_both,  # noqa: F811
                                                        case: tuple[str, str]) -> None:
    _number, written = case
    text = f"Pasient {written} fikk ikke epikrise."
    card: dict[str, Any] = teams_both.submit_form(form_data(description=text,
                                                            confirm_warnings="true"))
    assert teams_both.reports() == []
    assert "fødselsnummer" in str(card).lower()

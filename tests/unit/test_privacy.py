"""intake.domain.privacy: national identity numbers are refused, other identifiers warned."""

from __future__ import annotations

import dataclasses
import datetime
import logging
import re

import phonenumbers
import pytest
from faker import Faker
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from stdnum.no import fodselsnummer

from intake.domain.privacy import Finding, find_identifiers, is_national_id

W1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
W2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)

PROPERTY = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)


def with_controls(nine: str, remainder: int = 0) -> str | None:
    """Append k1 (first-control remainder `remainder`, 0 = classic) and k2, or None."""
    d = [int(c) for c in nine]
    k1 = (remainder - sum(w * x for w, x in zip(W1, d, strict=True))) % 11
    if k1 == 10:
        return None
    d.append(k1)
    k2 = -sum(w * x for w, x in zip(W2, d, strict=True)) % 11
    if k2 == 10:
        return None
    return f"{nine}{k1}{k2}"


def reference_valid(s: str) -> bool:
    """Brute-force statement of the rules, independent of the module's code path."""
    d = [int(c) for c in s]
    if sum(w * x for w, x in zip((*W2, 1), d, strict=True)) % 11:
        return False
    rem1 = sum(w * x for w, x in zip((*W1, 1), d[:10], strict=True)) % 11
    if d[0] in (8, 9):
        return rem1 == 0
    if rem1 not in (0, 1, 2, 3):
        return False
    dd, mm, yy = int(s[0:2]), int(s[2:4]), int(s[4:6])
    for day in (dd, dd - 40):
        for month in (mm, mm - 40, mm - 65, mm - 80):
            for year in (1800 + yy, 1900 + yy, 2000 + yy):
                if not 1854 <= year <= 2039:
                    continue
                try:
                    datetime.date(year, month, day)
                except ValueError:
                    continue
                return True
    return False


def shift_digits(s: str, zero: int) -> str:
    """Rewrite ASCII digits in another Unicode digit block (zero = code point of its 0)."""
    return "".join(chr(ord(c) - ord("0") + zero) if c.isdigit() else c for c in s)


def ids(text: str) -> list[str]:
    return [text[f.start : f.end] for f in find_identifiers(text) if f.kind == "national_id"]


def kinds(text: str) -> list[tuple[str, str]]:
    return [(f.kind, text[f.start : f.end]) for f in find_identifiers(text)]


# Numbers computed with with_controls() (and checked against the published examples).
FNR = "12034423421"  # 12.03.1944, classic
FNR_2000 = "29020060040"  # 29.02.2000, leap day, individual 600
D_NUMBER = "52104423493"  # day 12 + 40
H_NUMBER = "12524423462"  # month 12 + 40
FH_NUMBER = "83451200189"  # first digit 8, no date
FH_NUMBER_9 = "91234500061"  # first digit 9
SYNTH_80 = "12924423445"  # Tenor synthetic, month 12 + 80
SYNTH_80_D = "57912023585"  # Tenor synthetic D-number
SYNTH_65 = "12774423409"  # month 12 + 65
RULE_2032_R2 = "30108290281"  # 2032 rule, first-control remainder 2
RULE_2032_R3 = "15033290052"  # 2032 rule, remainder 3
SKATT_2032_EXAMPLE = "30108299939"  # Skatteetaten's 2032 example, remainder 1
TENOR_EXAMPLES = ("17912099997", "57912075186", "29822099635", "69822075096")
NAV_SYNTH_EXAMPLES = ("15507600333", "55507608360", "29422059278")


# --- is_national_id -----------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        FNR,
        FNR_2000,
        D_NUMBER,
        H_NUMBER,
        FH_NUMBER,
        FH_NUMBER_9,
        SYNTH_80,
        SYNTH_80_D,
        SYNTH_65,
        RULE_2032_R2,
        RULE_2032_R3,
        SKATT_2032_EXAMPLE,
        *TENOR_EXAMPLES,
        *NAV_SYNTH_EXAMPLES,
    ],
)
def test_valid_numbers_are_national_ids(number: str) -> None:
    assert is_national_id(number)
    assert reference_valid(number)


@pytest.mark.parametrize(
    "number",
    [FH_NUMBER, SYNTH_80, SYNTH_65, RULE_2032_R2, RULE_2032_R3, SKATT_2032_EXAMPLE],
)
def test_rules_beyond_stdnum(number: str) -> None:
    assert not fodselsnummer.is_valid(number)
    assert is_national_id(number)


@pytest.mark.parametrize(
    "number",
    [
        "12034423422",  # k2 off by one
        "12034423521",  # k1 off by one
        "15033290040",  # remainder 4 for k1 is not allowed even under the 2032 rule
        "31044423424",  # 31 April
        "12134423550",  # month 13
        "29020110048",  # 29 February in a non-leap year (1901/2001)
        "83451200199",  # FH with bad k1
        "00000000000",  # zeros: day 0
        "1203442342",  # 10 digits
        "120344234210",  # 12 digits
        "12034423421a",
        "１２０３４４２３４２１",  # full-width digits: is_national_id wants ASCII digits
        "",
    ],
)
def test_invalid_numbers_are_not_national_ids(number: str) -> None:
    assert not is_national_id(number)


def test_fh_numbers_do_not_get_the_2032_relaxation() -> None:
    relaxed = [with_controls(f"834512{i:03d}", remainder=r) for i in range(50) for r in (1, 2, 3)]
    relaxed_fh = [n for n in relaxed if n is not None]
    assert len(relaxed_fh) > 50
    assert not any(is_national_id(n) for n in relaxed_fh)


def test_2032_rule_also_applies_to_d_numbers() -> None:
    number = with_controls("521044901", remainder=3)
    assert number is not None
    assert not fodselsnummer.is_valid(number)
    assert is_national_id(number)


# --- find_identifiers: national ids ----------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "12034423421",
        "120344 23421",
        "120344-23421",
        "120344.23421",
        "12.03.44 23421",
        "12.03.44-23421",
        "1203-44-23421",  # 4.2.5 with dashes: not how account numbers are written
        "12 03 44 234 21",
        "12-03-44-234-21",
        "120344 - 23421",
        "120344\u00a023421",  # no-break space
        "120344\u201323421",  # en dash
        "120344/23421",
    ],
)
def test_separator_styles(written: str) -> None:
    assert ids(written) == [written]
    assert ids(f"Pasientens fnr: {written}, se journal.") == [written]


@pytest.mark.parametrize(
    "template",
    [
        "({})",
        "fnr:{}",
        "fnr: {}.",
        "Fødselsnummer\n{}\nmangler",
        "[{}]",
        "«{}»",
        "id={};",
        "nr{}x",
        "12.03.2024 {}",  # a date just before the number
        "Tlf 73 86 80 00 {}",
    ],
)
@pytest.mark.parametrize("number", [FNR, "120344 23421", D_NUMBER, SYNTH_80, RULE_2032_R3])
def test_surrounding_text_does_not_hide_the_number(template: str, number: str) -> None:
    assert ids(template.format(number)) == [number]


def test_several_numbers_in_one_text() -> None:
    text = f"Første {FNR}, andre {FH_NUMBER} og tredje {SYNTH_80}."
    assert ids(text) == [FNR, FH_NUMBER, SYNTH_80]
    starts = [f.start for f in find_identifiers(text)]
    assert starts == sorted(starts)


@pytest.mark.parametrize(
    "text",
    [
        f"Ordrenr 99{FNR}",  # 13-digit run
        f"Ordrenr {FNR}77",
        f"ref 1{FNR}1",
        "Dato 12.03.2024",
        "12.03.2024 kl 14:30",
        "12.03.2024 14.30",
        "Ring +47 22 33 44 55 eller 73 86 80 00",
        "Rekvisisjon 12034423422",  # fails the control digits
        "Rekvisisjonsnr 1234567890123",
        "I 2024 og 2025, rom 412 og 3012",
        "Mellom 2019-2024 ble 12 pasienter flyttet",
        "Konto 1503.12.34567 (feil kontrollsiffer)",
    ],
)
def test_non_identifiers_are_not_refused(text: str) -> None:
    assert ids(text) == []
    assert not any(f.refuse for f in find_identifiers(text))


def test_full_width_and_other_unicode_digits() -> None:
    full = shift_digits(FNR, 0xFF10)
    text = f"fnr {full} ok"
    assert ids(text) == [full]
    arabic_indic = shift_digits("120344 23421", 0x0660)
    assert ids(f"nr {arabic_indic}") == [arabic_indic]


@pytest.mark.parametrize(
    "zw", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u2066", "\u200b\u200b"]
)
def test_zero_width_characters_do_not_hide_and_spans_map_back(zw: str) -> None:
    written = f"1203{zw}44{zw}234{zw}21"
    text = f"Æ{zw}ØÅ fnr: {written} ({zw}slutt)"
    findings = [f for f in find_identifiers(text) if f.kind == "national_id"]
    assert len(findings) == 1
    assert text[findings[0].start : findings[0].end] == written


def test_combining_mark_does_not_split_a_number() -> None:
    written = f"{FNR[:5]}\u0301{FNR[5:]}"
    assert ids(f"nr {written}") == [written]


def test_spans_after_expanding_characters() -> None:
    # "ﬁ" (ligature) becomes two characters under NFKC; spans must still be original.
    text = f"ﬁﬁ ½ fnr {FNR} og kari@example.no"
    assert kinds(text) == [("national_id", FNR), ("email", "kari@example.no")]


# --- Finding --------------------------------------------------------------------


def test_finding_refuse_only_for_national_id() -> None:
    assert Finding("national_id", 0, 11).refuse
    for kind in ("phone", "email", "name"):
        assert not Finding(kind, 0, 1).refuse  # type: ignore[arg-type]


def test_finding_is_frozen_with_slots() -> None:
    finding = Finding("email", 1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.start = 3  # type: ignore[misc]
    assert not hasattr(finding, "__dict__")


def test_text_is_never_logged_or_printed(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level(logging.DEBUG):
        find_identifiers(f"pasient Kari Nordmann {FNR} kari@example.no 912 34 567")
    assert caplog.records == []
    out, err = capsys.readouterr()
    assert out == err == ""


# --- warnings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("Ring +47 22 33 44 55 i dag", "+47 22 33 44 55"),
        ("Sentralbord 73 86 80 00.", "73 86 80 00"),
        ("mob 912 34 567", "912 34 567"),
        ("tlf 91234567.", "91234567"),
    ],
)
def test_phone_numbers_warn(text: str, phone: str) -> None:
    assert kinds(text) == [("phone", phone)]
    assert not any(f.refuse for f in find_identifiers(text))


@pytest.mark.parametrize(
    "text",
    [
        "Hendelsen skjedde 21.01.2020",  # the phone matcher alone takes this for an Oslo number
        "21.01.2020 kl 14:30",
        "Frist (22.03.2024)",
        "2024-03-22",
        "22/03/2024",
        "rom 412, 3. etasje",
    ],
)
def test_dates_and_small_numbers_are_not_phones(text: str) -> None:
    assert find_identifiers(text) == []


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("Send til kari.nordmann@example.no i dag", "kari.nordmann@example.no"),
        ("<ola+avvik@stolav.no>", "ola+avvik@stolav.no"),
        ("bjørn.ås@kommune.no.", "bjørn.ås@kommune.no"),
    ],
)
def test_email_addresses_warn(text: str, email: str) -> None:
    assert kinds(text) == [("email", email)]


def test_not_email() -> None:
    assert kinds("Møte @ 14, se kari@ eller @localhost") == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Gjelder pasient Kari Nordmann f. 1944, innlagt.", "pasient Kari Nordmann f. 1944"),
        ("pas. Ola Hansen ble sendt hjem", "pas. Ola Hansen"),
        ("pt Kari Nordmann", "pt Kari Nordmann"),
        ("Pt. Per Olav Berg", "Pt. Per Olav Berg"),
        ("Kari Nordmann (f. 12.03.44) ble flyttet", "Kari Nordmann (f. 12.03.44)"),
        ("Hun er født 1944.", "født 1944"),
        ("født den 12.03.1944", "født den 12.03.1944"),
        ("Pasient Anne-Lise Ås", "Pasient Anne-Lise Ås"),
        ("Fru Hansen ringte", "Fru Hansen"),
        ("f. 12.03.44 Kari Nordmann", "f. 12.03.44 Kari Nordmann"),
    ],
)
def test_name_patterns_warn(text: str, name: str) -> None:
    assert kinds(text) == [("name", name)]


@pytest.mark.parametrize(
    "text",
    [
        "Pasienten ble utskrevet fra St. Olavs",
        "Epikrise mangler etter innleggelse på Orkdal sykehus",
        "Pasienten ble overflyttet fra St. Olavs hospital til Orkdal sykehus 12.03.2024",
        "Pasient ble sendt hjem uten Epikrise",
        "Samtale med pasient. Han var urolig.",
        "Pt. Han fikk ikke medisinene, f.eks. Paracet.",
        "Legevakt Trondheim har ringt Helse Midt-Norge",
        "Fra 2024 gjelder nye rutiner i Trondheim kommune",
    ],
)
def test_clinical_text_does_not_warn(text: str) -> None:
    assert find_identifiers(text) == []


def test_mixed_text_ordering_and_refuse() -> None:
    text = (
        f"Pasient Kari Nordmann f. 1944 (fnr {FNR}) ringte fra 912 34 567, svar til kari@example.no"
    )
    found = find_identifiers(text)
    assert [(f.kind, text[f.start : f.end]) for f in found] == [
        ("name", "Pasient Kari Nordmann f. 1944"),
        ("national_id", FNR),
        ("phone", "912 34 567"),
        ("email", "kari@example.no"),
    ]
    assert [f.refuse for f in found] == [False, True, False, False]


def test_national_id_is_not_also_reported_as_phone() -> None:
    assert [f.kind for f in find_identifiers(f"{FNR[:6]} {FNR[6:]}")] == ["national_id"]


# --- properties -------------------------------------------------------------------

RULES = ("fnr", "d", "h", "synth80", "synth65", "d_synth80", "fh", "2032", "d_2032")


@st.composite
def valid_numbers(draw: st.DrawFn) -> str:
    """A random valid number under one of the rules, with correct control digits."""
    rule = draw(st.sampled_from(RULES))
    digit = st.sampled_from("0123456789")
    if rule == "fh":
        nine = draw(st.sampled_from("89")) + "".join(draw(st.lists(digit, min_size=8, max_size=8)))
        remainder = 0
    else:
        born = draw(st.dates(datetime.date(1854, 1, 1), datetime.date(2039, 12, 31)))
        day = born.day + (40 if rule.startswith("d") else 0)
        month = born.month + {"h": 40, "synth80": 80, "d_synth80": 80, "synth65": 65}.get(rule, 0)
        individual = draw(st.integers(0, 999))
        nine = f"{day:02d}{month:02d}{born.year % 100:02d}{individual:03d}"
        remainder = draw(st.integers(0, 3)) if rule.endswith("2032") else 0
    number = with_controls(nine, remainder)
    assume(number is not None)
    assert number is not None
    return number


STYLES = (
    lambda n: n,
    lambda n: f"{n[:6]} {n[6:]}",
    lambda n: f"{n[:6]}-{n[6:]}",
    lambda n: f"{n[:6]}.{n[6:]}",
    lambda n: f"{n[:2]}.{n[2:4]}.{n[4:6]} {n[6:]}",
    lambda n: f"{n[:4]}\t{n[4:6]}\t{n[6:]}",  # with spaces, 4.2.5 reads as an account
    lambda n: f"{n[:2]} {n[2:4]} {n[4:6]} {n[6:9]} {n[9:]}",
    lambda n: f"{n[:6]} - {n[6:]}",
    lambda n: f"{n[:6]}\u200b{n[6:]}",
    lambda n: shift_digits(n, 0xFF10),
    lambda n: shift_digits(f"{n[:6]} {n[6:]}", 0x0660),
)

SAFE = st.text(
    alphabet=st.sampled_from(list("abcæøå ABCÆØÅ xyzXYZ\n\t()[]:;,!?\"'.-/«»")), max_size=30
)


@PROPERTY
@given(valid_numbers(), st.sampled_from(STYLES), SAFE, SAFE)
def test_property_valid_numbers_found(number: str, style, before: str, after: str) -> None:
    assert is_national_id(number)
    assert reference_valid(number)
    written = style(number)
    assert ids(before + written + after) == [written]


@PROPERTY
@given(valid_numbers(), st.integers(0, 10), st.integers(1, 9))
def test_property_single_digit_error_never_valid(number: str, pos: int, delta: int) -> None:
    wrong = number[:pos] + str((int(number[pos]) + delta) % 10) + number[pos + 1 :]
    assert not is_national_id(wrong)
    assert ids(f"nr {wrong}") == []


FAKE = Faker("no_NO")


@PROPERTY
@given(st.integers(0, 2**32 - 1))
def test_property_faker_ssn_found(seed: int) -> None:
    FAKE.seed_instance(seed)
    ssn = FAKE.ssn()
    assert is_national_id(ssn)
    assert ids(f"Fnr. {ssn[:6]} {ssn[6:]} (Faker)") == [f"{ssn[:6]} {ssn[6:]}"]


@PROPERTY
@given(st.text(alphabet="0123456789", min_size=11, max_size=11), SAFE)
def test_property_invalid_digit_strings_not_reported(digits: str, around: str) -> None:
    assume(not reference_valid(digits))
    assert not is_national_id(digits)
    assert ids(f"{around} {digits} {around}") == []


@PROPERTY
@given(st.dates(datetime.date(1850, 1, 1), datetime.date(2100, 12, 31)), st.times())
def test_property_dates_are_not_identifiers(day: datetime.date, at: datetime.time) -> None:
    assert find_identifiers(f"Hendelse {day:%d.%m.%Y} kl {at:%H:%M}, meldt {day:%d.%m.%Y}.") == []
    assert ids(f"{day:%d.%m.%Y} {at:%H.%M} / {day:%d.%m.%y} / {day:%Y-%m-%d}") == []


PHONE_TOKENS = (
    "+47 912 34 567",
    "0047 91234567",
    "(+47) 73 86 80 00",
    "91234567",
    "73 86 80 00",
    "22.33.44.55",
    "800 22 222",
    "02800",
    "+46 8 123 456 78",
    "+1 650 253 0000",
    "412",
    "2024",
    "14:30",
    "12.03.2024",
    "1234567890123",
)
WORDS = st.sampled_from(["ring", "tlf:", "kl", "rom", "og", "Trondheim", "(", ")", ",", ".", "—"])


@PROPERTY
@given(st.lists(st.tuples(st.sampled_from(PHONE_TOKENS), st.lists(WORDS, min_size=1, max_size=3))))
# Found by Hypothesis: "80 00 . 412 . 0047" across three tokens is a valid FH-number written
# with spaces and dots; it is refused, so the phone it overlaps is not reported on its own.
@example([("(+47) 73 86 80 00", ["."]), ("412", ["."]), ("0047 91234567", ["ring"])])
def test_property_phones_match_the_plain_matcher(parts: list[tuple[str, list[str]]]) -> None:
    text = " ".join(f"{token} {' '.join(words)}" for token, words in parts)
    found = find_identifiers(text)
    refused = [(f.start, f.end) for f in found if f.kind == "national_id"]
    plain = [m for m in phonenumbers.PhoneNumberMatcher(text, "NO")
             if not re.fullmatch(r"\d\d\.\d\d\.\d{4}", m.raw_string)]
    # a plain match that overlaps a refused identity number is moot: the text is refused
    moot = [(m.start, m.end) for m in plain
            if any(m.start < e and s < m.end for s, e in refused)]
    expected = [text[m.start : m.end] for m in plain if (m.start, m.end) not in moot]
    phones = [text[f.start : f.end] for f in found if f.kind == "phone"
              and not any(s <= f.start and f.end <= e for s, e in moot)]
    assert phones == expected


@PROPERTY
@given(st.integers(0, 99_999_999))
def test_property_mobile_numbers_are_phones_not_ids(n: int) -> None:
    rest = f"{n:08d}"[1:]
    written = f"+47 9{rest[:2]} {rest[2:4]} {rest[4:]}"
    found = find_identifiers(f"Ring {written} i dag")
    assert not any(f.refuse for f in found)
    assert [f.kind for f in found] == ["phone"]


@PROPERTY
@given(st.integers(10**11, 10**14 - 1))
def test_property_order_numbers_are_not_national_ids(order: int) -> None:
    assert ids(f"Ordrenr {order}, rekv. {order}.") == []


@PROPERTY
@given(valid_numbers(), st.text(alphabet="0123456789", min_size=1, max_size=3), st.booleans())
def test_property_valid_number_inside_longer_run_is_ignored(
    number: str, extra: str, prefix: bool
) -> None:
    run = extra + number if prefix else number + extra
    assert ids(f"Ordrenr {run}") == []

"""A generated corpus for the identifier guard's two rates (`python -m bench --only privacy`).

- Identity numbers: fødselsnummer, D-, H-, FH-, synthetic and 2032-rule numbers, written
  as doctors, keyboards, word processors and hurried typists write them: split at any digit
  position by a short run of any Unicode separator, punctuation or symbol class (line
  breaks included), with O/o typed for 0 and l/I for 1, inside ordinary sentences.
- Realistic numbers that are not identifiers: bank account numbers in their 4.2.5
  grouping or after "konto", phone numbers, dates and times, HPR and organisation
  numbers, lab values, postcodes, order and case numbers, amounts.

Seeded, so two runs measure the same texts. Valid identity numbers are made here from the
rules (control digits computed), not taken from the guard under test.
"""

from __future__ import annotations

import datetime
import random
import re
import sys
import unicodedata

W1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
W2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
ACCOUNT_WEIGHTS = W2
BANK_PREFIXES = ("1503", "1254", "1822", "3000", "4200", "0530", "1206", "2801", "3208",
                 "4312", "6345", "9710", "8601", "1506", "4202", "9365", "2050", "1080",
                 "4270", "0539", "1638", "2280", "3290", "4385", "9235", "1810", "7874")
SEPARATOR_CLASSES = ("Zs", "Zl", "Zp", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po",
                     "Sm", "Sc", "Sk", "So")
LINE_BREAKS = ("\n", "\r\n", "\u2028", "\u2029")


def _chars_by_class() -> dict[str, list[str]]:
    by: dict[str, list[str]] = {c: [] for c in SEPARATOR_CLASSES}
    for cp in range(sys.maxunicode + 1):
        cat = unicodedata.category(chr(cp))
        if cat in by:
            by[cat].append(chr(cp))
    return by


def _controls(nine: str, remainder: int) -> str | None:
    d = [int(c) for c in nine]
    k1 = (remainder - sum(w * x for w, x in zip(W1, d, strict=True))) % 11
    if k1 == 10:
        return None
    d.append(k1)
    k2 = -sum(w * x for w, x in zip(W2, d, strict=True)) % 11
    return None if k2 == 10 else f"{nine}{k1}{k2}"


def identity_number(rng: random.Random) -> str:
    """A valid number under one of the rules."""
    while True:
        rule = rng.choice(("fnr", "fnr", "d", "h", "fh", "synth80", "2032"))
        if rule == "fh":
            nine = rng.choice("89") + "".join(rng.choice("0123456789") for _ in range(8))
            remainder = 0
        else:
            born = datetime.date(1854, 1, 1) + datetime.timedelta(days=rng.randrange(67_000))
            day = born.day + (40 if rule == "d" else 0)
            month = born.month + {"h": 40, "synth80": 80}.get(rule, 0)
            nine = f"{day:02d}{month:02d}{born.year % 100:02d}{rng.randrange(1000):03d}"
            remainder = rng.randrange(4) if rule == "2032" else 0
        number = _controls(nine, remainder)
        if number is not None:
            return number


def _written_id(rng: random.Random, number: str, seps: dict[str, list[str]]) -> str:
    style = rng.random()
    if style < 0.45:
        cuts = [6]
    elif style < 0.75:
        cuts = sorted(rng.sample(range(1, 11), rng.randint(1, 3)))
    else:
        cuts = []
    chunks = [number[a:b] for a, b in zip([0, *cuts], [*cuts, 11], strict=True)]
    out = chunks[0]
    for chunk in chunks[1:]:
        if rng.random() < 0.3:
            run = rng.choice(LINE_BREAKS)
        else:
            run = "".join(rng.choice(seps[rng.choice(SEPARATOR_CLASSES)])
                          for _ in range(rng.randint(1, 4)))
        out += run + chunk
    if rng.random() < 0.3:  # look-alike letters for some 0s and 1s
        out = "".join(rng.choice("Oo") if c == "0" and rng.random() < 0.5
                      else rng.choice("lI") if c == "1" and rng.random() < 0.5 else c
                      for c in out)
    return out


def _reads_as_account_or_date(written: str) -> bool:
    """The two shapes the guard reads otherwise by design: 4.2.5 with one space or dot
    (an account number, a warning) and dd.mm.yyyy (a date)."""
    norm = unicodedata.normalize("NFKC", written)
    if re.fullmatch(r"\d{4}([ .])\d{2}\1\d{5}", norm):
        return True
    m = re.match(r"(\d{1,2})([./-])(\d{1,2})\2(\d{4})(?!\d)", norm)
    return bool(m and 1 <= int(m[1]) <= 31 and 1 <= int(m[3]) <= 12
                and 1800 <= int(m[4]) <= 2099)


ID_SENTENCES = (
    "Pasient {x} ble skrevet ut uten epikrise.",
    "Gjelder {x}, henvisning returnert.",
    "fnr:\n{x}\nmangler i journal",
    "Se pasient ({x}) - legemiddelliste feil.",
    "{x}",
)


def identity_texts(count: int, seed: int = 583) -> list[str]:
    rng = random.Random(seed)
    seps = _chars_by_class()
    texts: list[str] = []
    while len(texts) < count:
        written = _written_id(rng, identity_number(rng), seps)
        if _reads_as_account_or_date(written):
            continue
        texts.append(rng.choice(ID_SENTENCES).format(x=written))
    return texts


def account_number(rng: random.Random) -> str:
    while True:
        ten = rng.choice(BANK_PREFIXES) + f"{rng.randrange(10**6):06d}"
        rest = sum(w * int(c) for w, c in zip(ACCOUNT_WEIGHTS, ten, strict=True)) % 11
        check = (11 - rest) % 11
        if check != 10:
            return ten + str(check)


def _account_text(rng: random.Random) -> str:
    n = account_number(rng)
    a, b, c = n[:4], n[4:6], n[6:]
    return rng.choice((
        f"Refusjon til konto {a}.{b}.{c}.", f"Faktura betales til {a} {b} {c}.",
        f"Kontonr. {n} oppgitt i tvisten.", f"kontonummer: {a}{b}{c}",
        f"Betalt til bankkonto {a}.{b}.{c} den 12.03.2026.", f"Kto {n}.",
    ))


def _phone_text(rng: random.Random) -> str:
    n = f"{rng.choice('2345679')}{rng.randrange(10**7):07d}"
    return rng.choice((
        f"Ring {n[:2]} {n[2:4]} {n[4:6]} {n[6:]} for vakthavende.",
        f"Tlf. {n[:3]} {n[3:5]} {n[5:]}", f"+47 {n}", f"Sentralbord {n}, faks {n[::-1]}",
    ))


def _date_text(rng: random.Random) -> str:
    day = datetime.date(2018, 1, 1) + datetime.timedelta(days=rng.randrange(3000))
    hh, mm = rng.randrange(24), rng.randrange(60)
    return rng.choice((
        f"Innlagt {day:%d.%m.%Y} kl. {hh:02d}:{mm:02d}, utskrevet {day:%d.%m.%y}.",
        f"Hendelsen {day.isoformat()} {hh:02d}.{mm:02d}",
        f"Fra {day:%d.%m} til {day:%d.%m.%Y}, vakt {hh:02d}:00-{(hh + 8) % 24:02d}:00.",
        f"Tidspunkt {hh:02d}:{mm:02d}:{rng.randrange(60):02d}, {day:%d/%m/%Y}",
    ))


def _coded_text(rng: random.Random) -> str:
    hpr = rng.randrange(10**6, 10**8)
    org = f"{rng.choice('89')}{rng.randrange(10**8):08d}"
    return rng.choice((
        f"Lege med HPR-nr {hpr} svarte ikke.", f"Org.nr. {org[:3]} {org[3:6]} {org[6:]}",
        f"NO {org} MVA", f"Postnr {rng.randrange(1000, 9999)} Trondheim",
        f"Rekvisisjon {rng.randrange(10**5, 10**9)} sendt to ganger.",
        f"Sak {rng.randrange(2018, 2027)}/{rng.randrange(1, 99999)}",
        f"Beløp kr {rng.randrange(100, 99999)},{rng.randrange(100):02d}",
        f"Versjon {rng.randrange(1, 20)}.{rng.randrange(30)}.{rng.randrange(300)}",
    ))


def _lab_text(rng: random.Random) -> str:
    return rng.choice((
        f"Hb {rng.randrange(70, 180) / 10:.1f}, CRP {rng.randrange(1, 300)}, "
        f"INR {rng.randrange(8, 40) / 10:.1f}, kreatinin {rng.randrange(40, 400)}",
        f"BT {rng.randrange(90, 200)}/{rng.randrange(50, 110)}, puls {rng.randrange(40, 150)}, "
        f"SpO2 {rng.randrange(85, 100)} %, temp {rng.randrange(355, 410) / 10:.1f}",
        f"Dose {rng.randrange(1, 1000)} mg x {rng.randrange(1, 4)}, "
        f"{rng.randrange(1, 60)} tabletter, rom {rng.randrange(100, 999)}",
    ))


def non_identifier_texts(count: int, seed: int = 1866) -> list[str]:
    rng = random.Random(seed)
    makers = (_account_text, _account_text, _phone_text, _date_text, _coded_text, _lab_text)
    return [rng.choice(makers)(rng) for _ in range(count)]

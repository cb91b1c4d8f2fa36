"""The texts of `meld seed-demo`: read from demo_data/texts.toml, shipped with the package.

The file holds every sentence, place and word the generator (`intake.ops.demo`) puts into a
synthetic report; the generator holds the numbers (how often, how long). A malformed file
fails on import with a `DemoDataError` that names the entry, not halfway through seeding.
"""

from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from intake.domain.model import Party, Severity

SOURCE = "intake/ops/demo_data/texts.toml"
# the slots a report template may use (filled by intake.ops.demo._fill)
SLOTS = frozenset({"unit", "days", "weekday", "service", "drug", "test", "time_of_day"})

# (reporter party, concerned party, weight)
Parties = tuple[tuple[str, str, int], ...]
# (learning points, measures) a closing may choose from
Closing = tuple[tuple[str, ...], tuple[str, ...]]


class DemoDataError(ValueError):
    """The demo texts file is malformed; the message names the entry."""


@dataclass(frozen=True, slots=True)
class Theme:
    """What one kind of report is about: category, who reports it, and ways to tell it."""

    category: str
    subcategory: str | None
    weight: float
    parties: Parties
    texts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DemoTexts:
    weekdays: tuple[str, ...]
    services: tuple[str, ...]
    drugs: tuple[str, ...]
    tests: tuple[str, ...]
    time_of_day: tuple[str, ...]
    other_places: tuple[str, ...]
    generic_parties: Parties
    generic_texts: tuple[str, ...]
    questions: tuple[str, ...]
    answers: tuple[str, ...]
    no_answer: str
    replies: tuple[str, ...]
    status_messages: tuple[str, ...]
    reject_messages: tuple[str, ...]
    agreements: tuple[str, ...]
    learning_points: tuple[str, ...]
    measures: tuple[str, ...]
    hospital_units: dict[str, str]
    consequences: dict[str, tuple[str, ...]]
    fitting: dict[str, Closing]
    fitting_other: Closing
    closing: dict[str, Closing]
    deviations: tuple[Theme, ...]
    suggestions: tuple[Theme, ...]
    inputs: tuple[Theme, ...]


def _fail(where: str, problem: str) -> DemoDataError:
    return DemoDataError(f"{SOURCE}: {where} {problem}")


def _table(raw: dict[str, Any], key: str, where: str = "") -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict):
        raise _fail(f"{where}{key}", "must be a table")
    return value


def _text(raw: dict[str, Any], key: str, where: str = "") -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail(f"{where}{key}", "must be a non-empty text")
    return value


def _texts(raw: dict[str, Any], key: str, where: str = "") -> tuple[str, ...]:
    value = raw.get(key)
    if (not isinstance(value, list) or not value
            or not all(isinstance(v, str) and v.strip() for v in value)):
        raise _fail(f"{where}{key}", "must be a non-empty list of non-empty texts")
    return tuple(value)


def _templates(raw: dict[str, Any], key: str, where: str = "") -> tuple[str, ...]:
    """Texts that may use the SLOTS, and nothing else in braces."""
    texts = _texts(raw, key, where)
    for text in texts:
        try:
            slots = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        except ValueError as error:
            raise _fail(f"{where}{key}", f"has a broken slot in {text!r}: {error}") from None
        if not slots <= SLOTS:
            raise _fail(f"{where}{key}", f"uses unknown slot(s) {sorted(slots - SLOTS)} in "
                        f"{text!r}; known: {sorted(SLOTS)}")
    return texts


def _picks(raw: dict[str, Any], key: str, options: tuple[str, ...], where: str) -> tuple[str, ...]:
    """Positions (from 0) in `options`, as the texts they point at."""
    value = raw.get(key)
    if (not isinstance(value, list) or not value
            or not all(type(i) is int and 0 <= i < len(options) for i in value)):
        raise _fail(f"{where}{key}", f"must be a non-empty list of positions 0-{len(options) - 1}")
    return tuple(options[i] for i in value)


def _parties(raw: dict[str, Any]) -> dict[str, Parties]:
    known = {p.value for p in Party}
    groups: dict[str, Parties] = {}
    for name, entries in _table(raw, "parties").items():
        if not isinstance(entries, list) or not entries:
            raise _fail(f"parties.{name}", "must be a non-empty list")
        group = []
        for entry in entries:
            if (not isinstance(entry, dict) or entry.get("reporter") not in known
                    or entry.get("concerned") not in known
                    or type(entry.get("weight")) is not int or entry["weight"] <= 0):
                raise _fail(f"parties.{name}", f"has {entry!r}: needs reporter and concerned "
                            f"(one of {sorted(known)}) and a positive whole weight")
            group.append((entry["reporter"], entry["concerned"], entry["weight"]))
        groups[name] = tuple(group)
    return groups


def _group(raw: dict[str, Any], key: str, groups: dict[str, Parties], where: str) -> Parties:
    name = raw.get(key)
    if name not in groups:
        raise _fail(f"{where}{key}", f"must name one of the [parties] {sorted(groups)}")
    return groups[name]


def _themes(raw: dict[str, Any], key: str, groups: dict[str, Parties]) -> tuple[Theme, ...]:
    entries = raw.get(key)
    if not isinstance(entries, list) or not entries:
        raise _fail(key, f"needs at least one [[{key}]] entry")
    themes = []
    for n, entry in enumerate(entries, start=1):
        where = f"[[{key}]] number {n}: "
        if not isinstance(entry, dict):
            raise _fail(where, "must be a table")
        subcategory = entry.get("subcategory")
        if subcategory is not None and not isinstance(subcategory, str):
            raise _fail(f"{where}subcategory", "must be a text")
        weight = entry.get("weight")
        if type(weight) not in (int, float) or weight <= 0:
            raise _fail(f"{where}weight", "must be a positive number")
        themes.append(Theme(_text(entry, "category", where), subcategory, weight,
                            _group(entry, "parties", groups, where),
                            _templates(entry, "texts", where)))
    return tuple(themes)


def _closing(raw: dict[str, Any], where: str, learning_points: tuple[str, ...] | None = None,
             measures: tuple[str, ...] | None = None) -> Closing:
    """Learning points and measures: texts, or positions in the given lists."""
    if learning_points is None or measures is None:
        return _texts(raw, "learning_points", where), _texts(raw, "measures", where)
    return (_picks(raw, "learning_points", learning_points, where),
            _picks(raw, "measures", measures, where))


def parse_texts(text: str) -> DemoTexts:
    """The demo texts from the file's content; DemoDataError names what is wrong."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _fail("", f"is not valid TOML: {error}") from None
    groups = _parties(raw)
    learning_points, measures = _texts(raw, "learning_points"), _texts(raw, "measures")
    units = _table(raw, "hospital_units")
    consequences = _table(raw, "consequences")
    missing = {s.value for s in Severity} - set(consequences)
    if missing:
        raise _fail("[consequences]", f"has no texts for {sorted(missing)}")
    closing = _table(raw, "closing")
    return DemoTexts(
        weekdays=_texts(raw, "weekdays"), services=_texts(raw, "services"),
        drugs=_texts(raw, "drugs"), tests=_texts(raw, "tests"),
        time_of_day=_texts(raw, "time_of_day"), other_places=_texts(raw, "other_places"),
        generic_parties=_group(raw, "generic_parties", groups, ""),
        generic_texts=_templates(raw, "generic_texts"),
        questions=_texts(raw, "questions"), answers=_texts(raw, "answers"),
        no_answer=_text(raw, "no_answer"), replies=_texts(raw, "replies"),
        status_messages=_texts(raw, "status_messages"),
        reject_messages=_texts(raw, "reject_messages"), agreements=_texts(raw, "agreements"),
        learning_points=learning_points, measures=measures,
        hospital_units={key: _text(units, key, "hospital_units.") for key in units},
        consequences={key: _texts(consequences, key, "consequences.") for key in consequences},
        fitting={key: _closing(_table(raw["fitting"], key, "fitting."), f"fitting.{key}.",
                               learning_points, measures)
                 for key in _table(raw, "fitting")},
        fitting_other=_closing(_table(raw, "fitting_other"), "fitting_other.",
                               learning_points, measures),
        closing={key: _closing(_table(closing, key, "closing."), f"closing.{key}.")
                 for key in ("redirected", "rejected", "duplicate")},
        deviations=_themes(raw, "deviations", groups),
        suggestions=_themes(raw, "suggestions", groups),
        inputs=_themes(raw, "inputs", groups),
    )


def load_texts() -> DemoTexts:
    """The texts shipped with Meld."""
    return parse_texts(resources.files("intake.ops").joinpath("demo_data", "texts.toml")
                       .read_text(encoding="utf-8"))


TEXTS = load_texts()

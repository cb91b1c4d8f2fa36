"""The demo texts file (intake/ops/demo_data/texts.toml): shipped clean, refused when broken."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest

from intake.domain.model import Severity
from intake.domain.privacy import find_identifiers
from intake.domain.taxonomy import load_taxonomy
from intake.ops.demo_texts import DemoDataError, parse_texts

SHIPPED = resources.files("intake.ops").joinpath("demo_data", "texts.toml").read_text(
    encoding="utf-8")


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in _strings(key) + _strings(value)]
    if isinstance(node, list | tuple):
        return [s for value in node for s in _strings(value)]
    # DemoTexts and Theme: every field
    return [s for name in getattr(node, "__dataclass_fields__", ())
            for s in _strings(getattr(node, name))]


def test_shipped_texts_are_clean_and_fit_the_lists() -> None:
    texts = parse_texts(SHIPPED)
    strings = _strings(texts)
    assert len(strings) > 150
    assert [s for s in strings if find_identifiers(s)] == []
    taxonomy = load_taxonomy()
    for theme in texts.deviations + texts.suggestions + texts.inputs:
        category = taxonomy.category(theme.category)
        assert category is not None, theme.category
        assert theme.subcategory is None or category.subcategory(theme.subcategory), theme
    assert set(texts.fitting) <= {c.id for c in taxonomy.categories}
    hospitals = {p.id for p in taxonomy.places if p.kind == "hospital"}
    assert set(texts.hospital_units) <= hospitals
    assert set(texts.consequences) == {s.value for s in Severity}


@pytest.mark.parametrize(("old", "new", "message"), [
    ("fra {unit}, men", "fra {name}, men", "uses unknown slot(s) ['name']"),
    ("fra {unit}, men", "fra {unit, men", "has a broken slot"),
    ("medication = { learning_points = [3]", "medication = { learning_points = [10]",
     "fitting.medication.learning_points must be a non-empty list of positions 0-9"),
    ('parties = "hosp_mun"', 'parties = "hosp_kommune"', "must name one of the [parties]"),
    ('{ reporter = "gp", concerned = "hospital", weight = 8 }',
     '{ reporter = "doctor", concerned = "hospital", weight = 8 }', "parties.gp_hosp has"),
    ('unknown = ["Vet ikke', 'ukjent = ["Vet ikke',
     "[consequences] has no texts for ['unknown']"),
    ('no_answer = "Vi', 'no_answer = 3\nx = "Vi', "no_answer must be a non-empty text"),
    ("weight = 9\n", "weight = 0\n", "[[deviations]] number 1: weight must be a positive"),
    ("\n[fitting_other]\n", "\n[fitting_other\n", "is not valid TOML"),
])
def test_a_broken_file_is_refused_by_name(old: str, new: str, message: str) -> None:
    assert old in SHIPPED
    with pytest.raises(DemoDataError) as refused:
        parse_texts(SHIPPED.replace(old, new, 1))
    assert message in str(refused.value)
    assert str(refused.value).startswith("intake/ops/demo_data/texts.toml: ")

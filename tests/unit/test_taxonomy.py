"""The editable category and place lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake.domain.taxonomy import TaxonomyError, load_taxonomy

DOMAIN_DEFAULTS = {
    "discharge_summary": {"missing", "late", "incomplete", "wrong_recipient",
                          "outpatient_note_missing"},
    "discharge_notice": {"admission_notice", "ready_for_discharge_notice",
                         "discharged_without_notice", "discharge_timing",
                         "discharge_report_missing"},
    "medication": {"med_list", "unexplained_change", "prescription_supply"},
    "referral": {"incomplete", "misrouted", "rejected_or_returned", "unanswered"},
    "admission": {"admission_report_missing", "physician_info_missing"},
    "follow_up": {"test_results", "follow_up_appointment", "unclear_responsibility"},
    "e_messaging": {"not_received", "addressing", "technical", "dialogue_unanswered"},
    "reachability": set(),
    "routines": set(),
    "competence": set(),
    "other": set(),
    "uncategorized": set(),  # system = true: mail to the shared mailbox, not on the forms
}


def test_shipped_defaults_match_the_domain_table() -> None:
    tax = load_taxonomy()
    assert {c.id: {s.id for s in c.subcategories} for c in tax.categories} == DOMAIN_DEFAULTS
    assert tax.category_label("discharge_summary", "nb") == "Epikrise"
    assert tax.category_label("discharge_summary", "en") == "Discharge summary"
    kinds = {p.kind for p in tax.places}
    assert kinds == {"hospital", "municipality"}
    assert tax.place("trondheim") is not None


def test_group_can_override_and_retire_without_code(tmp_path: Path) -> None:
    (tmp_path / "categories.toml").write_text(
        '[[category]]\nid = "epikrise2"\nnb = "Epikrise (ny)"\n\n'
        '[[category]]\nid = "discharge_summary"\nnb = "Epikrise"\nactive = false\n',
        encoding="utf-8",
    )
    tax = load_taxonomy(tmp_path)
    assert [c.id for c in tax.active_categories()] == ["epikrise2"]
    # a retired id keeps its label for old reports; an unknown one falls back to the id
    assert tax.category_label("discharge_summary", "nb") == "Epikrise"
    assert tax.category_label("gone_long_ago", "nb") == "gone_long_ago"
    assert tax.place("trondheim") is not None  # places.toml not overridden: defaults


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[category]]\nid = "Bad Id"\nnb = "x"\n', "lower-case"),
        ('[[category]]\nid = "a"\nnb = "x"\n[[category]]\nid = "a"\nnb = "y"\n', "twice"),
        ('[[category]]\nid = "a"\n', "Norwegian label"),
        ('[[category]]\nid = "a"\nnb = "x"\nactive = "no"\n', "true or false"),
        ("", r"no \[\[category\]\]"),
    ],
)
def test_malformed_files_are_refused_with_a_clear_message(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "categories.toml").write_text(text, encoding="utf-8")
    with pytest.raises(TaxonomyError, match=message):
        load_taxonomy(tmp_path)


def test_a_system_category_is_stored_but_never_offered(tmp_path: Path) -> None:
    tax = load_taxonomy()
    assert tax.category("uncategorized") is not None
    assert tax.category("uncategorized").system  # type: ignore[union-attr]
    assert "uncategorized" not in {c.id for c in tax.active_categories()}
    (tmp_path / "categories.toml").write_text(
        '[[category]]\nid = "x"\nnb = "X"\nsystem = "yes"\n', encoding="utf-8")
    with pytest.raises(TaxonomyError, match="system must be true or false"):
        load_taxonomy(tmp_path)

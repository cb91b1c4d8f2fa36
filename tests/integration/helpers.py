"""Builders for test data."""

from __future__ import annotations

from typing import Any

from intake.domain.taxonomy import load_taxonomy
from intake.i18n import Translator
from intake.services import ReportDraft
from intake.texts_filing import category_line, offered_choice


def draft(**overrides: Any) -> ReportDraft:
    """A valid report (the clock in tests is 2026-03-02)."""
    values: dict[str, Any] = {
        "kind": "deviation",
        "category": "discharge_summary",
        "subcategory": "missing",
        "description": "Epikrise manglet ved utskriving; fastlegen fikk ingen beskjed.",
        "occurred_on": "2026-02-27",
        "severity": "minor",
        "no_patient_identifiers": True,
        "reporter_party": "gp",
        "concerned_party": "hospital",
        "place": "stolav_medisinsk",
    }
    values.update(overrides)
    return ReportDraft(**values)


def uncategorized_offer(report: Any) -> tuple[str, tuple[str, str]]:
    """What the receipt of a stored report left uncategorized must say in bokmål (the line)
    and offer in one click (the choice and its label), read the way every door reads it."""
    taxonomy, nb = load_taxonomy(), Translator("nb")
    payload = {"category": report.category_id, "subcategory": report.subcategory_id,
               "category_source": report.category_source,
               "suggested_category": report.suggested_category_id,
               "suggested_subcategory": report.suggested_subcategory_id}
    line = category_line(taxonomy, payload, nb)
    offered = offered_choice(taxonomy, payload, nb)
    assert line is not None and offered is not None
    assert line.startswith("Kategori: Ikke kategorisert; Forbedringsgruppen velger den.")
    assert f"Meld foreslår {offered[1]}" in line
    return line, offered

"""Builders for test data."""

from __future__ import annotations

from typing import Any

from intake.services import ReportDraft


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

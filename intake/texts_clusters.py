"""The words of a cluster alert (intake.services.clusters), shared by the chat doors and the
command line: the group's channel is told that many reports of one place and subcategory,
or of one category and direction, came in within the window, with the references. Names
come from the taxonomy; the alert carries codes, counts, dates and references only.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from intake.domain.taxonomy import Taxonomy
from intake.i18n import N_, Translator
from intake.texts import PARTY_LABELS, label

CLUSTER_PLACE = N_("Possible cluster: {count} reports of {subcategory} ({category}) at "
                   "{place} in the last {days} days ({start}–{end}).")
CLUSTER_DIRECTION = N_("Possible cluster: {count} reports of {category} in the direction "
                       "{direction} in the last {days} days ({start}–{end}).")
CLUSTER_PREVIOUS = N_("The same period a year earlier: {previous}.")
CLUSTER_REFERENCES = N_("Reports: {references}")
CLUSTER_ASK = N_("Look at them together: do they have a common cause?")


def direction_label(value: str | None, tr: Translator) -> str:
    """'gp->hospital' as "Fastlege → Sykehus" (unknown parts as they are)."""
    parts = (value or "").split("->")
    if len(parts) != 2:
        return value or ""
    return " → ".join(label(PARTY_LABELS, part, tr) for part in parts)


def cluster_alert_lines(payload: dict[str, Any], tr: Translator,
                        taxonomy: Taxonomy) -> list[str]:
    """The alert as lines: what passed the threshold, the year before, the references."""
    locale = tr.locale
    category = str(payload.get("category") or "")
    params = {
        "count": payload.get("count", 0), "days": payload.get("days", 0),
        "start": tr.date(date.fromisoformat(payload["window_start"])),
        "end": tr.date(date.fromisoformat(payload["window_end"])),
        "category": taxonomy.category_label(category, locale),
    }
    if payload.get("dim") == "direction":
        head = tr(CLUSTER_DIRECTION, direction=direction_label(payload.get("direction"), tr),
                  **params)
    else:
        head = tr(CLUSTER_PLACE, place=taxonomy.place_label(payload.get("place"), locale),
                  subcategory=taxonomy.subcategory_label(category, payload.get("subcategory"),
                                                         locale), **params)
    references = ", ".join(str(r) for r in payload.get("references") or ()) or "-"
    return [f"{head} {tr(CLUSTER_PREVIOUS, previous=payload.get('previous', 0))}",
            tr(CLUSTER_REFERENCES, references=references), tr(CLUSTER_ASK)]


def cluster_alert_text(payload: dict[str, Any], tr: Translator, taxonomy: Taxonomy) -> str:
    """The alert as one plain text (Teams, the command line; Slack escapes it)."""
    return "\n".join(cluster_alert_lines(payload, tr, taxonomy))

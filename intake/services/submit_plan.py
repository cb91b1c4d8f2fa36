"""What a validated submit is made of: the reporter's valid draft, the category it is
filed under, and the plan the storing writes (intake.services.submitting makes them,
intake.services.storing stores them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from intake.domain.model import Actor, Kind, Party, Severity
from intake.services.context import Context
from intake.services.views import offered_suggestion


@dataclass(slots=True)
class Valid:
    """A reporter's draft as validation left it: what is left out filled in as the group
    expects it (intake.services.submitting.validate_draft)."""

    kind: Kind
    category: str | None  # None: the reporter chose none (Meld suggests, or "uncategorized")
    subcategory: str | None
    description: str
    occurred_on: date
    severity: Severity
    reporter_party: Party | None
    concerned_party: Party | None
    place: str | None
    place_text: str | None
    source_link: str | None
    email: str | None


@dataclass(frozen=True, slots=True)
class SubmitPlan:
    """One validated submit, everything but its reference and id (given when written)."""

    ctx: Context
    valid: Valid
    key: str | None
    request_hash: str | None  # with a key only (what a replay compares)
    formal: bool
    channel: str
    reporter_id: str
    actor: Actor
    now: datetime
    year: int
    locale: str
    promised: date | None
    filed: Filed


@dataclass(frozen=True, slots=True)
class Filed:
    """The category a report is filed under, who chose it, and Meld's suggestion."""

    category: str
    subcategory: str | None
    source: str  # CategorySource
    suggested: str | None = None
    suggested_sub: str | None = None
    # Meld's best categories for the text, best first (a receipt offers them to change to)
    alternatives: tuple[str, ...] = ()

    def receipt_payload(self) -> dict[str, Any]:
        """What a receipt says of the category (coded fields only); for a report left
        uncategorized, also Meld's suggestion, which the receipt offers in one click."""
        offered = offered_suggestion(self.source, self.suggested, self.suggested_sub)
        return {"category": self.category, "subcategory": self.subcategory,
                "category_source": self.source, "alternatives": list(self.alternatives),
                **{k: v for k, v in offered.items() if v is not None}}

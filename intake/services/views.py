"""The data shapes the use cases take and give: a draft as a door received it, the
receipt, and reports and messages as one actor may see them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from intake.domain.model import (
    CategorySource,
    Status,
)

FORM_NO_IDS = "no_ids"  # the chat forms' required "no patient identifiers" checkbox


FORM_CONFIRM = "confirm_warnings"  # ... and their "send anyway" box after a warning


@dataclass(slots=True)
class ReportDraft:
    """A report as a door received it: plain strings, not yet validated."""

    kind: str | None = None
    category: str | None = None
    subcategory: str | None = None
    description: str | None = None
    occurred_on: str | date | None = None
    severity: str | None = None
    no_patient_identifiers: bool = False
    confirm_warnings: bool = False
    reporter_party: str | None = None
    concerned_party: str | None = None
    place: str | None = None
    place_text: str | None = None
    source_link: str | None = None
    locale: str | None = None
    email: str | None = None  # optional: later notices also by e-mail (when mail is on)

    @classmethod
    def from_chat_form(cls, values: Mapping[str, Any], *, source_link: str | None,
                       locale: str) -> ReportDraft:
        """The report form of the chat doors (Slack's modal, Teams' card), read into their
        shared field names: the draft's own, FORM_NO_IDS and FORM_CONFIRM."""
        return cls(
            kind=values["kind"], category=values["category"],
            subcategory=values["subcategory"], description=values["description"],
            occurred_on=values["occurred_on"], severity=values["severity"],
            no_patient_identifiers=values[FORM_NO_IDS],
            confirm_warnings=values[FORM_CONFIRM],
            reporter_party=values["reporter_party"], concerned_party=values["concerned_party"],
            place=values["place"], source_link=source_link, locale=locale,
        )


@dataclass(frozen=True, slots=True)
class Receipt:
    reference: str
    status: Status
    feedback_by: date | None  # None: no feedback is promised (good collaboration)
    formal_guidance: bool
    status_token: str
    created: bool
    # where later notices go: the door's own channel (web: the status page), and e-mail
    # when the reporter gave an address
    email_notices: bool = False
    kind: str = "deviation"  # a good-collaboration report gets a thank-you receipt
    # what it was filed under, and who chose it (CategorySource): a door shows a suggested
    # or missing category in the receipt, with a way to change it
    category: str = "uncategorized"
    subcategory: str | None = None
    category_source: str = "reporter"
    # Meld's suggestion from the text for a report left "uncategorized" (category_source
    # none), which the receipt offers to take in one click; None otherwise
    suggested_category: str | None = None
    suggested_subcategory: str | None = None


def offered_suggestion(source: str, category: str | None,
                       subcategory: str | None) -> dict[str, str | None]:
    """Meld's suggestion as a receipt offers it (Receipt's and the receipt notice's
    suggested_category/suggested_subcategory): only for a report left uncategorized."""
    offered = source == CategorySource.NONE and category is not None
    return {"suggested_category": category if offered else None,
            "suggested_subcategory": subcategory if offered else None}


@dataclass(frozen=True, slots=True)
class MessageView:
    id: int
    direction: str
    purpose: str
    body: str | None
    author_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ReportView:
    """A report as one actor may see it (internal notes only for the group)."""

    reference: str
    kind: str
    category: str
    subcategory: str | None
    description: str | None
    occurred_on: date
    reported_at: datetime
    reported_severity: str
    assessed_severity: str | None
    status: str
    reporter_party: str | None
    concerned_party: str | None
    direction: str | None
    place: str | None
    place_text: str | None
    agreement_reference: str | None
    guideline_breached: bool | None
    assignee: str | None
    learning_point: str | None
    measure: str | None
    redirect_target: str | None
    redirect_reference: str | None
    duplicate_of: str | None
    channel: str
    reporter_id: str | None
    plus_ones: int
    messages: tuple[MessageView, ...]
    locale: str
    # the group's views: since when a reporter's message waits unread (see reporter_answer)
    reporter_unread_since: datetime | None = None
    # the group's view of one report (never lists): where the reporter wants notices by mail
    notify_email: str | None = None
    # the group's lists: the feedback-by date has passed with no feedback given
    feedback_overdue: bool = False
    # the group's views: why Meld did not store a mailed report's text ("national_id")
    withheld: str | None = None
    # the group's summary that other reporters may see (intake.services.public)
    public_title: str | None = None
    # who chose the category (CategorySource), and Meld's suggestion from the text (the
    # group's views only)
    category_source: str = "reporter"
    suggested_category: str | None = None
    suggested_subcategory: str | None = None

    @property
    def unread_from_reporter(self) -> bool:
        """The reporter has written something the group has not read yet."""
        return self.reporter_unread_since is not None


@dataclass(frozen=True, slots=True)
class ReportFilter:
    status: str | None = None
    kind: str | None = None
    category: str | None = None
    occurred_from: date | None = None
    occurred_to: date | None = None
    unread: bool = False  # only reports with an unread message from the reporter
    place: str | None = None
    assignee: str | None = None
    severity: str | None = None  # the group's assessed severity, else the reporter's
    overdue: bool = False  # only reports past their feedback-by date without feedback
    text: str | None = None  # words in the reference or the text (case-insensitive)


@dataclass(frozen=True, slots=True)
class Page:
    items: tuple[ReportView, ...]
    next_cursor: int | None
    counts: dict[str, int] | None = None  # by status, when asked for (list_reports)


# ---------------------------------------------------------------- helpers

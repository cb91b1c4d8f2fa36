"""The words of a report of good collaboration ("godt samarbeid", like LFPSE's good care),
shared by every door: its thank-you receipt (no feedback date is promised: nothing is
wrong), how the group's card names it, and how the reports and the digest name its counts,
which always stand apart from the deviations, suggestions and input.
"""

from __future__ import annotations

from intake.domain.model import Kind
from intake.i18n import N_, Translator

GOOD = Kind.GOOD_COLLABORATION.value

GOOD_THANKS = N_(
    "Thank you for telling us what worked! Your report has been received with reference "
    "{reference}."
)
GOOD_NEXT_STEPS = N_(
    "Forbedringsgruppen reads every report and passes on what works well, so that others "
    "can learn from it. You need not wait for an answer, but we may write to you here."
)
# the chat forms' severity question, which the service asks of every other kind
SEVERITY_HINT = N_("Optional. Left empty, it is recorded as unknown; good collaboration "
                   "is asked no harm.")
# the group's card of a new report: what it is, at a glance
GOOD_CARD_NOTE = N_("Good collaboration: something that worked. Not a deviation; counted "
                    "apart.")
# the period report's section and the digest's line
GOOD_SECTION_TITLE = N_("Good collaboration (counted apart)")
GOOD_SECTION_LEAD = N_(
    "Reports of collaboration that worked. They are counted here only, never in the "
    "figures and tables of deviations, suggestions and input above."
)
GOOD_BY_CATEGORY = N_("Good collaboration by category")
GOOD_BY_PLACE = N_("Good collaboration by place")
GOOD_DIGEST_LINE = N_("Good collaboration this week (counted apart): {count}")


def is_good(kind: object) -> bool:
    """Whether a kind (an enum member or its value) is good collaboration."""
    return kind == GOOD


def good_receipt_lines(reference: str, tr: Translator) -> list[str]:
    """The first lines of a good-collaboration receipt: thanks, and what happens with it."""
    return [tr(GOOD_THANKS, reference=reference), tr(GOOD_NEXT_STEPS)]

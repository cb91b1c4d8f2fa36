"""The API's report submission shapes: what a reporter sends (ReportIn: only the text and
the confirmation are required) and the receipt it gets back (ReceiptOut). Only
`intake.http.api` imports this."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from intake import services
from intake.domain.model import Kind, Party, Severity
from intake.i18n import Translator
from intake.texts import receipt_lines
from intake.texts_filing import category_line, receipt_fields

TEXT = 20000  # hard cap at the door; the service applies the configured limit


class ReportIn(BaseModel):
    """A new report. Texts must hold no patient identifiers."""

    model_config = ConfigDict(extra="forbid")
    # Only the text and the confirmation are required; the rest is filed as the group
    # expects it when left out (see `services.submit_report`)
    kind: Kind = Field(Kind.DEVIATION, description="Left out: deviation")
    category: str | None = Field(
        None, max_length=64, examples=["discharge_summary"],
        description="Left out: the report is filed under \"uncategorized\" for "
        "Forbedringsgruppen to choose, and the receipt names Meld's suggestion from the "
        "text (suggested_category), which the reporter may take on the status page. Only "
        "where MELD_SUGGEST_MIN_SCORE is set is it filed under a likely enough suggestion "
        "(category_source \"suggested\")")
    subcategory: str | None = Field(None, max_length=130, examples=["missing"])
    description: str = Field(max_length=TEXT)
    occurred_on: date | None = Field(None, description="Left out: today")
    severity: Severity | None = Field(
        None, description="Left out: unknown. Good collaboration is asked no harm: it is "
        "stored as none")
    no_patient_identifiers: bool = Field(
        description="The reporter confirms the text identifies no patient; must be true"
    )
    confirm_warnings: bool = Field(
        False, description="Send despite warnings (phone, e-mail or name-like text)"
    )
    reporter_party: Party | None = None
    concerned_party: Party | None = None
    place: str | None = Field(None, max_length=64, examples=["trondheim"])
    place_text: str | None = Field(None, max_length=TEXT)
    locale: str | None = Field(None, max_length=10, examples=["nb"])
    email: str | None = Field(
        None, max_length=254, examples=["lege@eksempel.no"],
        description="Optional: every later notice (status, answers, questions, the closing) "
        "also by e-mail, never with the report's text. Refused (email_notices_off) when this "
        "Meld sends no e-mail.",
    )


class ReceiptOut(BaseModel):
    reference: str
    status: str
    status_url: str
    feedback_by: date | None = Field(
        description="Feedback is promised by this date; null for good_collaboration (a "
        "thank-you receipt: nothing waits for an answer)")
    formal_guidance: bool
    notices: list[str] = Field(
        description="Where later notices come: status_page (always), email (when an address "
        "was given)")
    messages: list[str]
    category: str = Field(description="What the report is filed under")
    subcategory: str | None = None
    category_source: str = Field(
        description="Who chose the category: reporter; suggested (Meld, from the text: the "
        "reporter may change it on the status page); none (\"uncategorized\": "
        "Forbedringsgruppen chooses)")
    suggested_category: str | None = Field(
        None, description="For a report left uncategorized (category_source none): Meld's "
        "suggestion from the text, which the reporter may take in one click on the status "
        "page (status_url); null otherwise")
    suggested_subcategory: str | None = None


def receipt_out(ctx: services.Context, receipt: services.Receipt, url: str,
                tr: Translator) -> ReceiptOut:
    """The receipt as the API answers it: its sentences, and what it says of a category the
    reporter did not choose."""
    line = category_line(ctx.taxonomy, receipt_fields(receipt), tr)
    return ReceiptOut(
        reference=receipt.reference,
        status=receipt.status.value,
        status_url=url,
        feedback_by=receipt.feedback_by,
        formal_guidance=receipt.formal_guidance,
        notices=["status_page", *(["email"] if receipt.email_notices else [])],
        messages=[*receipt_lines(receipt, tr), *([line] if line else [])],
        category=receipt.category, subcategory=receipt.subcategory,
        category_source=receipt.category_source,
        suggested_category=receipt.suggested_category,
        suggested_subcategory=receipt.suggested_subcategory,
    )

"""Every user-facing word about the domain, shared by all doors (labels, errors, notices)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from intake.domain.model import (
    DomainError,
    FieldError,
    Kind,
    Party,
    RedirectTarget,
    Severity,
    Status,
    ValidationFailed,
)
from intake.domain.redirects import LINK_RE
from intake.i18n import N_, Translator
from intake.texts_good import good_receipt_lines, is_good
from intake.texts_newsletter import NEWSLETTER_ERRORS, NEWSLETTER_EVENT
from intake.texts_newsletter import notice_text as newsletter_notice

if TYPE_CHECKING:
    from intake.services import Receipt

KIND_LABELS = {
    Kind.DEVIATION: N_("Deviation"),
    Kind.SUGGESTION: N_("Improvement suggestion"),
    Kind.INPUT: N_("Input or question"),
    Kind.GOOD_COLLABORATION: N_("Good collaboration"),
}

SEVERITY_LABELS = {
    Severity.NONE: N_("None or insignificant consequence"),
    Severity.MINOR: N_("Minor"),
    Severity.MODERATE: N_("Moderate harm"),
    Severity.SIGNIFICANT: N_("Significant harm"),
    Severity.SEVERE: N_("Severe harm or death"),
    Severity.UNKNOWN: N_("Unknown"),
}

PARTY_LABELS = {
    Party.HOSPITAL: N_("Hospital"),
    Party.MUNICIPALITY: N_("Municipality"),
    Party.GP: N_("GP (fastlege)"),
    Party.OUT_OF_HOURS: N_("Out-of-hours service (legevakt)"),
    Party.OTHER: N_("Other"),
}

STATUS_LABELS = {
    Status.RECEIVED: N_("Received"),
    Status.TRIAGE: N_("Being assessed"),
    Status.NEEDS_INFO: N_("Needs more information"),
    Status.IN_PROGRESS: N_("Measures in progress"),
    Status.REDIRECTED: N_("Forwarded"),
    Status.REJECTED: N_("Rejected (outside our mandate)"),
    Status.DUPLICATE: N_("Duplicate"),
    Status.CLOSED: N_("Closed"),
}

REDIRECT_LABELS = {
    RedirectTarget.EQS: N_("EQS (St. Olavs quality system)"),
    RedirectTarget.COMPILO: N_("Compilo (municipal quality system)"),
    RedirectTarget.TQM: N_("TQM (Trondheim municipality)"),
    RedirectTarget.MELDE_NO: N_("melde.no (Helsetilsynet)"),
    RedirectTarget.OTHER: N_("another body"),
}

# What the reporter is told when their report moves to a status: what happened and what next.
STATUS_NOTICES = {
    Status.TRIAGE: N_(
        "Your report {reference} is now being assessed by Forbedringsgruppen. "
        "We will tell you what happens next."
    ),
    Status.NEEDS_INFO: N_(
        "Forbedringsgruppen needs more information about {reference}. "
        "Please answer the question below; the report waits for your answer."
    ),
    Status.IN_PROGRESS: N_(
        "Forbedringsgruppen has started measures after your report {reference}. "
        "You will hear from us when it is closed."
    ),
    Status.REDIRECTED: N_(
        "Your report {reference} has been forwarded to {target}, which handles this kind "
        "of matter. Their reference: {external_reference}."
    ),
    Status.REJECTED: N_(
        "Your report {reference} lies outside what Forbedringsgruppen can follow up. "
        "See the group's explanation below."
    ),
    Status.DUPLICATE: N_(
        "Your report {reference} concerns the same matter as {other_reference}, which is "
        "being followed up. Thank you: it counts as one more confirmation."
    ),
    Status.CLOSED: N_(
        "Your report {reference} is closed. What we learned: {learning_point} "
        "Measure: {measure}"
    ),
}
REOPENED_NOTICE = N_("Your report {reference} has been reopened and is being assessed again.")
REPLY_NOTICE = N_("Forbedringsgruppen has answered on {reference}:")
# to the group (never the message itself): a reporter wrote on a report that is closed
REPORTER_MESSAGE_NOTICE = N_(
    "The reporter has written on {reference}, which is closed. Read it (vis {reference}); "
    "if it needs follow-up, reopen it (gjenåpne {reference})."
)
# the mark in the group's lists
UNREAD_MARK = N_("unread answer from the reporter")
# a mailed report whose text Meld did not store (reports.withheld), in the group's views
WITHHELD_MARK = N_("text withheld")
# the receipt of a mail whose text was withheld (intake/services/mail_intake.py)
WITHHELD_RECEIPT = N_(
    "Your e-mail may contain a national identity number, so Meld has not stored its text; "
    "Forbedringsgruppen reads it in the mailbox. Next time, please use Meld's form ({url}) "
    "and leave out anything that identifies a patient."
)

ERROR_TEXTS = {
    "required": N_("This field is required."),
    "too_long": N_("Too long: at most {max} characters."),
    "invalid_choice": N_("Choose one of the options."),
    "unknown_category": N_("Unknown category. Choose one from the list."),
    "unknown_subcategory": N_("This subcategory does not belong to the chosen category."),
    "subcategory_of_other_category": N_(
        "Subcategory: \u201c{subcategory}\u201d belongs to the category \u201c{owner}\u201d, "
        "not to the chosen \u201c{category}\u201d. Choose a subcategory of "
        "\u201c{category}\u201d, or change the category."
    ),
    "unknown_place": N_("Unknown place. Choose one from the list or write it in the text field."),
    "invalid_date": N_("Write the date as YYYY-MM-DD."),
    "date_in_future": N_("The date cannot be in the future."),
    "date_too_old": N_("The date is more than {years} years ago."),
    "must_confirm_no_identifiers": N_(
        "Confirm that the text contains no patient-identifying information."
    ),
    "patient_identifier": N_(
        "The text seems to contain a national identity number (fødselsnummer, D-number or "
        "similar). Remove it: Meld must never hold information that identifies a patient. "
        "Nothing has been stored."
    ),
    "possible_phone": N_(
        "The text seems to contain a phone number. If it could identify a patient, remove "
        "it; otherwise confirm and send again."
    ),
    "possible_account_number": N_(
        "The text seems to contain a bank account number. If it could identify a patient, "
        "remove it; otherwise confirm and send again."
    ),
    "possible_email": N_(
        "The text seems to contain an e-mail address. If it could identify a patient, remove "
        "it; otherwise confirm and send again."
    ),
    "possible_name": N_(
        "The text seems to contain a patient's name or date of birth. Remove it, or confirm "
        "that it identifies no patient and send again."
    ),
    "control_characters": N_("The text contains invisible control characters. Remove them."),
    "invalid_email": N_(
        "This is not an e-mail address Meld can send to. Write it like navn@eksempel.no, or "
        "leave the field empty."
    ),
    "email_notices_off": N_(
        "Notices by e-mail are not switched on here. Leave the e-mail address out; you will "
        "hear back in the channel you used."
    ),
    "validation_failed": N_("Some fields need attention."),
    "invalid_transition": N_(
        "A report with status \u201c{current_label}\u201d cannot be moved to "
        "\u201c{target_label}\u201d."
    ),
    "status_needs_details": N_(
        "Use the dedicated action for \u201c{target_label}\u201d: it needs more details."
    ),
    "report_not_found": N_("No report with reference {reference}."),
    "not_your_report": N_("You can only see your own reports."),
    "category_assessed": N_(
        "Forbedringsgruppen has already set the category of this report, so it can no "
        "longer be changed here. Write to the group if you think it is wrong."
    ),
    "group_only": N_("Only Forbedringsgruppen can do this."),
    "admin_only": N_("Only an administrator can do this."),
    "idempotency_key_reused": N_(
        "This idempotency key was already used for a different report."
    ),
    "invalid_reference": N_("A reference looks like MELD-2026-0042."),
    "duplicate_of_itself": N_("A report cannot be a duplicate of itself."),
    "already_plus_one": N_("You have already said this happened to you too."),
    "invalid_token": N_("Unknown, expired or revoked token."),
    "database_unavailable": N_(
        "Meld cannot reach its database right now. Nothing was stored; try again in a minute."
    ),
    "nothing_to_change": N_("Nothing to change: give at least one field."),
    "invalid_period": N_("Write the period like 2026-T1 (tertial), 2026 (year) or 2026-W10."),
    "week_not_ended": N_(
        "Week {week} has not ended yet, so its digest cannot be posted: a digest is posted "
        "only for a week that has ended."
    ),
    "week_not_started": N_(
        "Week {week} has not begun yet, so there is nothing to show: a digest describes a "
        "week up to its end."
    ),
    "report_link_expired": N_(
        "This report link is unknown or has expired. Ask for a new one with "
        "/triage rapport."
    ),
    "rating_not_closed": N_(
        "You can say whether the answer was useful once the report {reference} is closed."
    ),
    "rating_closed": N_(
        "The time to answer \u201cWas the answer useful?\u201d has passed: answers were "
        "taken until {date}."
    ),
}
ERROR_TEXTS.update(NEWSLETTER_ERRORS)


def label(mapping: dict[Any, str], value: str | None, tr: Translator) -> str:
    """Translated label for an enum value; unknown values are shown as they are."""
    if value is None:
        return ""
    try:
        return tr(mapping[type(next(iter(mapping)))(value)])
    except (KeyError, ValueError):
        return value


def error_text(code: str, tr: Translator, **params: Any) -> str:
    """The sentence for a domain error code, with its parameters filled in."""
    msgid = ERROR_TEXTS.get(code)
    if msgid is None:
        return code
    if "current" in params:
        params.setdefault("current_label", label(STATUS_LABELS, params["current"], tr))
    if "target" in params:
        params.setdefault("target_label", label(STATUS_LABELS, params["target"], tr))
    try:
        return tr(msgid, **params)
    except (KeyError, IndexError):
        return tr(msgid)


def field_error_text(err: FieldError, tr: Translator) -> str:
    return error_text(err.code, tr, **err.params)


def domain_error_text(err: DomainError, tr: Translator) -> str:
    if isinstance(err, ValidationFailed):
        return "; ".join(field_error_text(e, tr) for e in err.errors)
    return error_text(err.code, tr, **err.params)


FORMAL_GUIDANCE = N_(
    "This sounds serious. Meld does not replace formal reporting: report it in your own "
    "organisation's quality system as well (St. Olavs: EQS; most municipalities: Compilo; "
    "Trondheim: TQM). If a patient died or was seriously harmed, the event must also be "
    "reported to Helsetilsynet through melde.no."
)
# the formal-reporting guidance sent once after the group assessed a report as serious
FORMAL_GUIDANCE_EVENT = "formal_guidance"
FORMAL_GUIDANCE_LEAD = N_("Forbedringsgruppen has read your report {reference}.")


def notice_links(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """The (name, url) links a notice carries (a forwarding notice's target, the formal
    guidance's systems), written from redirects.toml; anything not a plain http(s) address
    is left out, so no channel renders a link it should not."""
    found: list[tuple[str, str]] = []
    for item in payload.get("links") or ():
        if (isinstance(item, (list, tuple)) and len(item) == 2
                and all(isinstance(x, str) for x in item) and LINK_RE.match(item[1])):
            found.append((item[0], item[1]))
    return found


def guidance_tail(payload: dict[str, Any], links: bool) -> str:
    """What to do and where, after a notice's own words: the guidance text, and the links as
    plain "name: url" lines unless the channel shows them itself (links=False)."""
    tail = ""
    if isinstance(payload.get("guidance"), str) and payload["guidance"]:
        tail += "\n\n" + payload["guidance"]
    if links and notice_links(payload):
        tail += "\n\n" + "\n".join(f"{name}: {url}" for name, url in notice_links(payload))
    return tail


NEXT_STEPS = N_(
    "Forbedringsgruppen reads every report. You will hear from us here when it has "
    "been assessed, at the latest by {date}."
)


def receipt_lines(receipt: Receipt, tr: Translator) -> list[str]:
    """The receipt in a few sentences: reference, what happens next, when to expect an answer
    (good collaboration: thanks, and no date)."""
    if is_good(receipt.kind) or receipt.feedback_by is None:  # thanks; nothing to answer
        lines = [*good_receipt_lines(receipt.reference, tr), tr(STATUS_PAGE_NOTICES)]
    else:
        lines = [tr("Thank you! Your report has been received with reference {reference}.",
                    reference=receipt.reference),
                 tr(NEXT_STEPS, date=tr.date(receipt.feedback_by)), tr(STATUS_PAGE_NOTICES)]
    if receipt.email_notices:
        lines.append(tr(EMAIL_NOTICES))
    if receipt.formal_guidance:
        lines.append(tr(FORMAL_GUIDANCE))
    return lines


# where a web or API reporter hears back (the receipt says so)
STATUS_PAGE_NOTICES = N_(
    "Every answer and change comes on the status page of your report: keep its link."
)
EMAIL_NOTICES = N_(
    "We also send each notice to the e-mail address you gave, without the text of your "
    "report."
)


# "Var svaret nyttig?": the closing notice asks it, in words that fit the channel
RATING_QUESTION = N_("Was the answer useful?")
RATING_LABELS = {"yes": N_("Yes"), "partly": N_("Partly"), "no": N_("No")}
RATING_ASK = {
    None: N_("Was the answer useful? Answer yes, partly or no on the status page of your "
             "report."),
    "slack": N_("Was the answer useful? Answer with the buttons below."),
    "teams": N_("Was the answer useful? Answer with the buttons below; a comment is "
                "welcome."),
    "web": N_("Was the answer useful? Answer in the form below."),
    "email": N_("Was the answer useful? Answer yes, partly or no through the link below."),
}
RATING_THANKS = N_("Thank you for your answer!")
RATING_CHANGE_HINT = N_(
    "You can change it or add a comment on the status page of {reference} until {date}: "
    "{link}"
)


RATING_YOUR_ANSWER = N_("Your answer: {answer}.")


def rating_thanks(tr: Translator, *, answer: str, reference: str, until: date,
                  link: str) -> str:
    """What a chat door says when an answer to "Var svaret nyttig?" is stored."""
    return " ".join([
        tr(RATING_THANKS), tr(RATING_YOUR_ANSWER, answer=label(RATING_LABELS, answer, tr)),
        tr(RATING_CHANGE_HINT, reference=reference, date=tr.date(until), link=link)])


def rating_ask(channel: str | None, tr: Translator) -> str:
    """The closing notice's question, for a channel ("slack", "teams", "web", "email")."""
    return tr(RATING_ASK.get(channel, RATING_ASK[None]))


def notification_text(event: str, payload: dict[str, Any], tr: Translator,
                      channel: str | None = None, *, links: bool = True) -> str:
    """Plain words for one outbox notification; a dialog message it carries comes after.
    `channel` words the closing notice's question "Var svaret nyttig?" for where it is
    shown (buttons in chat, the form on the status page, the link in an e-mail).
    `links=False`: leave out the "name: url" lines of `notice_links(payload)`, for a channel
    that shows them as links of its own (Slack, Teams, the status page)."""
    params = dict(payload)
    if event == "status_changed":
        status = Status(payload["status"])
        if payload.get("reopened"):
            return tr(REOPENED_NOTICE, **params)
        if status == Status.REDIRECTED:
            params["target"] = label(REDIRECT_LABELS, payload.get("target"), tr)
            params.setdefault("external_reference", "-")
            params["external_reference"] = params["external_reference"] or "-"
        params.setdefault("learning_point", "")
        params.setdefault("measure", "")
        params.setdefault("other_reference", "")
        text = tr(STATUS_NOTICES[status], **params)
        if status == Status.CLOSED:
            text += "\n\n" + rating_ask(channel, tr)
        return text + guidance_tail(payload, links)
    if event == FORMAL_GUIDANCE_EVENT:
        return (tr(FORMAL_GUIDANCE_LEAD, **params) + "\n\n" + tr(FORMAL_GUIDANCE)
                + guidance_tail(payload, links))
    if event == "followed_status":  # intake.services.outbox_rows.FOLLOWED_EVENT
        return followed_text(payload, tr)
    if event == NEWSLETTER_EVENT:  # intake.services.newsletter_publish
        return newsletter_notice(payload, tr, links)
    if event == "reply":
        return tr(REPLY_NOTICE, **params)
    if event == "reporter_message":
        return tr(REPORTER_MESSAGE_NOTICE, **params)
    if event == "feedback_overdue":
        return tr(FEEDBACK_OVERDUE_NOTICE, reference=payload.get("reference", ""),
                  date=tr.date(date.fromisoformat(payload["new_date"])))
    if event == "feedback_reminder":
        return feedback_reminder_text(payload, tr, payload.get("assignee"))
    if event == "measure_due":
        return tr(MEASURE_DUE_NOTICE, number=payload.get("measure_id", ""),
                  owner=payload.get("owner", ""), reference=payload.get("reference", ""),
                  date=tr.date(date.fromisoformat(payload["due_on"])))
    if event == "receipt" and is_good(payload.get("kind")):
        return "\n\n".join(good_receipt_lines(str(payload.get("reference", "")), tr))
    if event == "receipt":
        lines = [
            tr("Thank you! Your report has been received with reference {reference}.",
               **params),
        ]
        if payload.get("feedback_by"):
            lines.append(tr(NEXT_STEPS, date=tr.date(date.fromisoformat(payload["feedback_by"]))))
        if payload.get("formal_guidance"):
            lines.append(tr(FORMAL_GUIDANCE))
        if payload.get("withheld"):
            lines.append(tr(WITHHELD_RECEIPT, url=payload.get("form_url") or ""))
        return "\n\n".join(lines)
    return event


# ---------------------------------------------------------------- measures

MEASURE_DUE_NOTICE = N_("{owner}: measure no. {number} (for {reference}) is due {date}. "
                        "Update it on the board.")
MEASURE_STATUS_LABELS = {
    "planned": N_("Planned"),
    "in_progress": N_("In progress"),
    "done": N_("Done"),
    "dropped": N_("Dropped"),
}

# ---------------------------------------------------------------- the feedback promise

OVERDUE_MARK = N_("overdue: no feedback by the promised date")
FEEDBACK_OVERDUE_NOTICE = N_(
    "We have not yet had time to look at your report {reference}. We are sorry. The new "
    "date for feedback is {date}."
)
FEEDBACK_REMINDER = {
    1: N_("The date for feedback on {reference} is {date} (tomorrow)."),
    0: N_("The date for feedback on {reference} is {date} (today)."),
}
REMINDER_ASSIGNEE = N_("{assignee}, this one is yours.")
REMINDER_NOBODY = N_("Nobody is assigned: can someone in the group take it?")


def feedback_reminder_text(payload: dict[str, Any], tr: Translator,
                           assignee: str | None) -> str:
    """The group's reminder the day before a report's feedback-by date. `assignee` is what
    the door shows for the assignee (a chat mention, a name); None for the whole group."""
    days_left = 1 if payload.get("days_left", 1) else 0
    text = tr(FEEDBACK_REMINDER[days_left], reference=payload.get("reference", ""),
              date=tr.date(date.fromisoformat(payload["feedback_by"])))
    if assignee:
        return text + " " + tr(REMINDER_ASSIGNEE, assignee=assignee)
    return text + " " + tr(REMINDER_NOBODY)


# why `similar` found a report (intake.services.similarity): the coded fields both share
SIMILAR_FIELDS = {
    "same_subcategory": N_("subcategory"),
    "same_category": N_("category"),
    "same_place": N_("place"),
    "same_direction": N_("direction"),
}


def similar_reasons_text(reasons: tuple[str, ...], tr: Translator) -> str:
    """"samme underkategori og sted; tekst ligner" (the reasons of one similar report)."""
    fields = [tr(SIMILAR_FIELDS[r]) for r in reasons if r in SIMILAR_FIELDS]
    parts = []
    if fields:
        joined = fields[0] if len(fields) == 1 else tr(
            "{first} and {last}", first=", ".join(fields[:-1]), last=fields[-1])
        parts.append(tr("same {fields}", fields=joined))
    if "similar_text" in reasons:
        parts.append(tr("similar text"))
    return "; ".join(parts)


FOLLOWED_NOTICE = N_("The report you follow, {reference} (“{title}”), now has the status: "
                     "{status}.")
FOLLOWED_CLOSED = N_("The report you follow, {reference} (“{title}”), is closed. What "
                     "Forbedringsgruppen learned: {learning_point}")


def followed_text(payload: dict[str, Any], tr: Translator) -> str:
    """A notice to a doctor who said "this happened to me too" about a report: the public
    title and the status, the learning point at closing (never anybody's own words)."""
    params = {"reference": payload.get("reference", ""), "title": payload.get("title", ""),
              "status": label(STATUS_LABELS, payload.get("status"), tr),
              "learning_point": payload.get("learning_point") or "-"}
    if payload.get("status") == Status.CLOSED:
        return tr(FOLLOWED_CLOSED, **params)
    return tr(FOLLOWED_NOTICE, **params)

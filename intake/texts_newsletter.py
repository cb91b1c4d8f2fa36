"""The words of the tertial newsletter that every door shares: small counts suppressed
("fewer than 3", the trend too), the post that announces a published newsletter in Slack,
Teams and by e-mail, and the notice that tells a reporter (or a doctor who said "this
happened to me too") that their report contributed.

The post and the notice carry the newsletter's title, counts and link, never a report's
text. Shared by `intake.texts.notification_text`, `intake.reporting.newsletter*`, the
newsletter's notifiers (`bot.slack.newsletter`, `bot.teams.newsletter`,
`intake.delivery.mail_newsletter`) and the board.
"""

from __future__ import annotations

from typing import Any

from babel.numbers import format_decimal

from intake.domain.redirects import LINK_RE
from intake.i18n import N_, Translator

NEWSLETTER_EVENT = "newsletter_contribution"  # the outbox event of a contributor's notice
REPORTER, SUPPORTER = "reporter", "supporter"  # the notice's payload["role"]
SUPPRESS_BELOW = 3
NOT_SHOWN = "–"

FEWER_THAN_3 = N_("fewer than 3")
READ_IT = N_("Read the newsletter")
PDF_LINK = N_("The newsletter as PDF")
POST_LEAD = N_("Forbedringsgruppen's newsletter for {period} is out: what the reports "
               "closed this tertial taught us, and what was done.")
POST_CLOSED = N_("Closed reports of deviations, suggestions and input: {count} (change from "
                 "the previous tertial: {change})")
POST_GOOD = N_("Reports of good collaboration: {count}")
POST_POINTS = N_("Learning points and measures: {count}")
NOTICE_REPORTER = N_(
    "Your report {references} contributed to Forbedringsgruppen's newsletter for {period}: "
    "“{title}”. Thank you: what you reported now helps others learn.")
NOTICE_SUPPORTER = N_(
    "A report you said “This happened to me too” about ({references}) contributed to "
    "Forbedringsgruppen's newsletter for {period}: “{title}”. Thank you for telling us.")


def hidden(count: int | None) -> bool:
    """1 or 2: shown as "fewer than 3" (0 stays 0: nobody is in it)."""
    return count is not None and 0 < count < SUPPRESS_BELOW


def shown_count(count: int, tr: Translator) -> str:
    if hidden(count):
        return tr(FEWER_THAN_3)
    return format_decimal(count, locale=tr.babel_locale)


def shown_change(now: int, before: int, tr: Translator) -> str:
    """'+4', '−2', '±0'; '–' when one of the two counts is suppressed."""
    if hidden(now) or hidden(before):
        return NOT_SHOWN
    diff = now - before
    sign = "+" if diff > 0 else "−" if diff < 0 else "±"
    return f"{sign}{format_decimal(abs(diff), locale=tr.babel_locale)}"


def _number(payload: dict[str, Any], name: str) -> int:
    value = payload.get(name)
    return value if isinstance(value, int) and value >= 0 else 0


def post_lines(payload: dict[str, Any], tr: Translator) -> list[str]:
    """The announcement's paragraphs (plain text) after its title: the lead and the counts,
    suppressed. The link is each channel's own (`post_links`)."""
    total, before = _number(payload, "total"), _number(payload, "total_previous")
    lines = [tr(POST_LEAD, period=str(payload.get("period", ""))),
             tr(POST_CLOSED, count=shown_count(total, tr),
                change=shown_change(total, before, tr))]
    if _number(payload, "good_total"):
        lines.append(tr(POST_GOOD, count=shown_count(_number(payload, "good_total"), tr)))
    lines.append(tr(POST_POINTS, count=format_decimal(_number(payload, "points"),
                                                     locale=tr.babel_locale)))
    return lines


def post_links(payload: dict[str, Any], tr: Translator) -> list[tuple[str, str]]:
    """(label, url) of the page and the PDF; only plain http(s) addresses."""
    links = [(tr(READ_IT), payload.get("url")), (tr(PDF_LINK), payload.get("pdf_url"))]
    return [(name, url) for name, url in links if isinstance(url, str) and LINK_RE.match(url)]


def notice_text(payload: dict[str, Any], tr: Translator, links: bool = True) -> str:
    """A contributor's notice; with `links`, the newsletter's address as a "name: url"
    line (for channels that show no links of their own)."""
    references = payload.get("references") or [payload.get("reference", "")]
    params = {"references": ", ".join(str(r) for r in references),
              "period": str(payload.get("period", "")), "title": str(payload.get("title", ""))}
    msgid = NOTICE_SUPPORTER if payload.get("role") == SUPPORTER else NOTICE_REPORTER
    text = tr(msgid, **params)
    url = payload.get("url")
    if links and isinstance(url, str) and LINK_RE.match(url):
        text += f"\n\n{tr(READ_IT)}: {url}"
    return text

# the use cases' refusals (merged into intake.texts.ERROR_TEXTS)
NEWSLETTER_ERRORS = {
    "invalid_tertial": N_("Write the tertial like 2026-T3 (one that has begun)."),
    "newsletter_published": N_(
        "The newsletter for {tertial} has been published and can no longer be changed."),
    "newsletter_not_approved": N_(
        "The newsletter for {tertial} must be approved by a member of Forbedringsgruppen "
        "before it is published."),
    "newsletter_changed": N_(
        "The newsletter for {tertial} was changed since you opened it. Read it again, then "
        "approve it."),
    "newsletter_empty": N_(
        "No report was closed in {tertial}, so there is nothing to approve yet."),
    "newsletter_not_found": N_(
        "There is no newsletter for {tertial} yet: draft and approve it first."),
    "approver_name_required": N_(
        "Approving needs the name of the member who approves (with meld: --by NAME)."),
}

# the board's words
STATUS_LABELS = {"draft": N_("Draft"), "approved": N_("Approved"),
                 "published": N_("Published")}
PUBLICATION_STATES = {"published": N_("published"), "pending": N_("being posted"),
                      "failed": N_("failed")}
FINDING_LABELS = {
    "national_id": N_("an identity number (never published)"),
    "phone": N_("a phone number"),
    "email": N_("an e-mail address"),
    "name": N_("a name or a date of birth"),
    "account_number": N_("an account number"),
}


def findings_text(findings: tuple[str, ...], tr: Translator) -> str:
    """What the identifier guard found in an item, in words (for the group's board)."""
    return ", ".join(tr(FINDING_LABELS[f]) if f in FINDING_LABELS else f for f in findings)

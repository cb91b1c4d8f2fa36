"""Notices to reporters by e-mail: one MIME message per outbox row, sent by a transport.

`EmailNotifier` is the outbox channel "email". The outbox hands it a `Notification` whose
`address` was read from the report when the row was claimed (`reports.notify_email`); it is
None when retention erased it or the reporter stopped e-mail notices, and then the row fails
for good (`no_address`). The address is personal data: it goes into the To header and the
envelope, never into a log line (logs name the outbox id and a code).

The mail says what the other channels say (`intake.texts.notification_text`: reference,
status, the group's words, and for a dialog notice the group's message after it), the
private status link, and how to stop these mails. Never the reporter's own report text:
the notice texts do not carry it, and nothing here reads the report.

Headers: a `Message-ID` fixed per outbox row (`<meld.outbox.{id}@{sender's domain}>`), so a
resend after a crash is recognisably the same mail; `Auto-Submitted: auto-generated`
(RFC 3834, no auto-replies); `List-Unsubscribe` with a one-click POST (RFC 8058) to the
report's `/status/{token}/epost-av`.

Transports (`intake.delivery.mail_smtp`, `intake.delivery.mail_graph`) raise
`DeliveryError`; the outbox owns retries. A resend after an unknown outcome may give a
duplicate (no mail transport has an idempotency key): `resend_blindly = True`, and the
worker logs the possible duplicate by outbox id, as for Slack.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from typing import Protocol

from intake.delivery.outbox import EMAIL_CHANNEL, DeliveryError, Notification
from intake.domain.model import Status
from intake.domain.taxonomy import Taxonomy
from intake.i18n import N_, Translator
from intake.settings import Settings
from intake.texts import STATUS_LABELS, label, notice_links, notification_text
from intake.texts_filing import category_line

log = logging.getLogger("meld.mail")

SENDER_NAME = "Meld"
MESSAGE_MAX = 20_000  # characters of the group's message in one mail (it is never longer)

SUBJECT_RECEIPT = N_("Your report {reference} has been received")
SUBJECT_REPLY = N_("Forbedringsgruppen has answered on {reference}")
SUBJECT_STATUS = N_("Your report {reference}: {status}")
SUBJECT_REOPENED = N_("Your report {reference} has been reopened")
SUBJECT_OTHER = N_("News on your report {reference}")
SUBJECT_OVERDUE = N_("Your report {reference}: we need more time")
SUBJECT_GUIDANCE = N_("Your report {reference}: report it formally as well")
STATUS_LINK = N_("See your report and answer on its status page: {link}")
RATING_LINK = N_("Answer here: {link}")  # after the question "Var svaret nyttig?"
WHY_LINE = N_("You get this e-mail because you gave your address with report {reference}. "
              "It never contains the text of your report.")
STOP_LINE = N_("Stop e-mails about this report: {link}")
# under a receipt's line on a category the reporter did not choose (Meld's suggestion, or
# left to the group): where to choose it, as at every other door
CATEGORY_LINK = N_("Choose or change the category on the status page: {link}")
STATUS_LINK_HTML = N_("Open the status page of your report")
STOP_LINK_HTML = N_("Stop e-mails about this report")


class MailTransport(Protocol):
    """Sends one finished message to one address; raises DeliveryError."""

    name: str

    async def send(self, message: EmailMessage, *, sender: str, to: str) -> None: ...


def sender_domain(sender: str) -> str:
    """The domain of the From address, for Message-IDs ('meld.invalid' without one)."""
    domain = sender.rpartition("@")[2].strip().strip(">").lower()
    return domain or "meld.invalid"


def message_id(note_id: int, sender: str) -> str:
    """The Message-ID of an outbox row's mail: the same for every attempt of that row."""
    return f"<meld.outbox.{note_id}@{sender_domain(sender)}>"


def subject(note: Notification, tr: Translator) -> str:
    reference = note.reference or ""
    if note.event == "receipt":
        return tr(SUBJECT_RECEIPT, reference=reference)
    if note.event == "reply":
        return tr(SUBJECT_REPLY, reference=reference)
    if note.event == "status_changed":
        if note.payload.get("reopened"):
            return tr(SUBJECT_REOPENED, reference=reference)
        return tr(SUBJECT_STATUS, reference=reference,
                  status=label(STATUS_LABELS, note.payload.get("status"), tr))
    if note.event == "feedback_overdue":
        return tr(SUBJECT_OVERDUE, reference=reference)
    if note.event == "formal_guidance":
        return tr(SUBJECT_GUIDANCE, reference=reference)
    return tr(SUBJECT_OTHER, reference=reference)


def is_closing(note: Notification) -> bool:
    return (note.event == "status_changed" and note.payload.get("status") == Status.CLOSED
            and not note.payload.get("reopened"))


def mail_paragraphs(note: Notification, tr: Translator, *, status_link: str,
                    stop_link: str, taxonomy: Taxonomy | None = None,
                    ) -> tuple[list[str], list[tuple[str, str]]]:
    """The body's paragraphs (plain text) and its links (label, url) for the HTML part. A
    receipt says what the others say of a category the reporter did not choose (with the
    taxonomy to name it), and links to where it is chosen."""
    paragraphs = [notification_text(note.event, note.payload, tr, EMAIL_CHANNEL)]
    line = (category_line(taxonomy, note.payload, tr)
            if note.event == "receipt" and taxonomy is not None else None)
    if line:
        paragraphs.append(line + "\n" + tr(CATEGORY_LINK, link=f"{status_link}#kategori"))
    if note.message:
        paragraphs.append(note.message[:MESSAGE_MAX])
    if is_closing(note):
        rating_link = f"{status_link}#nyttig"  # the status page's "Var svaret nyttig?"
        paragraphs.append(tr(RATING_LINK, link=rating_link))
    paragraphs.append(tr(STATUS_LINK, link=status_link))
    paragraphs.append(tr(WHY_LINE, reference=note.reference or ""))
    paragraphs.append(tr(STOP_LINE, link=stop_link))
    # where the guidance sends them (redirects.toml), as links of their own in HTML
    return paragraphs, [*notice_links(note.payload), (tr(STATUS_LINK_HTML), status_link),
                        (tr(STOP_LINK_HTML), stop_link)]


def _html(paragraphs: list[str], links: list[tuple[str, str]], lang: str,
          title: str) -> str:
    def para(text: str) -> str:
        return "<p>" + "<br>\n".join(html.escape(line) for line in text.split("\n")) + "</p>"

    body = "\n".join(para(p) for p in paragraphs)
    anchors = "\n".join(f'<p><a href="{html.escape(url, quote=True)}">{html.escape(text)}</a></p>'
                        for text, url in links)
    return (f'<!doctype html>\n<html lang="{html.escape(lang)}">\n<head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title></head>\n<body>\n{body}\n{anchors}\n"
            "</body>\n</html>\n")


def build_message(note: Notification, *, sender: str, to: str, base_url: str,
                  status_token: str, tr: Translator, now: datetime | None = None,
                  taxonomy: Taxonomy | None = None) -> EmailMessage:
    """The MIME message of one notice: text and HTML alternatives and the headers above."""
    base = base_url.rstrip("/")
    status_link = f"{base}/status/{status_token}"
    stop_link = f"{status_link}/epost-av"
    paragraphs, links = mail_paragraphs(note, tr, status_link=status_link,
                                        stop_link=stop_link, taxonomy=taxonomy)
    title = subject(note, tr)
    msg = EmailMessage(policy=SMTP)
    msg["Message-ID"] = message_id(note.id, sender)
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    msg["From"] = formataddr((SENDER_NAME, sender))
    msg["To"] = to
    msg["Subject"] = title
    thread = note.payload.get("in_reply_to")  # a report that came by mail: answer in its thread
    if isinstance(thread, str) and THREAD_ID_RE.match(thread):
        msg["In-Reply-To"] = msg["References"] = f"<{thread}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"  # Exchange: no out-of-office answers to this
    msg["List-Unsubscribe"] = f"<{stop_link}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content("\n\n".join(paragraphs) + "\n")
    msg.add_alternative(_html(paragraphs, links, tr.locale, title), subtype="html")
    msg["Content-Language"] = tr.locale  # after the parts: they take Content-* headers
    # Headers are written out under RFC 5322's own limit (998): folding the long link
    # headers at 78 would turn them into encoded words, which mail clients do not read as a
    # List-Unsubscribe address. The parts were encoded above, with lines of at most 76.
    msg.policy = HEADER_POLICY
    return msg


HEADER_POLICY = SMTP.clone(max_line_length=998)
THREAD_ID_RE = re.compile(r"^[^\s<>\x00-\x1f\x7f]{1,900}$")  # a Message-ID without brackets


class EmailNotifier:
    """Delivers outbox notifications to a report's notice address through a transport."""

    channel = EMAIL_CHANNEL
    # no transport offers an idempotency key: after an unknown outcome the worker resends
    # and logs the possible duplicate by outbox id (the Message-ID stays the same)
    resend_blindly = True

    def __init__(self, transport: MailTransport, *, settings: Settings,
                 status_token: Callable[[str], str],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 taxonomy: Taxonomy | None = None) -> None:
        if not settings.mail_sender:
            raise ValueError("e-mail notices need MELD_MAIL_FROM or MELD_GRAPH_MAILBOX")
        self.transport = transport
        self.settings = settings
        self.sender = settings.mail_sender
        self.status_token = status_token
        self.clock = clock
        self.taxonomy = taxonomy  # names a receipt's category (None: the line is left out)

    def render(self, note: Notification) -> EmailMessage:
        if note.address is None:  # erased by retention, or the reporter said stop
            raise DeliveryError("no_address", permanent=True)
        if not note.reference:
            raise DeliveryError("no_report", permanent=True)
        tr = Translator(note.locale, self.settings.timezone)
        return build_message(note, sender=self.sender, to=note.address,
                             base_url=self.settings.base_url,
                             status_token=self.status_token(note.reference), tr=tr,
                             now=self.clock(), taxonomy=self.taxonomy)

    async def deliver(self, note: Notification) -> None:
        message = self.render(note)
        assert note.address is not None
        try:
            await self.transport.send(message, sender=self.sender, to=note.address)
        except DeliveryError as err:
            log.info("mail outbox id=%s attempt %s via %s: %s", note.id, note.attempt,
                     self.transport.name, err.code)
            raise


def build_transport(settings: Settings) -> MailTransport | None:
    """The transport MELD_MAIL_TRANSPORT names, or None when e-mail is off."""
    if settings.mail_transport == "smtp":
        from intake.delivery.mail_smtp import SmtpTransport

        return SmtpTransport(settings)
    if settings.mail_transport == "graph":
        from intake.delivery.mail_graph import GraphTransport

        return GraphTransport(settings)
    return None


def build_email_notifier(settings: Settings, *, status_token: Callable[[str], str],
                         taxonomy: Taxonomy | None = None) -> EmailNotifier | None:
    """The e-mail channel's notifier for the composition root, or None when mail is off."""
    transport = build_transport(settings)
    if transport is None:
        return None
    return EmailNotifier(transport, settings=settings, status_token=status_token,
                         taxonomy=taxonomy)

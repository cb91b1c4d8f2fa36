"""The published tertial newsletter by e-mail: one mail to each address of the
distribution list (MELD_NEWSLETTER_MAIL_TO), outbox channel `newsletter_email`, the
recipient being the address.

The row was written once per address by `intake.services.publish_newsletter` (the claim);
this only sends it, through the transport notices use (`intake.delivery.mail`: SMTP or
Microsoft Graph). The mail carries the title, the summary (small counts suppressed) and the
links to the page and the PDF, never a report's text. Its Message-ID is fixed per outbox
row, so a resend after an unknown outcome (`resend_blindly`, as for notices) is
recognisably the same mail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from html import escape

from intake.delivery.mail import SENDER_NAME, MailTransport, build_transport, sender_domain
from intake.delivery.outbox import DeliveryError, Notification
from intake.i18n import Translator
from intake.settings import Settings
from intake.texts_newsletter import post_lines, post_links

log = logging.getLogger("meld.mail.newsletter")

CHANNEL = "newsletter_email"  # = intake.services.newsletter_publish.POST_CHANNELS["email"]


def newsletter_mail(note: Notification, *, sender: str, tr: Translator,
                    now: datetime | None = None) -> EmailMessage:
    """The announcement as a MIME message (text and HTML) to the note's address."""
    payload = note.payload
    title = str(payload.get("title") or "Meld")
    lines = post_lines(payload, tr)
    links = post_links(payload, tr)
    msg = EmailMessage(policy=SMTP)
    msg["Message-ID"] = f"<meld.newsletter.{note.id}@{sender_domain(sender)}>"
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    msg["From"] = formataddr((SENDER_NAME, sender))
    msg["To"] = note.recipient
    msg["Subject"] = title
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    text = "\n\n".join([*lines, *(f"{name}: {url}" for name, url in links)])
    msg.set_content(text + "\n")
    rich = "".join(f"<p>{escape(line)}</p>\n" for line in lines)
    rich += "".join(f'<p><a href="{escape(url, quote=True)}">{escape(name)}</a></p>\n'
                    for name, url in links)
    msg.add_alternative(
        f'<!doctype html>\n<html lang="{escape(tr.locale)}">\n<head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head>\n<body>\n<h1>{escape(title)}</h1>\n{rich}"
        "</body>\n</html>\n", subtype="html")
    msg["Content-Language"] = tr.locale
    return msg


class NewsletterMailNotifier:
    """Sends the newsletter's announcement to one address of the distribution list."""

    channel = CHANNEL
    resend_blindly = True

    def __init__(self, transport: MailTransport, *, sender: str, tr: Translator,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.transport = transport
        self.sender = sender
        self.tr = tr
        self.clock = clock

    async def deliver(self, note: Notification) -> None:
        if "@" not in note.recipient:
            raise DeliveryError("no_address", permanent=True)
        message = newsletter_mail(note, sender=self.sender, tr=self.tr, now=self.clock())
        try:
            await self.transport.send(message, sender=self.sender, to=note.recipient)
        except DeliveryError as err:
            log.info("newsletter mail outbox id=%s attempt %s via %s: %s", note.id,
                     note.attempt, self.transport.name, err.code)
            raise


def build_newsletter_mailer(settings: Settings) -> NewsletterMailNotifier | None:
    """The newsletter's mail notifier for the composition root: None without a transport,
    a sender or a distribution list."""
    if not (settings.newsletter_mail_to.strip() and settings.mail_sender):
        return None
    transport = build_transport(settings)
    if transport is None:
        return None
    return NewsletterMailNotifier(transport, sender=settings.mail_sender,
                                  tr=Translator(settings.locale, settings.timezone))

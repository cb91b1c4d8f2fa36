"""Real-shaped mails for the mailbox tests, made with the stdlib: each returns the bytes a
mail server would store."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from stdnum.no import fodselsnummer

SENDER = "ase.lege@legekontor.example.no"


def national_id() -> str:
    """A valid fødselsnummer (control digits by python-stdnum)."""
    for individual in range(100, 1000):
        nine = f"150385{individual:03d}"
        ten = nine + fodselsnummer.calc_check_digit1(nine)
        number = ten + fodselsnummer.calc_check_digit2(ten)
        if len(number) == 11 and fodselsnummer.is_valid(number):
            return number
    raise AssertionError("no valid number")


def plain(text: str = "Epikrisen kom aldri fram.", *, subject: str = "Epikrise mangler",
          sender: str = SENDER, message_id: str | None = "<m1@legekontor.example.no>",
          date: str = "Mon, 02 Mar 2026 09:30:00 +0100", charset: str = "utf-8",
          cte: str | None = None, headers: dict[str, str] | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Åse Lege <{sender}>"
    msg["To"] = "fagrad@helse.example.no"
    msg["Subject"] = subject
    msg["Date"] = date
    if message_id:
        msg["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text, charset=charset, cte=cte)
    return msg.as_bytes(policy=SMTP)


def html_only(markup: str, **kw: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = kw.get("sender", SENDER)
    msg["Subject"] = kw.get("subject", "HTML")
    msg["Message-ID"] = kw.get("message_id", "<html1@legekontor.example.no>")
    msg["Date"] = "Mon, 02 Mar 2026 09:30:00 +0100"
    msg.set_content(markup, subtype="html")
    return msg.as_bytes(policy=SMTP)


def with_attachments(text: str = "Se vedlagt.", *, message_id: str = "<att@x.example.no>",
                     names: tuple[str, ...] = ("brev.pdf", "notat.docx")) -> bytes:
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["Subject"] = "Vedlegg"
    msg["Message-ID"] = message_id
    msg["Date"] = "Mon, 02 Mar 2026 09:30:00 +0100"
    msg.set_content(text, cte="base64")
    msg.add_alternative(f"<p>{text}</p>", subtype="html")
    for name in names:
        msg.add_attachment(b"%PDF-1.4 data", maintype="application", subtype="octet-stream",
                           filename=name)
    return msg.as_bytes(policy=SMTP)


def bounce() -> bytes:
    """A delivery status notification as Postfix writes it (RFC 3464)."""
    return (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.no>\r\n"
        b"To: fagrad@helse.example.no\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <bounce1@mx.example.no>\r\n"
        b"Date: Mon, 02 Mar 2026 09:31:00 +0100\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status;\r\n"
        b"\tboundary=\"B1\"\r\n\r\n"
        b"--B1\r\nContent-Type: text/plain\r\n\r\nThe mail system could not deliver.\r\n"
        b"--B1\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example.no\r\n\r\n"
        b"Final-Recipient: rfc822; nobody@example.no\r\nAction: failed\r\n"
        b"Status: 5.1.1\r\n\r\n"
        b"--B1--\r\n")


def write_mbox(path: Path, messages: list[bytes]) -> Path:
    box = mailbox.mbox(str(path), create=True)
    try:
        for raw in messages:
            box.add(raw)
        box.flush()
    finally:
        box.close()
    return path

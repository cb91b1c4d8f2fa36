"""What the mail tests share: a report body with an address, the rows and the checks."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from sqlalchemy import select

from intake import services
from intake.domain.model import Actor, Role
from storage import models as m
from tests.mail.conftest import ADDRESS, BASE_URL, SENDER, MailSite

GROUP = Actor("slack:UGROUP", Role.TRIAGER)
# the reporter's own text: it must never appear in any mail
DESCRIPTION = "Epikrisen for pasienten kom aldri fram; hemmelig-beskrivelse-7Q."


def report_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "deviation", "category": "discharge_summary", "subcategory": "missing",
        "description": DESCRIPTION, "occurred_on": "2026-02-27", "severity": "minor",
        "no_patient_identifiers": True, "reporter_party": "gp",
        "concerned_party": "hospital", "place": "stolav_medisinsk", "email": ADDRESS,
    }
    body.update(overrides)
    return body


def submit(site: MailSite, **overrides: Any) -> str:
    """POST /api/v1/reports with an address; the reference."""
    r = site.client.post("/api/v1/reports", json=report_body(**overrides))
    assert r.status_code == 201, r.text
    assert "email" in r.json()["notices"]
    return r.json()["reference"]


def email_rows(site: MailSite) -> list[m.OutboxMessage]:
    with site.ctx.db.reading() as session:
        return list(session.scalars(select(m.OutboxMessage)
                                    .where(m.OutboxMessage.channel == "email")
                                    .order_by(m.OutboxMessage.id)))


def texts(message: EmailMessage) -> tuple[str, str]:
    """(text/plain, text/html) of a notice."""
    plain = message.get_body(("plain",))
    rich = message.get_body(("html",))
    assert plain is not None and rich is not None
    return plain.get_content(), rich.get_content()


def check_notice(site: MailSite, message: EmailMessage, row_id: int, reference: str,
                 raw_bytes: bytes) -> None:
    """Everything every notice must be: MIME parts, headers, links, no report text."""
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    domain = SENDER.split("@")[1]
    assert message["Message-ID"] == f"<meld.outbox.{row_id}@{domain}>"
    assert message["Date"]
    assert SENDER in message["From"]
    assert message["To"] == ADDRESS
    assert reference in message["Subject"]
    assert message["Auto-Submitted"] == "auto-generated"
    token = site.token(reference)
    status_link = f"{BASE_URL}/status/{token}"
    assert message["List-Unsubscribe"] == f"<{status_link}/epost-av>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # as sent: a plain <url>, not folded into encoded words a mail client cannot use
    assert raw_bytes, "check the notice as it came over the wire"
    assert f"List-Unsubscribe: <{status_link}/epost-av>".encode() in raw_bytes
    plain, rich = texts(message)
    for part in (plain, rich):
        assert reference in part
        assert status_link in part
        assert f"{status_link}/epost-av" in part
        assert DESCRIPTION not in part and "hemmelig-beskrivelse" not in part
    assert "e-post" in plain.lower()  # the line how to stop them, in bokmål


def send_reply(site: MailSite, reference: str, text: str) -> None:
    services.reply(ctx=site.ctx, actor=GROUP, reference=reference, text=text)

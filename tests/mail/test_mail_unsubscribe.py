"""Stopping notices by e-mail: the confirm page, the button, a mail client's one-click POST
(RFC 8058, no CSRF token: the status token is the capability), a 404 for an unknown token;
a notice still in the outbox then fails for good (no_address) and no mail goes out."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from intake.settings import Settings
from storage import models as m
from tests.mail.conftest import MailSite, smtp_settings
from tests.mail.fakes import SmtpServer
from tests.mail.helpers import email_rows, send_reply, submit

Site = Callable[[Settings], MailSite]


def audit_actions(s: MailSite) -> list[tuple[str, dict]]:
    with s.ctx.db.reading() as session:
        return [(a.action, a.details) for a in session.scalars(
            select(m.AuditEvent).where(m.AuditEvent.action == "email_notices_stopped"))]


def test_one_click_stops_further_mails(db_url: str, site: Site, smtp: SmtpServer) -> None:
    s = site(smtp_settings(db_url, smtp))
    reference = submit(s)
    s.drain()
    assert len(smtp.mails) == 1
    link = smtp.mails[0].message["List-Unsubscribe"].strip("<>")
    path = link.removeprefix("https://meld.example.no")
    send_reply(s, reference, "Vi ser på det.")  # queued before the stop
    r = s.client.post(path, content=b"List-Unsubscribe=One-Click",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    assert "Du får ikke flere e-poster om melding" in r.text
    s.drain()
    assert len(smtp.mails) == 1
    pending = [row for row in email_rows(s) if row.event != "receipt"]
    assert pending and all(row.last_error == "no_address" and row.failed_at is not None
                           for row in pending)
    assert audit_actions(s) == [("email_notices_stopped", {"via": "one_click"})]
    # again: nothing changes, nothing more in the audit log
    assert s.client.post(path, content=b"List-Unsubscribe=One-Click").status_code == 200
    assert len(audit_actions(s)) == 1
    with s.ctx.db.reading() as session:
        assert session.scalars(select(m.Report.notify_email)).one() is None


def test_confirm_page_and_button(db_url: str, site: Site, smtp: SmtpServer) -> None:
    s = site(smtp_settings(db_url, smtp))
    reference = submit(s)
    path = f"/status/{s.token(reference)}/epost-av"
    page = s.client.get(path)
    assert page.status_code == 200
    assert reference in page.text and 'method="post"' in page.text
    assert "Slutt å sende e-post" in page.text
    with s.ctx.db.reading() as session:  # a GET (a link scanner) stops nothing
        assert session.scalars(select(m.Report.notify_email)).one() is not None
    done = s.client.post(path)
    assert done.status_code == 200 and "Du får ikke flere e-poster" in done.text
    assert audit_actions(s) == [("email_notices_stopped", {"via": "page"})]
    again = s.client.get(path)
    assert "allerede slått av" in again.text
    s.drain()
    assert smtp.mails == []  # the receipt was still queued: it is not sent either


def test_unknown_token_is_404(db_url: str, site: Site, smtp: SmtpServer) -> None:
    s = site(smtp_settings(db_url, smtp))
    submit(s)
    for token in ("0" * 48, "x", "a" * 300):
        assert s.client.get(f"/status/{token}/epost-av").status_code == 404
        r = s.client.post(f"/status/{token}/epost-av", content=b"List-Unsubscribe=One-Click")
        assert r.status_code == 404 and "<html" in r.text
    assert audit_actions(s) == []

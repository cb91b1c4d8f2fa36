"""Notices by e-mail over a real SMTP server on loopback (aiosmtpd): a report sent with an
address gets the receipt and each later notice once, as proper MIME, never with its text;
SMTP answers become the outbox's retries, permanent failures and unknown outcomes."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest

from intake import services
from intake.delivery.mail_smtp import SmtpTransport
from intake.delivery.outbox import DeliveryError
from intake.settings import Settings
from tests.mail.conftest import ADDRESS, SENDER, MailSite, smtp_settings
from tests.mail.fakes import SmtpServer, free_port
from tests.mail.helpers import (
    DESCRIPTION,
    GROUP,
    check_notice,
    email_rows,
    send_reply,
    submit,
    texts,
)

Site = Callable[[Settings], MailSite]


def test_receipt_and_each_later_notice_arrive_once(db_url: str, site: Site,
                                                   smtp: SmtpServer) -> None:
    s = site(smtp_settings(db_url, smtp))
    reference = submit(s)
    s.drain()
    assert len(smtp.mails) == 1
    receipt = smtp.mails[0]
    assert receipt.rcpt_tos == [ADDRESS] and receipt.mail_from == SENDER
    rows = email_rows(s)
    assert [r.event for r in rows] == ["receipt"]
    check_notice(s, receipt.message, rows[0].id, reference, receipt.raw)
    plain, _ = texts(receipt.message)
    assert "Takk! Meldingen din er mottatt" in plain
    assert s.drain() == 0 and len(smtp.mails) == 1  # delivered once, not again

    send_reply(s, reference, "Takk, vi ser på <b>dette</b> & kommer tilbake.")
    services.move_status(ctx=s.ctx, actor=GROUP, reference=reference, status="in_progress")
    s.drain()
    rows = email_rows(s)
    # the reply starts the assessment (a status notice), then the reply, then the status
    assert [r.event for r in rows] == ["receipt", "status_changed", "reply", "status_changed"]
    mails = smtp.wait_mails(len(rows))
    assert len(mails) == len(rows) == 4
    assert all(r.delivered_at is not None for r in rows)
    for row, mail in zip(rows, mails, strict=True):
        check_notice(s, mail.message, row.id, reference, mail.raw)
    reply_plain, reply_html = texts(mails[2].message)
    assert "Forbedringsgruppen har svart på" in reply_plain
    assert "Takk, vi ser på <b>dette</b> & kommer tilbake." in reply_plain
    assert "&lt;b&gt;dette&lt;/b&gt; &amp; kommer" in reply_html and "<b>dette" not in reply_html
    assert reference in mails[2].message["Subject"]
    assert "Tiltak" in mails[3].message["Subject"] or "tiltak" in texts(mails[3].message)[0]
    assert len({m.message["Message-ID"] for m in mails}) == 4
    assert s.drain() == 0 and len(smtp.mails) == 4


def test_closing_mail_links_to_the_rating(db_url: str, site: Site, smtp: SmtpServer) -> None:
    s = site(smtp_settings(db_url, smtp))
    reference = submit(s)
    send_reply(s, reference, "Vi følger opp.")
    services.move_status(ctx=s.ctx, actor=GROUP, reference=reference, status="in_progress")
    services.close(ctx=s.ctx, actor=GROUP, reference=reference,
                   learning_point="Epikriser sendes samme dag.", measure="Ny rutine.")
    s.drain()
    rows = email_rows(s)
    mails = smtp.wait_mails(len(rows))
    assert len(mails) == len(rows)
    closing = mails[-1].message
    plain, rich = texts(closing)
    link = f"/status/{s.token(reference)}#nyttig"
    assert f"Svar her: https://meld.example.no{link}" in plain
    assert plain.count("Var svaret nyttig?") == 1  # asked once, with the link under it
    assert link in rich
    assert "Epikriser sendes samme dag." in plain  # the learning point, not the report text
    assert DESCRIPTION not in plain
    assert all("#nyttig" not in texts(m.message)[0] for m in mails[:-1])


def test_english_report_gets_english_mail(db_url: str, site: Site, smtp: SmtpServer) -> None:
    s = site(smtp_settings(db_url, smtp))
    reference = submit(s, locale="en")
    s.drain()
    message = smtp.wait_mails(1)[0].message
    assert message["Subject"] == f"Your report {reference} has been received"
    assert message["Content-Language"] == "en"
    assert "Stop e-mails about this report" in texts(message)[0]


def test_starttls_and_login(db_url: str, site: Site, tls_smtp: SmtpServer) -> None:
    s = site(smtp_settings(db_url, tls_smtp, smtp_url=tls_smtp.url(login=True),
                           smtp_starttls="required", smtp_ca_bundle=tls_smtp.ca_path))
    reference = submit(s)
    s.drain()
    assert len(tls_smtp.wait_mails(1)) == 1
    assert tls_smtp.logins  # AUTH after STARTTLS (the server refuses AUTH before TLS)
    check_notice(s, tls_smtp.mails[0].message, email_rows(s)[0].id, reference,
                 tls_smtp.mails[0].raw)


def test_untrusted_certificate_is_retried_not_sent(db_url: str, site: Site,
                                                   tls_smtp: SmtpServer) -> None:
    s = site(smtp_settings(db_url, tls_smtp, smtp_url=tls_smtp.url(login=True),
                           smtp_starttls="required"))  # no CA bundle: not trusted
    submit(s)
    s.drain()
    (row,) = email_rows(s)
    assert row.last_error == "smtp_tls" and row.failed_at is None
    assert tls_smtp.mails == []


# ---------------------------------------------------------------- what answers mean


def message() -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = SENDER, ADDRESS, "x"
    msg.set_content("x")
    return msg


def send(settings: Settings) -> None:
    asyncio.run(SmtpTransport(settings).send(message(), sender=SENDER, to=ADDRESS))


def test_smtp_answers_classified(tmp_path: Path, smtp: SmtpServer) -> None:
    settings = smtp_settings(f"sqlite:///{tmp_path}/x.db", smtp)
    smtp.handler.rcpt_answers.append("450 4.2.1 Mailbox busy")
    with pytest.raises(DeliveryError) as busy:
        send(settings)
    assert (busy.value.code, busy.value.permanent, busy.value.ambiguous) == \
        ("smtp_4xx", False, False)
    smtp.handler.rcpt_answers.append("550 5.1.1 No such user")
    with pytest.raises(DeliveryError) as gone:
        send(settings)
    assert (gone.value.code, gone.value.permanent) == ("smtp_recipient_refused", True)
    smtp.handler.data_answers.append("451 4.3.0 Try later")
    with pytest.raises(DeliveryError) as later:
        send(settings)
    assert (later.value.code, later.value.permanent, later.value.ambiguous) == \
        ("smtp_4xx", False, False)
    assert smtp.mails == []
    send(settings)
    assert len(smtp.mails) == 1


def test_refused_connection_is_a_plain_retry(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/x.db", secret_key="k" * 32,
                        mail_transport="smtp", smtp_url=f"smtp://127.0.0.1:{free_port()}",
                        mail_from=SENDER, smtp_starttls="off")
    with pytest.raises(DeliveryError) as refused:
        send(settings)
    assert (refused.value.code, refused.value.permanent, refused.value.ambiguous) == \
        ("smtp_connection_error", False, False)


def test_no_answer_after_data_is_ambiguous_and_resent_once(db_url: str, site: Site,
                                                           smtp: SmtpServer,
                                                           caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    s = site(smtp_settings(db_url, smtp, mail_timeout_seconds=0.5))
    reference = submit(s)
    smtp.handler.stall_data = 2.0  # takes the mail, then answers too late
    asyncio.run(s.worker.run_once())
    (row,) = email_rows(s)
    assert row.last_error == "ambiguous:smtp_data_lost" and row.delivered_at is None
    smtp.handler.stall_data = 0.0
    s.clock.advance(seconds=60)
    with caplog.at_level("WARNING", logger="meld.outbox"):
        s.drain()
    (row,) = email_rows(s)
    assert row.delivered_at is not None
    mails = smtp.wait_mails(2)
    assert len(mails) == 2  # at most one duplicate, with the same Message-ID
    assert mails[0].message["Message-ID"] == mails[1].message["Message-ID"]
    check_notice(s, mails[1].message, row.id, reference, mails[1].raw)
    assert f"outbox id={row.id}" in caplog.text and "possible duplicate" in caplog.text
    assert ADDRESS not in caplog.text


def test_no_address_fails_for_good(db_url: str, site: Site, smtp: SmtpServer) -> None:
    s = site(smtp_settings(db_url, smtp))
    reference = submit(s)
    services.stop_email_notices(ctx=s.ctx, token=s.token(reference))
    s.drain()
    (row,) = email_rows(s)
    assert row.last_error == "no_address" and row.failed_at is not None
    assert smtp.mails == []


def test_smtp_login_refused(tmp_path: Path, tls_smtp: SmtpServer) -> None:
    settings = smtp_settings(f"sqlite:///{tmp_path}/x.db", tls_smtp,
                             smtp_url=tls_smtp.url().replace("//", "//meld:wrong@"),
                             smtp_starttls="required", smtp_ca_bundle=tls_smtp.ca_path)
    with pytest.raises(DeliveryError) as refused:
        send(settings)
    assert refused.value.code == "smtp_auth" and not refused.value.permanent


def test_smtplib_is_what_we_think(smtp: SmtpServer) -> None:
    """smtplib.SMTP.data raises on a refused DATA command and returns the final answer."""
    with smtplib.SMTP("127.0.0.1", smtp.port, local_hostname="localhost", timeout=3) as c:
        c.ehlo()
        assert c.mail(SENDER)[0] == 250
        assert c.rcpt(ADDRESS)[0] == 250
        smtp.handler.data_answers.append("554 5.7.1 Rejected")
        assert c.data(message().as_bytes())[0] == 554


def test_a_receipt_says_what_the_other_doors_say_of_a_category_left_open(
        db_url: str, site: Site, smtp: SmtpServer) -> None:
    s = site(smtp_settings(db_url, smtp))
    chosen = submit(s)  # the reporter chose the category: nothing to say of it
    left = submit(s, category=None, subcategory=None)  # Meld suggests, the group decides
    s.drain()
    mails = smtp.wait_mails(2)
    by_reference = {m.message["Subject"].split()[-3]: m for m in mails}
    assert set(by_reference) == {chosen, left}, [m.message["Subject"] for m in mails]

    plain, rich = texts(by_reference[left].message)
    assert "Kategori: Ikke kategorisert; Forbedringsgruppen velger den." in plain
    assert "Meld foreslår Epikrise" in plain
    token = services.status_token_for(s.ctx, left)
    link = f"/status/{token}#kategori"
    assert f"Velg eller endre kategorien på statussiden: {s.settings.base_url.rstrip('/')}" \
           f"{link}" in plain
    assert "Kategori: Ikke kategorisert" in rich
    check_notice(s, by_reference[left].message, email_rows(s)[1].id, left,
                 by_reference[left].raw)

    plain, _ = texts(by_reference[chosen].message)
    assert "Kategori" not in plain and "#kategori" not in plain

"""The address at the doors: the web form asks for it only when mail is on, a refused form
keeps it, the receipt says where notices will come, the group sees it on one report only,
retention erases it, and a receipt is mailed at the commit, not at the next poll."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from intake import services
from intake.domain.model import Actor, Role
from intake.ops import retention
from storage import models as m
from tests.doors.conftest import Door, csrf_of, error_codes, settings_for, start_door
from tests.doors.conftest import form_data as door_form_data
from tests.doors.conftest import report_body as door_report_body
from tests.mail.conftest import ADDRESS, MailSite, smtp_settings
from tests.mail.fakes import SmtpServer
from tests.mail.helpers import DESCRIPTION, GROUP, email_rows, report_body, submit

Site = Callable[..., MailSite]
ADMIN = Actor("cli:admin", Role.ADMIN)
EMAIL_INPUT = re.compile(r'<input type="email" id="email" name="email"[^>]*>')


@pytest.fixture
def door(db_url: str) -> Iterator[Door]:
    """Meld without a mail transport, as `make run` starts it."""
    d = start_door(settings_for(db_url))
    try:
        yield d
    finally:
        d.close()
        d.server.stop(wait=False)


def form_data(csrf: str, **overrides: str) -> dict[str, str]:
    """A filled-in web form, dated by the site's (fake) clock."""
    return door_form_data(csrf, occurred_on="2026-02-27", **overrides)


def test_form_asks_for_the_address_only_when_mail_is_on(db_url: str, site: Site,
                                                        smtp: SmtpServer, door: Door) -> None:
    on = site(smtp_settings(db_url, smtp))
    page = on.client.get("/").text
    field = EMAIL_INPUT.search(page)
    assert field is not None and 'autocomplete="email"' in field.group(0)
    assert "Vil du ha beskjed på e-post?" in page
    off = door.client().get("/").text
    assert EMAIL_INPUT.search(off) is None and 'name="email"' not in off


def test_web_report_with_an_address_is_mailed_and_says_so(db_url: str, site: Site,
                                                          smtp: SmtpServer) -> None:
    s = site(smtp_settings(db_url, smtp))
    client = s.client
    csrf = csrf_of(client.get("/").text)
    r = client.post("/send", data=form_data(csrf, email=f"  {ADDRESS.upper()} "),
                    follow_redirects=True)
    assert r.status_code == 200, r.text
    assert "e-postadressen du oppga" in r.text  # the receipt names both channels
    assert "statussiden" in r.text
    with s.ctx.db.reading() as session:
        report = session.scalars(select(m.Report)).one()
        # email-validator keeps the local part as written and lowercases the domain
        assert report.notify_email == ADDRESS.split("@")[0].upper() + "@" + \
            ADDRESS.split("@")[1]
        reference = report.reference
    assert s.drain() >= 1  # the mail (a web receipt is the answer itself: no row)
    mails = smtp.wait_mails(1)
    assert len(mails) == 1 and reference in mails[0].message["Subject"]


def test_refused_address_keeps_what_was_typed(db_url: str, site: Site,
                                              smtp: SmtpServer) -> None:
    s = site(smtp_settings(db_url, smtp))
    client = s.client
    csrf = csrf_of(client.get("/").text)
    typed = "lege@@eksempel"
    description = "Epikrisen kom ikke fram; fastlegen fikk ingen beskjed om endret dose."
    r = client.post("/send", data=form_data(csrf, email=typed, description=description))
    assert r.status_code == 422
    assert f'value="{typed}"' in r.text  # the address is kept to be fixed
    assert description in r.text  # and so is the report
    assert 'href="#email"' in r.text  # the summary links to the field
    assert "navn@eksempel.no" in r.text  # and says what an address looks like
    with s.ctx.db.reading() as session:
        assert session.scalar(select(m.Report.id)) is None


def test_api_refuses_an_address_when_mail_is_off(door: Door) -> None:
    api = door.client()
    r = api.post("/api/v1/reports", json=door_report_body(email=ADDRESS))
    assert r.status_code == 422
    assert error_codes(r.json()) == {"email": ["email_notices_off"]}
    assert door.stored_nothing()
    ok = api.post("/api/v1/reports", json=door_report_body(email=""))
    assert ok.status_code == 201 and ok.json()["notices"] == ["status_page"]


def test_api_refuses_a_malformed_address(db_url: str, site: Site, smtp: SmtpServer) -> None:
    s = site(smtp_settings(db_url, smtp))
    for bad in ("lege", "lege@", "@eksempel.no", "lege@eksempel", "a b@eksempel.no",
                "lege@[127.0.0.1]", "x" * 250 + "@eksempel.no"):
        r = s.client.post("/api/v1/reports", json=report_body(email=bad))
        assert r.status_code == 422, bad
        assert "email" in error_codes(r.json()), bad
    assert email_rows(s) == []


def test_the_group_sees_the_address_on_one_report_only(db_url: str, site: Site,
                                                       smtp: SmtpServer) -> None:
    s = site(smtp_settings(db_url, smtp))
    reference = submit(s)
    one = services.get_report(ctx=s.ctx, actor=GROUP, reference=reference)
    assert one.notify_email == ADDRESS
    listed = services.list_reports(ctx=s.ctx, actor=GROUP)
    assert [v.notify_email for v in listed.items] == [None]
    token = services.create_token(ctx=s.ctx, name="kari", role="triager")
    body = s.client.get(f"/api/v1/reports/{reference}",
                        headers={"Authorization": f"Bearer {token}"}).json()
    assert body["notify_email"] == ADDRESS
    # the reporter's own status page does not echo it
    status = s.client.get(f"/status/{s.token(reference)}").text
    assert ADDRESS not in status


def test_retention_erases_the_address_and_stops_pending_mail(db_url: str, site: Site,
                                                             smtp: SmtpServer) -> None:
    s = site(smtp_settings(db_url, smtp))
    reference = submit(s)
    s.drain()
    services.move_status(ctx=s.ctx, actor=GROUP, reference=reference, status="in_progress")
    services.close(ctx=s.ctx, actor=GROUP, reference=reference,
                   learning_point="Sjekkliste ved utskriving.", measure="Ny rutine.")
    s.clock.advance(days=s.settings.retention_days + 1)
    done = retention.apply(ctx=s.ctx, actor=ADMIN)
    assert done.references == (reference,)
    with s.ctx.db.reading() as session:
        report = session.scalars(select(m.Report)).one()
        assert report.notify_email is None
        pending = [row for row in session.scalars(select(m.OutboxMessage))
                   if row.channel == "email" and row.delivered_at is None]
        assert pending and all(row.failed_at is not None for row in pending)
        assert all(ADDRESS not in (row.recipient or "") for row in pending)
    before = len(smtp.mails)
    s.drain()
    assert len(smtp.mails) == before  # nothing more is mailed
    assert retention.due_reports(ctx=s.ctx).references == ()


def test_a_receipt_is_mailed_at_the_commit_not_at_the_next_poll(db_url: str, site: Site,
                                                               smtp: SmtpServer) -> None:
    # the app's own worker polls once a minute: only the wake-up at commit can be this quick
    s = site(smtp_settings(db_url, smtp, run_outbox_worker=True, outbox_poll_seconds=60))
    s.client.get("/")  # the worker has made its first (empty) round by now
    for _ in range(2):
        r = s.client.post("/api/v1/reports", json=report_body())
        assert r.status_code == 201
        reference = r.json()["reference"]
        mails = smtp.wait_mails(len(smtp.mails) + 1, timeout=15)
        assert reference in mails[-1].message["Subject"]
        assert DESCRIPTION not in mails[-1].message.as_string()
    # a change by the group wakes it too
    services.reply(ctx=s.ctx, actor=GROUP, reference=reference, text="Vi ser på saken.")
    assert len(smtp.wait_mails(3, timeout=15)) == 3


def test_wake_up_after_a_commit_only(db_url: str, site: Site, smtp: SmtpServer) -> None:
    """A refused change writes no notice and wakes nobody; a committed one wakes once."""
    s = site(smtp_settings(db_url, smtp))
    woken: list[int] = []
    s.ctx.outbox_signal.subscribe(lambda _channels: woken.append(1))
    r = s.client.post("/api/v1/reports", json=report_body(no_patient_identifiers=False))
    assert r.status_code == 422
    refused = len(woken)
    assert refused == 0
    reference = submit(s)
    assert len(woken) == refused + 1
    services.reply(ctx=s.ctx, actor=GROUP, reference=reference, text="Takk for meldingen.")
    assert len(woken) == refused + 2


def test_forwarding_mail_links_to_where_the_reporter_reports(db_url: str, site: Site,
                                                             smtp: SmtpServer) -> None:
    s = site(smtp_settings(db_url, smtp))
    reference = submit(s)
    services.redirect(ctx=s.ctx, actor=GROUP, reference=reference, target="melde_no",
                      external_reference="HT-2026-17",
                      message="Dette bør meldes til Helsetilsynet.")
    s.drain()
    forwarded = smtp.wait_mails(len(email_rows(s)))[-1].message
    assert reference in forwarded["Subject"]
    rich = forwarded.get_body(("html",))
    assert rich is not None
    links = re.findall(r'<a href="([^"]+)">', rich.get_content())
    assert any(link.startswith("https://www.melde.no") for link in links), links
    plain = forwarded.get_body(("plain",))
    assert plain is not None and "Dette bør meldes til Helsetilsynet." in plain.get_content()
    assert DESCRIPTION not in forwarded.as_string()

"""take_mail and `meld mailbox import` on both databases: new reports, withheld text,
replies to Meld's notices, duplicates, auto-mail, and the receipt threaded over SMTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from intake import services
from intake.cli.main import main
from intake.domain.model import Actor, Role
from intake.i18n import Translator
from intake.mailbox.parse import parse_message
from intake.presenting import list_line
from intake.settings import Settings
from storage import models as m
from tests.mail.conftest import SENDER as MELD_SENDER
from tests.mail.conftest import site, sites, smtp, smtp_settings  # noqa: F401 - fixtures
from tests.mailbox import mails

GROUP = Actor("cli:triager", Role.TRIAGER)


def take(ctx: services.Context, raw: bytes, *, receipt: bool = False) -> services.MailOutcome:
    return services.take_mail(ctx=ctx, mail=parse_message(raw), source="import",
                              send_receipt=receipt)


def test_a_mail_becomes_a_report_once(ctx: services.Context) -> None:
    outcome = take(ctx, mails.with_attachments())
    assert outcome.kind == "imported" and outcome.reference
    view = services.get_report(ctx=ctx, actor=GROUP, reference=outcome.reference)
    assert (view.channel, view.kind, view.category, view.reported_severity) == (
        "email", "input", "uncategorized", "unknown")
    assert view.description == ("Vedlegg\n\nSe vedlagt.\n\n"
                                "Vedlegg (2): brev.pdf, notat.docx — se postkassen")
    assert view.reporter_id == f"email:{mails.SENDER}"
    assert view.notify_email == mails.SENDER and view.withheld is None
    assert str(view.occurred_on) == "2026-03-02"
    assert take(ctx, mails.with_attachments()) == services.MailOutcome("duplicate", None)
    with ctx.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(m.Report)) == 1
        rows = session.scalars(select(m.OutboxMessage)).all()
        audit = session.scalars(select(m.AuditEvent)
                                .where(m.AuditEvent.action == "mail_imported")).one()
    assert [(r.channel, r.event) for r in rows] == [("group", "new_report")]  # no receipt
    assert audit.details["outcome"] == "imported" and "text" not in str(audit.details)


def test_uncategorized_is_not_offered_to_reporters(ctx: services.Context) -> None:
    assert "uncategorized" not in {c.id for c in ctx.taxonomy.active_categories()}
    assert ctx.taxonomy.category_label("uncategorized", "nb") == "Ikke kategorisert"


def test_auto_mail_bounces_and_no_sender_make_no_report(ctx: services.Context) -> None:
    assert take(ctx, mails.bounce()).kind == "auto"
    assert take(ctx, mails.plain(message_id="<ooo@x.no>",
                                 headers={"Auto-Submitted": "auto-replied"})).kind == "auto"
    assert take(ctx, mails.plain(message_id="<list@x.no>",
                                 headers={"List-Id": "<nyhet.x.no>"})).kind == "auto"
    assert take(ctx, b"Subject: hei\r\n\r\nuten avsender").kind == "refused"
    with ctx.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(m.Report)) == 0
        outcomes = sorted(session.scalars(select(m.InboundMail.outcome)))
    assert outcomes == ["auto", "auto", "auto", "refused"]


def test_an_identity_number_is_withheld_and_never_stored(ctx: services.Context) -> None:
    number = mails.national_id()
    raw = mails.plain(f"Pasienten {number[:6]} {number[6:]} fikk ikke epikrise.",
                      message_id="<fnr@x.no>")
    outcome = take(ctx, raw, receipt=True)
    assert outcome.kind == "withheld"
    view = services.get_report(ctx=ctx, actor=GROUP, reference=outcome.reference or "")
    assert view.description == ("Teksten er holdt tilbake: mulig fødselsnummer. "
                                "Les den i postkassen.")
    assert view.withheld == "national_id"
    page = services.list_reports(ctx=ctx, actor=GROUP)
    tr = Translator("nb")
    assert "tekst holdt tilbake" in list_line(ctx, page.items[0], tr)
    with ctx.db.reading() as session:
        receipt = session.scalars(select(m.OutboxMessage)
                                  .where(m.OutboxMessage.event == "receipt")).one()
        dump = _dump(session)
    assert receipt.channel == "email" and receipt.payload["withheld"] is True
    assert receipt.payload["in_reply_to"] == "fnr@x.no"
    assert number not in dump and number[6:] not in dump


def _dump(session) -> str:  # type: ignore[no-untyped-def]
    """Every value in every table, as text."""
    parts = []
    for table in m.Base.metadata.sorted_tables:
        for row in session.execute(text(f'SELECT * FROM "{table.name}"')):
            parts.append(" ".join(str(v) for v in row))
    return "\n".join(parts)


def test_a_reply_to_a_notice_joins_the_report(ctx: services.Context) -> None:
    first = take(ctx, mails.plain(message_id="<first@x.no>"), receipt=True)
    assert first.reference
    services.request_info(ctx=ctx, actor=GROUP, reference=first.reference,
                          question="Hvilken avdeling?")
    with ctx.db.reading() as session:
        notice = session.scalars(select(m.OutboxMessage).where(
            m.OutboxMessage.event == "status_changed", m.OutboxMessage.channel == "email")
            .order_by(m.OutboxMessage.id.desc())).first()
    assert notice is not None
    answer = mails.plain("Kirurgisk avdeling.\n\nDen 2. mars 2026 skrev Meld <m@x.no>:\n> ?",
                         subject="Re: Meldingen din", message_id="<answer@x.no>",
                         headers={"In-Reply-To": f"<meld.outbox.{notice.id}@helse.no>"})
    outcome = take(ctx, answer)
    assert outcome == services.MailOutcome("reply", first.reference)
    view = services.get_report(ctx=ctx, actor=GROUP, reference=first.reference)
    assert view.messages[-1].direction == "reporter"
    assert view.messages[-1].body == "Kirurgisk avdeling."
    assert view.status == "triage"  # the answer to the question puts it back
    # the same thread from another address is a new report, not a message on this one
    stranger = mails.plain("Jeg er en annen.", sender="annen@example.no",
                           message_id="<other@x.no>",
                           headers={"In-Reply-To": f"<meld.outbox.{notice.id}@helse.no>"})
    assert take(ctx, stranger).kind == "imported"


def test_a_long_mail_is_cut_with_a_note(ctx: services.Context) -> None:
    outcome = take(ctx, mails.plain("ord " * 2000, message_id="<long@x.no>"))
    view = services.get_report(ctx=ctx, actor=GROUP, reference=outcome.reference or "")
    assert view.description is not None
    assert len(view.description) <= ctx.settings.max_text_chars
    assert view.description.endswith("les hele e-posten i postkassen.]")


def test_the_receipt_is_threaded_over_smtp(db_url, site, smtp) -> None:  # noqa: F811
    mailsite = site(smtp_settings(db_url, smtp))
    outcome = take(mailsite.ctx, mails.plain(message_id="<thread@legekontor.example.no>"),
                   receipt=True)
    assert mailsite.drain() == 1  # the receipt by mail (no group notifier here)
    [accepted] = smtp.wait_mails(1)
    sent = accepted.message
    assert sent["In-Reply-To"] == "<thread@legekontor.example.no>"
    assert sent["References"] == "<thread@legekontor.example.no>"
    assert outcome.reference in str(sent["Subject"])
    assert accepted.rcpt_tos == [mails.SENDER]
    assert str(sent["Message-ID"]).endswith("@" + MELD_SENDER.split("@")[1] + ">")
    # left to the group, as every door says, with Meld's suggestion to take on the status page
    plain = sent.get_body(("plain",)).get_content()
    assert "Kategori: Ikke kategorisert; Forbedringsgruppen velger den." in plain
    assert "Meld foreslår Epikrise" in plain
    token = services.status_token_for(mailsite.ctx, outcome.reference)
    assert f"/status/{token}#kategori" in plain

    # ... where the sender takes it in one click
    status = mailsite.client.get(f"/status/{token}")
    assert status.status_code == 200 and "take-suggestion" in status.text
    csrf = status.text.split('name="csrf" value="')[1].split('"')[0]
    chosen = mailsite.client.post(f"/status/{token}/kategori",
                                  data={"csrf": csrf, "category": "discharge_summary"},
                                  follow_redirects=False)
    assert chosen.status_code == 303
    view = services.get_report(ctx=mailsite.ctx, actor=GROUP, reference=outcome.reference)
    assert (view.category, view.category_source) == ("discharge_summary", "reporter")


def _run(settings: Settings, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv), settings=settings)
    out = capsys.readouterr()
    return code, out.out


def test_the_import_runs_twice_safely(settings: Settings, ctx, tmp_path: Path,
                                      capsys) -> None:
    box = mails.write_mbox(tmp_path / "fagrad.mbox", [
        mails.plain(message_id="<a@x.no>"),
        mails.plain(f"fnr {mails.national_id()}", message_id="<b@x.no>"),
        mails.html_only("<p>Hei</p>", message_id="<c@x.no>"),
        mails.bounce(),
        mails.plain(message_id="<a@x.no>"),  # the same mail twice in the file
    ])
    code, out = _run(settings, capsys, "mailbox", "import", str(box))
    assert code == 0
    assert out.strip() == ("Importert: 2. Holdt tilbake (fødselsnummer): 1. Svar: 0. "
                           "Duplikater: 1. Automatisk e-post: 1. Avvist: 0.")
    code, out = _run(settings, capsys, "mailbox", "import", str(box))
    assert "Importert: 0." in out and "Duplikater: 5." in out
    folder = tmp_path / "eml"
    folder.mkdir()
    (folder / "1.eml").write_bytes(mails.plain(message_id="<d@x.no>"))
    (folder / "2.eml").write_bytes(mails.plain(message_id="<a@x.no>"))
    code, out = _run(settings, capsys, "mailbox", "import", str(folder), "--receipts",
                     "--since", "2026-03-01")
    assert "Importert: 1." in out and "Duplikater: 1." in out
    with ctx.db.reading() as session:
        receipts = session.scalars(select(m.OutboxMessage)
                                   .where(m.OutboxMessage.event == "receipt")).all()
    assert len(receipts) == 1  # only the folder's new mail, with --receipts

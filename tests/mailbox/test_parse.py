"""parse_message on real-shaped mails: charsets, transfer encodings, HTML, trimming,
attachments, auto-mail, and junk that must never raise."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from intake.mailbox.parse import parse_message, trim_reply
from tests.mailbox import mails


def test_a_plain_mail_is_read_whole() -> None:
    mail = parse_message(mails.plain("Hei,\nEpikrisen kom aldri fram.\n\nMvh Åse"))
    assert mail.message_id == "m1@legekontor.example.no"
    assert mail.sender == mails.SENDER
    assert mail.subject == "Epikrise mangler"
    assert mail.text == "Hei,\nEpikrisen kom aldri fram.\n\nMvh Åse"  # the closing stays
    assert mail.received_at == datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
    assert mail.auto is None and mail.attachments == () and mail.thread_ids == ()


def test_the_mailbox_time_wins_over_the_date_header() -> None:
    when = datetime(2026, 3, 3, 7, 0, tzinfo=UTC)
    assert parse_message(mails.plain(), received_at=when).received_at == when


@pytest.mark.parametrize("charset", ["iso-8859-1", "windows-1252", "utf-8"])
@pytest.mark.parametrize("cte", ["quoted-printable", "base64", "8bit"])
def test_charsets_and_transfer_encodings_decode(charset: str, cte: str) -> None:
    words = "Blåbærsyltetøy – «sitat» på legevakten"
    if charset == "iso-8859-1":  # no en dash in Latin-1
        words = words.replace("–", "-")
    raw = mails.plain(words, charset=charset, cte=cte)
    assert parse_message(raw).text == words


def test_eight_bit_latin1_without_a_declared_charset() -> None:
    raw = (b"From: lege@example.no\r\nSubject: S\xf8knad om r\xe5d\r\n"
           b"Content-Type: text/plain\r\n\r\nHei p\xe5 deg, bl\xe5b\xe6r\r\n")
    mail = parse_message(raw)
    assert mail.subject == "Søknad om råd"
    assert mail.text == "Hei på deg, blåbær"


def test_html_only_becomes_text() -> None:
    markup = ("<html><head><title>T</title><style>p {color: red}</style></head><body>"
              "<script>alert('x')</script><p>Hei &amp; takk for&nbsp;sist</p>"
              "<div>Linje en<br>Linje to</div><ul><li>punkt 1</li><li>punkt 2</li></ul>"
              "<blockquote>sitert tidligere e-post</blockquote></body></html>")
    text = parse_message(mails.html_only(markup)).text
    assert text == "Hei & takk for sist\n\nLinje en\nLinje to\n\n- punkt 1\n- punkt 2"


def test_quoted_replies_and_signatures_are_trimmed() -> None:
    norwegian = ("Takk, det gjelder pasienten fra uke 9.\n\n"
                 "Den 2. mars 2026 kl. 10:00 skrev Meld <meld@helse.example.no>:\n"
                 "> Din melding er mottatt.\n")
    assert trim_reply(norwegian) == "Takk, det gjelder pasienten fra uke 9."
    english = "Thanks.\n\nOn Mon, 2 Mar 2026 at 10:00, Meld <\nmeld@x.no> wrote:\n> old\n"
    assert trim_reply(english) == "Thanks."
    outlook = ("Svar her.\n\n________________________________\nFra: Meld <meld@x.no>\n"
               "Sendt: 2. mars 2026 10:00\nTil: Ola\nEmne: Kvittering\n\nGammel tekst")
    assert trim_reply(outlook) == "Svar her."
    original = "Kort svar\n-----Opprinnelig melding-----\nFra: x\nGammel"
    assert trim_reply(original) == "Kort svar"
    signed = "Innspill om rutinen.\n\nMvh\nÅse\n--\nÅse Lege, spesialist i allmennmedisin\n"
    assert trim_reply(signed) == "Innspill om rutinen.\n\nMvh\nÅse"
    inline = "> spørsmålet ditt\nmitt svar\n> neste spørsmål\nneste svar"
    assert trim_reply(inline) == "mitt svar\nneste svar"


def test_a_forwarded_mail_is_not_trimmed_away() -> None:
    forward = "-----Original Message-----\nFrom: a@b.no\nSent: today\n\nThe whole content"
    assert trim_reply(forward) == forward


def test_attachments_are_named_and_not_read() -> None:
    mail = parse_message(mails.with_attachments(names=("brev.pdf", "notat æ.docx")))
    assert mail.text == "Se vedlagt."  # base64 text/plain preferred over the HTML
    assert mail.attachments == ("brev.pdf", "notat æ.docx")


def test_thread_ids_come_without_brackets() -> None:
    raw = mails.plain(headers={"In-Reply-To": "<meld.outbox.7@helse.example.no>",
                               "References": "<a@x.no> <meld.outbox.7@helse.example.no>"})
    assert parse_message(raw).thread_ids == ("meld.outbox.7@helse.example.no", "a@x.no")


@pytest.mark.parametrize(("headers", "auto"), [
    ({"Auto-Submitted": "auto-replied"}, "auto_submitted"),
    ({"Auto-Submitted": "no"}, None),
    ({"X-Autoreply": "yes"}, "autoreply"),
    ({"X-Autorespond": "Out of office"}, "autoreply"),
    ({"Precedence": "bulk"}, "list"),
    ({"List-Id": "<nyhetsbrev.example.no>"}, "list"),
    ({"List-Unsubscribe": "<mailto:stop@example.no>"}, "list"),
])
def test_auto_mail_is_recognised(headers: dict[str, str], auto: str | None) -> None:
    assert parse_message(mails.plain(headers=headers)).auto == auto


def test_bounces_are_recognised() -> None:
    assert parse_message(mails.bounce()).auto == "bounce"
    raw = mails.plain(sender="postmaster@example.no")
    assert parse_message(raw).auto == "bounce"


def test_sender_is_normalised_or_none() -> None:
    assert parse_message(mails.plain(sender="Ase.Lege@LEGEKONTOR.Example.NO")).sender == \
        "Ase.Lege@legekontor.example.no"
    assert parse_message(b"From: not an address\r\n\r\nhei").sender is None


def test_junk_never_raises() -> None:
    rng = random.Random(20260302)
    samples = [b"", b"\x00" * 50, b"\xff\xfe\xfd", b"From:\r\n\r\n", b"Content-Type: multipart/"
               b"mixed; boundary=\r\n\r\n--\r\n--\r\n", b"Subject: =?utf-8?q?broken\r\n\r\n",
               b"Content-Type: text/plain; charset=no-such-charset\r\n\r\n\xe5\xf8",
               b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!",
               b"Date: yesterday at noon\r\nMessage-ID: <>\r\n\r\nx"]
    samples += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
                for _ in range(200)]
    good = mails.with_attachments()
    samples += [good[:cut] for cut in range(0, len(good), 37)]
    for raw in samples:
        mail = parse_message(raw)
        assert isinstance(mail.text, str) and isinstance(mail.subject, str)

"""The meeting view: the group sets the dates; the agenda lists what came since the last
meeting and how it was answered, what is in process and the measures due; the file for the
minutes; and the committee's reports and the digest read on the board."""

from __future__ import annotations

import re
from datetime import timedelta

from intake import services
from tests.board.conftest import ADMIN, Board, csrf


def section(html: str, title: str) -> str:
    """The part of the page from the heading `title` to the next h2."""
    start = html.index(title)
    end = html.find("<h2", start + 1)
    return html[start:end if end > 0 else None]


def test_the_agenda_since_the_last_meeting(board: Board) -> None:
    c = board.signed_in()
    today = board.ctx.today()
    token = csrf(c.get("/gruppe/mote").text)
    last = today
    r = c.post("/gruppe/mote", data={"csrf": token, "held_on": last.isoformat()})
    assert r.status_code == 303
    before = board.report()  # reported on the day of the last meeting: counts as new
    board.clock.advance(days=10)
    answered, waiting, suggestion = board.report(), board.report(), board.report(kind="suggestion")
    services.reply(ctx=board.ctx, actor=ADMIN, reference=answered, text="Takk, vi ser på det.")
    services.move_status(ctx=board.ctx, actor=ADMIN, reference=waiting, status="triage")
    next_meeting = last + timedelta(days=28)
    services.add_meeting(ctx=board.ctx, actor=ADMIN, held_on=next_meeting)
    ms = services.create_measure(ctx=board.ctx, actor=ADMIN, references=[waiting],
                                 description="Rutine for epikriser.", owner="Per",
                                 due_on=next_meeting - timedelta(days=1))
    services.create_measure(ctx=board.ctx, actor=ADMIN, references=[waiting],
                            description="Senere.", owner="Ola",
                            due_on=next_meeting + timedelta(days=30))
    c = board.signed_in()  # ten days on: the first session has idled out
    resp = c.get("/gruppe/mote")  # the next meeting from today
    assert resp.status_code == 200, resp.text[-2000:]
    page = resp.text
    new = section(page, "Nytt siden forrige møte")
    assert set(re.findall(r"MELD-\d{4}-\d+", new)) == {before, answered, waiting, suggestion}
    row = re.search(rf"{answered}</a>.*?</tr>", new, re.S)
    assert row and "Ikke ennå" not in row.group(0)  # answered: the date it was
    assert re.search(rf"{suggestion}</a>.*?Ikke ennå", new, re.S)
    busy = section(page, "Under arbeid")
    assert re.findall(r"MELD-\d{4}-\d+</a>", busy) == [f"{answered}</a>", f"{waiting}</a>"]
    due = section(page, "Tiltak med frist innen møtet")
    assert f"Nr. {ms.id}" in due and "Rutine for epikriser." in due and "Senere." not in due
    # the meeting after: the one before it is now the start
    later = c.get("/gruppe/mote", params={"dato": (next_meeting + timedelta(days=28))
                                          .isoformat()}).text
    assert before not in section(later, "Nytt siden forrige møte")


def test_the_file_for_the_minutes(board: Board) -> None:
    reference = board.report()
    c = board.signed_in()
    r = c.get("/gruppe/mote/vedlegg")
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith('attachment; filename="moete-')
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert reference in r.text and "@page { size: A4" in r.text
    assert "<script" not in r.text and 'href="/gruppe' not in r.text  # stands alone


def test_setting_a_date_is_for_the_group_and_checked(board: Board) -> None:
    c = board.signed_in()
    token = csrf(c.get("/gruppe/mote").text)
    r = c.post("/gruppe/mote", data={"csrf": token, "held_on": "neste tirsdag"})
    assert r.status_code == 422 and "neste tirsdag" in r.text
    reader = board.signed_in(name="Leser", role="reader")
    page = reader.get("/gruppe/mote")
    assert page.status_code == 200 and 'action="/gruppe/mote"' not in page.text
    r = reader.post("/gruppe/mote", data={"csrf": csrf(page.text), "held_on": "2026-04-01"})
    assert r.status_code == 403
    assert services.meetings(ctx=board.ctx, actor=ADMIN) == ()


def test_the_reports_and_the_digest_on_the_board(board: Board) -> None:
    board.report()
    c = board.signed_in(name="Leser", role="reader")
    page = c.get("/gruppe/rapport")
    assert page.status_code == 200
    key = re.search(r'href="/gruppe/rapport/([^"]+)"', page.text)
    assert key
    report = c.get(f"/gruppe/rapport/{key.group(1)}")
    assert report.status_code == 200 and "<h1>" in report.text
    assert "default-src 'none'" in report.headers["content-security-policy"]
    assert c.get("/gruppe/rapport/2026-T9").status_code == 404
    digest = c.get("/gruppe/ukesammendrag", params={"uke": "2099-W01"})
    assert digest.status_code == 200 and '<pre class="text">' in digest.text
    assert board.client().get("/gruppe/rapport/2026-T1").status_code == 303  # signed out


def test_the_agenda_as_a_word_file(board: Board) -> None:
    import io

    from docx import Document

    reference = board.report()
    ms = services.create_measure(ctx=board.ctx, actor=ADMIN, references=[reference],
                                 description="Ny rutine for epikriser.", owner="Per",
                                 due_on=board.ctx.today())
    c = board.signed_in()
    r = c.get("/gruppe/mote/vedlegg", params={"format": "docx"})
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.wordprocessingml")
    assert r.headers["content-disposition"].endswith('.docx"')
    doc = Document(io.BytesIO(r.content))
    text = "\n".join(p.text for p in doc.paragraphs)
    cells = [cell.text for table in doc.tables for row in table.rows for cell in row.cells]
    assert text.startswith("Møte ") and "Ny rutine for epikriser." in text
    assert f"Nr. {ms.id}" in text and reference in cells and "Ikke ennå" in cells
    assert round(doc.sections[0].page_width.mm) == 210  # A4

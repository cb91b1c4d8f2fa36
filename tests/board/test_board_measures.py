"""Measures as tracked actions: made and moved on from a report's page on the board, one
measure for several reports, the overdue ones, the reminder to the owner in the group's
chat (once per due date), and the guard on their text (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from intake import services
from intake.domain.model import PermissionDenied, ValidationFailed
from storage import models as m
from tests.board.conftest import ADMIN, Board, csrf
from tests.mailbox.mails import national_id


def group_notices(board: Board, event: str) -> list[m.OutboxMessage]:
    with board.ctx.db.reading() as session:
        return list(session.scalars(select(m.OutboxMessage).where(
            m.OutboxMessage.event == event).order_by(m.OutboxMessage.id)))


def test_a_measure_made_and_moved_on_from_the_board(board: Board) -> None:
    reference = board.report()
    c = board.signed_in()
    token = csrf(c.get(f"/gruppe/sak/{reference}").text)
    due = (board.ctx.today() + timedelta(days=30)).isoformat()
    r = c.post(f"/gruppe/sak/{reference}/measure",
               data={"csrf": token, "measure_description": "Ny rutine for epikriser.",
                     "owner": "Per Overlege", "due_on": due})
    assert r.status_code == 303, r.text[-500:]
    page = c.get(f"/gruppe/sak/{reference}").text
    assert "Ny rutine for epikriser." in page and "Per Overlege" in page
    (measure,) = services.list_measures(ctx=board.ctx, actor=ADMIN, reference=reference)
    assert (measure.status, measure.owner, measure.references) == (
        "planned", "Per Overlege", (reference,))
    r = c.post(f"/gruppe/sak/{reference}/measure-status",
               data={"csrf": token, "measure_id": str(measure.id),
                     "measure_status": "in_progress"})
    assert r.status_code == 303
    assert services.list_measures(ctx=board.ctx, actor=ADMIN)[0].status == "in_progress"
    story = c.get(f"/gruppe/sak/{reference}").text
    assert "Tiltak lagt til" in story and "Tiltak oppdatert" in story
    listing = c.get("/gruppe/tiltak")
    assert listing.status_code == 200 and f'href="/gruppe/sak/{reference}#tiltak"' in listing.text


def test_a_refused_measure_keeps_what_was_typed(board: Board) -> None:
    reference = board.report()
    c = board.signed_in()
    token = csrf(c.get(f"/gruppe/sak/{reference}").text)
    number = national_id()
    r = c.post(f"/gruppe/sak/{reference}/measure",
               data={"csrf": token, "measure_description": f"Ring pasient {number} i morgen",
                     "owner": "", "due_on": "i morgen"})
    assert r.status_code == 422
    assert "i morgen" in r.text and 'role="alert"' in r.text
    assert services.list_measures(ctx=board.ctx, actor=ADMIN) == ()
    for measure_id in ("abc", "999999"):
        r = c.post(f"/gruppe/sak/{reference}/measure-status",
                   data={"csrf": token, "measure_id": measure_id, "measure_status": "done"})
        assert r.status_code == 404


def test_one_measure_for_several_reports_and_the_overdue_ones(board: Board) -> None:
    first, second = board.report(), board.report()
    today = board.ctx.today()
    late = services.create_measure(ctx=board.ctx, actor=ADMIN, references=[first, second],
                                   description="Felles tiltak.", owner="Kari",
                                   due_on=today + timedelta(days=2))
    services.create_measure(ctx=board.ctx, actor=ADMIN, references=[second],
                            description="Senere tiltak.", owner="Per",
                            due_on=today + timedelta(days=40))
    assert late.references == (first, second)
    board.clock.advance(days=5)
    overdue = services.list_measures(ctx=board.ctx, actor=ADMIN, overdue=True)
    assert [ms.id for ms in overdue] == [late.id]
    c = board.signed_in()
    page = c.get("/gruppe/tiltak", params={"overdue": "1"}).text
    assert re.findall(r"<td role=\"cell\" data-label=\"Nr.\">(\d+)</td>", page) == [
        str(late.id)]
    services.update_measure(ctx=board.ctx, actor=ADMIN, measure_id=late.id, status="done")
    assert services.list_measures(ctx=board.ctx, actor=ADMIN, overdue=True) == ()
    assert services.measure_counts(ctx=board.ctx, actor=ADMIN) == {"done": 1, "planned": 1}


def test_the_owner_is_reminded_once_when_it_is_due(board: Board) -> None:
    reference = board.report()
    today = board.ctx.today()
    ms = services.create_measure(ctx=board.ctx, actor=ADMIN, references=[reference],
                                 description="Tiltak.", owner="Per Overlege",
                                 due_on=today + timedelta(days=3))
    assert services.send_measure_reminders(board.ctx) == 0  # not due yet
    board.clock.advance(days=3)
    assert services.send_measure_reminders(board.ctx) == 1
    assert services.send_measure_reminders(board.ctx) == 0  # once
    (notice,) = group_notices(board, "measure_due")
    assert notice.payload["owner"] == "Per Overlege" and notice.payload["reference"] == reference
    assert "Tiltak." not in str(notice.payload)  # the measure's text never goes to chat
    text = services_text(notice.payload)
    assert "Per Overlege" in text and reference in text
    # a new due date arms the reminder again; a done measure is never reminded
    services.update_measure(ctx=board.ctx, actor=ADMIN, measure_id=ms.id,
                            due_on=board.ctx.today() + timedelta(days=1))
    board.clock.advance(days=1)
    assert services.send_measure_reminders(board.ctx) == 1
    services.update_measure(ctx=board.ctx, actor=ADMIN, measure_id=ms.id, status="done",
                            due_on=board.ctx.today() + timedelta(days=1))
    board.clock.advance(days=2)
    assert services.send_measure_reminders(board.ctx) == 0


def services_text(payload: dict[str, object]) -> str:
    from intake.i18n import Translator
    from intake.texts import notification_text

    return notification_text("measure_due", dict(payload), Translator("nb", "Europe/Oslo"))


def test_readers_read_measures_and_cannot_make_them(board: Board) -> None:
    reference = board.report()
    reader = services.session_actor(
        ctx=board.ctx, secret=services.redeem_login_link(
            ctx=board.ctx, token=board.link(name="Leser", role="reader").rsplit("/", 1)[1])[0])
    assert reader is not None
    with pytest.raises(PermissionDenied):
        services.create_measure(ctx=board.ctx, actor=reader, references=[reference],
                                description="x", owner="y", due_on="2026-04-01")
    assert services.list_measures(ctx=board.ctx, actor=reader) == ()
    with pytest.raises(ValidationFailed):
        services.list_measures(ctx=board.ctx, actor=reader, status="finished")


def test_the_tertial_report_counts_measures_and_lists_the_overdue(board: Board) -> None:
    from intake.domain.periods import parse_period
    from intake.i18n import Translator
    from intake.reporting.period_report import build_period_report
    from intake.reporting.render_html import render_html
    from intake.reporting.render_tables import render_csv, render_xlsx

    reference = board.report()  # the clock: 2 March 2026, in 1st tertial 2026
    today = board.ctx.today()
    done = services.create_measure(ctx=board.ctx, actor=ADMIN, references=[reference],
                                   description="A.", owner="Kari", due_on=today)
    services.update_measure(ctx=board.ctx, actor=ADMIN, measure_id=done.id, status="done")
    late = services.create_measure(ctx=board.ctx, actor=ADMIN, references=[reference],
                                   description="B.", owner="Per Overlege",
                                   due_on=today + timedelta(days=1))
    board.clock.advance(days=200)  # the tertial is over; a measure of the next one:
    services.create_measure(ctx=board.ctx, actor=ADMIN, references=[reference],
                            description="C.", owner="Ola", due_on=board.ctx.today())
    tr = Translator("nb", "Europe/Oslo")
    report = build_period_report(ctx=board.ctx, actor=ADMIN, period=parse_period("2026-T1"),
                                 tr=tr)
    assert {row.key: row.count for row in report.measures} == {
        "planned": 1, "in_progress": 0, "done": 1, "dropped": 0}
    assert [ms.id for ms in report.overdue_measures] == [late.id]
    html = render_html(report, tr)
    assert "Tiltak som har passert fristen" in html and "Per Overlege" in html
    rows = {r.split(",")[1]: r.split(",")[3] for r in render_csv(report, tr).splitlines()
            if r.startswith("totals,")}
    assert (rows["measures_planned"], rows["measures_done"], rows["measures_overdue"]) == (
        "1", "1", "1")
    sheet = load_workbook(io.BytesIO(render_xlsx(report, tr))).worksheets[0]
    cells = {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if row and row[0]}
    assert cells["Åpne tiltak som har passert fristen"] == "<3"  # suppressed as every count

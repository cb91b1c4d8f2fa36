"""The group's work on the board: the list with filters, counts and pages, a report's page
with its timeline, every triage action as a form, refusals that keep the text, and a reader
who can read but not change (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

from sqlalchemy import select

from intake import services
from storage import models as m
from tests.board.conftest import ADMIN, REPORTER, Board, csrf
from tests.mailbox.mails import national_id

ROW_REF = re.compile(r'href="/gruppe/sak/(MELD-\d{4}-\d+)"')


def listed(html: str) -> list[str]:
    return ROW_REF.findall(html)


def test_the_list_filters_counts_and_pages(board: Board) -> None:
    deviations = [board.report() for _ in range(3)]
    suggestion = board.report(kind="suggestion")
    services.move_status(ctx=board.ctx, actor=ADMIN, reference=deviations[0], status="triage")
    c = board.signed_in()
    everything = c.get("/gruppe")
    assert everything.status_code == 200
    assert listed(everything.text) == [suggestion, *reversed(deviations)]  # newest first
    assert "Treff: 4." in everything.text
    only = c.get("/gruppe", params={"status": "triage"})
    assert listed(only.text) == [deviations[0]]
    assert listed(c.get("/gruppe", params={"kind": "suggestion"}).text) == [suggestion]
    both = c.get("/gruppe", params={"kind": "deviation", "status": "received"})
    assert listed(both.text) == [deviations[2], deviations[1]]
    # the description is not on the list: coded fields only
    assert "Epikrise manglet" not in everything.text


def test_overdue_and_assignee_filters(board: Board) -> None:
    old = board.report()
    board.clock.advance(days=board.ctx.settings.feedback_days + 2)
    new = board.report()
    answered = board.report()
    services.assign(ctx=board.ctx, actor=ADMIN, reference=new, assignee="Per")
    c = board.signed_in()
    overdue = c.get("/gruppe", params={"overdue": "1"})
    assert listed(overdue.text) == [old]
    services.reply(ctx=board.ctx, actor=ADMIN, reference=old, text="Vi ser på saken.")
    assert listed(c.get("/gruppe", params={"overdue": "1"}).text) == []
    assert listed(c.get("/gruppe", params={"assignee": "Per"}).text) == [new]
    assert answered in listed(c.get("/gruppe").text)


def test_bad_filters_are_a_clear_page_not_a_500(board: Board) -> None:
    board.report()
    c = board.signed_in()
    for params in ({"status": "nonsense"}, {"kind": "x" * 500}, {"assignee": "a\x00b"},
                   {"severity": "worst"}, {"etter": "9" * 40}, {"fra": "2026-13-45"}):
        r = c.get("/gruppe", params=params)
        assert r.status_code in (200, 422), (params, r.status_code)
        assert "<h1>" in r.text


def test_pages_of_fifty(board: Board) -> None:
    references = [board.report() for _ in range(53)]
    c = board.signed_in()
    first = c.get("/gruppe")
    assert listed(first.text) == list(reversed(references))[:50]
    next_link = re.search(r'href="(/gruppe\?[^"]*etter=\d+)" rel="next"', first.text)
    assert next_link
    second = c.get(next_link.group(1).replace("&amp;", "&"))
    assert listed(second.text) == list(reversed(references))[50:]
    assert 'rel="next"' not in second.text
    oldest = c.get("/gruppe", params={"sort": "eldst"})
    assert listed(oldest.text) == references[:50]
    next_link = re.search(r'href="(/gruppe\?[^"]*etter=\d+)" rel="next"', oldest.text)
    assert next_link and "sort=eldst" in next_link.group(1)
    assert listed(c.get(next_link.group(1).replace("&amp;", "&")).text) == references[50:]


def test_triage_end_to_end_through_the_forms(board: Board) -> None:
    reference = board.report()
    c = board.signed_in()
    page = c.get(f"/gruppe/sak/{reference}")
    assert page.status_code == 200
    assert "Epikrise manglet ved utskriving" in page.text  # the group reads the text
    token = csrf(page.text)

    def post(action: str, **data: str) -> None:
        r = c.post(f"/gruppe/sak/{reference}/{action}", data={"csrf": token, **data})
        assert r.status_code == 303, (action, r.text[-800:])
        assert r.headers["location"].startswith(f"/gruppe/sak/{reference}?gjort={action}")

    post("status", status="triage", message="")
    post("assess", category="discharge_summary", assessed_severity="moderate",
         agreement_reference="Tjenesteavtale 5", guideline_breached="yes")
    post("assign", assignee="Kari Lege")
    post("note", note="Sjekk med avdelingen.")
    post("reply", text="Takk, vi tar det opp med avdelingen.")
    post("status", status="in_progress", message="")
    post("close", learning_point="Epikrise må sendes samme dag.",
         measure="Rutine for utsending gjennomgått.")
    view = services.get_report(ctx=board.ctx, actor=ADMIN, reference=reference)
    assert (view.status, view.assessed_severity, view.assignee, view.guideline_breached) == (
        "closed", "moderate", "Kari Lege", True)
    assert view.learning_point == "Epikrise må sendes samme dag."
    with board.ctx.db.reading() as session:
        actors = set(session.scalars(select(m.AuditEvent.actor_id).where(
            m.AuditEvent.action.in_(("assessed", "assigned", "status_changed", "replied")))))
    assert actors == {"board:Kari Lege"}
    # the timeline tells the story, the reporter got the answer
    story = c.get(f"/gruppe/sak/{reference}").text
    for words in ("Takk, vi tar det opp med avdelingen.", "Sjekk med avdelingen.",
                  "Epikrise må sendes samme dag."):
        assert words in story
    mine = services.get_report(ctx=board.ctx, actor=REPORTER, reference=reference)
    assert any(msg.body == "Takk, vi tar det opp med avdelingen." for msg in mine.messages)
    assert all(msg.direction != "internal" for msg in mine.messages)
    post("reopen")
    assert services.get_report(ctx=board.ctx, actor=ADMIN, reference=reference).status == (
        "triage")


def test_other_actions_question_redirect_duplicate(board: Board) -> None:
    first, second, third = board.report(), board.report(), board.report()
    c = board.signed_in()
    token = csrf(c.get(f"/gruppe/sak/{first}").text)
    r = c.post(f"/gruppe/sak/{first}/ask", data={"csrf": token, "question": "Hvilken dag?"})
    assert r.status_code == 303
    r = c.post(f"/gruppe/sak/{second}/redirect",
               data={"csrf": token, "target": "melde_no", "external_reference": "HT-1",
                     "redirect_message": "Dette bør meldes til Helsetilsynet."})
    assert r.status_code == 303
    r = c.post(f"/gruppe/sak/{third}/duplicate",
               data={"csrf": token, "duplicate_of": first.lower()})
    assert r.status_code == 303
    statuses = [services.get_report(ctx=board.ctx, actor=ADMIN, reference=ref).status
                for ref in (first, second, third)]
    assert statuses == ["needs_info", "redirected", "duplicate"]


def test_a_refused_action_shows_why_and_keeps_what_was_typed(board: Board) -> None:
    reference = board.report()
    c = board.signed_in()
    token = csrf(c.get(f"/gruppe/sak/{reference}").text)
    typed = "Læringspunkt som ikke skal gå tapt"
    r = c.post(f"/gruppe/sak/{reference}/close",
               data={"csrf": token, "learning_point": typed, "measure": ""})
    assert r.status_code == 422
    assert typed in r.text and 'role="alert"' in r.text
    # an identity number in a note is refused, and the rest of the note is kept
    number = national_id()
    r = c.post(f"/gruppe/sak/{reference}/note",
               data={"csrf": token, "note": f"Gjelder {number[:6]} {number[6:]}, se journal"})
    assert r.status_code in (409, 422)
    assert "se journal" in r.text
    r = c.post(f"/gruppe/sak/{reference}/status", data={"csrf": token, "status": "closed"})
    assert r.status_code in (400, 409, 422) and "<h1>" in r.text
    assert services.get_report(ctx=board.ctx, actor=ADMIN, reference=reference).status == (
        "received")
    assert c.post("/gruppe/sak/MELD-2026-99999/note",
                  data={"csrf": token, "note": "x"}).status_code == 404
    assert c.post(f"/gruppe/sak/{reference}/explode",
                  data={"csrf": token}).status_code == 404


def test_a_change_without_the_boards_token_is_refused(board: Board) -> None:
    reference = board.report()
    c = board.signed_in()
    for token in ("", "0" * 64, csrf(c.get("/").text)):  # none, made up, the reporter form's
        r = c.post(f"/gruppe/sak/{reference}/note", data={"csrf": token, "note": "Notat"})
        assert r.status_code == 403
    assert services.get_report(ctx=board.ctx, actor=ADMIN, reference=reference).messages == ()


def test_a_reader_reads_everything_and_changes_nothing(board: Board) -> None:
    reference = board.report()
    services.add_note(ctx=board.ctx, actor=ADMIN, reference=reference, text="Internt notat.")
    reader = board.signed_in(name="Komité Medlem", role="reader")
    assert reference in listed(reader.get("/gruppe").text)
    page = reader.get(f"/gruppe/sak/{reference}")
    assert page.status_code == 200 and "Internt notat." in page.text
    assert f'action="/gruppe/sak/{reference}/' not in page.text  # no forms at all
    token = csrf(page.text)  # the sign-out form's
    for action, data in (("note", {"note": "Fra leser"}), ("status", {"status": "triage"}),
                         ("close", {"learning_point": "a", "measure": "b"})):
        r = reader.post(f"/gruppe/sak/{reference}/{action}", data={"csrf": token, **data})
        assert r.status_code == 403
    view = services.get_report(ctx=board.ctx, actor=ADMIN, reference=reference)
    assert view.status == "received" and len(view.messages) == 1
    with board.ctx.db.reading() as session:
        denied = session.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "denied", m.AuditEvent.actor_id == "board:Komité Medlem")
        ).all()
        reads = session.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "read", m.AuditEvent.actor_id == "board:Komité Medlem")
        ).all()
    assert len(denied) == 3 and len(reads) >= 1


def test_every_read_on_the_board_is_audited(board: Board) -> None:
    reference = board.report()
    c = board.signed_in()
    c.get("/gruppe")
    c.get(f"/gruppe/sak/{reference}")
    with board.ctx.db.reading() as session:
        rows = session.execute(select(m.AuditEvent.action, m.AuditEvent.report_id).where(
            m.AuditEvent.actor_id == "board:Kari Lege",
            m.AuditEvent.action.in_(("list", "read"))).order_by(m.AuditEvent.id)).all()
    assert [action for action, _ in rows] == ["list", "read"]


def test_search_and_order(board: Board) -> None:
    first = board.report(description="Henvisning returnert uten begrunnelse 50%_rabatt.")
    second = board.report()
    third = board.report(description="Epikrise kom ikke; HENVISNING også borte.")
    c = board.signed_in()
    assert listed(c.get("/gruppe", params={"q": "henvisning"}).text) == [third, first]
    assert listed(c.get("/gruppe", params={"q": second.lower()}).text) == [second]
    # LIKE's wildcards are plain characters here
    assert listed(c.get("/gruppe", params={"q": "50%_r"}).text) == [first]
    assert listed(c.get("/gruppe", params={"q": "%"}).text) == [first]
    assert listed(c.get("/gruppe", params={"sort": "eldst"}).text) == [first, second, third]
    assert c.get("/gruppe", params={"q": "a\x00"}).status_code == 422


def test_the_open_uncategorized_reports_come_first(board: Board) -> None:
    """Sent with the text alone, a report waits for the group to set its category: the
    open ones lead the list (in the list's own order), whatever their date; a closed one,
    or one the group has set the category of, keeps its place by date."""
    def text_alone(text: str) -> str:
        return services.submit_report(ctx=board.ctx, actor=REPORTER,
                                      draft=services.ReportDraft(
                                          description=text, no_patient_identifiers=True)
                                      ).reference

    waiting = text_alone("Hei, dette er bare en prøve.")  # no suggestion
    chosen = board.report()
    suggested = text_alone("Epikrisen mangler fortsatt, pasienten ble utskrevet i går.")
    closed = text_alone("Noe gikk galt i går.")
    set_by_group = text_alone("Noe annet gikk galt i går.")
    newest = board.report()
    services.move_status(ctx=board.ctx, actor=ADMIN, reference=closed, status="rejected")
    services.close(ctx=board.ctx, actor=ADMIN, reference=closed, learning_point="Ingen.",
                   measure="Ingen.")
    services.assess(ctx=board.ctx, actor=ADMIN, reference=set_by_group, category="routines")
    c = board.signed_in()
    page = c.get("/gruppe").text
    assert listed(page) == [suggested, waiting, newest, set_by_group, closed, chosen]
    assert page.count(">Ikke kategorisert</td>") == 3  # the two waiting, and the closed one
    assert listed(c.get("/gruppe", params={"sort": "eldst"}).text) == [
        waiting, suggested, chosen, closed, set_by_group, newest]
    # and within a filter
    assert listed(c.get("/gruppe", params={"status": "received"}).text) == [
        suggested, waiting, newest, chosen]

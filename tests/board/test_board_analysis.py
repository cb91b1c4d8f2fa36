"""Incident analyses on the board (SQLite and PostgreSQL): opened from a report's page with
the form, each of the guide's steps edited with its form (CSRF), a refused form shown again
with what was typed, a guard warning confirmed, the report exported as HTML and as PDF
(read back: the analysis's text there, a reporter's description never), readers reading
and changing nothing."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from pypdf import PdfReader
from sqlalchemy import select

from intake import services
from storage import models as m
from tests.board.conftest import ADMIN, Board, csrf
from tests.mailbox.mails import national_id

DESCRIPTION = "Epikrise manglet ved utskriving; fastlegen fikk ingen beskjed."


def open_by_form(board: Board, c, *references: str, **fields: str) -> int:
    token = csrf(c.get("/gruppe/analyser").text)
    r = c.post("/gruppe/analyser", data={
        "csrf": token, "references": ", ".join(references),
        "title": fields.get("title", "Epikriser som ikke kom fram"),
        "mandate": fields.get("mandate", ""), "team": fields.get("team", "")})
    assert r.status_code == 303, r.text[-1500:]
    found = re.fullmatch(r"/gruppe/analyser/(\d+)\?gjort=open", r.headers["location"])
    assert found
    return int(found.group(1))


def test_open_from_a_report_and_work_through_the_steps(board: Board) -> None:
    first, second = board.report(), board.report()
    c = board.signed_in()
    page = c.get(f"/gruppe/sak/{first}").text
    assert "Start hendelsesanalyse" in page
    assert f'href="/gruppe/analyser?sak={first}#ny"' in page
    assert 'href="/gruppe/analyser">Analyser</a>' in page  # in the menu
    form = c.get("/gruppe/analyser", params={"sak": first})
    assert form.status_code == 200 and f'value="{first}"' in form.text
    analysis_id = open_by_form(board, c, first, second, mandate="Fra klinikkledelsen.",
                               team="Overlege, fastlege")
    url = f"/gruppe/analyser/{analysis_id}"
    page = c.get(url)
    assert page.status_code == 200
    assert "HA-2026-001" in page.text and "Fra klinikkledelsen." in page.text
    assert f'href="/gruppe/sak/{second}"' in page.text
    for n in range(1, 8):
        assert f'id="steg-{n}"' in page.text
    token = csrf(page.text)
    today = board.ctx.today()
    posts = [
        ("comparison", {"what_happened": "Epikrisen ble liggende i kø.",
                        "what_should_have_happened": "Sendt samme dag."}),
        ("event", {"happened_on": (today - timedelta(days=3)).isoformat(),
                   "happened_time": "14:30", "event_description": "Utskrivning fredag."}),
        ("event", {"happened_on": (today - timedelta(days=5)).isoformat(),
                   "happened_time": "", "event_description": "Innleggelse."}),
        ("cause", {"cause_category": "team_communication",
                   "cause_description": "Ingen fast mottaker av epikriser."}),
        ("measure", {"measure_description": "Fast mottaker i klinikken.",
                     "owner": "Per Overlege", "due_on": (today + timedelta(days=30)).isoformat()}),
        ("status", {"status": "completed"}),
        ("follow-up", {"follow_up": "Fulgt opp i mai: ingen nye avvik."}),
        ("status", {"status": "followed_up"}),
    ]
    for action, data in posts:
        r = c.post(f"{url}/{action}", data={"csrf": token, **data})
        assert r.status_code == 303, (action, r.text[-1500:])
        assert r.headers["location"].startswith(f"{url}?gjort={action}#steg-")
    page = c.get(url).text
    assert page.index("Innleggelse.") < page.index("Utskrivning fredag.")  # time order
    assert "Team og kommunikasjon" in page and "Fast mottaker i klinikken." in page
    assert "Fulgt opp" in page and 'action="' + url + '/cause"' not in page  # locked now
    (measure,) = services.list_measures(ctx=board.ctx, actor=ADMIN)
    assert measure.references == (first, second) and measure.owner == "Per Overlege"
    assert f'href="{url}"' in c.get(f"/gruppe/sak/{second}").text  # the report links to it
    listing = c.get("/gruppe/analyser").text
    assert "HA-2026-001" in listing and "Fulgt opp" in listing


def test_a_refused_form_keeps_what_was_typed_and_warnings_are_confirmed(board: Board) -> None:
    reference = board.report()
    c = board.signed_in()
    token = csrf(c.get("/gruppe/analyser").text)
    r = c.post("/gruppe/analyser", data={"csrf": token, "references": reference,
                                         "title": f"Pasient {national_id()}", "mandate": "M."})
    assert r.status_code == 422 and 'role="alert"' in r.text and "fødselsnummer" in r.text
    r = c.post("/gruppe/analyser", data={"csrf": token, "references": "MELD-2026-9999",
                                         "title": "Tittel"})
    assert r.status_code == 422 and "MELD-2026-9999" in r.text
    assert services.list_analyses(ctx=board.ctx, actor=ADMIN) == ()
    analysis_id = open_by_form(board, c, reference)
    url = f"/gruppe/analyser/{analysis_id}"
    text = "Legekontoret ringte 73 86 80 00 uten svar."
    r = c.post(f"{url}/comparison", data={"csrf": token, "what_happened": text,
                                          "what_should_have_happened": ""})
    assert r.status_code == 422
    assert text in r.text and 'name="confirm_warnings"' in r.text
    r = c.post(f"{url}/comparison", data={"csrf": token, "what_happened": text,
                                          "what_should_have_happened": "",
                                          "confirm_warnings": "on"})
    assert r.status_code == 303
    r = c.post(f"{url}/event", data={"csrf": token, "happened_on": "i går",
                                     "event_description": "Noe skjedde."})
    assert r.status_code == 422 and "Noe skjedde." in r.text and "ÅÅÅÅ-MM-DD" in r.text
    r = c.post(f"{url}/cause", data={"csrf": token, "cause_category": "weather",
                                     "cause_description": "Snø."})
    assert r.status_code == 422 and "Snø." in r.text
    r = c.post(f"{url}/status", data={"csrf": token, "status": "completed"})
    assert r.status_code == 422 and "Mandat: Dette feltet må fylles ut." in r.text  # not yet
    r = c.post(f"{url}/status", data={"csrf": token, "status": "closed"})
    assert r.status_code == 409 and "kan ikke flyttes" in r.text
    for path in (f"{url}/event-remove", f"{url}/cause-remove"):
        assert c.post(path, data={"csrf": token, "event_id": "x", "cause_id": "999"}
                      ).status_code == 404
    assert c.post(f"{url}/nonsense", data={"csrf": token}).status_code == 404
    assert c.get("/gruppe/analyser/999").status_code == 404
    assert c.get("/gruppe/analyser/abc").status_code == 404
    r = c.post(f"{url}/mandate", data={"title": "Uten skjema-token"})
    assert r.status_code == 403
    assert services.get_analysis(ctx=board.ctx, actor=ADMIN,
                                 analysis_id=analysis_id).title != "Uten skjema-token"


def test_the_report_as_html_and_pdf(board: Board) -> None:
    reference = board.report()
    c = board.signed_in()
    analysis_id = open_by_form(board, c, reference, title="Epikriser – “forsinket” …",
                               mandate="Kartlegge flyten av epikriser.")
    url = f"/gruppe/analyser/{analysis_id}"
    token = csrf(c.get(url).text)
    for action, data in (
            ("comparison", {"what_happened": "Epikrisen lå i kø i fire dager.",
                            "what_should_have_happened": "Sendt ved utskrivning."}),
            ("cause", {"cause_category": "organisation",
                       "cause_description": "Uklart ansvar for utsending."}),
            ("measure", {"measure_description": "Rutine for utsending samme dag.",
                         "owner": "Avdelingsleder", "due_on": "2026-04-15"})):
        assert c.post(f"{url}/{action}", data={"csrf": token, **data}).status_code == 303
    html = c.get(f"{url}/rapport.html")
    assert html.status_code == 200
    assert "default-src 'none'" in html.headers["content-security-policy"]
    assert "@page { size: A4" in html.text and "<script" not in html.text
    assert 'href="' not in html.text  # stands alone
    assert "Epikrisen lå i kø i fire dager." in html.text and reference in html.text
    assert "Uklart ansvar for utsending." in html.text and "Avdelingsleder" in html.text
    assert "Organisasjon og ledelse" in html.text and "7. Oppfølging" in html.text
    assert DESCRIPTION not in html.text and "fastlegen fikk ingen beskjed" not in html.text
    pdf = c.get(f"{url}/rapport.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == 'attachment; filename="HA-2026-001.pdf"'
    reader = PdfReader(io.BytesIO(pdf.content))
    assert reader.metadata is not None and "HA-2026-001" in (reader.metadata.title or "")
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    assert 'Epikriser - "forsinket" ...' in text  # plain equivalents outside Latin-1
    assert "Epikrisen lå i kø i fire dager." in text and reference in text
    assert "Rutine for utsending samme dag." in text and "Organisasjon og ledelse" in text
    assert "fastlegen fikk ingen beskjed" not in text and "Epikrise manglet" not in text
    with board.ctx.db.reading() as session:
        exports = session.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "export").order_by(m.AuditEvent.id)).all()
    assert [(e.actor_id, e.details["format"], e.details["analysis_id"]) for e in exports] == [
        ("board:Kari Lege", "html", analysis_id), ("board:Kari Lege", "pdf", analysis_id)]


def test_readers_read_and_change_nothing(board: Board) -> None:
    reference = board.report()
    a = services.open_analysis(ctx=board.ctx, actor=ADMIN, references=[reference],
                               title="Lesbar analyse", mandate="Mandatet.")
    reader = board.signed_in(name="Komité Leser", role="reader")
    page = reader.get(f"/gruppe/analyser/{a.id}")
    assert page.status_code == 200 and "Mandatet." in page.text
    assert f'action="/gruppe/analyser/{a.id}/' not in page.text  # no forms
    assert 'action="/gruppe/analyser"' not in reader.get("/gruppe/analyser").text
    assert "Start hendelsesanalyse" not in reader.get(f"/gruppe/sak/{reference}").text
    token = csrf(page.text)
    r = reader.post(f"/gruppe/analyser/{a.id}/mandate",
                    data={"csrf": token, "title": "Endret", "mandate": "", "team": ""})
    assert r.status_code == 403
    r = reader.post("/gruppe/analyser", data={"csrf": token, "references": reference,
                                              "title": "Ny"})
    assert r.status_code == 403
    assert reader.get(f"/gruppe/analyser/{a.id}/rapport.pdf").status_code == 200
    view = services.get_analysis(ctx=board.ctx, actor=ADMIN, analysis_id=a.id)
    assert view.title == "Lesbar analyse"
    assert len(services.list_analyses(ctx=board.ctx, actor=ADMIN)) == 1
    with board.ctx.db.reading() as session:
        denied = session.scalars(select(m.AuditEvent.details).where(
            m.AuditEvent.action == "denied")).all()
    assert {d["attempted"] for d in denied} == {"board:analysis-mandate", "board:analysis"}
    signed_out = board.client()
    for path in ("/gruppe/analyser", f"/gruppe/analyser/{a.id}",
                 f"/gruppe/analyser/{a.id}/rapport.html"):
        r = signed_out.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/gruppe/logg-inn")

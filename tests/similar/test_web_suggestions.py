"""The web form's suggestions and "Dette har skjedd meg også", over HTTP as a browser uses
them (SQLite and PostgreSQL): only the public title and coded fields reach a reporter."""

from __future__ import annotations

import re

from sqlalchemy import select

from intake import services
from intake.domain.model import Actor, Role
from storage import models as m
from tests.doors.conftest import GROUP, Door, csrf_of, form_data, yesterday
from tests.integration.helpers import draft

HIDDEN = "Sykepleier Hansen på post 3 glemte epikrisen"
TITLE = "Epikrise sendes ikke etter utskrivning"


def titled_report(door: Door, title: str = TITLE, **fields: str) -> str:
    ctx = door.app.state.ctx
    reference = services.submit_report(
        ctx=ctx, actor=Actor("slack:UOTHER", Role.REPORTER),
        draft=draft(description=HIDDEN, confirm_warnings=True, **fields)).reference
    services.add_note(ctx=ctx, actor=GROUP, reference=reference, text="Intern: ring post 3")
    services.set_public_title(ctx=ctx, actor=GROUP, reference=reference, title=title)
    return reference


def test_suggestions_while_writing_show_the_title_only(door: Door) -> None:
    reference = titled_report(door)
    titled_report(door, "Henvisning returnert", category="referral",
                  subcategory="incomplete")
    c = door.client()
    fragment = c.get("/meld/lignende", params={
        "category": "discharge_summary", "place": "stolav_medisinsk",
        "text": "epikrisen kom aldri"})
    assert fragment.status_code == 200
    assert TITLE in fragment.text and f'formaction="/meld/ogsa/{reference}"' in fragment.text
    assert "Henvisning returnert" not in fragment.text
    for private in ("Hansen", "post 3", "Intern", "slack:UOTHER"):
        assert private not in fragment.text
    assert c.get("/meld/lignende", params={"category": ""}).text.strip() == ""
    junk = c.get("/meld/lignende", params={"category": "x" * 500, "text": "\x00" * 50})
    assert junk.status_code == 200 and junk.text.strip() == ""


def test_me_too_from_the_form_counts_and_gives_a_follow_page(door: Door) -> None:
    reference = titled_report(door)
    c = door.client()
    page = c.get("/")
    token = csrf_of(page.text)
    # the button posts the whole form to its own address; the text goes nowhere
    data = form_data(token, description="Min egen tekst om Olsen", place="trondheim",
                     occurred_on=yesterday())
    done = c.post(f"/meld/ogsa/{reference}", data=data)
    assert done.status_code == 200, done.text
    assert "Takk: det teller" in done.text
    follow = re.search(r'href="(https?://[^"]+/fulgt/[^"]+)"', done.text)
    assert follow, "the page gives the private follow link"
    ctx = door.app.state.ctx
    with ctx.db.reading() as session:
        plus = session.scalars(select(m.PlusOne)).one()
        texts = session.scalars(select(m.Report.description)).all()
    assert plus.place_id == "trondheim" and plus.occurred_on is not None
    assert all("Olsen" not in (t or "") for t in texts)  # no report was filed from it
    again = c.post(f"/meld/ogsa/{reference}", data=data)
    assert again.status_code == 409
    path = "/" + follow.group(1).split("/", 3)[3]
    followed = c.get(path)
    assert followed.status_code == 200 and TITLE in followed.text and HIDDEN not in followed.text
    services.move_status(ctx=ctx, actor=GROUP, reference=reference, status="in_progress")
    services.close(ctx=ctx, actor=GROUP, reference=reference,
                   learning_point="Epikriser sendes nå samme dag.", measure="Sjekkliste.")
    assert "Epikriser sendes nå samme dag." in c.get(path).text
    assert c.get("/fulgt/forged-token").status_code == 404


def test_me_too_needs_the_forms_token_and_a_suggestable_report(door: Door) -> None:
    reference = titled_report(door)
    c = door.client()
    token = csrf_of(c.get("/").text)
    assert c.post(f"/meld/ogsa/{reference}", data={"csrf": "forged"}).status_code == 403
    untitled = services.submit_report(ctx=door.app.state.ctx,
                                      actor=Actor("slack:U2", Role.REPORTER),
                                      draft=draft()).reference
    assert c.post(f"/meld/ogsa/{untitled}", data={"csrf": token}).status_code == 404
    assert c.post("/meld/ogsa/not-a-ref", data={"csrf": token}).status_code == 404
    bad_place = c.post(f"/meld/ogsa/{reference}", data={"csrf": token, "place": "atlantis"})
    assert bad_place.status_code == 422


def test_a_refused_form_shows_the_suggestions_again(door: Door) -> None:
    titled_report(door)
    c = door.client()
    token = csrf_of(c.get("/").text)
    refused = c.post("/send", data=form_data(token, occurred_on="2999-01-01"))
    assert refused.status_code == 422
    assert TITLE in refused.text and 'id="suggestions"' in refused.text

""""Var svaret nyttig?" on the status page: the form (id "nyttig") on a closed report within
the window, the answer stored and shown, refusals shown in the form, the answer read-only
after the window; on both databases through the real app.
"""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from intake import services
from storage import models as m
from tests.doors.conftest import GROUP, Door, csrf_of, status_token, submit

COMMENT = "Godt svar, men jeg savner en frist for tiltaket."


def close(door: Door, reference: str) -> None:
    services.move_status(ctx=door.ctx, actor=GROUP, reference=reference, status="in_progress")
    services.close(ctx=door.ctx, actor=GROUP, reference=reference,
                   learning_point="Epikrisen sendes samme dag.", measure="Ny rutine.")
    door.drain_outbox()  # the news on the status page are the delivered notices


def rating(door: Door, reference: str) -> m.FeedbackRating | None:
    with door.ctx.db.reading() as session:
        report_id = session.scalar(select(m.Report.id).where(m.Report.reference == reference))
        return session.get(m.FeedbackRating, report_id)


def form_of(html: str) -> str:
    found = re.search(r'<form[^>]*id="nyttig".*?</form>', html, re.DOTALL)
    assert found, "no rating form"
    return found.group(0)


def post(browser: httpx.Client, token: str, **fields: str) -> httpx.Response:
    page = browser.get(f"/status/{token}")
    return browser.post(f"/status/{token}/nyttig", data={"csrf": csrf_of(page.text), **fields})


def test_the_form_stores_the_answer_and_shows_it(door: Door) -> None:
    browser = door.client()
    receipt = submit(browser)
    token, reference = status_token(receipt), receipt["reference"]
    assert 'id="nyttig"' not in browser.get(f"/status/{token}").text  # not closed yet
    close(door, reference)

    html = browser.get(f"/status/{token}").text
    assert "Var svaret nyttig? Svar i skjemaet under." in html  # the closing notice
    form = form_of(html)
    assert f'action="/status/{token}/nyttig#nyttig"' in form
    assert re.findall(r'name="answer"[^>]*value="(\w+)"', form) == [
        "yes", "partly", "no"]
    assert 'name="comment"' in form and 'name="csrf"' in form and "Send svar" in form

    r = post(browser, token, answer="partly", comment=COMMENT)
    assert r.status_code == 303 and r.headers["location"] == f"/status/{token}#nyttig"
    stored = rating(door, reference)
    assert stored is not None and (stored.answer, stored.comment) == ("partly", COMMENT)
    form = form_of(browser.get(f"/status/{token}").text)
    assert "Ditt svar: Delvis." in form
    assert re.search(r'value="partly" checked', form) and COMMENT in form

    r = post(browser, token, answer="yes", comment="")  # changed within the window
    assert r.status_code == 303
    stored = rating(door, reference)
    assert stored is not None and (stored.answer, stored.comment) == ("yes", None)


def test_refusals_are_shown_in_the_form_and_nothing_is_stored(door: Door) -> None:
    browser = door.client()
    receipt = submit(browser)
    token, reference = status_token(receipt), receipt["reference"]
    close(door, reference)
    r = post(browser, token, answer="no", comment="Gjelder pasient 12034423421.")
    assert r.status_code == 422
    form = form_of(r.text)
    assert "fødselsnummer" in form and 'value="no" checked' in form
    assert "12034423421" in form  # the reporter's own text is kept for them to fix
    r = post(browser, token, comment="Uten svar")
    assert r.status_code == 422 and "Dette feltet må fylles ut." in form_of(r.text)
    assert rating(door, reference) is None
    # without the page's CSRF token nothing is stored either
    r = browser.post(f"/status/{token}/nyttig", data={"csrf": "0" * 64, "answer": "yes"})
    assert r.status_code == 403 and rating(door, reference) is None


def test_after_the_window_the_answer_is_read_only(door: Door) -> None:
    browser = door.client()
    receipt = submit(browser)
    token, reference = status_token(receipt), receipt["reference"]
    close(door, reference)
    assert post(browser, token, answer="no", comment=COMMENT).status_code == 303
    with door.ctx.db.transaction() as session:  # closed 15 days ago
        session.execute(update(m.Report).where(m.Report.reference == reference)
                        .values(closed_at=door.ctx.clock() - timedelta(days=15)))
    html = browser.get(f"/status/{token}").text
    assert not re.search(r'<form[^>]*id="nyttig"', html)
    block = re.search(r'<div class="rating" id="nyttig">.*?</div>', html, re.DOTALL)
    assert block is not None
    assert "Ditt svar: Nei." in block.group(0) and COMMENT in block.group(0)
    assert "Fristen for å svare er ute." in block.group(0)
    r = post(browser, token, answer="yes")
    assert r.status_code == 409 and "Fristen for å svare på «Var svaret nyttig?»" in r.text
    stored = rating(door, reference)
    assert stored is not None and stored.answer == "no"

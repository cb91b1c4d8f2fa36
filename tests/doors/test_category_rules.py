"""Issue 12 through the web form, the JSON API and the CLI: a subcategory of another
category is refused at its field, never dropped; a reporter's unread answer is marked."""

from __future__ import annotations

import re
from html import escape

import httpx
import pytest
from sqlalchemy import select

from intake.cli.main import main
from intake.settings import Settings
from storage import models as m
from tests.doors.conftest import (
    Door,
    csrf_of,
    error_codes,
    form_data,
    report_body,
    settings_for,
    status_token,
    submit,
)

WRONG_SUB_NB = ("Underkategori: «Legemiddelliste» hører til kategorien «Legemidler», ikke "
                "til den valgte «Epikrise».")


def test_the_web_form_refuses_another_categorys_subcategory_at_its_field(door: Door) -> None:
    """Epikrise, then Legemidler's Legemiddelliste (every list is shown without
    JavaScript): 422, the error at the subcategory field, the reporter's text kept."""
    browser = door.client()
    csrf = csrf_of(browser.get("/").text)
    text = "Legemiddellisten fulgte ikke pasienten & epikrisen kom sent."
    r = browser.post("/", data=form_data(csrf, category="discharge_summary",
                                         subcategory="medication/med_list",
                                         description=text))
    assert r.status_code == 422, r.text
    html = r.text
    assert str(escape(WRONG_SUB_NB)) in html
    # at the subcategory field: its own messages, and the list marked invalid
    messages = re.search(r'<div class="field-messages" id="subcategory-error">(.*?)</div>',
                         html, re.S)
    assert messages and str(escape(WRONG_SUB_NB)) in messages.group(1)
    select_tag = re.search(r'<select id="subcategory"[^>]*>', html)
    assert select_tag and 'aria-invalid="true"' in select_tag.group(0)
    textarea = re.search(r'<textarea id="description"[^>]*>(.*?)</textarea>', html, re.S)
    assert textarea and textarea.group(1).strip() == str(escape(text, quote=False))
    assert door.stored_nothing()
    # its own subcategory goes through, stored as chosen
    r = browser.post("/", data=form_data(csrf, category="medication",
                                         subcategory="medication/med_list"))
    assert r.status_code == 303
    with door.ctx.db.reading() as session:
        assert session.execute(select(m.Report.category_id, m.Report.subcategory_id)).one() \
            == ("medication", "med_list")


@pytest.mark.parametrize("sub", ["med_list", "medication/med_list"])
def test_the_api_refuses_another_categorys_subcategory_with_422(
    door: Door, api: httpx.Client, sub: str,
) -> None:
    r = api.post("/api/v1/reports", json={
        **_body(), "category": "discharge_summary", "subcategory": sub})
    assert r.status_code == 422, r.text
    body = r.json()
    assert error_codes(body) == {"subcategory": ["subcategory_of_other_category"]}
    [error] = body["errors"]
    assert error["field"] == "subcategory" and error["message"].startswith(WRONG_SUB_NB)
    assert door.stored_nothing()


def _body() -> dict:
    return report_body()


def test_the_api_assessment_refuses_it_too(door: Door, api: httpx.Client,
                                           group: httpx.Client) -> None:
    reference = submit(api)["reference"]
    for body in ({"category": "referral", "subcategory": "med_list"},
                 {"subcategory": "med_list"}):
        r = group.post(f"/api/v1/reports/{reference}/assess", json=body)
        assert r.status_code == 422, r.text
        assert error_codes(r.json()) == {"subcategory": ["subcategory_of_other_category"]}
    r = group.post(f"/api/v1/reports/{reference}/assess", json={"subcategory": "late"})
    assert r.status_code == 200 and r.json()["subcategory"] == "late"


def test_the_cli_assessment_refuses_it_with_the_same_words(
    door: Door, api: httpx.Client, capsys: pytest.CaptureFixture[str],
) -> None:
    reference = submit(api)["reference"]
    settings: Settings = settings_for(door.ctx.settings.database_url)
    code = main(["triage", "assess", reference, "--subcategory", "med_list"], settings=settings)
    assert code == 2
    assert "«Legemiddelliste» hører til kategorien «Legemidler», ikke til den valgte " \
        "«Epikrise»" in capsys.readouterr().err


def test_the_api_shows_the_unread_answer_until_the_group_reads_it(
    door: Door, api: httpx.Client, group: httpx.Client, capsys: pytest.CaptureFixture[str],
) -> None:
    """The reporter writes through the status link on a closed report: the API's list and
    report say so (and filter on it); reading the report clears it; the group is told
    through the outbox, which the reporter's text never reaches."""
    receipt = submit(api)
    reference, token = receipt["reference"], status_token(receipt)
    base = f"/api/v1/reports/{reference}"
    assert group.post(f"{base}/status", json={"status": "in_progress"}).status_code == 200
    assert group.post(f"{base}/close", json={"learning_point": "Lærdom",
                                             "measure": "Tiltak"}).status_code == 200
    listed = group.get("/api/v1/reports").json()["items"][0]
    assert (listed["unread_from_reporter"], listed["reporter_unread_since"]) == (False, None)
    r = api.post(f"/api/v1/status/{token}/answers", json={"text": "Det skjedde igjen XYZZY."})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed" and r.json()["unread_from_reporter"] is False
    listed = group.get("/api/v1/reports").json()["items"][0]
    assert listed["unread_from_reporter"] is True and listed["status"] == "closed"
    assert listed["reporter_unread_since"].startswith(r.json()["messages"][-1]["created_at"][:16])
    only = group.get("/api/v1/reports", params={"unread": "true"}).json()["items"]
    assert [x["reference"] for x in only] == [reference]
    # `meld reports list` marks it too, and --unread lists just those
    settings = settings_for(door.ctx.settings.database_url)
    for args in ([], ["--unread"]):
        assert main(["reports", "list", *args], settings=settings) == 0
        [line] = [x for x in capsys.readouterr().out.splitlines() if reference in x]
        assert "Lukket" in line and line.endswith("✉ ulest svar fra melderen")
    assert group.get(base).json()["unread_from_reporter"] is True  # this read shows it ...
    assert group.get(base).json()["unread_from_reporter"] is False  # ... and clears it
    assert group.get("/api/v1/reports", params={"unread": "true"}).json()["items"] == []
    with door.ctx.db.reading() as session:
        notices = session.execute(select(m.OutboxMessage.event, m.OutboxMessage.payload).where(
            m.OutboxMessage.channel == "group").order_by(m.OutboxMessage.id)).all()
    assert [e for e, _p in notices] == ["new_report", "reporter_message"]
    assert "XYZZY" not in str(notices)

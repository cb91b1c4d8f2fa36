"""POST /api/v1/reports/{ref}/redirect with the group's message: stored, guarded, and the
reporter's status API and page show the target's guidance, link and the message."""

from __future__ import annotations

import httpx

from intake import services
from tests.doors.conftest import GROUP, Door, error_codes, status_token, submit


def test_redirect_with_a_message_reaches_the_status_page(door: Door, api: httpx.Client,
                                                         group: httpx.Client) -> None:
    receipt = submit(api)
    ref = receipt["reference"]
    r = group.post(f"/api/v1/reports/{ref}/redirect",
                   json={"target": "melde_no", "external_reference": "2026/77",
                         "message": "Snakk med lederen din om varselet."})
    assert r.status_code == 200, r.text
    assert [(x["direction"], x["body"]) for x in r.json()["messages"]] == [
        ("group", "Snakk med lederen din om varselet.")]
    door.drain_outbox()
    page = api.get(f"/status/{status_token(receipt)}").text
    guide = door.ctx.taxonomy.redirects.guide("melde_no")
    assert guide.guidance_nb in page and "2026/77" in page
    assert '<a href="https://www.melde.no/" rel="noopener noreferrer">' in page
    assert "Snakk med lederen din om varselet." in page


def test_an_identity_number_in_the_message_is_refused(door: Door, api: httpx.Client,
                                                      group: httpx.Client) -> None:
    ref = submit(api)["reference"]
    r = group.post(f"/api/v1/reports/{ref}/redirect",
                   json={"target": "eqs", "message": "Gjelder 12034423421."})
    assert r.status_code == 422
    assert error_codes(r.json()) == {"message": ["patient_identifier"]}
    view = services.get_report(ctx=door.ctx, actor=GROUP, reference=ref)
    assert view.status == "received" and view.messages == ()

"""The working group's API (bearer tokens, queue, triage) and the reporter's status API."""

from __future__ import annotations

import httpx

from intake import services
from storage import models as m
from tests.doors.conftest import Door, error_codes, status_token, submit

# ---------------------------------------------------------------- auth and reads


def test_queue_needs_a_token(door: Door, api: httpx.Client) -> None:
    submit(api)
    r = api.get("/api/v1/reports")
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_token"
    assert r.headers["www-authenticate"] == "Bearer"
    r = api.get("/api/v1/reports", headers={"Authorization": "Bearer meld_not-a-real-token"})
    assert r.status_code == 401
    r = api.get("/api/v1/reports", headers={"Authorization": "Basic a2FyaTpzZWNyZXQ="})
    assert r.status_code == 401
    assert "MELD-" not in r.text


def test_triager_token_lists_reports(door: Door, api: httpx.Client) -> None:
    receipt = submit(api)
    token = door.token(name="ola", role="triager")
    r = api.get("/api/v1/reports", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    page = r.json()
    assert [i["reference"] for i in page["items"]] == [receipt["reference"]]
    assert page["next_cursor"] is None
    # the queue carries no free text
    assert page["items"][0]["description"] is None


def test_keyset_pagination_returns_every_report_exactly_once(
    door: Door, api: httpx.Client, group: httpx.Client
) -> None:
    made = [submit(api, severity=s)["reference"]
            for s in ("none", "minor", "moderate", "unknown", "minor", "none", "minor")]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, int] = {"limit": 3}
        if cursor is not None:
            params["after"] = cursor
        r = group.get("/api/v1/reports", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        pages += 1
        assert len(page["items"]) <= 3
        seen += [i["reference"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 10
    assert pages == 3
    assert seen == list(reversed(made))  # newest first, each once
    # a filter and the page size limit
    r = group.get("/api/v1/reports", params={"limit": 200, "kind": "deviation"})
    assert len(r.json()["items"]) == 7
    assert group.get("/api/v1/reports", params={"limit": 201}).status_code == 422
    assert group.get("/api/v1/reports", params={"after": -1}).status_code == 422


def test_revoked_token_is_401(door: Door) -> None:
    token = door.token(name="per")
    client = door.client(headers={"Authorization": f"Bearer {token}"})
    assert client.get("/api/v1/reports").status_code == 200
    assert services.revoke_token(ctx=door.ctx, name="per") == 1
    r = client.get("/api/v1/reports")
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_token"


def test_get_report_as_triager(door: Door, api: httpx.Client, group: httpx.Client) -> None:
    text = "Henvisningen ble returnert uten begrunnelse."
    receipt = submit(api, description=text, category="referral", subcategory="unanswered")
    r = group.get(f"/api/v1/reports/{receipt['reference']}")
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["reference"] == receipt["reference"]
    assert view["description"] == text
    assert view["category"] == "referral"
    assert view["status"] == "received"
    assert view["channel"] == "web"
    assert view["direction"] == "gp->hospital"
    assert view["reporter_id"]
    # lower case works too; the read is audited
    assert group.get(f"/api/v1/reports/{receipt['reference'].lower()}").status_code == 200
    assert door.count(m.AuditEvent) >= 3
    # anonymous may not read it
    assert api.get(f"/api/v1/reports/{receipt['reference']}").status_code == 401


def test_unknown_and_malformed_references(group: httpx.Client) -> None:
    r = group.get("/api/v1/reports/MELD-2026-9999")
    assert r.status_code == 404
    assert r.json()["code"] == "report_not_found"
    r = group.get("/api/v1/reports/not-a-reference")
    assert r.status_code == 422
    assert error_codes(r.json()) == {"reference": ["invalid_reference"]}
    r = group.post("/api/v1/reports/MELD-26-1/close",
                   json={"learning_point": "a", "measure": "b"})
    assert r.status_code == 422


# ---------------------------------------------------------------- triage flow


def test_assess_progress_close_reopen(api: httpx.Client, group: httpx.Client) -> None:
    ref = submit(api)["reference"]
    r = group.post(f"/api/v1/reports/{ref}/assess",
                   json={"assessed_severity": "moderate", "agreement_reference": "Retn. 3"})
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["status"] == "triage"
    assert view["assessed_severity"] == "moderate"
    assert view["reported_severity"] == "minor"
    assert view["guideline_breached"] is True

    r = group.post(f"/api/v1/reports/{ref}/status",
                   json={"status": "in_progress", "message": "Vi tar dette opp med klinikken."})
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["status"] == "in_progress"
    assert [(x["direction"], x["purpose"], x["body"]) for x in view["messages"]] == [
        ("group", "status", "Vi tar dette opp med klinikken.")]

    r = group.post(f"/api/v1/reports/{ref}/close", json={"measure": "Ny rutine for epikrise."})
    assert r.status_code == 422
    assert error_codes(r.json()) == {"learning_point": ["required"]}
    r = group.post(f"/api/v1/reports/{ref}/close",
                   json={"learning_point": "  ", "measure": "Ny rutine."})
    assert r.status_code == 422
    assert error_codes(r.json()) == {"learning_point": ["required"]}
    assert group.get(f"/api/v1/reports/{ref}").json()["status"] == "in_progress"

    r = group.post(f"/api/v1/reports/{ref}/close",
                   json={"learning_point": "Epikrise må sendes samme dag.",
                         "measure": "Ny rutine for epikrise."})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed"
    assert r.json()["learning_point"] == "Epikrise må sendes samme dag."

    r = group.post(f"/api/v1/reports/{ref}/reopen")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "triage"
    # reopening an open report is refused
    r = group.post(f"/api/v1/reports/{ref}/reopen")
    assert r.status_code == 409
    assert r.json()["code"] == "invalid_transition"


def test_invalid_transition_is_409_in_norwegian(api: httpx.Client, group: httpx.Client) -> None:
    """Depends on the nb catalogue (invalid_transition and the status labels)."""
    ref = submit(api)["reference"]
    r = group.post(f"/api/v1/reports/{ref}/close",
                   json={"learning_point": "x", "measure": "y"})
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["code"] == "invalid_transition"
    assert "kan ikke flyttes til" in body["message"]
    assert "«" in body["message"]
    assert group.get(f"/api/v1/reports/{ref}").json()["status"] == "received"
    r_en = group.post(f"/api/v1/reports/{ref}/close", headers={"Accept-Language": "en"},
                      json={"learning_point": "x", "measure": "y"})
    assert r_en.json()["message"] == (
        "A report with status \u201cReceived\u201d cannot be moved to \u201cClosed\u201d.")


def test_status_endpoint_refuses_moves_with_their_own_action(
    api: httpx.Client, group: httpx.Client
) -> None:
    ref = submit(api)["reference"]
    r = group.post(f"/api/v1/reports/{ref}/status", json={"status": "closed"})
    assert r.status_code == 400
    assert r.json()["code"] == "status_needs_details"
    r = group.post(f"/api/v1/reports/{ref}/status", json={"status": "flying"})
    assert r.status_code == 422
    assert error_codes(r.json()) == {"status": ["invalid_choice"]}


def test_request_info_and_reporter_answer(api: httpx.Client, group: httpx.Client) -> None:
    receipt = submit(api)
    ref, token = receipt["reference"], status_token(receipt)
    r = group.post(f"/api/v1/reports/{ref}/request-info",
                   json={"question": "Hvilken avdeling gjaldt det?"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "needs_info"

    mine = api.get(f"/api/v1/status/{token}").json()
    assert mine["status"] == "needs_info"
    assert [x["body"] for x in mine["messages"]] == ["Hvilken avdeling gjaldt det?"]

    r = api.post(f"/api/v1/status/{token}/answers", json={"text": "Medisinsk klinikk."})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "triage"
    assert [x["direction"] for x in r.json()["messages"]] == ["group", "reporter"]
    assert group.get(f"/api/v1/reports/{ref}").json()["status"] == "triage"


def test_reporter_answer_is_guarded(door: Door, api: httpx.Client, group: httpx.Client) -> None:
    receipt = submit(api)
    token = status_token(receipt)
    group.post(f"/api/v1/reports/{receipt['reference']}/request-info", json={"question": "Når?"})
    before = door.count(m.Message)
    r = api.post(f"/api/v1/status/{token}/answers", json={"text": "Ring meg på 918 76 543."})
    assert r.status_code == 422
    assert r.json()["only_warnings"] is True
    r = api.post(f"/api/v1/status/{token}/answers", json={"text": ""})
    assert r.status_code == 422
    assert door.count(m.Message) == before
    r = api.post(f"/api/v1/status/{token}/answers",
                 json={"text": "Ring meg på 918 76 543.", "confirm_warnings": True})
    assert r.status_code == 200
    assert r.json()["status"] == "triage"
    r = api.post("/api/v1/status/" + "0" * 48 + "/answers", json={"text": "hei"})
    assert r.status_code == 404


def test_redirect(api: httpx.Client, group: httpx.Client) -> None:
    ref = submit(api, severity="severe")["reference"]
    r = group.post(f"/api/v1/reports/{ref}/redirect",
                   json={"target": "eqs", "external_reference": "EQS-2026-118"})
    assert r.status_code == 200, r.text
    view = r.json()
    assert (view["status"], view["redirect_target"], view["redirect_reference"]) == (
        "redirected", "eqs", "EQS-2026-118")
    r = group.post(f"/api/v1/reports/{ref}/redirect", json={"target": "fax"})
    assert r.status_code == 422


def test_duplicate(api: httpx.Client, group: httpx.Client) -> None:
    first = submit(api)["reference"]
    second = submit(api)["reference"]
    r = group.post(f"/api/v1/reports/{second}/duplicate", json={"duplicate_of": first})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["duplicate_of"]) == ("duplicate", first)
    r = group.post(f"/api/v1/reports/{first}/duplicate", json={"duplicate_of": first})
    assert r.status_code == 422
    assert error_codes(r.json()) == {"duplicate_of": ["duplicate_of_itself"]}
    r = group.post(f"/api/v1/reports/{first}/duplicate", json={"duplicate_of": "MELD-2000-0001"})
    assert r.status_code == 404


def test_plus_one_twice_is_409(api: httpx.Client, group: httpx.Client, door: Door) -> None:
    ref = submit(api)["reference"]
    r = group.post(f"/api/v1/reports/{ref}/plus-one")
    assert r.status_code == 200, r.text
    assert r.json() == {"reference": ref, "plus_ones": 1}
    r = group.post(f"/api/v1/reports/{ref}/plus-one")
    assert r.status_code == 409
    assert r.json()["code"] == "already_plus_one"
    other = door.client(headers={"Authorization": f"Bearer {door.token(name='lise')}"})
    assert other.post(f"/api/v1/reports/{ref}/plus-one").json()["plus_ones"] == 2
    assert group.get(f"/api/v1/reports/{ref}").json()["plus_ones"] == 2


# ---------------------------------------------------------------- reporter status


def test_reporter_status_hides_internal_notes_and_reporter_id(
    api: httpx.Client, group: httpx.Client
) -> None:
    receipt = submit(api, description="Epikrise mangler.")
    ref, token = receipt["reference"], status_token(receipt)
    r = group.post(f"/api/v1/reports/{ref}/notes", json={"text": "INTERN: ring klinikksjef"})
    assert r.status_code == 200, r.text
    group.post(f"/api/v1/reports/{ref}/assess",
               json={"assessed_severity": "moderate", "agreement_reference": "Retn. 3"})
    r = group.post(f"/api/v1/reports/{ref}/replies", json={"text": "Takk, vi ser på saken."})
    assert r.status_code == 200
    group_view = group.get(f"/api/v1/reports/{ref}").json()
    assert "INTERN: ring klinikksjef" in [x["body"] for x in group_view["messages"]]
    assert group_view["reporter_id"]

    r = api.get(f"/api/v1/status/{token}")
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["reference"] == ref
    assert view["description"] == "Epikrise mangler."
    assert "INTERN" not in r.text
    assert [x["body"] for x in view["messages"]] == ["Takk, vi ser på saken."]
    assert view["reporter_id"] is None
    assert view["assessed_severity"] is None
    assert view["agreement_reference"] is None
    assert group_view["reporter_id"] not in r.text


def test_wrong_status_token_is_404(api: httpx.Client) -> None:
    token = status_token(submit(api))
    wrong = ("1" if token[0] != "1" else "2") + token[1:]
    for bad in (wrong, "x", "0" * 200):
        r = api.get(f"/api/v1/status/{bad}")
        assert r.status_code == 404, bad
        assert "MELD-" not in r.text


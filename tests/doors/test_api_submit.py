"""POST /api/v1/reports over real HTTP: receipts, idempotency, validation, the identifier guard."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from faker import Faker
from sqlalchemy import select

from intake.texts import FORMAL_GUIDANCE
from storage import models as m
from tests.doors.conftest import (
    REFERENCE_RE,
    Door,
    error_codes,
    report_body,
    status_token,
    submit,
    today_oslo,
)

RECEIPT_EN = "Thank you! Your report has been received with reference {reference}."
RECEIPT_NB = "Takk! Meldingen din er mottatt med referanse {reference}."


@pytest.fixture
def ssn() -> str:
    fake = Faker("no_NO")
    fake.seed_instance(4711)
    return fake.ssn()


# ---------------------------------------------------------------- receipts


def test_submit_gives_201_reference_and_location(door: Door, api: httpx.Client) -> None:
    r = api.post("/api/v1/reports", json=report_body())
    assert r.status_code == 201, r.text
    body = r.json()
    match = REFERENCE_RE.match(body["reference"])
    assert match, body["reference"]
    assert int(match.group(1)) == today_oslo().year
    assert len(match.group(2)) == 4
    assert body["status"] == "received"
    assert r.headers["location"] == body["status_url"]
    assert body["status_url"].startswith(door.ctx.settings.base_url.rstrip("/") + "/status/")
    assert "idempotency-replayed" not in r.headers
    assert body["feedback_by"] == (today_oslo() + timedelta(days=14)).isoformat()
    assert door.references() == [body["reference"]]
    # a second report gets the next number
    second = submit(api)
    assert int(REFERENCE_RE.match(second["reference"]).group(2)) == int(match.group(2)) + 1


def test_receipt_is_norwegian_by_default(api: httpx.Client) -> None:
    """Depends on the nb catalogue (receipt first line)."""
    body = submit(api)
    assert "accept-language" not in api.headers
    assert body["messages"][0] == RECEIPT_NB.format(reference=body["reference"])
    assert not any(line.startswith("Thank you") for line in body["messages"])
    assert not body["messages"][1].startswith("Forbedringsgruppen reads every report")


def test_receipt_in_english_with_accept_language(api: httpx.Client) -> None:
    r = api.post("/api/v1/reports", json=report_body(), headers={"Accept-Language": "en"})
    assert r.status_code == 201
    body = r.json()
    assert body["messages"][0] == RECEIPT_EN.format(reference=body["reference"])
    assert body["messages"][1].startswith("Forbedringsgruppen reads every report.")
    # the body's locale field wins over the header
    r = api.post("/api/v1/reports", json=report_body(locale="en"))
    assert r.json()["messages"][0].startswith("Thank you!")


@pytest.mark.parametrize("header", ["en-GB,en;q=0.9,nb;q=0.5", "en;q=0.8"])
def test_receipt_language_follows_accept_language_with_quality(
    api: httpx.Client, header: str
) -> None:
    """A header naming only English (with or without a quality value) gives English."""
    r = api.post("/api/v1/reports", json=report_body(), headers={"Accept-Language": header})
    assert r.status_code == 201
    body = r.json()
    assert body["messages"][0] == RECEIPT_EN.format(reference=body["reference"])


def test_formal_guidance_only_for_significant_and_severe(api: httpx.Client) -> None:
    guidance = FORMAL_GUIDANCE
    for severity in ("none", "minor", "moderate", "unknown", "significant", "severe"):
        r = api.post("/api/v1/reports", json=report_body(severity=severity),
                     headers={"Accept-Language": "en"})
        assert r.status_code == 201, r.text
        body = r.json()
        serious = severity in ("significant", "severe")
        assert body["formal_guidance"] is serious, severity
        assert (guidance in body["messages"]) is serious, severity
        assert len(body["messages"]) == (4 if serious else 3), severity
        assert body["notices"] == ["status_page"]
        if serious:
            assert "melde.no" in body["messages"][-1]
    # and in Norwegian the guidance line is there too (and is not the English one)
    body = submit(api, severity="severe")
    assert body["formal_guidance"] is True
    assert len(body["messages"]) == 4
    assert "melde.no" in body["messages"][-1]


def test_good_collaboration_needs_no_severity_and_gets_a_thank_you(door: Door,
                                                                  api: httpx.Client) -> None:
    body = report_body(kind="good_collaboration",
                       description="Sykehuset ringte fastlegen før utskriving. Det hjalp!")
    del body["severity"]
    r = api.post("/api/v1/reports", json=body)
    assert r.status_code == 201, r.text
    receipt = r.json()
    assert receipt["feedback_by"] is None  # no date promised: nothing waits for an answer
    assert receipt["formal_guidance"] is False
    assert receipt["messages"][0] == ("Takk for at du forteller oss hva som fungerte! Meldingen "
                                      f"din er mottatt med referanse {receipt['reference']}.")
    assert not any("senest" in line for line in receipt["messages"])
    with door.ctx.db.reading() as session:
        report = session.scalars(select(m.Report)).one()
    assert (report.kind, report.reported_severity) == ("good_collaboration", "none")
    # a deviation left without a severity is of unknown severity, for the group to assess
    r = api.post("/api/v1/reports", json={**body, "kind": "deviation"})
    assert r.status_code == 201, r.text
    with door.ctx.db.reading() as session:
        severities = set(session.scalars(select(m.Report.reported_severity)))
    assert severities == {"none", "unknown"}


# ---------------------------------------------------------------- idempotency


def test_same_idempotency_key_and_body_replays_the_receipt(
    door: Door, api: httpx.Client
) -> None:
    headers = {"Idempotency-Key": "slack-evt-123"}
    first = api.post("/api/v1/reports", json=report_body(), headers=headers)
    second = api.post("/api/v1/reports", json=report_body(), headers=headers)
    assert first.status_code == 201 and second.status_code == 201
    assert "idempotency-replayed" not in first.headers
    assert second.headers["idempotency-replayed"] == "true"
    assert second.json()["reference"] == first.json()["reference"]
    assert second.json()["status_url"] == first.json()["status_url"]
    assert second.headers["location"] == first.headers["location"]
    assert door.report_count() == 1
    # another key is another report
    third = api.post("/api/v1/reports", json=report_body(), headers={"Idempotency-Key": "other"})
    assert third.status_code == 201
    assert third.json()["reference"] != first.json()["reference"]
    assert door.report_count() == 2


def test_same_idempotency_key_with_other_body_is_409(door: Door, api: httpx.Client) -> None:
    headers = {"Idempotency-Key": "key-1"}
    assert api.post("/api/v1/reports", json=report_body(), headers=headers).status_code == 201
    r = api.post("/api/v1/reports", json=report_body(severity="moderate"), headers=headers)
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "idempotency_key_reused"
    assert r.json()["message"]
    assert door.report_count() == 1


def test_concurrent_requests_with_one_key_make_one_report(door: Door) -> None:
    n = 8
    clients = [door.client() for _ in range(n)]
    body = report_body()

    def post(client: httpx.Client) -> httpx.Response:
        return client.post("/api/v1/reports", json=body, headers={"Idempotency-Key": "race"})

    with ThreadPoolExecutor(max_workers=n) as pool:
        responses = list(pool.map(post, clients))
    assert [r.status_code for r in responses] == [201] * n, [r.text for r in responses]
    assert len({r.json()["reference"] for r in responses}) == 1
    assert sum(r.headers.get("idempotency-replayed") == "true" for r in responses) == n - 1
    assert door.report_count() == 1


def test_concurrent_submits_get_distinct_consecutive_references(door: Door) -> None:
    n = 10
    clients = [door.client() for _ in range(n)]
    with ThreadPoolExecutor(max_workers=n) as pool:
        responses = list(pool.map(
            lambda c: c.post("/api/v1/reports", json=report_body()), clients))
    assert [r.status_code for r in responses] == [201] * n, [r.text for r in responses]
    numbers = sorted(int(REFERENCE_RE.match(r.json()["reference"]).group(2))
                     for r in responses)
    assert numbers == list(range(numbers[0], numbers[0] + n))
    assert door.report_count() == n


# ---------------------------------------------------------------- validation


def test_missing_fields_are_required(door: Door, api: httpx.Client) -> None:
    r = api.post("/api/v1/reports", json={})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "validation_failed"
    assert body["only_warnings"] is False
    # only the text and the confirmation are required
    assert error_codes(body) == {"description": ["required"],
                                 "no_patient_identifiers": ["required"]}
    assert all(e["message"] and e["warning"] is False for e in body["errors"])
    assert door.report_count() == 0


def test_the_text_and_the_confirmation_alone_are_a_report(door: Door,
                                                          api: httpx.Client) -> None:
    r = api.post("/api/v1/reports", json={
        "description": "Henvisningen ble returnert uten begrunnelse.",
        "no_patient_identifiers": True})
    assert r.status_code == 201, r.text
    receipt = r.json()
    with door.ctx.db.reading() as session:
        report = session.scalars(select(m.Report)).one()
    assert (report.kind, report.reported_severity, report.occurred_on) == (
        "deviation", "unknown", door.ctx.today())
    # left to the group; Meld's suggestion is kept and named, never filed by default
    assert (report.category_id, report.category_source) == ("uncategorized", "none")
    assert (receipt["category"], receipt["category_source"]) == ("uncategorized", "none")
    assert report.suggested_category_id == receipt["suggested_category"] == "referral"
    assert receipt["suggested_subcategory"] == report.suggested_subcategory_id
    assert any(line.startswith("Kategori: Ikke kategorisert;") and "Meld foreslår Henvisning"
               in line for line in receipt["messages"])


# a text whose suggestion is near-certain (a posterior of some 1 - 1e-6)
CLEAR = ("Epikrisen mangler. Epikrise ikke mottatt, utskrivningsepikrise etterlyst, "
         "utskrivningsnotat og legebrev mangler, epikrisen er aldri kommet.")


def test_even_a_near_certain_suggestion_is_offered_not_filed(door: Door,
                                                             api: httpx.Client) -> None:
    assert door.ctx.settings.suggest_min_score is None  # the default: never file
    r = api.post("/api/v1/reports", json={"description": CLEAR,
                                          "no_patient_identifiers": True})
    assert r.status_code == 201, r.text
    receipt = r.json()
    assert (receipt["category"], receipt["subcategory"], receipt["category_source"]) == (
        "uncategorized", None, "none")
    assert (receipt["suggested_category"], receipt["suggested_subcategory"]) == (
        "discharge_summary", "missing")
    assert ("Kategori: Ikke kategorisert; Forbedringsgruppen velger den. Meld foreslår "
            "Epikrise › Mangler: velg den om den passer.") in receipt["messages"]
    with door.ctx.db.reading() as session:
        report = session.scalars(select(m.Report)).one()
    assert (report.category_id, report.category_source) == ("uncategorized", "none")
    assert (report.suggested_category_id, report.suggested_subcategory_id) == (
        "discharge_summary", "missing")
    # the status page the receipt links to takes it in one click
    page = door.client().get("/status/" + status_token(receipt)).text
    assert 'name="category" value="discharge_summary/missing"' in page
    assert "Velg Epikrise › Mangler" in page
    # the reporter's own choice names no suggestion
    chosen = submit(api, description=CLEAR)
    assert chosen["category_source"] == "reporter"
    assert chosen["suggested_category"] is None


def test_blank_description_is_required(api: httpx.Client) -> None:
    r = api.post("/api/v1/reports", json=report_body(description="   "))
    assert r.status_code == 422
    assert error_codes(r.json()) == {"description": ["required"]}


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"kind": "complaint"}, "kind", "invalid_choice"),
        ({"severity": "catastrophic"}, "severity", "invalid_choice"),
        ({"reporter_party": "pharmacy"}, "reporter_party", "invalid_choice"),
        ({"category": "no_such_category"}, "category", "unknown_category"),
        ({"subcategory": "no_such_sub"}, "subcategory", "unknown_subcategory"),
        ({"place": "oslo_sentrum"}, "place", "unknown_place"),
        ({"no_patient_identifiers": False}, "no_patient_identifiers",
         "must_confirm_no_identifiers"),
        ({"description": "x" * 3001}, "description", "too_long"),
        ({"occurred_on": "03/02/2026"}, "occurred_on", "invalid_date"),
        ({"occurred_on": (today_oslo() - timedelta(days=6 * 366)).isoformat()},
         "occurred_on", "date_too_old"),
    ],
)
def test_field_errors(door: Door, api: httpx.Client, overrides: dict, field: str,
                      code: str) -> None:
    r = api.post("/api/v1/reports", json=report_body(**overrides))
    assert r.status_code == 422, r.text
    assert error_codes(r.json()) == {field: [code]}
    assert door.report_count() == 0


def test_future_date_is_refused(door: Door, api: httpx.Client) -> None:
    future = (today_oslo() + timedelta(days=2)).isoformat()
    r = api.post("/api/v1/reports", json=report_body(occurred_on=future))
    assert r.status_code == 422
    assert error_codes(r.json()) == {"occurred_on": ["date_in_future"]}
    # today is fine
    assert api.post("/api/v1/reports",
                    json=report_body(occurred_on=today_oslo().isoformat())).status_code == 201


def test_too_long_says_the_limit(api: httpx.Client) -> None:
    r = api.post("/api/v1/reports", json=report_body(description="x" * 3001),
                 headers={"Accept-Language": "en"})
    (err,) = r.json()["errors"]
    assert "3000" in err["message"]
    assert api.post("/api/v1/reports",
                    json=report_body(description="x" * 3000)).status_code == 201


def test_every_problem_is_reported_at_once(api: httpx.Client) -> None:
    r = api.post("/api/v1/reports", json=report_body(
        category="nope", place="nowhere", no_patient_identifiers=False,
        occurred_on=(today_oslo() + timedelta(days=3)).isoformat()))
    assert r.status_code == 422
    assert error_codes(r.json()) == {
        "category": ["unknown_category"], "place": ["unknown_place"],
        "no_patient_identifiers": ["must_confirm_no_identifiers"],
        "occurred_on": ["date_in_future"],
    }


def test_unknown_extra_field_is_422(door: Door, api: httpx.Client) -> None:
    r = api.post("/api/v1/reports", json=report_body(patient_name="x"))
    assert r.status_code == 422
    assert "patient_name" in error_codes(r.json())
    assert door.report_count() == 0


@pytest.mark.parametrize(("payload", "status", "code"), [
    (b"{not json", 400, "invalid_json"),  # no JSON at all: 400 (deep nesting: tests/security)
    (b'{"kind": "deviation",', 400, "invalid_json"),
    (b"", 422, "validation_failed"),  # JSON of the wrong shape, or none: 422
    (b"[]", 422, "validation_failed"),
    (b"42", 422, "validation_failed"),
])
def test_malformed_json_is_4xx_not_500(door: Door, api: httpx.Client, payload: bytes,
                                       status: int, code: str) -> None:
    r = api.post("/api/v1/reports", content=payload,
                 headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert r.json()["code"] == code
    assert door.report_count() == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_wrong_content_type_is_refused(door: Door, api: httpx.Client,
                                       content_type: str) -> None:
    r = api.post("/api/v1/reports", content=json.dumps(report_body()).encode(),
                 headers={"Content-Type": content_type})
    assert r.status_code in (415, 422), r.text
    assert r.headers["content-type"].startswith("application/json")
    assert door.report_count() == 0


def test_body_over_1_mb_is_413(door: Door, api: httpx.Client) -> None:
    big = json.dumps(report_body(description="x" * 1_100_000)).encode()
    r = api.post("/api/v1/reports", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["code"] == "body_too_large"
    assert door.report_count() == 0


def test_chunked_body_over_1_mb_is_413(door: Door, api: httpx.Client) -> None:
    """Without a Content-Length the limit must still give 413 (not 400 or 500)."""

    def chunks():
        yield b'{"description": "'
        for _ in range(25):
            yield b"x" * 50_000
        yield b'"}'

    r = api.post("/api/v1/reports", content=chunks(),
                 headers={"Content-Type": "application/json"})
    assert "content-length" not in r.request.headers
    assert r.status_code == 413, r.text
    assert r.json()["code"] == "body_too_large"
    assert door.report_count() == 0


# ---------------------------------------------------------------- identifier guard


def test_national_identity_number_is_refused_and_nothing_stored(
    door: Door, api: httpx.Client, ssn: str
) -> None:
    spaced = f"{ssn[:6]} {ssn[6:]}"
    for text in (f"Pasient med fnr {ssn} fikk ikke epikrise.",
                 f"Gjelder {spaced}, epikrise mangler."):
        r = api.post("/api/v1/reports", json=report_body(description=text))
        assert r.status_code == 422, (text, r.text)
        body = r.json()
        assert error_codes(body) == {"description": ["patient_identifier"]}
        assert body["only_warnings"] is False
        assert body["errors"][0]["warning"] is False
        assert ssn not in r.text and spaced not in r.text
    # confirm_warnings does not let an identity number through
    r = api.post("/api/v1/reports", json=report_body(description=f"fnr {ssn}",
                                                     confirm_warnings=True))
    assert r.status_code == 422
    # nor does the place text
    r = api.post("/api/v1/reports", json=report_body(place_text=f"rom 3, {spaced}"))
    assert r.status_code == 422
    assert error_codes(r.json()) == {"place_text": ["patient_identifier"]}
    assert door.stored_nothing()


def test_identity_number_message_is_norwegian(api: httpx.Client, ssn: str) -> None:
    """Depends on the nb catalogue (patient_identifier text)."""
    r = api.post("/api/v1/reports", json=report_body(description=f"fnr {ssn}"))
    message = r.json()["errors"][0]["message"]
    assert "fødselsnummer" in message
    assert "Remove it" not in message
    r_en = api.post("/api/v1/reports", json=report_body(description=f"fnr {ssn}"),
                    headers={"Accept-Language": "en"})
    assert r_en.json()["errors"][0]["message"].startswith("The text seems to contain")


def test_phone_number_is_a_warning_that_can_be_confirmed(door: Door, api: httpx.Client) -> None:
    text = "Ring vakthavende på 918 76 543 om epikrisen."
    r = api.post("/api/v1/reports", json=report_body(description=text))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["only_warnings"] is True
    assert body["errors"] == [
        {"field": "description", "code": "possible_phone", "warning": True,
         "message": body["errors"][0]["message"]}
    ]
    assert door.report_count() == 0
    r = api.post("/api/v1/reports", json=report_body(description=text, confirm_warnings=True))
    assert r.status_code == 201, r.text
    assert door.report_count() == 1


def test_warning_with_an_error_is_not_only_warnings(api: httpx.Client) -> None:
    r = api.post("/api/v1/reports", json=report_body(
        description="Ring 918 76 543.", no_patient_identifiers=False))
    assert r.status_code == 422
    body = r.json()
    assert body["only_warnings"] is False
    assert error_codes(body) == {"description": ["possible_phone"],
                                 "no_patient_identifiers": ["must_confirm_no_identifiers"]}


def test_status_url_of_receipt_works(api: httpx.Client) -> None:
    receipt = submit(api)
    r = api.get(f"/api/v1/status/{status_token(receipt)}")
    assert r.status_code == 200
    assert r.json()["reference"] == receipt["reference"]

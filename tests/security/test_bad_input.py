"""Bad input over HTTP: a clear 4xx (JSON code for the API, Norwegian page for people),
never a 500; odd characters are refused or stored as sent and escaped where shown; no
input reaches the logs."""

from __future__ import annotations

import html
import logging

import httpx
import pytest
from sqlalchemy import select

from intake import services
from intake.domain.model import Actor, Role
from intake.logs import RedactStatusTokens
from storage import models as m
from tests.doors.conftest import (
    Door,
    csrf_of,
    error_codes,
    form_data,
    report_body,
    status_token,
    submit,
)

MARK = "Kamelepikrise-ZQ4"  # appears nowhere else

# Requests that answered 500 before the fixes in this branch (found by probing and
# schemathesis; the NUL ones only on PostgreSQL, which refuses NUL in text).
ONCE_500 = [
    ("GET", "/api/v1/reports?after=99999999999999999999", 422, "validation_failed"),
    # the largest cursor (the uncategorized part of the list, services.MAX_LIST_CURSOR), + 1
    ("GET", "/api/v1/reports?after=4294967296", 422, "validation_failed"),
    ("GET", "/api/v1/reports?status=a%00b", 422, "validation_failed"),
    ("GET", "/api/v1/reports?kind=%00", 422, "validation_failed"),
    ("GET", "/api/v1/reports?category=%00", 422, "validation_failed"),
    ("GET", "/api/v1/reports?status=nonsense", 422, "validation_failed"),
    ("GET", "/api/v1/reports/stats?period=9999", 422, "validation_failed"),
    ("GET", "/api/v1/reports/stats?period=9999-T3", 422, "validation_failed"),
    ("GET", "/api/v1/reports/stats?period=9999-W52", 422, "validation_failed"),
]


@pytest.mark.parametrize(("method", "path", "status", "code"), ONCE_500)
def test_inputs_that_once_gave_500(group: httpx.Client, method: str, path: str, status: int,
                                   code: str) -> None:
    r = group.request(method, path)
    assert r.status_code == status, r.text
    assert r.json()["code"] == code


def test_largest_cursor_and_year_still_work(group: httpx.Client, api: httpx.Client) -> None:
    submit(api)
    r = group.get("/api/v1/reports", params={"after": 2**31 - 1})
    assert r.status_code == 200 and len(r.json()["items"]) == 1
    assert group.get("/api/v1/reports/stats", params={"period": "9998-T3"}).status_code == 200


def test_nul_in_locale_and_idempotency_key(door: Door, api: httpx.Client) -> None:
    r = api.post("/api/v1/reports", json=report_body(locale="\x00nb"))
    assert r.status_code == 201
    with door.ctx.db.reading() as session:
        assert session.scalar(select(m.Report.locale)) == "nb"  # normalised, not stored raw
    with pytest.raises(Exception) as refused:
        services.submit_report(ctx=door.ctx, actor=Actor("web:x", Role.REPORTER),
                               draft=services.ReportDraft(**{
                                   k: v for k, v in report_body().items()
                                   if k != "subcategory"}), idempotency_key="api:a\x00b")
    assert getattr(refused.value, "code", None) == "validation_failed"


def test_web_form_with_a_hostile_submission_id_is_a_fresh_form(door: Door) -> None:
    b = door.client()
    csrf = csrf_of(b.get("/").text)
    r = b.post("/", data={**form_data(csrf), "submission_id": "a\x00\r\nb"})
    assert r.status_code == 303
    assert door.report_count() == 1


# --- texts ------------------------------------------------------------------------------

CONTROL = {
    "nul": "Epikrise\x00mangler",
    "bell": "Epikrise\x07mangler",
    "rtl_override": "Epikrise \u202etxet\u202c mangler",
    "ltr_embedding": "Epikrise \u202amangler\u202c",
    "escape": "Epikrise \x1b[31mrød\x1b[0m",
}


@pytest.mark.parametrize("text", CONTROL.values(), ids=CONTROL.keys())
def test_control_and_bidi_override_characters_are_refused(door: Door, api: httpx.Client,
                                                          text: str) -> None:
    r = api.post("/api/v1/reports", json=report_body(description=text))
    assert r.status_code == 422
    assert error_codes(r.json()) == {"description": ["control_characters"]}
    assert r.json()["errors"][0]["message"] == (
        "Teksten inneholder usynlige kontrolltegn. Fjern dem.")
    r = api.post("/api/v1/reports", json=report_body(place_text=text[:40]))
    assert error_codes(r.json()) == {"place_text": ["control_characters"]}
    assert door.stored_nothing()


@pytest.mark.parametrize("text", CONTROL.values(), ids=CONTROL.keys())
def test_web_form_refuses_control_characters_and_keeps_the_text(door: Door, text: str) -> None:
    b = door.client()
    csrf = csrf_of(b.get("/").text)
    r = b.post("/", data=form_data(csrf, description=f"{text} {MARK}"))
    assert r.status_code == 422
    assert "Teksten inneholder usynlige kontrolltegn" in r.text
    assert MARK in r.text  # the reporter's text is still in the form
    assert door.stored_nothing()


def test_zero_width_crlf_and_markup_are_stored_as_sent_and_escaped(
        door: Door, api: httpx.Client, group: httpx.Client) -> None:
    text = ("Linje 1\r\nLinje 2\u200b\u200d med <script>alert(1)</script> & "
            "<!channel> <@U0BAD> *fet* `kode` {{ 'Q' * 7 }} \"sitat\" 'x'")
    receipt = submit(api, description=text, place_text="Avd. <b>7</b>\u200b")
    ref = receipt["reference"]
    stored = group.get(f"/api/v1/reports/{ref}").json()
    assert stored["description"] == text and stored["place_text"] == "Avd. <b>7</b>\u200b"
    page = door.client().get(f"/status/{status_token(receipt)}")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text and "<b>7</b>" not in page.text
    assert html.escape("<script>alert(1)</script>", quote=False) in page.text
    assert "QQQQQQQ" not in page.text  # no template evaluation
    assert "&lt;!channel&gt;" in page.text


def test_field_limits(door: Door, api: httpx.Client) -> None:
    assert api.post("/api/v1/reports", json=report_body(description="x" * 3000)
                    ).status_code == 201
    r = api.post("/api/v1/reports", json=report_body(description="x" * 3001))
    assert r.status_code == 422
    assert error_codes(r.json()) == {"description": ["too_long"]}
    assert r.json()["errors"][0]["message"] == "For langt: høyst 3000 tegn."
    r = api.post("/api/v1/reports", json=report_body(place_text="x" * 201))
    assert error_codes(r.json()) == {"place_text": ["too_long"]}
    r = api.post("/api/v1/reports", json=report_body(description="x" * 20001))
    assert r.status_code == 422 and error_codes(r.json()) == {"description": ["too_long"]}
    assert door.report_count() == 1


def test_web_form_over_the_field_limit_keeps_the_text(door: Door) -> None:
    b = door.client()
    csrf = csrf_of(b.get("/").text)
    text = MARK + "y" * 3001
    r = b.post("/", data=form_data(csrf, description=text))
    assert r.status_code == 422
    assert "For langt: høyst 3000 tegn." in r.text and text in r.text
    assert door.report_count() == 0


def test_web_form_over_1_mb_is_a_norwegian_page(door: Door) -> None:
    b = door.client()
    csrf = csrf_of(b.get("/").text)
    r = b.post("/", data=form_data(csrf, description="z" * 1_100_000))
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("text/html")
    assert "For mye å sende" in r.text and "tilbakeknapp" in r.text
    assert r.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    r = door.client().post("/api/v1/reports", content=b"{" + b" " * 1_000_001 + b"}",
                           headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "body_too_large"
    assert door.report_count() == 0


# --- logs -------------------------------------------------------------------------------


def test_no_input_reaches_the_logs_and_no_line_can_be_forged(
        door: Door, api: httpx.Client, group: httpx.Client,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bodies never reach a log line; URLs do (access log) but only percent-encoded."""
    access = logging.getLogger("uvicorn.access")
    monkeypatch.setattr(access, "propagate", True)  # as `meld serve` logs it (log_config=None)
    access.addFilter(redact := RedactStatusTokens())
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    try:
        forged = f"\r\n2026-03-02 12:00:00 INFO meld.app: {MARK} forged"
        in_url = "\r\n2026-03-02 12:00:00 INFO meld.app: forged-in-url"
        receipt = submit(api, description=f"Epikrise{forged}", place_text=f"Avd{forged}")
        api.post("/api/v1/reports", json=report_body(category=f"x{forged}", kind=f"k{forged}"))
        api.post("/api/v1/reports", json=report_body(description=f"x\x00{forged}"))
        group.post(f"/api/v1/reports/{receipt['reference']}/notes", json={"text": forged})
        # a status notice for the web reporter: the outbox delivers it (and logs that)
        assert group.post(f"/api/v1/reports/{receipt['reference']}/status",
                          json={"status": "in_progress", "message": forged}).status_code == 200
        api.get("/api/v1/status/x%0d%0aforged-in-url")
        group.get("/api/v1/reports", params={"category": in_url, "status": in_url})
        b = door.client()
        csrf = csrf_of(b.get("/", params={"lang": in_url}).text)
        b.post("/", data=form_data(csrf, description=f"Web{forged}", category=forged))
        b.post(f"/status/{status_token(receipt)}", data={"csrf": csrf, "text": f"Svar{forged}"})
        link = services.report_link(ctx=door.ctx, actor=Actor(
            "token:1:kari", Role.TRIAGER), period="2026", suppress=False)
        assert b.get(link.removeprefix(door.ctx.settings.base_url)).status_code == 200
        door.drain_outbox()
    finally:
        access.removeFilter(redact)
    assert door.report_count() == 1
    records = [r for r in caplog.records if r.name.split(".")[0] not in ("httpx", "httpcore")]
    assert {"uvicorn.access", "meld.outbox"} <= {r.name for r in records}  # capture works
    for record in records:
        message = record.getMessage()
        assert MARK not in message, (record.name, message[:200])
        assert "\r" not in message and "\n" not in message, (record.name, message[:200])
        assert status_token(receipt) not in message
        assert link.rsplit("/", 1)[1] not in message  # the 24-hour report link is a secret too
    assert any("/rapport/<token>" in r.getMessage() for r in records)


def test_odd_web_requests_get_a_page_never_a_500(door: Door) -> None:
    """Malformed bodies, encodings and paths at the web doors: a 4xx page in Norwegian."""
    form = "application/x-www-form-urlencoded"
    cases: dict[str, dict] = {
        "percent-encoded latin-1": {"content": b"description=%E6%F8%E5&kind=deviation",
                                    "headers": {"content-type": form}},
        "raw latin-1": {"content": b"description=\xe6\xf8\xe5", "headers": {"content-type": form}},
        "broken percent escape": {"content": b"description=%ZZ%",
                                  "headers": {"content-type": form}},
        "json to the form": {"json": {"description": "x"}},
        "no content type": {"content": b"abc"},
        "broken multipart": {"content": b"--x\r\nContent-Disposition: form-data\r\n\r\nabc",
                             "headers": {"content-type": "multipart/form-data; boundary=x"}},
        "multipart without boundary": {"content": b"abc",
                                       "headers": {"content-type": "multipart/form-data"}},
        "5000 fields": {"content": "&".join(f"f{i}=x" for i in range(5000)).encode(),
                        "headers": {"content-type": form}},
        "NUL field name": {"content": b"%00=1&description=a", "headers": {"content-type": form}},
        "repeated fields": {"content": b"kind=deviation&kind=input&description=a&description=b",
                            "headers": {"content-type": form}},
        "NUL category": {"data": {"category": "\x00", "subcategory_\x00": "x"}},
        "year 99999": {"data": {"occurred_on": "99999-01-01"}},
        "year 1": {"data": {"occurred_on": "0001-01-01"}},
        "year 9999": {"data": {"occurred_on": "9999-12-31"}},
        "NUL in date": {"data": {"occurred_on": "2026\x00-01-01"}},
    }
    for name, kwargs in cases.items():
        b = door.client()
        csrf = csrf_of(b.get("/").text)
        if "data" in kwargs:
            kwargs = {"data": form_data(csrf, **kwargs["data"])}
        elif "content" in kwargs:
            kwargs = {**kwargs, "content": f"csrf={csrf}&".encode() + kwargs["content"]}
        r = b.post("/", **kwargs)
        assert 400 <= r.status_code < 500, (name, r.status_code)
        assert r.headers["content-type"].startswith("text/html"), name
        assert '<html lang="nb">' in r.text, name
    for path in ("/?lang=%00", "/status/%FF", "/status/" + "a" * 5000, "/rapport/%00%00",
                 "/static/%2e%2e/%2e%2e/etc/passwd", "/mine?lang=xx"):
        r = door.client().get(path)
        assert r.status_code in (200, 404), path
        assert "root:" not in r.text
    assert door.report_count() == 0

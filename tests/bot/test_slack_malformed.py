"""The Slack door never answers 500: signed and unsigned requests of every shape.

Real signed HTTP requests to the real app on loopback (tests/bot/conftest.py). Whatever the
body, a request without a valid signature gets 401; a signed request Meld cannot read gets
400; neither stores anything nor calls Slack's Web API (FakeSlack records every call), and
neither leaves a traceback or payload text in the log. Property tests cover every listener
(tests/bot/slack_shapes.py lists the fields each one reads).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import time
from datetime import date
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_bolt.request.internals import parse_body

from bot.slack import payloads, views
from intake.domain.model import FieldError
from intake.domain.taxonomy import load_taxonomy
from intake.i18n import Translator
from tests.bot.conftest import (
    DESCRIPTION,
    REPORTER,
    SIGNING_SECRET,
    SlackDoor,
    report_values,
    view_submission,
)
from tests.bot.slack_shapes import (
    CASES,
    JSON_VALUES,
    Case,
    database,
    http_body,
    mutation_kinds,
    mutations,
    wait_for_calls,
    web_api_calls,
)
from tests.bot.test_slack_views import report_view

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
SETTLE = 0.3  # seconds for a wrongly started listener to call Slack


def now() -> str:
    return str(int(time.time()))


def sign(body: bytes, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    """Slack's v0 signature, computed over the bytes (any bytes, not only UTF-8)."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(body: bytes, how: str) -> dict[str, str]:
    """Slack's signature headers, right or wrong in one way."""
    ts = now()
    if how == "signed":
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(body, ts)}
    if how == "wrong_secret":
        return {"X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": sign(body, ts, "not-the-signing-secret")}
    if how == "stale":
        old = str(int(time.time()) - 301)
        return {"X-Slack-Request-Timestamp": old, "X-Slack-Signature": sign(body, old)}
    if how == "other_body":
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(body + b" ", ts)}
    if how == "garbage":
        return {"X-Slack-Request-Timestamp": "1e9", "X-Slack-Signature": "v0=zz"}
    assert how == "missing"
    return {}


UNSIGNED = ("wrong_secret", "stale", "other_body", "garbage", "missing")
SIGNINGS = st.sampled_from(("signed", *UNSIGNED)).flatmap(  # signed half of the time
    lambda how: st.sampled_from((how, "signed")))


def post(slack: SlackDoor, body: bytes, content_type: str, how: str = "signed") -> Any:
    headers = {"Content-Type": content_type, **signed_headers(body, how)}
    return slack.http.post("/slack/events", content=body, headers=headers)


def assert_unchanged(slack: SlackDoor, db: Any, calls: list[str]) -> None:
    assert database(slack) == db, "a refused request changed the database"
    assert web_api_calls(slack) == calls, "a refused request called Slack"


# ---------------------------------------------------------------- the issue's bodies


def _submission(**changes: Any) -> dict[str, Any]:
    payload = view_submission("meld_report", report_values(), view_id="V0MALFORM1")
    for key, value in changes.items():
        where = payload if key == "user" else payload["view"]
        if value is None:
            del where[key]
        else:
            where[key] = value
    return payload


def _form(payload: Any) -> bytes:
    return urlencode({"payload": payload if isinstance(payload, str)
                      else json.dumps(payload)}).encode()


BODIES: dict[str, tuple[bytes, str]] = {
    "payload_not_json": (_form("{not json"), FORM),
    "payload_json_list": (_form([{"type": "view_submission"}]), FORM),
    "payload_json_string": (_form("view_submission"), FORM),
    "payload_json_quoted_string": (_form('"view_submission"'), FORM),
    "payload_json_number": (_form("42"), FORM),
    "payload_json_null": (_form("null"), FORM),
    "payload_deeply_nested": (_form("[" * 100_000), FORM),
    "payload_huge_number": (_form('{"type": ' + "9" * 5000 + "}"), FORM),
    "payload_empty_object": (_form("{}"), FORM),
    "json_body_not_json": (b"{not json", JSON),
    "json_body_list": (b"[]", JSON),
    "json_body_string": (b'"event_callback"', JSON),
    "json_body_event_not_an_object": (json.dumps({"type": "event_callback",
                                                  "event": "app_home_opened"}).encode(), JSON),
    "form_fields_without_command": (b"user_id=U1&trigger_id=1.2.3", FORM),
    "unknown_command": (b"command=%2Fother&user_id=U1&trigger_id=1.2.3", FORM),
    "empty_body": (b"", FORM),
    "plain_text": (b"hello", "text/plain"),
    "no_content_type": (b"payload=%7B%7D", ""),
    "metadata_not_json": (_form(_submission(private_metadata="not json")), FORM),
    "metadata_json_list": (_form(_submission(private_metadata='["x"]')), FORM),
    "metadata_link_of_wrong_type": (_form(_submission(private_metadata='{"link": 42}')), FORM),
    "metadata_link_as_list": (_form(_submission(private_metadata='{"link": ["x"]}')), FORM),
    "submission_without_user": (_form(_submission(user=None)), FORM),
    "submission_user_as_string": (_form(_submission(user=REPORTER)), FORM),
    "unknown_callback": (_form(_submission(callback_id="someone_elses")), FORM),
    "element_value_of_wrong_type": (_form(view_submission("meld_report", report_values(
        **{"no_ids": True}) | {"category": {"value": {"type": "checkboxes", "value": 1}}},
        view_id="V0MALFORM2")), FORM),
}


def test_the_issues_bodies_get_401_unsigned_and_400_signed(slack: SlackDoor,
                                                           caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    caplog.set_level(logging.DEBUG)
    db, calls = database(slack), web_api_calls(slack)
    answers = {}
    for name, (body, content_type) in BODIES.items():
        answers[name] = (post(slack, body, content_type, "signed").status_code,
                         post(slack, body, content_type, "wrong_secret").status_code,
                         post(slack, body, content_type, "missing").status_code)
    assert answers == dict.fromkeys(BODIES, (400, 401, 401))
    time.sleep(SETTLE)
    assert_unchanged(slack, db, calls)
    # logged by code, type and ids; no traceback, no error, no payload text
    assert "slack request refused" in caplog.text
    assert "view_submission:meld_report user=UREPORT1" in caplog.text
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert DESCRIPTION not in caplog.text and "Epikrise" not in caplog.text


def test_a_body_that_is_not_utf8_is_refused_without_reading_it(slack: SlackDoor) -> None:
    db, calls = database(slack), web_api_calls(slack)
    body = "payload={\"type\": \"blå\"}".encode("latin-1")
    # Slack signs UTF-8 text; the verifier cannot even hash these bytes: not verifiable
    assert [post(slack, body, FORM, how).status_code for how in ("signed", "missing")] == [
        401, 401]
    assert_unchanged(slack, db, calls)


def test_the_issues_submissions_store_nothing_and_the_fixed_one_is_stored(
        slack: SlackDoor) -> None:
    """The same modal, broken in each way the issue names, then as Meld wrote it."""
    db = database(slack)
    for metadata in ("not json", "[]", '{"link": 7}', '"https://x"'):
        r = post(slack, _form(_submission(private_metadata=metadata)), FORM)
        assert (r.status_code, r.json()) == (400, {"code": r.json()["code"]}), metadata
    r = post(slack, _form(_submission(user=None)), FORM)
    assert r.status_code == 400
    assert database(slack) == db and slack.reports() == []
    # well-formed but not Meld's form: a checkbox where the text is written
    values = report_values() | {"description": {"value": {
        "type": "checkboxes", "selected_options": [{"value": DESCRIPTION}]}}}
    ack = slack.submit_view(view_submission("meld_report", values, view_id="V0MALFORM3"))
    assert ack["response_action"] == "errors" and "description" in ack["errors"], ack
    assert database(slack) == db
    ack = slack.submit_view(_submission(private_metadata='{"link": "https://x/1"}'))
    assert ack == {"response_action": "clear"}
    [report] = slack.reports()
    assert report.source_link == "https://x/1"
    # a checkbox where the category is chosen is never read as the reporter's choice: the
    # category may be left empty, so the report is filed as one sent without it
    values = report_values() | {"category": {"value": {
        "type": "checkboxes", "selected_options": [{"value": "medication"}]}}}
    ack = slack.submit_view(view_submission("meld_report", values, view_id="V0MALFORM4"))
    assert ack == {"response_action": "clear"}, ack
    latest = slack.reports()[-1]
    assert latest.reported_category_id is None
    assert latest.category_source in ("suggested", "none")


def test_a_slash_command_that_says_payload_is_still_a_slash_command(slack: SlackDoor) -> None:
    """Bolt's own parser takes any form body containing "payload" for an interaction."""
    text = "payload mangler i epikrisen"
    form = urlencode({"command": "/meld", "text": text}).encode().decode()
    assert parse_body(form, FORM) == {}  # the Bolt behaviour the door works around
    r = slack.command("/meld", text, user=REPORTER)
    assert r.status_code == 200, r.text
    view = slack.opened_view()
    blocks = {b["block_id"]: b for b in view["blocks"] if "block_id" in b}
    assert blocks["description"]["element"]["initial_value"] == text


def test_a_url_verification_is_answered_with_its_challenge(slack: SlackDoor) -> None:
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps({"token": "t", "challenge": challenge,
                       "type": "url_verification"}).encode()
    r = post(slack, body, JSON)
    assert r.status_code == 200
    assert r.json() == {"challenge": challenge}
    assert post(slack, body, JSON, "stale").status_code == 401


# ---------------------------------------------------------------- properties


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_property_every_listener_refuses_what_it_cannot_read(slack: SlackDoor,
                                                             case: Case) -> None:
    """One change to a listener's valid payload: a field it reads of a wrong type, a field
    left out, unknown keys, or private_metadata Meld did not write; signed or not.
    Unsigned: 401. Refused: 400. Otherwise 200 and the listener does its work. A 401 or a
    400 changes nothing and calls nothing."""
    ids = itertools.count(1)

    @settings(max_examples=15, deadline=None, derandomize=True, database=None)
    @given(data=st.data())
    def run(kind: str, as_json: bool, data: st.DataObject) -> None:
        n = next(ids)
        payload = case.build(slack, n)
        mutation = data.draw(mutations(case, kind), label="mutation")
        how = data.draw(SIGNINGS, label="signature")
        body, content_type = http_body(case, mutation.apply(payload), as_json=as_json)
        db, calls = database(slack), web_api_calls(slack)
        r = post(slack, body, content_type, how)
        expected = 401 if how != "signed" else 400 if mutation.refused else 200
        assert r.status_code == expected, (str(mutation), r.status_code, r.text[:300])
        if r.status_code != 200:
            assert_unchanged(slack, db, calls)
            return
        if case.effect:  # the listener's last call: it ran to the end
            last = case.effect[-1]
            after = wait_for_calls(slack, last, calls.count(last) + 1)
            assert after[-1] == last, (str(mutation), after[len(calls):])
            if mutation.kind == "extra":
                assert sorted(after[len(calls):]) == sorted(case.effect), str(mutation)
        if case.stores and mutation.kind == "extra":
            assert r.json() == {"response_action": "clear"}, (str(mutation), r.text)
            assert database(slack) != db

    # slash commands come as form fields (strings); Bolt reads them as JSON too
    for as_json in (False, True) if case.kind == "command" else (False,):
        for kind in mutation_kinds(case, json_types=case.kind != "command" or as_json):
            run(kind, as_json)
    calls = web_api_calls(slack)
    time.sleep(SETTLE)
    assert web_api_calls(slack) == calls, "a listener called Slack after its request"


@settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(value=JSON_VALUES, how=SIGNINGS, as_form=st.booleans())
def _any_json(slack: SlackDoor, value: Any, how: str, as_form: bool) -> None:
    body = _form(value) if as_form else json.dumps(value).encode()
    db, calls = database(slack), web_api_calls(slack)
    r = post(slack, body, FORM if as_form else JSON, how)
    assert r.status_code == (400 if how == "signed" else 401), (value, r.text[:200])
    assert_unchanged(slack, db, calls)


def test_property_any_json_is_refused(slack: SlackDoor) -> None:
    """Any JSON value as the interaction payload or the event body: never understood."""
    _any_json(slack)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(body=st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
       content_type=st.sampled_from([FORM, JSON, "text/plain", "", "application/JSON; x=1"]),
       how=SIGNINGS)
def _any_bytes(slack: SlackDoor, body: bytes, content_type: str, how: str) -> None:
    db, calls = database(slack), web_api_calls(slack)
    r = post(slack, body, content_type, how)
    assert r.status_code in ((400, 401) if how == "signed" else (401,)), (body, r.text[:200])
    assert_unchanged(slack, db, calls)


def test_property_any_bytes_get_a_4xx(slack: SlackDoor) -> None:
    _any_bytes(slack)


# ---------------------------------------------------------------- the checker itself


def test_the_checked_blocks_are_the_blocks_of_meld_modals() -> None:
    """payloads._Values names every input block of the modals whose submissions Meld reads,
    so a new block is checked at the door too."""
    tr, tax = Translator("nb"), load_taxonomy()
    warning = FieldError("description", "phone_number", warning=True)
    modals = [
        views.report_modal(tr, tax, today=date(2026, 3, 2), warnings=[warning]),
        views.text_modal(tr, callback_id=views.ANSWER_CALLBACK, title="Svar", label_text="x",
                         reference="MELD-2026-0001", warnings=[warning]),
        views.close_modal(tr, "MELD-2026-0001"),
        views.assess_modal(tr, tax, report_view()),
    ]
    blocks = {b.block_id for modal in modals for b in modal.blocks if b.type == "input"}
    assert {views.NO_IDS, views.CONFIRM, "text", "measure", "category"} <= blocks
    assert blocks == set(payloads._Values.model_fields)

"""JSON nested deeper than Python's stack, at every JSON door: 400, never a 500.

`{"a":{"a":...}}` or `[[[...]]]` 100,000 levels deep makes json.loads raise RecursionError
(not a JSONDecodeError). Every door that reads JSON answers a body it cannot parse with
400 and stores nothing; the Teams door checks the token before it parses anything.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlencode

import httpx

from storage import models as m
from tests.bot.conftest import SIGNING_SECRET, SlackDoor, fake_slack, slack_both  # noqa: F401
from tests.doors.conftest import Door, submit
from tests.doors.conftest import status_token as status_token_of
from tests.teams.conftest import TeamsHarness, ms, ms_session, teams_both  # noqa: F401

DEPTH = 100_000


def _nested_object(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def _nested_array(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


UNPARSABLE = {
    "object": _nested_object(DEPTH),
    "array": _nested_array(DEPTH),
    "unclosed array": b"[" * DEPTH,
    "inside a field": b'{"kind": ' + _nested_array(5_000) + b', "description": "x"}',
    "syntax error": b'{"kind": "deviation",',
    "not UTF-8": b'{"kind": "\xff\xfe"}',
}
STORED = (m.Report, m.Message, m.AuditEvent, m.OutboxMessage, m.TeamsConversation)
JSON = {"Content-Type": "application/json"}


def _counts(door: Door) -> tuple[int, ...]:
    return tuple(door.count(model) for model in STORED)


def json_routes(client: httpx.Client) -> list[tuple[str, str]]:
    """(method, path) of every operation whose OpenAPI request body is JSON."""
    schema = client.get("/openapi.json").json()
    return sorted((method.upper(), path) for path, operations in schema["paths"].items()
                  for method, operation in operations.items()
                  if "application/json" in operation.get("requestBody", {}).get("content", {}))


def test_every_json_api_route_answers_400_invalid_json(door: Door, group: httpx.Client,
                                                       api: httpx.Client) -> None:
    receipt = submit(api)
    params = {"reference": receipt["reference"], "token": status_token_of(receipt)}
    routes = json_routes(api)
    assert ("POST", "/api/v1/reports") in routes and len(routes) >= 10
    before = _counts(door)
    for method, template in routes:
        path = template.format(**params)
        for name, body in UNPARSABLE.items():
            for client in (group, api):  # with and without a token: parsed first either way
                r = client.request(method, path, content=body,
                                   headers={**JSON, "Accept-Language": "en"})
                assert r.status_code == 400, (method, template, name, r.text)
                assert r.json() == {"code": "invalid_json",
                                    "message": "The request body is not valid JSON."}
    assert _counts(door) == before


def test_a_deep_body_that_parses_is_a_shape_error(group: httpx.Client) -> None:
    """Nesting within the stack is parsed, and refused for its shape like any other."""
    r = group.post("/api/v1/reports", content=b'{"kind": ' + _nested_array(100) + b"}",
                   headers=JSON)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "validation_failed"


def test_the_teams_door_checks_the_token_before_parsing(
        teams_both: TeamsHarness) -> None:  # noqa: F811
    h = teams_both
    for name, body in UNPARSABLE.items():
        r = h.http.post("/api/messages", content=body, headers=JSON)
        assert (r.status_code, r.json()["code"]) == (401, "missing_token"), name
        r = h.http.post("/api/messages", content=body,
                        headers={**JSON, "Authorization": f"Bearer {h.ms.jwt(audience='x')}"})
        assert (r.status_code, r.json()["code"]) == (401, "bad_audience"), name
        r = h.http.post("/api/messages", content=body,
                        headers={**JSON, "Authorization": f"Bearer {h.ms.jwt()}"})
        assert (r.status_code, r.json()["code"]) == (400, "invalid_json"), name
    assert _counts(h.door) == (0,) * len(STORED)
    assert h.ms.sent == []


def test_a_deep_activity_that_parses_is_served_or_refused_never_500(
        teams_both: TeamsHarness) -> None:  # noqa: F811
    h = teams_both
    deep: Any = 1
    for _ in range(200):
        deep = {"a": deep}
    activity = h.activity("invoke", name="adaptiveCard/action",
                          value={"action": {"verb": "meld_submit", "data": deep}})
    r = h.post(activity)
    assert r.status_code == 200, r.text
    assert h.reports() == []
    r = h.post(dict(h.activity("message", text="meld"), channelData={"tenant": {"id": deep}}))
    assert (r.status_code, r.json()["code"]) == (403, "tenant_not_allowed")
    h.wait_replies()
    assert h.reports() == [] and h.ms.sent == []


def _slack_signature(body: bytes, timestamp: str) -> str:
    """Slack's v0 signature over the raw bytes (slack_sdk's signer wants UTF-8 text)."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()


def test_the_slack_door_checks_the_signature_before_parsing(
        slack_both: SlackDoor) -> None:  # noqa: F811
    sd = slack_both
    # events are JSON; interactivity is a form whose payload is JSON. (Bytes that are no
    # UTF-8 fail Slack's signature check itself, which reads the body as text: 401.)
    bodies = {
        **{f"event: {name}": (body, "application/json")
           for name, body in UNPARSABLE.items() if name != "not UTF-8"},
        "interaction: array": (urlencode({"payload": _nested_array(DEPTH)}).encode(),
                               "application/x-www-form-urlencoded"),
        "interaction: object": (urlencode({"payload": _nested_object(40_000)}).encode(),
                                "application/x-www-form-urlencoded"),
    }
    for name, (body, content_type) in bodies.items():
        r = sd.post(body, content_type, signature="v0=" + "0" * 64)
        assert r.status_code == 401, (name, r.text)
        ts = str(int(time.time()))
        r = sd.post(body, content_type, timestamp=ts, signature=_slack_signature(body, ts))
        assert r.status_code == 400, (name, r.text)
        assert r.headers["content-type"].startswith("application/json")
    assert _counts(sd.door) == (0,) * len(STORED)
    assert sd.fake.calls == []

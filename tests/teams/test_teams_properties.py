"""Property tests over the Teams door's activity shapes: never a 500, nothing left behind.

Each example starts from an activity Teams sends (a message, the report form's Execute,
a dialog, the message action, the bot being added) and then drops fields the door reads,
gives them values of any JSON type, and adds keys Teams never sends. Posted with a genuine
token to the real app, the answer is 200, 400 or 403, never a 5xx; a refused activity
(400, 403) stores nothing but a refusal's audit row and calls no Bot Connector.
Bounded and derandomized, on both databases.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from storage import models as m
from tests.teams.conftest import GROUP, TeamsHarness, form_data
from tests.teams_fake import BOT_ID, TENANT_ID

MAX_EXAMPLES = 150
FORM_KEYS = (*form_data(), "confirm_warnings", "link")

# the fields the door reads, as paths into the activity
READ = [
    ("type",), ("id",), ("name",), ("text",), ("locale",), ("timestamp",), ("serviceUrl",),
    ("channelId",), ("from",), ("from", "id"), ("from", "aadObjectId"), ("recipient",),
    ("recipient", "id"), ("conversation",), ("conversation", "id"),
    ("conversation", "conversationType"), ("conversation", "tenantId"), ("channelData",),
    ("channelData", "tenant"), ("channelData", "tenant", "id"), ("membersAdded",),
    ("value",), ("value", "action"), ("value", "action", "verb"), ("value", "action", "data"),
    *(("value", "action", "data", k) for k in FORM_KEYS),
    ("value", "data"), ("value", "data", "meld"), ("value", "data", "reference"),
    ("value", "data", "text"), ("value", "data", "category"),
    ("value", "messagePayload"), ("value", "messagePayload", "body"),
    ("value", "messagePayload", "body", "content"),
    ("value", "messagePayload", "body", "contentType"),
    ("value", "messagePayload", "linkToMessage"),
]

# strings that once broke a door: empty, NUL (PostgreSQL refuses it), longer than a column,
# a lone surrogate (no UTF-8), line separators, markup
HOSTILE = st.sampled_from(["", " ", "\x00", "a\x00b", "x" * 301, "\ud800", "\u2028",
                           "<at>Meld</at>", "MELD-2026-0001", "true"])
SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
           | HOSTILE)
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=6)

MUTATIONS = st.one_of(
    st.tuples(st.just("drop"), st.sampled_from(READ), st.none()),
    st.tuples(st.just("set"), st.sampled_from(READ), JSON_VALUES),
    st.tuples(st.just("extra"), st.sampled_from([(), *READ]),
              st.tuples(st.text(min_size=1, max_size=12), JSON_VALUES)),
)

FOREIGN = "12345678-aaaa-4bbb-8ccc-1234567890ab"
TENANTS = {  # what conversation.tenantId and channelData.tenant.id name (None: no key)
    "ours": (TENANT_ID, TENANT_ID), "ours, only in channelData": (None, TENANT_ID),
    "foreign": (FOREIGN, FOREIGN), "none": (None, None), "mixed": (TENANT_ID, FOREIGN),
}

# the ids the door stores (conversation references, audit rows), drawn more often
STORED_IDS = [("from", "id"), ("from", "aadObjectId"), ("recipient", "id"),
              ("conversation", "id")]
ID_CHANGES = st.lists(st.tuples(st.just("set"), st.sampled_from(STORED_IDS),
                                HOSTILE | st.text(max_size=40)), max_size=2)

KINDS = ["message", "channel command", "submit", "task/fetch", "task/submit",
         "message action", "dialog submit", "installed"]


def base(h: TeamsHarness, kind: str, reference: str) -> dict[str, Any]:
    """An activity as Teams sends it."""
    if kind == "message":
        return h.activity("message", text="meld Epikrisen kom aldri")
    if kind == "channel command":
        return h.activity("message", text="<at>Meld</at> liste", user=GROUP,
                          conversation="channel")
    if kind == "submit":
        return h.activity("invoke", name="adaptiveCard/action", value={
            "action": {"type": "Action.Execute", "verb": "meld_submit", "data": form_data()},
            "trigger": "manual"})
    if kind == "task/fetch":
        return h.activity("invoke", name="task/fetch", user=GROUP, conversation="channel",
                          value={"data": {"meld": "show", "reference": reference}})
    if kind == "task/submit":
        return h.activity("invoke", name="task/submit", value={"data": {
            "meld": "answer", "reference": reference, "text": "Det gjaldt epikrisen."}})
    if kind == "message action":
        return h.activity("invoke", name="composeExtension/fetchTask", value={
            "commandId": "meld_message", "messagePayload": {
                "body": {"contentType": "html", "content": "<p>Epikrisen kom aldri.</p>"},
                "linkToMessage": "https://teams.microsoft.com/l/message/1"}})
    if kind == "dialog submit":
        return h.activity("invoke", name="composeExtension/submitAction",
                          value={"data": form_data(key="dialog-key")})
    return h.activity("conversationUpdate", membersAdded=[{"id": BOT_ID}])


def with_tenant(activity: dict[str, Any], tenant: str) -> dict[str, Any]:
    conversation, channel = TENANTS[tenant]
    out = copy.deepcopy(activity)
    out["conversation"].pop("tenantId", None)
    out.pop("channelData", None)
    if conversation is not None:
        out["conversation"]["tenantId"] = conversation
    if channel is not None:
        out["channelData"] = {"tenant": {"id": channel}}
    return out


def mutate(activity: dict[str, Any], mutations: list[tuple[str, Any, Any]]) -> dict[str, Any]:
    out = copy.deepcopy(activity)
    for op, path, arg in mutations:
        if op == "extra":
            key, value = arg
            path = (*path, key)
        *parents, last = path
        target: Any = out
        for part in parents:
            target = target.get(part) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            continue
        if op == "drop":
            target.pop(last, None)
        else:
            target[last] = arg if op == "set" else value
    return out


def _counts(h: TeamsHarness) -> dict[str, int]:
    with h.ctx.db.reading() as session:
        return {model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
                for model in (m.Report, m.Message, m.OutboxMessage, m.TeamsConversation,
                              m.AuditEvent)}


def test_any_activity_shape_is_answered_and_a_refused_one_leaves_nothing(
        teams_both: TeamsHarness) -> None:
    h = teams_both
    reference = h.seed_report()
    token = h.ms.jwt()
    statuses: dict[int, int] = {}

    @given(kind=st.sampled_from(KINDS), tenant=st.sampled_from(list(TENANTS)),
           ids=ID_CHANGES, mutations=st.lists(MUTATIONS, max_size=4))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(kind: str, tenant: str, ids: list[tuple[str, Any, Any]],
            mutations: list[tuple[str, Any, Any]]) -> None:
        activity = mutate(with_tenant(base(h, kind, reference), tenant), ids + mutations)
        before, sent = _counts(h), len(h.ms.sent)
        r = h.http.post("/api/messages", content=json.dumps(activity).encode(),  # ASCII
                        headers={"Authorization": f"Bearer {token}",
                                 "Content-Type": "application/json"})
        h.wait_replies()
        assert r.status_code in (200, 400, 403), (r.status_code, r.text, activity)
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        if r.content:
            assert isinstance(r.json(), dict)
        after = _counts(h)
        if r.status_code == 200:
            return
        refusals = after.pop("AuditEvent") - before.pop("AuditEvent")
        assert after == before, activity
        assert refusals in ((0, 1) if r.status_code == 403 else (0,)), activity
        assert len(h.ms.sent) == sent, activity

    run()
    # the examples reached every answer: served, malformed and refused
    assert set(statuses) == {200, 400, 403}, statuses

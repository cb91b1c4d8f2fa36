"""Meld is a single-tenant bot: an activity of another Entra tenant, or of none, is refused.

Every case sends an activity Teams could send with a genuine token for Meld's app and
asserts a 403 (in the invoke's own answer shape), an audited refusal, and nothing else:
no report, no conversation reference, no call to the Bot Connector. The same activity
with our tenant is then served, so the refusal is for the tenant and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from microsoft_agents.activity import Activity
from sqlalchemy import select

from bot.teams.auth import AuthError, check_tenant
from bot.teams.door import INVOKE_ERROR_TYPE
from storage import models as m
from tests.teams.conftest import GROUP, OUTSIDER, REPORTER, TeamsHarness, form_data
from tests.teams_fake import BOT_ID, TENANT_ID

FOREIGN = "12345678-aaaa-4bbb-8ccc-1234567890ab"
REFUSAL = "Meld i Teams betjener bare sin egen organisasjon."
ABSENT = object()  # the key is left out


def set_tenants(activity: dict[str, Any], *, conversation: object = ABSENT,
                channel: object = ABSENT) -> dict[str, Any]:
    """The activity naming `conversation` in conversation.tenantId and `channel` in
    channelData.tenant.id (ABSENT: that key is not there at all)."""
    activity = dict(activity, conversation=dict(activity["conversation"]))
    activity["conversation"].pop("tenantId", None)
    activity.pop("channelData", None)
    if conversation is not ABSENT:
        activity["conversation"]["tenantId"] = conversation
    if channel is not ABSENT:
        activity["channelData"] = {"tenant": {"id": channel}}
    return activity


def _message(h: TeamsHarness) -> dict[str, Any]:
    return h.activity("message", text="meld")


def _submit(h: TeamsHarness) -> dict[str, Any]:
    return h.activity("invoke", name="adaptiveCard/action", value={
        "action": {"type": "Action.Execute", "verb": "meld_submit", "data": form_data()},
        "trigger": "manual"})


def _task_fetch(h: TeamsHarness) -> dict[str, Any]:
    reference = h.seed_report()
    return h.activity("invoke", name="task/fetch", user=GROUP, conversation="channel",
                      value={"data": {"meld": "show", "reference": reference}})


def _message_action(h: TeamsHarness) -> dict[str, Any]:
    return h.activity("invoke", name="composeExtension/fetchTask", value={
        "commandId": "meld_message", "messagePayload": {
            "body": {"contentType": "text", "content": "Epikrisen kom aldri."}}})


def _installed(h: TeamsHarness) -> dict[str, Any]:
    return h.activity("conversationUpdate", membersAdded=[{"id": BOT_ID}])


KINDS: dict[str, Callable[[TeamsHarness], dict[str, Any]]] = {
    "message": _message, "adaptiveCard/action": _submit, "task/fetch": _task_fetch,
    "composeExtension/fetchTask": _message_action, "conversationUpdate": _installed,
}

TENANTS = {  # what the refused activity names, and the refusal's code
    "another tenant": (dict(conversation=FOREIGN, channel=FOREIGN), "tenant_not_allowed"),
    "no tenant": ({}, "tenant_missing"),
    "tenant ids of null": (dict(conversation=None, channel=None), "tenant_missing"),
    "conversation ours, channelData foreign": (dict(conversation=TENANT_ID, channel=FOREIGN),
                                               "tenant_not_allowed"),
    "conversation foreign, channelData ours": (dict(conversation=FOREIGN, channel=TENANT_ID),
                                               "tenant_not_allowed"),
}


def _answer_shape(kind: str, code: str, body: dict[str, Any]) -> None:
    if kind == "adaptiveCard/action":
        assert body == {"statusCode": 403, "type": INVOKE_ERROR_TYPE,
                        "value": {"code": code, "message": REFUSAL}}
    elif kind in ("task/fetch", "composeExtension/fetchTask"):
        assert body == {"task": {"type": "message", "value": REFUSAL}}
    else:
        assert body == {"code": code, "message": REFUSAL}


@pytest.mark.parametrize("tenants", list(TENANTS), ids=list(TENANTS))
@pytest.mark.parametrize("kind", list(KINDS), ids=list(KINDS))
def test_only_our_tenant_is_served(teams_both: TeamsHarness, kind: str, tenants: str) -> None:
    h = teams_both
    make = KINDS[kind]
    named, code = TENANTS[tenants]
    refused = set_tenants(make(h), **named)
    reports = len(h.reports())  # task/fetch's activity names a report it seeds

    r = h.post(refused)
    h.wait_replies()
    assert r.status_code == 403, r.text
    _answer_shape(kind, code, r.json())
    refusals = h.audit("denied")
    assert [e.details for e in refusals] == [{"attempted": f"teams:{code}"}]
    assert refusals[0].report_id is None
    assert len(h.reports()) == reports
    assert h.door.count(m.TeamsConversation) == 0
    assert h.ms.sent == []

    # the very same activity, naming our tenant (in upper case: ids ignore case), is served
    served = set_tenants(make(h), conversation=TENANT_ID, channel=TENANT_ID.upper())
    reports = len(h.reports())
    r = h.post(served)
    h.wait_replies()
    assert r.status_code == 200, r.text
    assert h.door.count(m.TeamsConversation) >= 1
    assert set(_stored_tenants(h)) == {TENANT_ID}
    assert len(h.audit("denied")) == 1
    if kind == "adaptiveCard/action":
        assert len(h.reports()) == reports + 1
    if kind == "task/fetch":  # the group member reads the report: an audited read
        assert h.audit("read")
    if kind in ("message", "conversationUpdate"):
        assert len(h.ms.wait_sent(1)) == 1


def _stored_tenants(h: TeamsHarness) -> list[str | None]:
    with h.ctx.db.reading() as session:
        return list(session.scalars(select(m.TeamsConversation.tenant_id)))


def test_a_reference_carries_our_tenant_when_only_channel_data_names_it(
        teams_both: TeamsHarness) -> None:
    """Proactive messages need the tenant: the reference gets ours, however it was named."""
    h = teams_both
    r = h.post(set_tenants(_message(h), channel=TENANT_ID.upper()))
    h.wait_replies()
    assert r.status_code == 200, r.text
    assert _stored_tenants(h) == [TENANT_ID]


def test_a_foreign_group_member_id_gets_no_group_rights(teams_both: TeamsHarness) -> None:
    """The group member's own Entra id, in another tenant's activity, changes nothing."""
    h = teams_both
    reference = h.seed_report(OUTSIDER)
    activity = h.activity("invoke", name="task/submit", user=GROUP, conversation="channel",
                          value={"data": {"meld": "assess", "reference": reference,
                                          "category": "medication",
                                          "assessed_severity": "moderate"}})
    r = h.post(set_tenants(activity, conversation=FOREIGN, channel=FOREIGN))
    assert r.status_code == 403
    assert [e.actor_id for e in h.audit("denied")] == [f"teams:{GROUP}"]
    assert h.audit("assessed") == []
    assert [rep.assessed_severity for rep in h.reports()] == [None]
    r = h.post(activity)  # from our tenant, the same dialog saves the assessment
    assert r.status_code == 200, r.text
    assert [rep.assessed_severity for rep in h.reports()] == ["moderate"]
    assert len(h.audit("assessed")) == 1


# --- the rule on its own: every place that names a tenant counts ------------------------

BASE = {"type": "message", "serviceUrl": "https://smba.example/", "channelId": "msteams",
        "from": {"id": "29:x", "aadObjectId": REPORTER},
        "conversation": {"id": "a:1", "conversationType": "personal"}}


def _activity(**changes: Any) -> Activity:
    raw = dict(BASE, conversation=dict(BASE["conversation"]), **{"from": dict(BASE["from"])})
    for path, value in changes.items():
        target = raw
        *parents, last = path.split("__")
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    return Activity.model_validate(raw)


RULE = [
    # (what the activity names, the code, or None when it is served)
    ({"channelData__tenant__id": TENANT_ID}, None),
    ({"conversation__tenantId": TENANT_ID}, None),
    ({"channelData__tenant__id": TENANT_ID.upper(), "conversation__tenantId": TENANT_ID},
     None),
    ({"channelData__tenant__id": TENANT_ID, "from__tenantId": TENANT_ID}, None),
    ({}, "tenant_missing"),
    ({"channelData__other": 1}, "tenant_missing"),
    ({"channelData__tenant__id": FOREIGN}, "tenant_not_allowed"),
    ({"conversation__tenantId": FOREIGN}, "tenant_not_allowed"),
    ({"channelData__tenant__id": TENANT_ID, "from__tenantId": FOREIGN}, "tenant_not_allowed"),
    ({"channelData__tenant__id": TENANT_ID + " "}, "tenant_not_allowed"),
    ({"channelData__tenant__id": 5, "conversation__tenantId": TENANT_ID},
     "tenant_not_allowed"),
    ({"channelData__tenant__id": None, "conversation__tenantId": TENANT_ID}, None),
    ({"channelData__tenant": {}, "conversation__tenantId": TENANT_ID}, None),
    ({"channelData__tenant__id": None}, "tenant_missing"),
    ({"channelData__tenant": TENANT_ID, "conversation__tenantId": TENANT_ID},
     "tenant_not_allowed"),
    ({"channelData": [TENANT_ID], "conversation__tenantId": TENANT_ID},
     "tenant_not_allowed"),
]


@pytest.mark.parametrize(("named", "code"), RULE, ids=[str(n) for n, _ in RULE])
def test_the_tenant_rule(named: dict[str, Any], code: str | None) -> None:
    activity = _activity(**named)
    if code is None:
        check_tenant(activity, TENANT_ID)
        return
    with pytest.raises(AuthError) as err:
        check_tenant(activity, TENANT_ID)
    assert (err.value.code, err.value.status) == (code, 403)


def test_without_a_configured_tenant_nothing_is_served() -> None:
    with pytest.raises(AuthError):
        check_tenant(_activity(channelData__tenant__id=TENANT_ID), None)
    with pytest.raises(AuthError):
        check_tenant(_activity(channelData__tenant__id=""), "")


def test_a_reference_stored_from_a_foreign_tenant_before_the_rule_gets_nothing(
        teams_both: TeamsHarness) -> None:
    """A database from before the single-tenant rule may hold a foreign reference: the
    notifier never sends Meld's bot token there; the notice fails for good, visibly."""
    from intake import services
    from intake.delivery.conversations import ConversationStore, Reference, user_key
    from intake.domain.model import Actor, Role
    from tests.integration.helpers import draft

    h = teams_both
    store = ConversationStore(h.ctx.db)
    store.remember(Reference(key=user_key("foreign-user"), conversation_id="a:foreign-chat",
                             user_id="29:foreign", service_url=h.ms.service_url,
                             tenant_id="99999999-0000-4000-8000-000000000000",
                             bot_id=BOT_ID))
    services.submit_report(ctx=h.ctx, actor=Actor("teams:foreign-user", Role.REPORTER),
                           draft=draft())
    h.ms.sent.clear()
    h.drain()
    assert [s for s in h.ms.sent if "a:foreign-chat" in s.path] == []
    with h.ctx.db.reading() as s:
        errors = s.scalars(select(m.OutboxMessage.last_error)
                           .where(m.OutboxMessage.channel == "teams")).all()
    assert errors == ["teams_foreign_tenant"]

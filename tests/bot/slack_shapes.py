"""Every Slack listener's payload and the fields Bolt and the listener read, by JSON type.

Shared by the HTTP door's and Socket Mode's shape properties (test_slack_malformed.py,
test_slack_socket_mode.py). A `Case` builds a valid payload for one listener (fresh ids,
seeding what it needs) and names the fields read from it: the types each may have and
whether it may be left out. `mutations(case)` draws one change to such a payload: a field
of a wrong type, a field left out, unknown keys added, or (modals) private_metadata Meld
did not write; `expected(...)` says what the door must answer.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from hypothesis import strategies as st
from sqlalchemy import select

from intake import services
from intake.domain.model import Actor, Role
from storage import models as m
from tests.bot.conftest import (
    APP_ID,
    GROUP_USER,
    OUTSIDER,
    REPORTER,
    SlackDoor,
    block_action,
    checkbox_state,
    report_values,
    select_state,
    slack_team,
    slack_user,
    text_state,
    view_submission,
)
from tests.slack_fake import BOT_USER_ID, TEAM_ID

NONE = type(None)
RESPONSE_URL = "response_url"  # what web_api_calls names a post to a payload's response_url
TITLE = "Epikrise mangler ved utskriving"  # a public title, written by the group
Path = tuple[str | int, ...]
GROUP = Actor(identity=f"slack:{GROUP_USER}", role=Role.TRIAGER)
# a payload's ids and team objects, as Bolt's context extraction reads them
ID_OR_OBJECT = (str, dict, NONE)
OPTIONAL_TEXT = (str, NONE)


@dataclass(frozen=True)
class Read:
    """A field read from a payload: its path, the JSON types it may have, and whether the
    request is refused without it."""

    path: Path
    types: tuple[type, ...]
    required: bool = False


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # "command" (form fields), "interactive" (payload=JSON) or "event" (JSON)
    build: Callable[[SlackDoor, int], dict[str, Any]]
    reads: tuple[Read, ...]
    effect: tuple[str, ...] = ()  # Web API methods a valid request calls, in any order
    stores: bool = False  # a valid request changes the database
    metadata: str | None = None  # "report" or "reference": the modal's private_metadata


# ---------------------------------------------------------------- what a case reads


def _bolt_reads(payload: dict[str, Any]) -> list[Read]:
    """The ids Bolt's context extraction reads, where the payload has them."""
    reads = []
    for key in ("team", "enterprise", "channel", "user"):
        if key in payload:
            reads.append(Read((key,), ID_OR_OBJECT))
            if isinstance(payload[key], dict) and "id" in payload[key]:
                reads.append(Read((key, "id"), OPTIONAL_TEXT))
    for key in ("team_id", "enterprise_id", "channel_id", "response_url"):
        if key in payload:
            reads.append(Read((key,), OPTIONAL_TEXT))
    if "response_urls" in payload:
        reads.append(Read(("response_urls",), (list, NONE)))
    if "message" in payload:
        reads.append(Read(("message",), (dict, NONE)))
    return reads


def _state_reads(values: dict[str, Any]) -> list[Read]:
    """A modal's state.values: every block, its input and what `views._value` reads."""
    base: Path = ("view", "state", "values")
    reads = [Read(("view", "state"), (dict,)), Read(base, (dict,))]
    for block, actions in values.items():
        element = actions["value"]
        here: Path = (*base, block, "value")
        reads += [Read((*base, block), (dict,)), Read(here, (dict,)),
                  Read((*here, "type"), OPTIONAL_TEXT)]
        if "selected_option" in element:
            reads.append(Read((*here, "selected_option"), (dict, NONE)))
            if element["selected_option"] is not None:
                reads.append(Read((*here, "selected_option", "value"), (str,), True))
        if "selected_options" in element:
            reads.append(Read((*here, "selected_options"), (list, NONE)))
            if element["selected_options"]:
                reads += [Read((*here, "selected_options", 0), (dict,)),
                          Read((*here, "selected_options", 0, "value"), (str,), True)]
        for key in ("selected_date", "value"):
            if key in element:
                reads.append(Read((*here, key), OPTIONAL_TEXT))
    return reads


def _reads(payload: dict[str, Any], *own: Read) -> tuple[Read, ...]:
    """The listener's own reads first; Bolt's where the listener reads nothing stricter."""
    paths = {r.path for r in own}
    return own + tuple(r for r in _bolt_reads(payload) if r.path not in paths)


# ---------------------------------------------------------------- the cases


def _command(command: str, text: str, user: str) -> Callable[[SlackDoor, int], dict[str, Any]]:
    def build(sd: SlackDoor, n: int) -> dict[str, Any]:
        return {
            "token": "verification-token", "team_id": TEAM_ID, "team_domain": "meld-test",
            "channel_id": "C0GENERAL", "channel_name": "general", "user_id": user,
            "user_name": user.lower(), "command": command, "text": text,
            "api_app_id": "A0MELDAPP", "is_enterprise_install": "false",
            "response_url": sd.response_url(), "trigger_id": f"5555.{n}.command",
        }
    return build


def _shortcut(sd: SlackDoor, n: int) -> dict[str, Any]:
    return {"type": "shortcut", "token": "verification-token", "action_ts": "1772450000.0003",
            "team": slack_team(), "user": slack_user(REPORTER), "is_enterprise_install": False,
            "enterprise": None, "callback_id": "meld_global", "trigger_id": f"7777.{n}.sc"}


def _message_shortcut(sd: SlackDoor, n: int) -> dict[str, Any]:
    return {
        "type": "message_action", "token": "verification-token",
        "action_ts": "1772450000.000400", "team": slack_team(), "user": slack_user(REPORTER),
        "channel": {"id": "C0LEGEVAKT", "name": "legevakt"}, "is_enterprise_install": False,
        "enterprise": None, "callback_id": "meld_message", "trigger_id": f"8888.{n}.msg",
        "message_ts": "1772449000.000200",
        "message": {"type": "message", "text": "Henvisningen kom i retur.", "user": "U0OTHER1",
                    "ts": "1772449000.000200", "team": TEAM_ID, "blocks": []},
        "response_url": sd.response_url(),
    }


def _button(action: str, user: str, *, seeded: bool) -> Callable[[SlackDoor, int],
                                                                  dict[str, Any]]:
    def build(sd: SlackDoor, n: int) -> dict[str, Any]:
        value = sd.seed_report() if seeded else ""
        payload = block_action(action, value, user=user, response_url=sd.response_url(),
                               trigger_id=f"9999.{n}.button")
        if not seeded:
            del payload["actions"][0]["value"]
        return payload
    return build


def _receipt_control(action_id: str, block_id: str,
                     element: Callable[[str], dict[str, Any]],
                     ) -> Callable[[SlackDoor, int], dict[str, Any]]:
    """A control in the receipt DM, pressed by its reporter: `element(reference)` is the
    action as Slack sends it, beyond its ids."""
    def build(sd: SlackDoor, n: int) -> dict[str, Any]:
        ref = sd.seed_report()
        payload = block_action(action_id, ref, user=REPORTER, response_url=sd.response_url(),
                               trigger_id=f"9898.{n}.receipt")
        payload["actions"] = [{"action_id": action_id, "block_id": block_id,
                               "action_ts": "1772450001.000200", **element(ref)}]
        return payload
    return build


# "Endre kategorien": a static_select; "Velg <forslag>" (a report left uncategorized): a button
_category_select = _receipt_control("meld_change_category", "meld_category", lambda ref: {
    "type": "static_select",
    "selected_option": {"text": {"type": "plain_text", "text": "Henvisning"},
                        "value": f"{ref}|referral"}})
_suggestion_button = _receipt_control("meld_take_suggestion", "meld_take_suggestion",
                                      lambda ref: {
    "type": "button", "text": {"type": "plain_text", "text": "Velg Henvisning"},
    "value": f"{ref}|referral", "style": "primary"})


def modal_action(action: dict[str, Any], values: dict[str, Any], *, user: str,
                 view_id: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """A block_actions payload from the open report form: a dispatched input (category,
    place, text) or a button in it, with the form's state as Slack sends it."""
    view = view_submission("meld_report", values, view_id=view_id, user=user,
                           private_metadata=json.dumps(metadata or {}))["view"]
    return {"type": "block_actions", "user": slack_user(user), "api_app_id": APP_ID,
            "token": "verification-token", "container": {"type": "view", "view_id": view_id},
            "trigger_id": f"4444.{view_id}.modal", "team": slack_team(), "enterprise": None,
            "is_enterprise_install": False, "view": view, "actions": [action]}


def form_change(block: str, values: dict[str, Any]) -> dict[str, Any]:
    """The action of a dispatched input: its block and its new value (as in the state)."""
    element = values[block]["value"]
    return {"action_id": "value", "block_id": block, "action_ts": "1772450002.000100",
            **{k: v for k, v in element.items() if k in ("type", "selected_option", "value")}}


def me_too_press(reference: str) -> dict[str, Any]:
    """A suggestion's "Dette har skjedd meg også" in the report form."""
    return {"action_id": "meld_me_too", "block_id": f"suggest:{reference}", "type": "button",
            "text": {"type": "plain_text", "text": "Dette har skjedd meg også"},
            "value": reference, "action_ts": "1772450003.000100"}


def titled_report(sd: SlackDoor) -> str:
    """An open report with a public title (suggested to reporters of its category)."""
    ref = sd.seed_report()
    if isinstance(sd, SlackDoor):
        services.set_public_title(ctx=sd.ctx, actor=GROUP, reference=ref, title=TITLE)
    return ref


def _form_change(sd: SlackDoor, n: int) -> dict[str, Any]:
    titled_report(sd)
    values = report_values()
    return modal_action(form_change("category", values), values, user=REPORTER,
                        view_id=f"V0FORM{n:05d}")


def _me_too(sd: SlackDoor, n: int) -> dict[str, Any]:
    values = report_values()
    return modal_action(me_too_press(titled_report(sd)), values, user=OUTSIDER,
                        view_id=f"V0METOO{n:05d}")


def _report_submission(sd: SlackDoor, n: int) -> dict[str, Any]:
    return view_submission("meld_report", report_values(), view_id=f"V0SHAPE{n:05d}",
                           private_metadata=json.dumps({"link": "https://meld-test.slack.com/x"}))


def _answer_submission(sd: SlackDoor, n: int) -> dict[str, Any]:
    ref = sd.seed_report()
    meta = {"reference": ref, "title": "Svar", "label": "Skriv til Forbedringsgruppen"}
    return view_submission("meld_answer", {"text": text_state("Takk, det stemmer."),
                                           "confirm_warnings": checkbox_state(False)},
                           view_id=f"V0ANSW{n:05d}", private_metadata=json.dumps(meta))


def _reply_submission(sd: SlackDoor, n: int) -> dict[str, Any]:
    ref = sd.seed_report()
    return view_submission("triage_reply", {"text": text_state("Vi har tatt det opp.")},
                           view_id=f"V0REPL{n:05d}", user=GROUP_USER,
                           private_metadata=json.dumps({"reference": ref}))


def _close_submission(sd: SlackDoor, n: int) -> dict[str, Any]:
    ref = sd.seed_report()
    if isinstance(sd, SlackDoor):  # a report is closed once it is being worked on
        services.move_status(ctx=sd.ctx, actor=GROUP, reference=ref, status="in_progress")
    return view_submission("triage_close", {"learning_point": text_state("Sjekkliste."),
                                            "measure": text_state("Rutinen er endret.")},
                           view_id=f"V0CLOS{n:05d}", user=GROUP_USER,
                           private_metadata=json.dumps({"reference": ref}))


def _assess_submission(sd: SlackDoor, n: int) -> dict[str, Any]:
    ref = sd.seed_report()
    return view_submission("triage_assess", {
        "category": select_state("referral/rejected_or_returned"),
        "assessed_severity": select_state("moderate"),
        "agreement_reference": text_state("Samarbeidsavtalen 4.2")},
        view_id=f"V0ASSE{n:05d}", user=GROUP_USER,
        private_metadata=json.dumps({"reference": ref}))


def _home_opened(sd: SlackDoor, n: int) -> dict[str, Any]:
    return {
        "token": "verification-token", "team_id": TEAM_ID, "api_app_id": "A0MELDAPP",
        "event": {"type": "app_home_opened", "user": REPORTER, "channel": f"D{REPORTER}",
                  "tab": "home", "event_ts": f"{time.time():.6f}"},
        "type": "event_callback", "event_id": f"Ev0SHAPE{n:05d}", "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": TEAM_ID, "user_id": BOT_USER_ID,
                            "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
    }


class _Probe:
    """A stand-in door for building a payload only to read its shape."""

    def seed_report(self) -> str:
        return "MELD-2026-0001"

    def response_url(self) -> str:
        return "http://127.0.0.1:9/response-url/hook"


def _shape(build: Callable[[SlackDoor, int], dict[str, Any]]) -> dict[str, Any]:
    return build(_Probe(), 0)  # type: ignore[arg-type]


def _command_case(name: str, command: str, text: str, user: str,
                  effect: tuple[str, ...]) -> Case:
    build = _command(command, text, user)
    return Case(name, "command", build, _reads(
        _shape(build), Read(("command",), (str,), True), Read(("user_id",), (str,), True),
        Read(("trigger_id",), (str,), True), Read(("text",), OPTIONAL_TEXT),
        Read(("team_id",), OPTIONAL_TEXT), Read(("channel_id",), OPTIONAL_TEXT)), effect)


def _interactive(name: str, build: Callable[[SlackDoor, int], dict[str, Any]], *own: Read,
                 effect: tuple[str, ...] = (), stores: bool = False,
                 metadata: str | None = None) -> Case:
    payload = _shape(build)
    reads = (Read(("type",), (str,), True), *own)
    if payload["type"] == "view_submission":
        reads += (Read(("user",), (dict,), True), Read(("user", "id"), (str,), True),
                  Read(("view",), (dict,), True), Read(("view", "id"), (str,), True),
                  Read(("view", "callback_id"), (str,), True),
                  Read(("view", "private_metadata"), OPTIONAL_TEXT, metadata != "report"),
                  *_state_reads(payload["view"]["state"]["values"]))
    return Case(name, "interactive", build, _reads(payload, *reads), effect, stores, metadata)


def _form_case(name: str, build: Callable[[SlackDoor, int], dict[str, Any]],
               *own: Read) -> Case:
    """A block_actions payload from the open report form: the form is updated in place."""
    payload = _shape(build)
    reads = (Read(("type",), (str,), True), Read(("user",), (dict,), True),
             Read(("user", "id"), (str,), True), Read(("view",), (dict,), True),
             Read(("view", "id"), (str,), True), Read(("view", "callback_id"), (str,), True),
             Read(("view", "hash"), OPTIONAL_TEXT),
             Read(("view", "private_metadata"), OPTIONAL_TEXT, True),
             Read(("actions",), (list,), True), Read(("actions", 0), (dict,), True),
             Read(("actions", 0, "action_id"), (str,), True), *own,
             *_state_reads(payload["view"]["state"]["values"]))
    return Case(name, "interactive", build, _reads(payload, *reads), ("views.update",),
                metadata="report")


def _button_case(name: str, action: str, user: str, *, seeded: bool, group: bool,
                 effect: tuple[str, ...] = ("views.open",)) -> Case:
    own = [Read(("trigger_id",), (str,), True), Read(("actions",), (list,), True),
           Read(("actions", 0), (dict,), True), Read(("actions", 0, "action_id"), (str,), True)]
    if seeded:
        own.append(Read(("actions", 0, "value"), (str,), True))
    if group:
        own += [Read(("user",), (dict,), True), Read(("user", "id"), (str,), True),
                Read(("response_url",), (str,), True)]
    return _interactive(name, _button(action, user, seeded=seeded), *own, effect=effect)


CASES: tuple[Case, ...] = (
    _command_case("meld_command", "/meld", "Epikrisen kom ikke", REPORTER, ("views.open",)),
    _command_case("triage_command", "/triage", "hjelp", GROUP_USER, ()),
    _interactive("global_shortcut", _shortcut, Read(("callback_id",), (str,), True),
                 Read(("trigger_id",), (str,), True), effect=("views.open",)),
    _interactive("message_shortcut", _message_shortcut, Read(("callback_id",), (str,), True),
                 Read(("trigger_id",), (str,), True), Read(("channel",), (dict, NONE)),
                 Read(("channel", "id"), OPTIONAL_TEXT), Read(("message",), (dict, NONE)),
                 Read(("message", "ts"), OPTIONAL_TEXT), Read(("message", "text"), OPTIONAL_TEXT),
                 effect=("chat.getPermalink", "views.open")),
    _button_case("new_report_button", "meld_new", REPORTER, seeded=False, group=False),
    _button_case("answer_button", "meld_answer", REPORTER, seeded=True, group=False),
    _button_case("show_button", "triage_show", GROUP_USER, seeded=True, group=True),
    _button_case("assess_button", "triage_assess", GROUP_USER, seeded=True, group=True),
    _button_case("reply_button", "triage_reply", GROUP_USER, seeded=True, group=True),
    # the value names no second report here: the member is told why, at the response_url
    _button_case("duplicate_button", "triage_duplicate", GROUP_USER, seeded=True, group=True,
                 effect=(RESPONSE_URL,)),
    _interactive("category_select", _category_select, Read(("user",), (dict,), True),
                 Read(("user", "id"), (str,), True), Read(("response_url",), (str,), True),
                 Read(("actions",), (list,), True), Read(("actions", 0), (dict,), True),
                 Read(("actions", 0, "action_id"), (str,), True),
                 Read(("actions", 0, "selected_option"), (dict,), True),
                 Read(("actions", 0, "selected_option", "value"), (str,), True),
                 effect=(RESPONSE_URL,)),
    _interactive("suggestion_button", _suggestion_button, Read(("user",), (dict,), True),
                 Read(("user", "id"), (str,), True), Read(("response_url",), (str,), True),
                 Read(("actions",), (list,), True), Read(("actions", 0), (dict,), True),
                 Read(("actions", 0, "action_id"), (str,), True),
                 Read(("actions", 0, "value"), (str,), True), effect=(RESPONSE_URL,)),
    _form_case("form_change", _form_change, Read(("actions", 0, "block_id"), (str,), True)),
    _form_case("me_too_button", _me_too, Read(("actions", 0, "value"), (str,), True)),
    _interactive("report_submission", _report_submission, stores=True, metadata="report"),
    _interactive("answer_submission", _answer_submission, stores=True, metadata="answer"),
    _interactive("reply_submission", _reply_submission, stores=True, metadata="reference"),
    _interactive("close_submission", _close_submission, stores=True, metadata="reference"),
    _interactive("assess_submission", _assess_submission, stores=True, metadata="reference"),
    Case("home_opened", "event", _home_opened, _reads(
        _shape(_home_opened), Read(("type",), (str,), True), Read(("event",), (dict,), True),
        Read(("event", "type"), (str,), True), Read(("event", "user"), (str,), True),
        Read(("event", "tab"), OPTIONAL_TEXT), Read(("event", "channel"), ID_OR_OBJECT),
        Read(("event_id",), OPTIONAL_TEXT), Read(("authorizations",), (list, NONE)),
        Read(("authorizations", 0), (dict,)),
        Read(("authorizations", 0, "team_id"), OPTIONAL_TEXT)), ("views.publish",)),
)


# ---------------------------------------------------------------- drawing one change

LEAVES: dict[type, st.SearchStrategy[Any]] = {
    NONE: st.none(),
    bool: st.booleans(),
    int: st.integers(-(2**63), 2**63),
    float: st.floats(allow_nan=False, allow_infinity=False),
    str: st.text(max_size=20),
}
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.one_of(*LEAVES.values()),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8,
)
CONTAINERS: dict[type, st.SearchStrategy[Any]] = {
    list: st.lists(JSON_VALUES, max_size=3),
    dict: st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3),
}


def wrong_value(types: tuple[type, ...]) -> st.SearchStrategy[Any]:
    """A JSON value of none of these types."""
    kinds = {**LEAVES, **CONTAINERS}
    return st.one_of(*(strategy for kind, strategy in kinds.items() if kind not in types))


# private_metadata Meld never writes: what the issue named, and more
BAD_METADATA: dict[str, list[str]] = {
    "any": ["not json", "{", "[]", '["MELD-2026-0001"]', '"MELD-2026-0001"', "42", "null",
            "{" * 3000, "x" * 3001],
    "report": ['{"link": 42}', '{"link": ["https://x"]}', '{"link": {"url": "x"}}',
               json.dumps({"link": "https://x/" + "a" * 600})],
    "reference": ['{}', '{"reference": 42}', '{"reference": null}', '{"reference": ""}',
                  json.dumps({"reference": "M" * 65})],
}
BAD_METADATA["answer"] = [*BAD_METADATA["reference"], '{"reference": "MELD-2026-0001"}',
                          '{"reference": "MELD-2026-0001", "title": 1, "label": "x"}',
                          '{"reference": "MELD-2026-0001", "title": "", "label": "x"}']


@dataclass(frozen=True)
class Mutation:
    """One change to a valid payload, and whether the door must refuse the result."""

    kind: str  # "wrong_type", "missing", "extra" or "metadata"
    path: Path
    value: Any = None
    refused: bool = True

    def apply(self, payload: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(payload)
        if self.kind == "extra":
            for parent, key, value in self.value:
                _at(out, parent)[key] = value
            return out
        if self.kind == "metadata":
            out["view"]["private_metadata"] = self.value
            return out
        parent, last = _at(out, self.path[:-1]), self.path[-1]
        if self.kind == "missing":
            del parent[last]
        else:
            parent[last] = self.value
        return out

    def __str__(self) -> str:
        return f"{self.kind} at {'.'.join(map(str, self.path))}: {self.value!r}"[:300]


def _at(obj: Any, path: Path) -> Any:
    for step in path:
        obj = obj[step]
    return obj


def _objects(payload: Any, path: Path = ()) -> Iterator[Path]:
    """Every object in a payload (where unknown keys can be added)."""
    if isinstance(payload, dict):
        yield path
        for key, value in payload.items():
            yield from _objects(value, (*path, key))
    elif isinstance(payload, list):
        for i, value in enumerate(payload):
            yield from _objects(value, (*path, i))


def mutation_kinds(case: Case, *, json_types: bool = True) -> list[str]:
    """The kinds of change that apply to a case (form fields are strings: no wrong types)."""
    kinds = ["wrong_type"] if json_types else []
    kinds += ["missing", "extra"]
    return kinds + (["metadata"] if case.metadata is not None else [])


def mutations(case: Case, kind: str) -> st.SearchStrategy[Mutation]:
    """One change of this kind to the case's payload."""
    reads = case.reads
    if kind == "wrong_type":
        return st.sampled_from(reads).flatmap(
            lambda r: wrong_value(r.types).map(lambda v: Mutation("wrong_type", r.path, v)))
    if kind == "missing":
        return st.sampled_from(reads).map(
            lambda r: Mutation("missing", r.path, refused=r.required))
    if kind == "extra":
        # keys with a hyphen: Slack's are snake_case, so Bolt and Meld read none of these
        return st.lists(st.tuples(st.sampled_from(list(_objects(_shape(case.build)))),
                                  st.text(max_size=8).map(lambda k: f"x-{k}"), JSON_VALUES),
                        min_size=1, max_size=4).map(
            lambda added: Mutation("extra", (), added, refused=False))
    assert kind == "metadata" and case.metadata is not None
    bad = BAD_METADATA["any"] + BAD_METADATA[case.metadata]
    return st.sampled_from(bad).map(
        lambda v: Mutation("metadata", ("view", "private_metadata"), v))


# ---------------------------------------------------------------- sending and observing


def http_body(case: Case, payload: dict[str, Any], *, as_json: bool) -> tuple[bytes, str]:
    """The body and content type Slack would send (slash commands as JSON on request)."""
    if case.kind == "event" or as_json:
        return json.dumps(payload).encode(), "application/json"
    if case.kind == "command":
        return urlencode(payload).encode(), "application/x-www-form-urlencoded"
    return (urlencode({"payload": json.dumps(payload)}).encode(),
            "application/x-www-form-urlencoded")


def database(sd: SlackDoor) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: "nothing changed" compares two of these."""
    with sd.ctx.db.reading() as session:
        return {table.name: [tuple(row) for row in session.execute(select(table))]
                for table in m.Base.metadata.sorted_tables}


def web_api_calls(sd: SlackDoor) -> list[str]:
    """What the door asked of Slack (auth.test is Bolt's own, once per app); a post to a
    response_url (each payload has its own) as RESPONSE_URL."""
    return [RESPONSE_URL if c.method.startswith("response-url/") else c.method
            for c in sd.fake.calls if c.method != "auth.test"]


def wait_for_calls(sd: SlackDoor, method: str, count: int, timeout: float = 5.0) -> list[str]:
    """All calls so far, once `method` has been called `count` times (or time is up)."""
    deadline = time.monotonic() + timeout
    while web_api_calls(sd).count(method) < count and time.monotonic() < deadline:
        time.sleep(0.005)
    return web_api_calls(sd)

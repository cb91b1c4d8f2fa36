"""What Slack may send Meld, checked once at the door's edge (HTTP and Socket Mode).

Bolt's context extraction and Meld's listeners index into payloads freely
(`body["user"]["id"]`, `view["state"]["values"]`, `json.loads(private_metadata)`): a signed
request of another shape would fail deep inside them as a 500 with a traceback in the log.
So before Bolt sees a request, `refusal(body)` routes it the way Bolt will (slash command,
shortcut, button, modal, event) and checks it against the model of its one listener: every
field that Bolt or the listener reads, by type. Whatever Meld has no listener for, or cannot
read, is refused with a code: the HTTP door answers 400, Socket Mode leaves it unacknowledged.
Extra keys are ignored (Slack adds fields). Nothing here logs or returns payload text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from bot.slack import views

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MAX_FORM_FIELDS = 64
MAX_METADATA = 3000  # Slack's limit for a view's private_metadata
_SAFE_ID = re.compile(r"^[A-Za-z0-9_./:+-]+$")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused: a code and where (field names, never values)."""

    code: str
    where: str = ""


class _Shape(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


Id = Annotated[str, Field(min_length=1, max_length=255)]


class _Ref(_Shape):
    """A user, team, channel or enterprise object (Bolt reads these ids into its context)."""

    id: str | None = None
    team_id: str | None = None
    enterprise_id: str | None = None


class _ResponseUrl(_Shape):
    response_url: str | None = None


class _Carrier(_Shape):
    """What Bolt's context extraction reads from a payload and, recursively, from its event,
    message and first authorization (slack_bolt.request.internals.build_context)."""

    user: str | _Ref | None = None
    team: str | _Ref | None = None
    channel: str | _Ref | None = None
    enterprise: str | _Ref | None = None
    user_id: str | None = None
    team_id: str | None = None
    channel_id: str | None = None
    enterprise_id: str | None = None
    thread_ts: str | None = None
    event: _Carrier | None = None
    message: _Carrier | None = None
    previous_message: _Carrier | None = None
    item: _Carrier | None = None
    assistant_thread: _Carrier | None = None
    authorizations: list[_Carrier] | None = None
    response_url: str | None = None
    response_urls: list[_ResponseUrl] | None = None
    function_execution_id: str | None = None
    function_data: dict[str, Any] | None = None
    bot_access_token: str | None = None
    view: dict[str, Any] | None = None
    app_installed_team_id: str | None = None


class _User(_Ref):
    id: Id


# ---------------------------------------------------------------- slash commands


class SlashCommand(_Carrier):
    """/meld and /triage (form fields: all strings)."""

    command: str
    user_id: Id
    trigger_id: Id
    text: str | None = None


# ---------------------------------------------------------------- shortcuts


class GlobalShortcut(_Carrier):
    trigger_id: Id


class _ShortcutMessage(_Carrier):
    ts: str | None = None
    text: str | None = None


class MessageShortcut(_Carrier):
    trigger_id: Id
    channel: _Ref | None = None
    message: _ShortcutMessage | None = None


# ---------------------------------------------------------------- buttons


class _Action(_Shape):
    action_id: str
    value: str | None = None


class _ValueAction(_Action):
    value: Id


class NewReportButton(_Carrier):
    """App Home's "New report": opens the empty form."""

    trigger_id: Id
    actions: list[_Action] = Field(min_length=1)


class AnswerButton(_Carrier):
    """The reporter's "Answer" in a DM: opens a one-field form for the report in `value`."""

    trigger_id: Id
    actions: list[_ValueAction] = Field(min_length=1)


class GroupButton(_Carrier):
    """The triage card's buttons: the group member, the report, and where to say "no"."""

    user: _User
    trigger_id: Id
    response_url: Id
    actions: list[_ValueAction] = Field(min_length=1)


class RateButton(_Carrier):
    """"Var svaret nyttig?" in the closing DM: the reporter, the report, where to answer."""

    user: _User
    response_url: Id
    actions: list[_ValueAction] = Field(min_length=1)


class _Chosen(_Shape):
    value: str = Field(max_length=150)  # Slack's limit for an option's value


class _SelectAction(_Shape):
    action_id: str
    selected_option: _Chosen


class CategorySelect(_Carrier):
    """The receipt's "Endre kategorien" in a reporter's DM: the reporter, the choice
    ("<reference>|<category[/sub]>") and where to answer."""

    user: _User
    response_url: Id
    actions: list[_SelectAction] = Field(min_length=1)


class _SuggestionAction(_Shape):
    action_id: str
    value: str = Field(min_length=1, max_length=150)  # as an option's value


class SuggestionButton(_Carrier):
    """The receipt's "Velg <forslag>" (a report left uncategorized): the reporter, the
    choice in the select's form ("<reference>|<category[/sub]>") and where to answer."""

    user: _User
    response_url: Id
    actions: list[_SuggestionAction] = Field(min_length=1)


# ---------------------------------------------------------------- modal submissions


def _json_object(value: Any) -> Any:
    """private_metadata as the listeners read it: JSON text (empty means {})."""
    if value is None or value == "":
        return {}
    if not isinstance(value, str):
        raise ValueError("private_metadata is not text")
    if len(value) > MAX_METADATA:
        raise ValueError("private_metadata is too long")
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        raise ValueError("private_metadata is not JSON") from None


class _Option(_Shape):
    value: str


class _Element(_Shape):
    """One input's state (`views._value` reads these by element type)."""

    type: str | None = None
    selected_option: _Option | None = None
    selected_options: list[_Option] | None = None
    selected_date: str | None = None
    value: str | None = None


class _Input(_Shape):
    """One input block of a modal: every Meld input has the action id "value"."""

    value: _Element = _Element()


class _Values(_Shape):
    """The blocks of Meld's modals that the listeners read (views.read_report_state and
    views.read_values); other blocks and actions are not read."""

    kind: _Input = _Input()
    category: _Input = _Input()
    description: _Input = _Input()
    occurred_on: _Input = _Input()
    place: _Input = _Input()
    reporter_party: _Input = _Input()
    concerned_party: _Input = _Input()
    severity: _Input = _Input()
    no_ids: _Input = _Input()
    confirm_warnings: _Input = _Input()
    text: _Input = _Input()
    learning_point: _Input = _Input()
    measure: _Input = _Input()
    assessed_severity: _Input = _Input()
    agreement_reference: _Input = _Input()


class _State(_Shape):
    values: _Values = _Values()


class _ReportMetadata(_Shape):
    link: str | None = Field(None, max_length=500)
    # the references of the suggestions the form shows (bot.slack.suggestions)
    shown: list[Annotated[str, Field(max_length=40)]] = Field([], max_length=3)


class _ReferenceMetadata(_Shape):
    reference: str = Field(min_length=1, max_length=64)


class _AnswerMetadata(_ReferenceMetadata):
    """Shown again in the form when a reporter must confirm warnings (a View needs a title)."""

    title: str = Field(min_length=1, max_length=100)
    label: str = Field(min_length=1, max_length=300)


class _View(_Shape):
    id: Id
    callback_id: str
    state: _State = _State()


class _ReportView(_View):
    private_metadata: Annotated[_ReportMetadata, BeforeValidator(_json_object)]


class _ReferenceView(_View):
    private_metadata: Annotated[_ReferenceMetadata, BeforeValidator(_json_object)]


class _AnswerView(_View):
    private_metadata: Annotated[_AnswerMetadata, BeforeValidator(_json_object)]


class _Submission(_Carrier):
    user: _User


class ReportSubmission(_Submission):
    view: _ReportView  # type: ignore[assignment]


class ReferenceSubmission(_Submission):
    """The group's reply, closing and assessing: a form about one report."""

    view: _ReferenceView  # type: ignore[assignment]


class AnswerSubmission(_Submission):
    """The reporter's answer (the form is shown again when warnings need confirming)."""

    view: _AnswerView  # type: ignore[assignment]


# ---------------------------------------------------------------- the report form's actions


class _FormView(_ReportView):
    """The open report form (views.update needs its id, and its hash when Slack sent one)."""

    callback_id: Literal["meld_report"]  # views.REPORT_CALLBACK
    hash: str | None = None


class _FormChange(_Shape):
    action_id: str
    block_id: Literal["category", "place", "description"]


class FormChange(_Submission):
    """The report form's category, place or text changed (dispatch_action): its
    suggestions are looked up again (bot.slack.suggestions)."""

    view: _FormView  # type: ignore[assignment]
    actions: list[_FormChange] = Field(min_length=1)


class MeTooButton(_Submission):
    """A suggestion's "Dette har skjedd meg også" in the report form: the report in
    `value`, the date and place from the form's state."""

    view: _FormView  # type: ignore[assignment]
    actions: list[_ValueAction] = Field(min_length=1)


# ---------------------------------------------------------------- events


class _HomeOpenedEvent(_Carrier):
    user: Id  # type: ignore[assignment]
    tab: str | None = None


class HomeOpened(_Carrier):
    event: _HomeOpenedEvent  # type: ignore[assignment]
    event_id: str | None = None


class UrlVerification(_Shape):
    challenge: str


# what Meld has a listener for, routed the way Bolt routes (listeners.register)
ROUTES: dict[str, type[_Shape]] = {
    "command:/meld": SlashCommand,
    "command:/triage": SlashCommand,
    "shortcut:meld_global": GlobalShortcut,
    "message_action:meld_message": MessageShortcut,
    "block_actions:meld_new": NewReportButton,
    "block_actions:meld_answer": AnswerButton,
    "block_actions:meld_rate_yes": RateButton,
    "block_actions:meld_rate_partly": RateButton,
    "block_actions:meld_rate_no": RateButton,
    "block_actions:meld_change_category": CategorySelect,
    "block_actions:meld_take_suggestion": SuggestionButton,
    "block_actions:triage_show": GroupButton,
    "block_actions:triage_assess": GroupButton,
    "block_actions:triage_reply": GroupButton,
    f"block_actions:{views.DUPLICATE_ACTION}": GroupButton,
    f"block_actions:{views.FORM_ACTION}": FormChange,
    f"block_actions:{views.ME_TOO_ACTION}": MeTooButton,
    f"view_submission:{views.REPORT_CALLBACK}": ReportSubmission,
    f"view_submission:{views.ANSWER_CALLBACK}": AnswerSubmission,
    f"view_submission:{views.REPLY_CALLBACK}": ReferenceSubmission,
    f"view_submission:{views.CLOSE_CALLBACK}": ReferenceSubmission,
    f"view_submission:{views.ASSESS_CALLBACK}": ReferenceSubmission,
    "event_callback:app_home_opened": HomeOpened,
    "url_verification": UrlVerification,
}


def _get(obj: Any, *path: str | int) -> Any:
    for step in path:
        if isinstance(step, int):
            obj = obj[step] if isinstance(obj, list) and len(obj) > step else None
        else:
            obj = obj.get(step) if isinstance(obj, dict) else None
    return obj


def route(body: dict[str, Any]) -> str:
    """Which listener Bolt would give this payload to ("?" parts where it is not a string).

    Bolt takes any payload with a `command` key for a slash command, then matches the
    others by type: buttons by their first action, modals by callback, events by type.
    """
    if "command" in body:
        return f"command:{_text(body.get('command'))}"
    kind = _text(body.get("type"))
    key: Any = None
    if kind in ("shortcut", "message_action"):
        key = body.get("callback_id")
    elif kind == "block_actions":
        key = _get(body, "actions", 0, "action_id")
    elif kind == "view_submission":
        key = _get(body, "view", "callback_id")
    elif kind == "event_callback":
        key = _get(body, "event", "type")
    else:
        return kind
    return f"{kind}:{_text(key)}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "?"


def refusal(body: Any) -> Refusal | None:
    """None when Meld has a listener for this payload and can read it; else why not."""
    if not isinstance(body, dict):
        return Refusal("not_an_object")
    model = ROUTES.get(route(body))
    if model is None:
        return Refusal("unknown_request")
    try:
        model.model_validate(body)
    except ValidationError as err:
        first = err.errors(include_url=False, include_input=False)[0]
        where = ".".join(_safe(str(part)) for part in first["loc"])
        return Refusal(f"bad_{first['type']}", where)
    return None


class BadBody(ValueError):
    """The HTTP body is not one Slack sends (form fields, `payload=<JSON>` or JSON)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def parse_http(body: bytes, content_type: str) -> Any:
    """The HTTP body as Slack means it: JSON (Events API), `payload=<JSON>` (interactivity)
    or form fields (slash commands). Unlike Bolt's own parser, a slash command whose text
    says "payload" stays a slash command."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody("not_utf8") from None
    media = content_type.split(";", 1)[0].strip().lower()
    try:
        if media == JSON:
            return json.loads(text)
        if media == FORM:
            fields = dict(parse_qsl(text, keep_blank_values=True,
                                    max_num_fields=MAX_FORM_FIELDS))
            if "payload" in fields:
                return json.loads(fields["payload"])
            return fields
    except (ValueError, RecursionError):
        raise BadBody("not_json") from None
    raise BadBody("unsupported_media_type")


def describe(body: Any) -> str:
    """The request for a log line: its route and ids, never text (payloads hold reports)."""
    if not isinstance(body, dict):
        return f"({type(body).__name__})"
    ids = {
        "user": _get(body, "user", "id") or body.get("user_id") or _get(body, "event", "user"),
        "team": _get(body, "team", "id") or body.get("team_id"),
        "view": _get(body, "view", "id"),
        "event": body.get("event_id"),
    }
    shown = " ".join(f"{name}={_safe(value)}" for name, value in ids.items()
                     if value is not None)
    return f"{_safe(route(body), 80)} {shown}".strip()


def _safe(value: Any, limit: int = 64) -> str:
    text = str(value) if isinstance(value, (str, int)) else "?"
    return text if len(text) <= limit and _SAFE_ID.match(text) else "?"

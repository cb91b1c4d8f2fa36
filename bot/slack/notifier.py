"""Slack as an outbox channel: notices to reporters arrive as a direct message from the bot.

`SlackNotifier.deliver` opens the DM (`conversations.open`, once per reporter and process:
the channel id is remembered) and posts one message (`chat.postMessage`) with the notice,
the group's message (if any) as a quote, and an "Answer" button. Failures become
`intake.delivery.outbox.DeliveryError`, so the outbox worker owns retries and backoff: give
it a client without slack_sdk's own retry handlers (`slack_client()` builds one).
slack_sdk's defaults, checked against 3.47:

- `AsyncWebClient` and `WebClient` install one retry handler by default, a
  connection-error handler (`AsyncConnectionErrorRetryHandler`, max 1 retry) that re-sends
  after `ServerConnectionError`, `ServerDisconnectedError` and `ClientOSError` (which
  includes "connection refused" and "connection reset"). A reset or disconnect after
  Slack received a `chat.postMessage` is thus re-posted behind our back; and aiohttp's
  `sock_read` timeouts (`SocketTimeoutError`) are `ServerConnectionError`s too.
- A 429 is not retried by default (`RateLimitErrorRetryHandler` is opt-in); it raises
  `SlackApiError` whose response carries the `Retry-After` header. So do 5xx and
  `{"ok": false}` answers. A total timeout raises the built-in `TimeoutError`.
- The client's `timeout` (default 30 s) applies only to the sessions it makes itself;
  a `session=` passed in keeps its own timeout (aiohttp's default is 5 min).

A retry after an ambiguous failure (timeout, dropped connection, 5xx) may post the DM
twice: `chat.postMessage` has no idempotency key. For a Slack DM a duplicate is the
accepted trade-off; losing a notice is not.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    MarkdownTextObject,
    Option,
    OptionGroup,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.web.async_client import AsyncWebClient

from intake.delivery.outbox import DeliveryError, Notification
from intake.domain.model import CategorySource
from intake.domain.taxonomy import Taxonomy
from intake.i18n import Translator
from intake.texts import RATING_LABELS, notice_links, notification_text
from intake.texts_filing import (
    ALL_CATEGORIES_GROUP,
    CHANGE_CATEGORY,
    CHOOSE_SUGGESTION,
    LET_GROUP_CHOOSE,
    SUGGESTIONS_GROUP,
    category_line,
    change_choices,
    offered_choice,
)

log = logging.getLogger("meld.slack.notifier")
# The logger of every slack_sdk client Meld builds. slack_sdk formats each call and its
# answer whole (a form with a reporter's text, a DM) for a debug message whenever its
# logger's own level is unset: it tests `logger.level`, not the effective level. With a
# level set here, no body is ever formatted (a sixth of a /meld's CPU) or logged, even at
# MELD_LOG_LEVEL=DEBUG; slack_sdk's warnings still reach the log.
SDK_LOG = logging.getLogger("meld.slack.sdk")
SDK_LOG.setLevel(logging.INFO)

ANSWER_ACTION_ID = "meld_answer"
RATE_ACTION_PREFIX = "meld_rate_"  # + yes / partly / no: "Var svaret nyttig?"
# the receipt's "Endre kategorien" (a category Meld suggested or left to the group); each
# option's value is "<reference>|<category[/subcategory]>", "<reference>|" for the group
CHANGE_CATEGORY_ACTION = "meld_change_category"
# and, for a report left uncategorized, "Velg <Meld's suggestion>": a button of that value
TAKE_SUGGESTION_ACTION = "meld_take_suggestion"
OPTION_TEXT_MAX = 75  # Slack's limit for an option's text
OPTION_VALUE_MAX = 150  # and for its value
SECTION_MAX = 3000  # characters of mrkdwn in one section block (slack_sdk validates this)
NOTICE_BLOCKS_MAX = 8  # Slack allows 50 blocks per message: notice, message, button
MESSAGE_BLOCKS_MAX = 40
TEXT_MAX = 3000  # raw characters of each part in the notification (fallback) text

# The recipient cannot get a DM from us, now or later: stop trying.
PERMANENT_ERRORS = frozenset({
    "user_not_found",    # no such user (in this workspace)
    "user_disabled",     # the user was deactivated
    "user_not_visible",  # the bot may not see this user
    "cannot_dm_bot",     # the recipient is a bot
    "channel_not_found",  # the DM channel is gone
    "is_archived",
})
# What chat.postMessage answers, without posting, to a DM channel id it no longer takes:
# a remembered id is then opened afresh (conversations.open) before the notice gives up
STALE_DM_ERRORS = frozenset({"slack_channel_not_found", "slack_is_archived"})
DM_CHANNELS_MAX = 10_000  # remembered DM channel ids per process (least recent dropped)
# Not permanent on purpose: `account_inactive` means the *bot token* belongs to a deleted
# user or workspace (Slack's method docs), and `invalid_auth`, `token_revoked`,
# `missing_scope` and friends are configuration problems too. Every pending notice would
# fail the same way; once the token is fixed, retries deliver them.

_CODE_SAFE = re.compile(r"[^a-z0-9_]+")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")


def escape_mrkdwn(text: str) -> str:
    """Slack's escaping for text that must not become a mention, link or @channel."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quote_mrkdwn(text: str) -> str:
    """Escaped text as a block quote (each line starts with '>')."""
    return "\n".join(">" + line for line in escape_mrkdwn(text).split("\n"))


_ESCAPED_SIZE = {"&": 5, "<": 4, ">": 4}


def split_for_sections(text: str, limit: int = SECTION_MAX, *,
                       quoted: bool = False) -> list[str]:
    """Cut raw text into pieces whose mrkdwn form (escaped, and quoted if asked: one '>'
    per line) fits `limit` characters; cuts fall on line breaks where they can."""
    prefix = 1 if quoted else 0

    def size(s: str) -> int:
        return sum(_ESCAPED_SIZE.get(c, 1) for c in s) + prefix

    pieces: list[str] = []
    current: str | None = None
    current_size = 0
    for line in text.split("\n"):
        line_size = size(line)
        if current is not None and current_size + 1 + line_size <= limit:
            current, current_size = current + "\n" + line, current_size + 1 + line_size
            continue
        if current is not None:
            pieces.append(current)
        while line_size > limit:  # one line longer than a section: cut it
            used, cut = prefix, 0
            while used + _ESCAPED_SIZE.get(line[cut], 1) <= limit:
                used += _ESCAPED_SIZE.get(line[cut], 1)
                cut += 1
            pieces.append(line[:cut])
            line = line[cut:]
            line_size = size(line)
        current, current_size = line, line_size
    if current is not None:
        pieces.append(current)
    return [p for p in pieces if p] or [text]


def slack_user_id(recipient: str) -> str:
    """'slack:U123' -> 'U123'; anything else cannot be delivered through Slack."""
    prefix, _, user = recipient.partition(":")
    if prefix != "slack" or not _USER_ID.match(user):
        raise DeliveryError("slack_bad_recipient", permanent=True)
    return user


def render(note: Notification, tr: Translator,
           taxonomy: Taxonomy | None = None) -> tuple[str, list[dict[str, Any]]]:
    """The message for one notice: fallback text and validated Block Kit blocks.

    Everything from the database (the group's message, and payload fields such as a
    learning point that the notice quotes) is escaped, so stored text cannot mention,
    link or broadcast (`<!channel>`). Long texts take several sections. With `taxonomy`,
    a receipt for a category the reporter did not choose says so, with a select to
    change it.
    """
    notice = notification_text(note.event, note.payload, tr, "slack", links=False)
    text = escape_mrkdwn(notice[:TEXT_MAX])
    blocks: list[Block] = [
        SectionBlock(block_id=f"meld_notice_{i}", text=MarkdownTextObject(text=escape_mrkdwn(p)))
        for i, p in enumerate(split_for_sections(notice)[:NOTICE_BLOCKS_MAX])
    ]
    category = (category_block(note, tr, taxonomy)
                if taxonomy is not None and note.event == "receipt" else None)
    if category is not None:
        line = category.text.text if category.text is not None else ""
        text += "\n\n" + line
        blocks.append(category)
        take = take_suggestion_block(note, tr, taxonomy) if taxonomy is not None else None
        if take is not None:
            blocks.append(take)
    links = link_mrkdwn(note.payload)
    if links:  # where to report: the target's system, melde.no (from redirects.toml)
        text += "\n\n" + links
        blocks.append(SectionBlock(block_id="meld_links", text=MarkdownTextObject(text=links)))
    if note.message:
        short = note.message if len(note.message) <= TEXT_MAX else note.message[:TEXT_MAX] + "…"
        text += "\n\n" + quote_mrkdwn(short)
        pieces = split_for_sections(note.message, quoted=True)[:MESSAGE_BLOCKS_MAX]
        blocks += [SectionBlock(block_id=f"meld_message_{i}",
                                text=MarkdownTextObject(text=quote_mrkdwn(p)))
                   for i, p in enumerate(pieces)]
    if note.reference and asks_rating(note):
        blocks.append(ActionsBlock(block_id="meld_rating", elements=[
            ButtonElement(text=PlainTextObject(text=tr(RATING_LABELS[code]), emoji=False),
                          action_id=RATE_ACTION_PREFIX + code, value=note.reference)
            for code in RATING_LABELS
        ]))
    if note.reference:
        blocks.append(ActionsBlock(block_id="meld_actions", elements=[
            ButtonElement(text=PlainTextObject(text=tr("Answer"), emoji=False),
                          action_id=ANSWER_ACTION_ID, value=note.reference),
        ]))
    # to_dict() runs slack_sdk's validators (lengths, required fields) and raises
    # SlackObjectFormationError before anything is sent.
    return text, [block.to_dict() for block in blocks]


def _option(text: str, value: str) -> Option:
    if len(text) > OPTION_TEXT_MAX:
        text = text[:OPTION_TEXT_MAX - 1] + "…"
    return Option(value=value, text=PlainTextObject(text=text, emoji=False))


def category_block(note: Notification, tr: Translator,
                   taxonomy: Taxonomy) -> SectionBlock | None:
    """A receipt's line on a category Meld suggested or left to the group, with the select
    "Endre kategorien": Meld's suggestions, then every category, and "let the group
    choose". None when the reporter chose the category (or the receipt names none)."""
    payload = note.payload
    if payload.get("category_source") not in (CategorySource.SUGGESTED, CategorySource.NONE):
        return None
    line = category_line(taxonomy, payload, tr)
    reference = note.reference or ""
    if line is None or not reference or len(reference) > 40:
        return None
    alternatives = payload.get("alternatives")
    suggested, every = change_choices(
        taxonomy, [a for a in alternatives if isinstance(a, str)]
        if isinstance(alternatives, list) else [], tr)
    shown = {value for value, _ in suggested}

    def options(pairs: list[tuple[str, str]]) -> list[Option]:
        return [_option(label, f"{reference}|{value}") for value, label in pairs
                if len(reference) + 1 + len(value) <= OPTION_VALUE_MAX]

    # each value once: a suggestion is not repeated under "all categories"
    let_group = _option(tr(LET_GROUP_CHOOSE), f"{reference}|")
    rest = options([(v, label) for v, label in every if v not in shown])
    groups = ([OptionGroup(label=tr(SUGGESTIONS_GROUP)[:OPTION_TEXT_MAX],
                           options=[*options(suggested), let_group]),
               OptionGroup(label=tr(ALL_CATEGORIES_GROUP)[:OPTION_TEXT_MAX], options=rest)]
              if suggested else
              [OptionGroup(label=tr(ALL_CATEGORIES_GROUP)[:OPTION_TEXT_MAX],
                           options=[let_group, *rest])])
    select = StaticSelectElement(
        action_id=CHANGE_CATEGORY_ACTION,
        placeholder=PlainTextObject(text=tr(CHANGE_CATEGORY)[:150], emoji=False),
        option_groups=groups)
    return SectionBlock(block_id="meld_category",
                        text=MarkdownTextObject(text=escape_mrkdwn(line)[:SECTION_MAX]),
                        accessory=select)


def take_suggestion_block(note: Notification, tr: Translator,
                          taxonomy: Taxonomy) -> ActionsBlock | None:
    """For a receipt of a report left uncategorized, Meld's suggestion in one click: the
    button "Velg <forslag>" (value "<reference>|<category[/subcategory]>", as the
    select's); None without a suggestion a reporter may still choose."""
    offered = offered_choice(taxonomy, note.payload, tr)
    reference = note.reference or ""
    if offered is None or len(reference) + 1 + len(offered[0]) > OPTION_VALUE_MAX:
        return None
    title = tr(CHOOSE_SUGGESTION, category=offered[1])
    return ActionsBlock(block_id="meld_take_suggestion", elements=[ButtonElement(
        text=PlainTextObject(text=title if len(title) <= OPTION_TEXT_MAX
                             else title[:OPTION_TEXT_MAX - 1] + "…", emoji=False),
        action_id=TAKE_SUGGESTION_ACTION, value=f"{reference}|{offered[0]}",
        style="primary")])


def link_mrkdwn(payload: dict[str, Any]) -> str:
    """A notice's links as Slack links <url|name>, one a line (the url checked by
    notice_links, the name escaped)."""
    return "\n".join(f"<{url}|{escape_mrkdwn(name).replace('|', '/')}>"
                     for name, url in notice_links(payload))[:SECTION_MAX]


def asks_rating(note: Notification) -> bool:
    """The closing notice asks "Var svaret nyttig?" (not a reopening)."""
    return (note.event == "status_changed" and note.payload.get("status") == "closed"
            and not note.payload.get("reopened"))


def _error_code(error: object) -> str:
    code = _CODE_SAFE.sub("_", str(error or "unknown").lower()).strip("_")
    return code[:80] or "unknown"


def _retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("Retry-After") if headers is not None else None
        seconds = float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    if seconds is None or seconds < 0 or seconds != seconds:  # negative or NaN
        return None
    return min(seconds, 24 * 3600.0)


def classify(err: SlackApiError) -> DeliveryError:
    """A DeliveryError for what Slack answered (status, Retry-After, error code)."""
    response = err.response
    # an AsyncSlackResponse has status_code; for an unreadable body it is aiohttp's response
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    data = getattr(response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    if status == 429:
        return DeliveryError("slack_rate_limited",
                             retry_after=_retry_after(getattr(response, "headers", None)))
    if status is not None and status != 200:
        # a 5xx may come after Slack did the work: the outcome is unknown
        return DeliveryError(f"slack_http_{status}", ambiguous=status >= 500)
    code = _error_code(error)
    if code in ("ratelimited", "rate_limited"):
        return DeliveryError("slack_rate_limited",
                             retry_after=_retry_after(getattr(response, "headers", None)))
    return DeliveryError(f"slack_{code}", permanent=code in PERMANENT_ERRORS)


class LoopSessionClient(AsyncWebClient):
    """An AsyncWebClient whose `session`, once given one on an event loop, is used on that
    loop only: a call on any other loop (the outbox drained by a command, or by tests)
    opens a session of its own for the call, as without one. An aiohttp session belongs to
    the loop it was made on, so the running app can lend its kept connections to a client
    that other loops use too (`bot.slack.app.Slack.open_session`)."""

    _kept: aiohttp.ClientSession | None = None
    _kept_loop: asyncio.AbstractEventLoop | None = None

    @property  # type: ignore[override]
    def session(self) -> aiohttp.ClientSession | None:
        kept = self._kept
        if kept is None or kept.closed:
            return None
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:  # read outside any loop: what the client keeps
            return kept
        return kept if self._kept_loop in (None, running) else None

    @session.setter
    def session(self, value: aiohttp.ClientSession | None) -> None:
        loop = None
        if value is not None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # given outside a loop: used on any, as slack_sdk does
                loop = None
        self._kept, self._kept_loop = value, loop


def slack_client(token: str, *, base_url: str | None = None,
                 timeout: float = 10.0) -> AsyncWebClient:
    """An AsyncWebClient for the notifier: no retry handlers (the outbox retries)."""
    kwargs: dict[str, Any] = {"token": token, "timeout": timeout, "retry_handlers": [],
                              "logger": SDK_LOG}
    if base_url is not None:
        kwargs["base_url"] = base_url
    return LoopSessionClient(**kwargs)


class SlackNotifier:
    """Delivers outbox notifications to Slack reporters as a DM from the bot."""

    channel = "slack"
    # chat.postMessage has no idempotency key: after an ambiguous failure the outbox sends
    # again, and the worker logs the possible duplicate by outbox id (see intake.delivery.outbox)
    resend_blindly = True

    def __init__(self, client: AsyncWebClient, *, timezone: str = "Europe/Oslo",
                 deadline: float = 60.0, taxonomy: Taxonomy | None = None) -> None:
        self.client = client
        self.timezone = timezone
        # the category lists of a receipt's "Endre kategorien"; without it, no select
        self.taxonomy = taxonomy
        # Bounds one delivery even when the client's session has no sensible timeout; it
        # stays well inside the outbox lease (2 min), so no other worker re-claims meanwhile.
        self.deadline = deadline
        if getattr(client, "retry_handlers", None):
            log.warning("slack notifier: the client has its own retry handlers; a dropped "
                        "connection may post a DM twice. Use slack_client().")
        # each reporter's DM channel id, as conversations.open answered it (most recent last):
        # the notices to one reporter need one conversations.open, not one each
        self._dm_channels: OrderedDict[str, str] = OrderedDict()

    async def deliver(self, note: Notification) -> None:
        user = slack_user_id(note.recipient)
        tr = Translator(note.locale, self.timezone)
        try:
            text, blocks = render(note, tr, self.taxonomy)
        except SlackClientError as exc:  # SlackObjectFormationError: a rendering bug
            log.error("slack outbox id=%s: blocks do not validate (%s)",
                      note.id, type(exc).__name__)
            raise DeliveryError("slack_invalid_blocks") from None
        try:
            async with asyncio.timeout(self.deadline):
                await self._post_dm(note, user, text, blocks)
        except TimeoutError:  # our own deadline ran out
            log.info("slack outbox id=%s attempt %s: slack_timeout", note.id, note.attempt)
            raise DeliveryError("slack_timeout", ambiguous=True) from None

    async def _post_dm(self, note: Notification, user: str, text: str,
                       blocks: list[dict[str, Any]]) -> None:
        """Post to the user's DM with the bot: its channel id as conversations.open gave it
        before (a user's DM keeps its id), else opened now. A remembered channel Slack no
        longer knows (it answers so without posting) is forgotten and opened afresh, once."""
        channel = self._dm_channels.get(user)
        if channel is not None:
            self._dm_channels.move_to_end(user)
            try:
                await post_message(self.client, note, channel=channel, text=text,
                                   blocks=blocks)
                return
            except DeliveryError as err:
                if err.code not in STALE_DM_ERRORS:
                    raise
                self._dm_channels.pop(user, None)
        opened = await _call(note, self.client.conversations_open, users=user)
        channel = str(opened["channel"]["id"])
        self._dm_channels[user] = channel
        if len(self._dm_channels) > DM_CHANNELS_MAX:
            self._dm_channels.popitem(last=False)
        await post_message(self.client, note, channel=channel, text=text, blocks=blocks)


async def _call(note: Notification, method: Any, **kwargs: Any) -> Any:
    """One Web API call for an outbox note; every failure becomes a DeliveryError."""
    try:
        return await method(**kwargs)
    except SlackApiError as exc:
        err = classify(exc)
    except TimeoutError:  # aiohttp's total timeout, its socket timeouts, a caller's deadline
        err = DeliveryError("slack_timeout", ambiguous=True)
    except aiohttp.ClientConnectorError:  # refused before anything was sent: not ambiguous
        err = DeliveryError("slack_connection_error")
    except aiohttp.ClientConnectionError:  # reset, disconnected: Slack may have done it
        err = DeliveryError("slack_connection_error", ambiguous=True)
    except aiohttp.ClientError:
        err = DeliveryError("slack_client_error")
    log.info("slack outbox id=%s attempt %s: %s", note.id, note.attempt, err.code)
    raise err


async def post_message(client: AsyncWebClient, note: Notification, *, channel: str,
                       text: str, blocks: list[dict[str, Any]]) -> None:
    """chat.postMessage for an outbox note (a DM or the triage channel), no link previews."""
    posted = await _call(note, client.chat_postMessage, channel=channel, text=text,
                         blocks=blocks, unfurl_links=False, unfurl_media=False)
    log.debug("slack outbox id=%s posted ts=%s", note.id, posted.get("ts"))

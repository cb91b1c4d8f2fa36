"""Slack listeners: translate a Slack payload, make ONE service call, render the answer.

Registered by `register(app, door)`. Every listener acks within Slack's 3 s; a modal
submission stores the report before it acks (the ack carries errors back into the modal).
Exceptions are not caught here: the one `@app.error` handler logs them by type. The
report form's suggestions are in bot.slack.suggestions; the receipt's "Endre kategorien"
and the form's remembered place and parties in bot.slack.filing.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.chat import commands
from bot.slack import filing, views
from intake import services
from intake.domain.model import Actor, DomainError, PermissionDenied, Role, ValidationFailed
from intake.i18n import Translator
from intake.settings import Settings
from intake.texts import domain_error_text, error_text, rating_thanks

log = logging.getLogger("meld.slack")

DB_DOWN = (OperationalError, PoolTimeout)
MEMBERS_TTL = 300.0


@dataclass
class SlackDoor:
    """What the listeners share: the service context, settings, and a membership cache."""

    ctx: services.Context
    settings: Settings
    _members: frozenset[str] = frozenset()
    _members_at: float | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def tr(self) -> Translator:
        return Translator(self.settings.locale, self.settings.timezone)

    def today(self) -> date:
        return self.ctx.today()

    async def is_group_member(self, client: AsyncWebClient, user_id: str) -> bool:
        """Forbedringsgruppen: configured user ids, or the members of a Slack user group."""
        if user_id in self.settings.slack_group_member_ids:
            return True
        group = self.settings.slack_group_usergroup
        if not group:
            return False
        async with self._lock:
            now = time.monotonic()
            if self._members_at is None or now - self._members_at > MEMBERS_TTL:
                try:
                    result = await client.usergroups_users_list(usergroup=group)
                except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
                    # keep the last known list (empty at first): refuse rather than fail
                    log.warning("slack: user group lookup failed (%s)", type(exc).__name__)
                else:
                    self._members = frozenset(result.get("users") or [])
                    self._members_at = now
        return user_id in self._members

    async def actor(self, client: AsyncWebClient, user_id: str) -> Actor:
        role = Role.TRIAGER if await self.is_group_member(client, user_id) else Role.REPORTER
        return Actor(identity=f"slack:{user_id}", role=role)

    async def call(self, fn: Any, **kwargs: Any) -> Any:
        """Run one (synchronous) service call off the event loop."""
        return await asyncio.to_thread(fn, ctx=self.ctx, **kwargs)

    async def refuse(self, actor: Actor, action: str) -> str:
        """Audit a refused group operation and say so; the refusal stands if the audit fails."""
        try:
            err = await self.call(services.deny, actor=actor, action=action)
        except DB_DOWN:
            log.warning("slack: refusal of %s not audited: database unavailable", action)
            err = PermissionDenied("group_only")
        return domain_error_text(err, self.tr)


def register(app: AsyncApp, door: SlackDoor) -> None:
    """Attach every listener and the one error handler."""

    @app.error
    async def on_error(error: Exception, body: dict[str, Any], logger: logging.Logger) -> None:
        # ids and types only: payloads can hold report text
        kind = "?"
        if isinstance(body, dict):
            kind = body.get("type") or body.get("command") or "?"
        logger.error("slack listener failed: %s (%s)", type(error).__name__, kind)

    # ------------------------------------------------------------ reporting

    async def open_report_modal(client: AsyncWebClient, trigger_id: str,
                                user_id: str | None, *, text: str = "",
                                link: str | None = None) -> None:
        """Call after the ack: the defaults are a database read."""
        view = views.new_report_modal(door.tr, door.ctx.taxonomy, today=door.today(),
                                      text=text, link=link,
                                      defaults=await filing.form_defaults(door, user_id))
        await client.views_open(trigger_id=trigger_id, view=view)

    @app.command("/meld")
    async def meld_command(ack: AsyncAck, command: dict[str, Any],
                           client: AsyncWebClient) -> None:
        await ack()
        await open_report_modal(client, command["trigger_id"], command.get("user_id"),
                                text=_plain_text(command.get("text") or ""))

    @app.shortcut("meld_global")
    async def meld_global(ack: AsyncAck, shortcut: dict[str, Any],
                          client: AsyncWebClient) -> None:
        await ack()
        await open_report_modal(client, shortcut["trigger_id"], _user_id(shortcut))

    @app.shortcut("meld_message")
    async def meld_message(ack: AsyncAck, shortcut: dict[str, Any],
                           client: AsyncWebClient) -> None:
        await ack()
        message = shortcut.get("message") or {}
        channel = (shortcut.get("channel") or {}).get("id")
        link = None
        if channel and message.get("ts"):
            result = await client.chat_getPermalink(channel=channel, message_ts=message["ts"])
            link = result.get("permalink")
        await open_report_modal(client, shortcut["trigger_id"], _user_id(shortcut),
                                text=_plain_text(message.get("text") or ""), link=link)

    @app.action("meld_new")
    async def meld_new(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await open_report_modal(client, body["trigger_id"], _user_id(body))

    @app.view(views.REPORT_CALLBACK)
    async def report_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any],
                               client: AsyncWebClient) -> None:
        tr = door.tr
        values = views.read_report_state(view)
        draft = services.ReportDraft.from_chat_form(
            values, source_link=values["source_link"], locale=tr.locale)
        actor = Actor(identity=f"slack:{body['user']['id']}", role=Role.REPORTER)
        # the view id is the same for every delivery of one submission: idempotent
        key = f"slack:{view['id']}"
        try:
            receipt = await services.submit_report_async(ctx=door.ctx, actor=actor,
                                                         draft=draft, idempotency_key=key)
        except ValidationFailed as err:
            if err.only_warnings and not values[views.CONFIRM]:
                # show the warnings and a confirm box; the typed values stay in the form
                modal = views.report_modal(tr, door.ctx.taxonomy, today=door.today(),
                                           link=values["source_link"], values=values,
                                           warnings=err.errors)
                await ack(response_action="update", view=modal.to_dict())
                return
            await ack(response_action="errors", errors=views.modal_errors(err.errors, tr))
            return
        except DomainError as err:
            await ack(response_action="errors",
                      errors={"description": domain_error_text(err, tr)})
            return
        except DB_DOWN:
            log.warning("slack submit: database unavailable")
            await ack(response_action="errors",
                      errors={"description": error_text("database_unavailable", tr)})
            return
        await ack(response_action="clear")
        log.info("slack report stored: %s", receipt.reference)

    # ------------------------------------------------------------ reporter answers

    @app.action("meld_answer")
    async def answer_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                            client: AsyncWebClient) -> None:
        await ack()
        tr = door.tr
        modal = views.text_modal(tr, callback_id=views.ANSWER_CALLBACK, title=tr("Answer"),
                                 label_text=tr("Write to Forbedringsgruppen"),
                                 reference=action["value"])
        await client.views_open(trigger_id=body["trigger_id"], view=modal.to_dict())

    @app.view(views.ANSWER_CALLBACK)
    async def answer_submitted(ack: AsyncAck, body: dict[str, Any],
                               view: dict[str, Any]) -> None:
        actor = Actor(identity=f"slack:{body['user']['id']}", role=Role.REPORTER)
        await _submit_text(ack, services.reporter_answer, actor, view, warn=True)

    @app.action(re.compile(r"^meld_rate_(yes|partly|no)$"))
    async def rate_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                          respond: AsyncRespond) -> None:
        """"Var svaret nyttig?" in the closing DM: the answer is stored at once, and the
        reporter is told (only they see it) where to change it or add a comment."""
        await ack()
        tr = door.tr
        answer = action["action_id"].removeprefix("meld_rate_")
        reference = str(action.get("value") or "")[:40]
        actor = Actor(identity=f"slack:{body['user']['id']}", role=Role.REPORTER)
        try:
            rated = await door.call(services.rate_answer, actor=actor, reference=reference,
                                    answer=answer)
        except DomainError as err:
            text = domain_error_text(err, tr)
        except DB_DOWN:
            text = error_text("database_unavailable", tr)
        else:
            assert rated.open_until is not None
            text = rating_thanks(tr, answer=rated.answer or answer, reference=rated.reference,
                                 until=door.ctx.local_date(rated.open_until),
                                 link=services.rating_link(door.ctx, rated.reference))
        await respond(text=views.escape(text), response_type="ephemeral",
                      replace_original=False)

    async def _submit_text(ack: AsyncAck, fn: Any, actor: Actor, view: dict[str, Any],
                           warn: bool = False) -> None:
        """Store the text of a one-field modal; reporters confirm warnings in the modal."""
        tr = door.tr
        text = views.read_values(view, "text")["text"] or ""
        extra = {"confirm_warnings": views.read_checked(view, views.CONFIRM)} if warn else {}
        try:
            await door.call(fn, actor=actor, reference=views.metadata_reference(view),
                            text=text, **extra)
        except ValidationFailed as err:
            if warn and err.only_warnings:
                meta = views.metadata(view)
                modal = views.text_modal(tr, callback_id=view["callback_id"],
                                         title=meta.get("title", ""),
                                         label_text=meta.get("label", ""),
                                         reference=views.metadata_reference(view),
                                         initial=text, warnings=err.errors)
                await ack(response_action="update", view=modal.to_dict())
                return
            await ack(response_action="errors", errors={"text": domain_error_text(err, tr)})
            return
        except DomainError as err:
            await ack(response_action="errors", errors={"text": domain_error_text(err, tr)})
            return
        except DB_DOWN:
            await ack(response_action="errors",
                      errors={"text": error_text("database_unavailable", tr)})
            return
        await ack(response_action="clear")

    # ------------------------------------------------------------ working group

    @app.command("/triage")
    async def triage_command(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient,
                             respond: AsyncRespond) -> None:
        tr = door.tr
        user_id = command["user_id"]
        actor = await door.actor(client, user_id)
        if not actor.is_group:
            await ack(text=await door.refuse(actor, "slack:/triage"))
            return
        try:
            result = await door.call(
                commands.run_command, actor=actor, text=_unescape(command.get("text") or ""),
                tr=tr, assignee_of=_slack_assignee,
            )
        except DB_DOWN:
            await ack(text=error_text("database_unavailable", tr))
            return
        if result.ok and result.dialog and result.reference:
            await ack()
            await _open_dialog(client, command["trigger_id"], actor, result.dialog,
                               result.reference)
            return
        if result.ok and result.report is not None:
            await ack()
            modal = views.report_detail_modal(tr, door.ctx.taxonomy, result.report)
            await client.views_open(trigger_id=command["trigger_id"], view=modal.to_dict())
            return
        # the commands answer in plain text that may echo what was typed: never active here
        await ack(text=views.escape(result.text))

    async def _open_dialog(client: AsyncWebClient, trigger_id: str, actor: Actor,
                           dialog: str, reference: str) -> None:
        tr = door.tr
        if dialog == "close":
            modal = views.close_modal(tr, reference)
        elif dialog == "reply":
            modal = views.text_modal(tr, callback_id=views.REPLY_CALLBACK, title=tr("Reply"),
                                     label_text=tr("Message to the reporter"),
                                     reference=reference)
        else:
            report = await door.call(services.get_report, actor=actor, reference=reference,
                                     mark_read=False)  # a form: shows no messages
            modal = views.assess_modal(tr, door.ctx.taxonomy, report)
        await client.views_open(trigger_id=trigger_id, view=modal.to_dict())

    async def _group_button(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                            respond: AsyncRespond) -> Actor | None:
        await ack()
        actor = await door.actor(client, body["user"]["id"])
        if not actor.is_group:
            await respond(text=await door.refuse(actor, "slack:card"),
                          response_type="ephemeral", replace_original=False)
            return None
        return actor

    @app.action("triage_show")
    async def show_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                          client: AsyncWebClient, respond: AsyncRespond) -> None:
        actor = await _group_button(ack, body, client, respond)
        if actor is None:
            return
        report = await door.call(services.get_report, actor=actor, reference=action["value"])
        modal = views.report_detail_modal(door.tr, door.ctx.taxonomy, report)
        await client.views_open(trigger_id=body["trigger_id"], view=modal.to_dict())

    @app.action(re.compile(r"^triage_(assess|reply)$"))
    async def form_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                          client: AsyncWebClient, respond: AsyncRespond) -> None:
        """The card's Vurder and Svar buttons open the matching form."""
        actor = await _group_button(ack, body, client, respond)
        if actor is not None:
            dialog = action["action_id"].removeprefix("triage_")
            await _open_dialog(client, body["trigger_id"], actor, dialog, action["value"])

    @app.action(views.DUPLICATE_ACTION)
    async def duplicate_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                               client: AsyncWebClient, respond: AsyncRespond) -> None:
        """The card's "Marker som duplikat av MELD-...": one call, the answer to the member
        who pressed it (in the channel, only they see it)."""
        actor = await _group_button(ack, body, client, respond)
        if actor is None:
            return
        tr = door.tr
        reference, duplicate_of = views.read_duplicate_value(str(action["value"]))
        try:
            await door.call(services.mark_duplicate, actor=actor, reference=reference,
                            duplicate_of=duplicate_of)
        except DomainError as err:
            text = domain_error_text(err, tr)
        except DB_DOWN:
            log.warning("slack duplicate button: database unavailable")
            text = error_text("database_unavailable", tr)
        else:
            log.info("slack card: %s marked as a duplicate of %s", reference, duplicate_of)
            text = tr("{reference} is marked as a duplicate of {other_reference}.",
                      reference=reference, other_reference=duplicate_of)
        await respond(text=views.escape(text), response_type="ephemeral",
                      replace_original=False)

    async def _group_view_actor(ack: AsyncAck, body: dict[str, Any],
                                client: AsyncWebClient) -> Actor | None:
        actor = await door.actor(client, body["user"]["id"])
        if not actor.is_group:
            await ack(response_action="errors",
                      errors={"text": await door.refuse(actor, "slack:modal")})
            return None
        return actor

    @app.view(views.REPLY_CALLBACK)
    async def reply_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any],
                              client: AsyncWebClient) -> None:
        actor = await _group_view_actor(ack, body, client)
        if actor is not None:
            await _submit_text(ack, services.reply, actor, view)

    @app.view(views.CLOSE_CALLBACK)
    async def close_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any],
                              client: AsyncWebClient) -> None:
        actor = await _group_view_actor(ack, body, client)
        if actor is None:
            return
        values = views.read_values(view, "learning_point", "measure")
        await _run_form(ack, services.close, actor=actor,
                        reference=views.metadata_reference(view),
                        learning_point=values["learning_point"] or "",
                        measure=values["measure"] or "")

    @app.view(views.ASSESS_CALLBACK)
    async def assess_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any],
                               client: AsyncWebClient) -> None:
        actor = await _group_view_actor(ack, body, client)
        if actor is None:
            return
        values = views.read_values(view, "category", "assessed_severity",
                                   "agreement_reference")
        cat, _, sub = (values["category"] or "").partition("/")
        await _run_form(ack, services.assess, actor=actor,
                        reference=views.metadata_reference(view), category=cat or None,
                        subcategory=sub or None, assessed_severity=values["assessed_severity"],
                        agreement_reference=values["agreement_reference"])

    async def _run_form(ack: AsyncAck, fn: Any, **kwargs: Any) -> None:
        tr = door.tr
        try:
            await door.call(fn, **kwargs)
        except ValidationFailed as err:
            await ack(response_action="errors", errors=views.modal_errors(err.errors, tr))
            return
        except DomainError as err:
            first = next(iter(k for k in kwargs if k in views.FIELD_BLOCKS), "text")
            await ack(response_action="errors",
                      errors={views.FIELD_BLOCKS.get(first, first): domain_error_text(err, tr)})
            return
        except DB_DOWN:
            await ack(response_action="errors",
                      errors={"learning_point" if "learning_point" in kwargs else "category":
                              error_text("database_unavailable", tr)})
            return
        await ack(response_action="clear")

    # ------------------------------------------------------------ App Home

    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab") not in (None, "home"):
            return
        user_id = event["user"]
        actor = Actor(identity=f"slack:{user_id}", role=Role.REPORTER)
        reports = await door.call(services.list_my_reports, actor=actor, limit=30)
        replies = await door.call(services.last_group_messages, actor=actor)
        view = views.home_view(door.tr, door.ctx.taxonomy, reports, replies)
        await client.views_publish(user_id=user_id, view=view.to_dict())


_LINK = re.compile(r"<([^<>|]+)\|([^<>]+)>|<([^<>|]+)>")


def _plain_text(text: str) -> str:
    """Slack's message markup as a person reads it: <url|label> -> label, <@U1|kari> -> @kari,
    entities decoded. Used to prefill the form with text someone wrote in Slack."""

    def readable(match: re.Match[str]) -> str:
        target, label, bare = match.group(1), match.group(2), match.group(3)
        if target is not None:
            return ("@" + label) if target.startswith(("@", "#")) else label
        if bare.startswith("@"):
            return bare
        if bare.startswith("!"):
            return "@" + bare[1:].split("^", 1)[0]
        return bare

    return _unescape(_LINK.sub(readable, text)).strip()


def _user_id(payload: dict[str, Any]) -> str | None:
    """The user of a shortcut or button payload (an object with an id), if it names one."""
    user = payload.get("user")
    user_id = user.get("id") if isinstance(user, dict) else None
    return user_id if isinstance(user_id, str) else None


def _unescape(text: str) -> str:
    """Slack sends typed &, < and > as entities; mentions (<@U1|x>) come as they are."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _slack_assignee(raw: str) -> str:
    """`<@U123|kari>` or `<@U123>` -> "slack:U123"; anything else as written."""
    raw = raw.strip()
    if raw.startswith("<@") and raw.endswith(">"):
        return "slack:" + raw[2:-1].split("|", 1)[0]
    return raw.lstrip("@")

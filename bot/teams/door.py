"""The Teams door: one activity in, one service call, the answer rendered as a card or text.

Invokes (card buttons, dialogs, the message action) are answered in the HTTP response,
after the service call: a report is stored before the bot says so. Messages (typed
commands) are answered with 200 at once and the reply is posted in the background, so a
slow Bot Connector never makes Teams retry a command. Report and command text is never
logged; ids and codes are. An activity of another Entra tenant, or of none, is refused
at the entry (`handle`), whatever its type, before anything is stored or sent.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from microsoft_agents.activity import Activity
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.chat import commands
from bot.chat.received import ReceivedEvents
from bot.teams import cards, filing, rating, similar_card, suggestions
from bot.teams.auth import AuthError, check_tenant
from bot.teams.connector import Connector, ConnectorError
from intake import services
from intake.delivery.conversations import ConversationStore, Reference, conversation_key, user_key
from intake.domain.model import Actor, DomainError, PermissionDenied, Role, ValidationFailed
from intake.i18n import Translator
from intake.presenting import report_text
from intake.settings import Settings
from intake.texts import domain_error_text, error_text

log = logging.getLogger("meld.teams")

DB_DOWN = (OperationalError, PoolTimeout)
OPEN_WORDS = frozenset({"meld", "ny", "ny melding", "new", "report", "start", ""})
MESSAGE_ACTION = "meld_message"
INVOKE_ERROR_TYPE = "application/vnd.microsoft.error"

_MENTION = re.compile(r"<at>(.*?)</at>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<br\s*/?>|</p>|</div>", re.IGNORECASE)


def html_to_text(content: str) -> str:
    """A Teams message body (HTML) as a person reads it."""
    text = _BREAK.sub("\n", content)
    text = _MENTION.sub(lambda m: "@" + m.group(1), text)
    text = _TAG.sub("", text)
    return html.unescape(text).strip()


def command_text(text: str) -> str:
    """A channel message to the bot without the leading @Meld mention(s)."""
    rest = text.strip()
    while True:
        match = re.match(r"^\s*<at>.*?</at>\s*", rest, re.DOTALL)
        if not match:
            break
        rest = rest[match.end():]
    return html.unescape(_TAG.sub(lambda m: m.group(0) if m.group(0).lower() in
                                  ("<at>", "</at>") else "", rest)).strip()


def invoke_card(card: dict[str, Any]) -> dict[str, Any]:
    """The body answering an adaptiveCard/action invoke: the card that replaces the old one."""
    return {"statusCode": 200, "type": cards.CARD_TYPE, "value": card}


def invoke_error(status: int, code: str, message: str) -> dict[str, Any]:
    """The body refusing an adaptiveCard/action invoke (Universal Actions' error shape)."""
    return {"statusCode": status, "type": INVOKE_ERROR_TYPE,
            "value": {"code": code, "message": message}}


def task_card(card: dict[str, Any], title: str) -> dict[str, Any]:
    return {"task": {"type": "continue",
                     "value": {"title": title, "card": cards.attachment(card),
                               "width": "large", "height": "large"}}}


def task_message(text: str) -> dict[str, Any]:
    return {"task": {"type": "message", "value": text}}


@dataclass
class TeamsDoor:
    ctx: services.Context
    settings: Settings
    connector: Connector
    store: ConversationStore
    seen: ReceivedEvents = field(init=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        # a repeated activity may reach another process or replica: claimed in the database
        self.seen = ReceivedEvents(self.ctx, "teams")

    @property
    def tr(self) -> Translator:
        return Translator(self.settings.locale, self.settings.timezone)

    async def call(self, fn: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, ctx=self.ctx, **kwargs)

    def actor(self, aad: str, *, group_allowed: bool = True) -> Actor:
        member = group_allowed and aad.lower() in self.settings.teams_group_member_ids
        return Actor(identity=f"teams:{aad.lower()}",
                     role=Role.TRIAGER if member else Role.REPORTER)

    async def refuse(self, actor: Actor, action: str) -> str:
        try:
            err = await self.call(services.deny, actor=actor, action=action)
        except DB_DOWN:
            log.warning("teams: refusal of %s not audited: database unavailable", action)
            err = PermissionDenied("group_only")
        return domain_error_text(err, self.tr)

    # ------------------------------------------------------------ entry

    async def handle(self, activity: Activity) -> tuple[int, dict[str, Any] | None]:
        """Answer one authenticated activity: (HTTP status, JSON body or None)."""
        aad = (activity.from_property.aad_object_id or "") if activity.from_property else ""
        try:  # before anything is stored or sent, for every type of activity
            check_tenant(activity, self.settings.teams_tenant_id)
        except AuthError as err:
            return await self._refuse_tenant(activity, aad, err)
        await self._remember(activity, aad)
        kind = activity.type
        if kind == "invoke":
            if not aad:  # not a Teams user of this tenant (a bot, an anonymous guest)
                refusal = error_text("group_only", self.tr)
                if (activity.name or "").startswith(("task/", "composeExtension/")):
                    return 200, task_message(refusal)
                return 200, invoke_card(cards.text_card(refusal))
            return 200, await self._invoke(activity, aad)
        if kind == "message" and aad and activity.conversation is not None:
            self._background(self._message(activity, aad), "message")
        elif kind == "conversationUpdate":
            self._conversation_update(activity)
        return 200, None

    async def _refuse_tenant(self, activity: Activity, aad: str,
                             err: AuthError) -> tuple[int, dict[str, Any]]:
        """403 for an activity of another tenant (or none), audited; in the answer shape
        Teams expects for the invoke, so the user sees why."""
        log.warning("teams request refused: %s (%r %r)", err.code, activity.type[:40],
                    (activity.name or "")[:60])
        actor = Actor(identity=f"teams:{aad.lower()}", role=Role.REPORTER)
        try:
            await self.call(services.deny, actor=actor, action=f"teams:{err.code}")
        except DB_DOWN:
            log.warning("teams: refusal %s not audited: database unavailable", err.code)
        text = self.tr("Meld in Teams serves only its own organisation.")
        if activity.type == "invoke":
            name = activity.name or ""
            if name == "adaptiveCard/action":
                return err.status, invoke_error(err.status, err.code, text)
            if name.startswith(("task/", "composeExtension/")):
                return err.status, task_message(text)
        return err.status, {"code": err.code, "message": text}

    async def _remember(self, activity: Activity, aad: str) -> None:
        conv = activity.conversation
        if conv is None or not activity.service_url:
            return
        tenant = self.settings.teams_tenant_id  # check_tenant passed: the activity is ours
        bot = activity.recipient.id if activity.recipient else None
        refs = []
        if conv.conversation_type == "personal" and aad:
            refs.append(Reference(key=user_key(aad), conversation_id=conv.id,
                                  user_id=activity.from_property.id, service_url=
                                  activity.service_url, tenant_id=tenant, bot_id=bot))
        elif aad:
            refs.append(Reference(key=user_key(aad), conversation_id=None,
                                  user_id=activity.from_property.id,
                                  service_url=activity.service_url, tenant_id=tenant,
                                  bot_id=bot))
        if conv.conversation_type in ("channel", "groupChat") and conv.id:
            base = conv.id.split(";", 1)[0]  # a reply thread: ";messageid=..."
            refs.append(Reference(key=conversation_key(base), conversation_id=base,
                                  user_id=None, service_url=activity.service_url,
                                  tenant_id=tenant, bot_id=bot))
        for ref in refs:
            if self.store.known(ref):  # the hot path: no thread hop, no write
                continue
            try:
                await asyncio.to_thread(self.store.remember_safely, ref)
            except DB_DOWN:
                log.warning("teams: conversation reference not stored: database unavailable")

    def _background(self, coro: Any, what: str) -> None:
        async def run() -> None:
            try:
                await coro
            except ConnectorError as exc:
                log.warning("teams %s: reply not sent (%s)", what, exc.code)
            except DB_DOWN:
                log.warning("teams %s: database unavailable", what)
            except Exception as exc:  # one place that logs a failed background reply
                log.error("teams %s failed: %s", what, type(exc).__name__)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for background replies (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _reply(self, activity: Activity, body: dict[str, Any]) -> None:
        conv = activity.conversation
        assert conv is not None and activity.service_url
        if activity.id:
            await self.connector.reply(activity.service_url, conv.id, activity.id, body)
        else:
            await self.connector.send(activity.service_url, conv.id, body)

    # ------------------------------------------------------------ messages

    async def _message(self, activity: Activity, aad: str) -> None:
        if activity.id and not await self.seen.first_time(
                f"{activity.conversation.id}|{activity.id}"):
            log.info("teams: message %s already handled (retry)", activity.id)
            return
        personal = activity.conversation.conversation_type == "personal"
        text = command_text(activity.text or "")
        tr = self.tr
        if personal:
            first, _, rest = text.partition(" ")
            if text.casefold() in OPEN_WORDS or first.casefold() in ("meld", "ny"):
                # "meld Epikrisen kom aldri" opens the form with that text, like /meld in Slack
                prefill = "" if text.casefold() in OPEN_WORDS else rest.strip()
                card = await filing.new_form(self, aad, text=prefill)
                await self._reply(activity, cards.message(card, tr("New report")))
            else:
                await self._reply(activity, cards.message(cards.welcome_card(tr)))
            return
        actor = self.actor(aad)
        if not actor.is_group:
            await self._reply(activity, cards.text_message(
                await self.refuse(actor, "teams:command")))
            return
        try:
            result = await self.call(commands.run_command, actor=actor, text=text, tr=tr)
        except DB_DOWN:
            log.warning("teams command: database unavailable")
            await self._reply(activity, cards.text_message(error_text("database_unavailable",
                                                                      tr)))
            return
        log.info("teams command by group member: ok=%s reference=%s", result.ok,
                 result.reference)
        if result.ok and result.report is not None:
            # report text only in a dialog, never in the channel (as in Slack)
            await self._reply(activity, cards.message(cards.open_dialog_card(
                tr("Open {reference} to read the report (only you see it).",
                   reference=result.report.reference), tr("Show"), "show",
                result.report.reference)))
            return
        if result.ok and result.dialog and result.reference:
            button = tr("Close report") if result.dialog == "close" else tr("Assess")
            await self._reply(activity, cards.message(cards.open_dialog_card(
                result.text, button, result.dialog, result.reference)))
            return
        await self._reply(activity, cards.text_message(result.text))

    def _conversation_update(self, activity: Activity) -> None:
        bot = activity.recipient.id if activity.recipient else None
        added = [m.id for m in (activity.members_added or [])]
        if bot and bot in added and activity.conversation and \
                activity.conversation.conversation_type == "personal":
            conv = activity.conversation
            body = cards.message(cards.welcome_card(self.tr))
            self._background(self.connector.send(activity.service_url, conv.id, body),
                             "welcome")

    # ------------------------------------------------------------ invokes

    async def _invoke(self, activity: Activity, aad: str) -> dict[str, Any]:
        value = activity.value if isinstance(activity.value, dict) else {}
        name = activity.name or ""
        if name == "adaptiveCard/action":
            action = value.get("action") if isinstance(value.get("action"), dict) else {}
            data = action.get("data") if isinstance(action.get("data"), dict) else {}
            if action.get("verb") == cards.SUBMIT_VERB:
                return await self._submit(aad, data, dialog=False)
            if action.get("verb") == cards.RATE_VERB:
                return await rating.rate(self.ctx, self.tr, aad, data)
            if action.get("verb") == filing.CHANGE_CATEGORY_VERB:
                return await filing.change_category(self, aad, data)
            if action.get("verb") == similar_card.DUPLICATE_VERB:
                return await similar_card.duplicate(self, aad, data)
            if action.get("verb") in suggestions.VERBS:  # "Finn lignende saker", "me too"
                return invoke_card(await suggestions.answer(
                    self, aad, suggestions.KINDS[action["verb"]], data, dialog=False))
            return invoke_card(await filing.new_form(self, aad))
        data = value.get("data") if isinstance(value.get("data"), dict) else {}
        if name == "composeExtension/fetchTask":
            return await self._message_action(aad, value)
        if name == "composeExtension/submitAction":
            if data.get("meld") in suggestions.DIALOG:  # the dialog's form buttons
                return task_card(await suggestions.answer(self, aad, data["meld"], data,
                                                          dialog=True), self.tr("New report"))
            return await self._submit(aad, data, dialog=True)
        if name == "task/fetch":
            return await self._task_fetch(aad, data)
        if name == "task/submit":
            return await self._task_submit(aad, data)
        log.info("teams: invoke %s not handled", name[:60])
        return {}

    async def _message_action(self, aad: str, value: dict[str, Any]) -> dict[str, Any]:
        tr = self.tr
        payload = value.get("messagePayload") if isinstance(value.get("messagePayload"),
                                                            dict) else {}
        body = payload.get("body") if isinstance(payload.get("body"), dict) else {}
        content = body.get("content") if isinstance(body.get("content"), str) else ""
        text = html_to_text(content) if body.get("contentType") == "html" else content.strip()
        link = payload.get("linkToMessage") if isinstance(payload.get("linkToMessage"),
                                                          str) else None
        card = await filing.new_form(self, aad, text=text, link=link, dialog=True)
        return task_card(card, tr("New report"))

    async def _submit(self, aad: str, data: dict[str, Any], *, dialog: bool) -> dict[str, Any]:
        """A report form sent from chat (Execute) or the message action's dialog (Submit)."""
        tr = self.tr
        values = cards.read_form(data)
        key = values["key"] or cards.new_key()

        def again(**kwargs: Any) -> dict[str, Any]:
            card = cards.report_form(tr, self.ctx.taxonomy, today=self.ctx.today(), key=key,
                                     dialog=dialog, values=values, link=values["link"],
                                     **kwargs)
            return task_card(card, tr("New report")) if dialog else invoke_card(card)

        draft = services.ReportDraft.from_chat_form(
            values, source_link=values["link"], locale=tr.locale)
        actor = Actor(identity=f"teams:{aad.lower()}", role=Role.REPORTER)
        try:
            receipt = await services.submit_report_async(
                ctx=self.ctx, actor=actor, draft=draft,
                idempotency_key=f"teams:{aad.lower()}:{key}")
        except ValidationFailed as err:
            if err.only_warnings and not values[cards.CONFIRM]:
                return again(warnings=err.errors)
            return again(errors=cards.form_errors(err.errors, tr))
        except DomainError as err:
            return again(errors={"description": domain_error_text(err, tr)})
        except DB_DOWN:
            log.warning("teams submit: database unavailable")
            return again(errors={"description": error_text("database_unavailable", tr)})
        log.info("teams report stored: %s (new=%s)", receipt.reference, receipt.created)
        sent = tr("Sent: {reference}. The receipt comes in your chat with Meld.",
                  reference=receipt.reference)
        if dialog:
            return task_message(sent)
        return invoke_card(cards.text_card(sent))

    # ------------------------------------------------------------ dialogs

    async def _task_fetch(self, aad: str, data: dict[str, Any]) -> dict[str, Any]:
        tr = self.tr
        dialog = str(data.get("meld") or "")
        reference = str(data.get("reference") or "")[:40]
        if dialog == "answer":
            return task_card(cards.text_dialog(tr, dialog="answer", reference=reference,
                                               label_text=tr("Write to Forbedringsgruppen")),
                             tr("Answer"))
        actor = self.actor(aad)
        if not actor.is_group:
            return task_message(await self.refuse(actor, "teams:card"))
        try:
            if dialog == "show":
                view = await self.call(services.get_report, actor=actor, reference=reference)
                text = report_text(self.ctx, view, tr, for_group=True)
                return task_card(cards.text_card(text, title=reference), reference)
            if dialog == "assess":  # a form: shows no messages, reads none
                view = await self.call(services.get_report, actor=actor, reference=reference,
                                       mark_read=False)
                return task_card(cards.assess_dialog(tr, self.ctx.taxonomy, view),
                                 tr("Assess"))
        except DomainError as err:
            return task_message(domain_error_text(err, tr))
        if dialog == "reply":
            return task_card(cards.text_dialog(tr, dialog="reply", reference=reference,
                                               label_text=tr("Message to the reporter")),
                             tr("Reply"))
        if dialog == "close":
            return task_card(cards.close_dialog(tr, reference), tr("Close report"))
        return task_message(tr("This value is not valid here."))

    async def _task_submit(self, aad: str, data: dict[str, Any]) -> dict[str, Any]:
        tr = self.tr
        dialog = str(data.get("meld") or "")
        reference = str(data.get("reference") or "")[:40]
        text = data.get("text") if isinstance(data.get("text"), str) else ""
        if dialog == "submit":  # the message action's form, if sent as a plain dialog
            return await self._submit(aad, data, dialog=True)
        if dialog == "answer":
            actor = Actor(identity=f"teams:{aad.lower()}", role=Role.REPORTER)
            confirm = cards._flag(data.get(cards.CONFIRM))
            return await self._text_submit(
                services.reporter_answer, actor, reference, text, "answer",
                tr("Write to Forbedringsgruppen"), tr("Answer"),
                tr("Your answer on {reference} is sent to Forbedringsgruppen.",
                   reference=reference), confirm_warnings=confirm)
        actor = self.actor(aad)
        if not actor.is_group:
            return task_message(await self.refuse(actor, "teams:dialog"))
        if dialog == "reply":
            return await self._text_submit(
                services.reply, actor, reference, text, "reply",
                tr("Message to the reporter"), tr("Reply"),
                tr("Your answer on {reference} is sent to the reporter.", reference=reference))
        if dialog == "close":
            values = {k: data.get(k) if isinstance(data.get(k), str) else ""
                      for k in ("learning_point", "measure")}
            try:
                await self.call(services.close, actor=actor, reference=reference,
                                learning_point=values["learning_point"],
                                measure=values["measure"])
            except ValidationFailed as err:
                return task_card(cards.close_dialog(tr, reference, values,
                                                    cards.form_errors(err.errors, tr)),
                                 tr("Close report"))
            except DomainError as err:
                return task_message(domain_error_text(err, tr))
            return task_message(tr("{reference} is closed.", reference=reference))
        if dialog == "assess":
            category = str(data.get("category") or "")
            cat, _, sub = category.partition("/")
            try:
                await self.call(services.assess, actor=actor, reference=reference,
                                category=cat or None, subcategory=sub or None,
                                assessed_severity=cards._str(data.get("assessed_severity"), 40),
                                agreement_reference=cards._str(data.get("agreement_reference"),
                                                               400))
            except ValidationFailed as err:
                view = await self.call(services.get_report, actor=actor, reference=reference,
                                       mark_read=False)
                return task_card(cards.assess_dialog(tr, self.ctx.taxonomy, view,
                                                     cards.form_errors(err.errors, tr)),
                                 tr("Assess"))
            except DomainError as err:
                return task_message(domain_error_text(err, tr))
            return task_message(tr("The assessment of {reference} is saved.",
                                   reference=reference))
        return task_message(tr("This value is not valid here."))

    async def _text_submit(self, fn: Any, actor: Actor, reference: str, text: str,
                           dialog: str, label_text: str, title: str, done: str,
                           **extra: Any) -> dict[str, Any]:
        tr = self.tr
        try:
            await self.call(fn, actor=actor, reference=reference, text=text, **extra)
        except ValidationFailed as err:
            if dialog == "answer" and err.only_warnings:
                return task_card(cards.text_dialog(tr, dialog=dialog, reference=reference,
                                                   label_text=label_text, initial=text,
                                                   warnings=err.errors), title)
            return task_card(cards.text_dialog(tr, dialog=dialog, reference=reference,
                                               label_text=label_text, initial=text,
                                               error=domain_error_text(err, tr)), title)
        except DomainError as err:
            return task_message(domain_error_text(err, tr))
        return task_message(done)

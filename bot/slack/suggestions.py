"""The Slack report form's suggestions and "Dette har skjedd meg også" (intake.services.public).

When the reporter chooses a category or a place, or types (the inputs dispatch their
changes: `views.FORM_ACTION`), the open modal is updated (views.update with the view's
hash) to show up to three open reports of that category with a public title, each with a
button "Dette har skjedd meg også". The form is rebuilt from the modal's state with the
same blocks, so what the reporter entered stays. While they type, the modal is updated
only when the suggestions change. The button records a +1 with the form's date and place
(never its text) and makes the reporter follow the report; the modal then thanks them.

Only the suggestion's title and coded fields are shown: never another reporter's words,
identity, or the group's notes. Nothing here logs text; references and codes only.
Registered by `register(app, door)` (bot.slack.app), next to bot.slack.listeners.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import views
from bot.slack.listeners import DB_DOWN, SlackDoor
from intake import services
from intake.domain.model import Actor, DomainError, Role
from intake.domain.taxonomy import Taxonomy
from intake.i18n import Translator
from intake.presenting import suggestion_line
from intake.texts import domain_error_text, error_text

log = logging.getLogger("meld.slack")

SUGGESTION_BLOCK = "suggest:"  # + reference: one suggestion's section


def suggestion_blocks(tr: Translator, taxonomy: Taxonomy,
                      found: tuple[services.Suggestion, ...],
                      notice: str | None = None) -> list[Block]:
    """"Er dette meldt allerede?", each suggestion with its button, and a notice (why the
    last press did not count) above them."""
    blocks: list[Block] = []
    if found or notice:
        blocks.append(DividerBlock(block_id="suggestions"))
    if notice:
        blocks.append(SectionBlock(block_id="suggestions_notice", text=MarkdownTextObject(
            text=":warning: " + views.escape(notice))))
    if not found:
        return blocks
    blocks += [
        SectionBlock(block_id="suggestions_head", text=MarkdownTextObject(
            text="*" + views.escape(tr("Has this been reported already?")) + "*")),
        ContextBlock(elements=[PlainTextObject(text=tr(
            "Others have reported something like this. If one of these is what happened to "
            "you, press its button: it counts as one more, and you can follow what comes of "
            "it. Your text is not kept."))]),
    ]
    for s in found:
        text = f"*{views.escape(s.title)}*\n{views.escape(suggestion_line(tr, taxonomy, s))}"
        blocks.append(SectionBlock(
            block_id=f"{SUGGESTION_BLOCK}{s.reference}",
            text=MarkdownTextObject(text=text[:3000]),
            accessory=ButtonElement(
                action_id=views.ME_TOO_ACTION, value=s.reference,
                text=PlainTextObject(text=tr("This happened to me too")[:75]),
                accessibility_label=tr("This happened to me too: {title}",
                                       title=s.title)[:75])))
    return blocks


def form_with_suggestions(tr: Translator, taxonomy: Taxonomy, *, today: date,
                          values: dict[str, Any], found: tuple[services.Suggestion, ...],
                          notice: str | None = None) -> View:
    """The report form as entered so far, with the suggestions after its text: the same
    input blocks, so Slack keeps what the reporter has entered."""
    modal = views.report_modal(tr, taxonomy, today=today, link=values.get("source_link"),
                               values=values)
    at = next(i for i, b in enumerate(modal.blocks) if b.block_id == "description") + 1
    modal.blocks[at:at] = suggestion_blocks(tr, taxonomy, found, notice)
    meta: dict[str, Any] = {"shown": [s.reference for s in found]}
    if values.get("source_link"):
        meta["link"] = values["source_link"]
    modal.private_metadata = json.dumps(meta)
    return modal


def thanks_modal(tr: Translator, reference: str, count: int) -> View:
    """After "Dette har skjedd meg også": it counts, and the reporter follows the report."""
    return View(type="modal", title=PlainTextObject(text="Meld"),
                close=PlainTextObject(text=tr("Close")), blocks=[
                    SectionBlock(text=MarkdownTextObject(
                        text="*" + views.escape(tr("Thank you: it counts")) + "*")),
                    SectionBlock(text=MarkdownTextObject(text=views.escape(tr(
                        "{reference} now counts {count} who saw the same.",
                        reference=reference, count=count)))),
                    ContextBlock(elements=[PlainTextObject(text=tr(
                        "You will hear in the chat when its status changes, and what was "
                        "learned when it is closed."))]),
                ])


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def register(app: AsyncApp, door: SlackDoor) -> None:
    """Attach the report form's two listeners: its changes and the suggestion's button."""

    async def lookup(values: dict[str, Any]) -> tuple[services.Suggestion, ...]:
        try:
            found: tuple[services.Suggestion, ...] = await door.call(
                services.suggestions, category=values["category"], place=values["place"],
                text=values["description"])
        except DB_DOWN:
            log.warning("slack suggestions: database unavailable")
            return ()
        return found

    async def update(client: AsyncWebClient, view: dict[str, Any], modal: View) -> None:
        try:
            await client.views_update(view_id=view["id"], hash=view.get("hash"),
                                      view=modal.to_dict())
        except SlackApiError as err:  # hash_conflict: a newer change updates it
            log.info("slack suggestions: modal not updated (%s)", err.response.get("error"))

    @app.action(views.FORM_ACTION)
    async def form_changed(ack: AsyncAck, body: dict[str, Any],
                           client: AsyncWebClient) -> None:
        """Category, place or text changed: the suggestions for the form as it is now."""
        await ack()
        view = body["view"]
        values = views.read_report_state(view)
        found = await lookup(values)
        shown = views.metadata(view).get("shown") or []
        if body["actions"][0]["block_id"] == "description" and \
                [s.reference for s in found] == shown:
            return  # typing: the modal changes only when the suggestions do
        await update(client, view, form_with_suggestions(
            door.tr, door.ctx.taxonomy, today=door.today(), values=values, found=found))

    @app.action(views.ME_TOO_ACTION)
    async def me_too_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                            client: AsyncWebClient) -> None:
        """"Dette har skjedd meg også": a +1 with the form's date and place; then thanks,
        or the form again with why not."""
        await ack()
        tr = door.tr
        view = body["view"]
        values = views.read_report_state(view)
        reference = str(action["value"])[:40]
        actor = Actor(identity=f"slack:{body['user']['id']}", role=Role.REPORTER)
        try:
            count, _token = await door.call(
                services.me_too, actor=actor, reference=reference,
                occurred_on=_date(values["occurred_on"]), place=values["place"])
        except DomainError as err:
            notice = domain_error_text(err, tr)
            log.info("slack me too refused (%s)", err.code)
        except DB_DOWN:
            log.warning("slack me too: database unavailable")
            notice = error_text("database_unavailable", tr)
        else:
            log.info("slack me too recorded on %s", reference)
            await update(client, view, thanks_modal(tr, reference, count))
            return
        await update(client, view, form_with_suggestions(
            tr, door.ctx.taxonomy, today=door.today(), values=values,
            found=await lookup(values), notice=notice))

"""Slack: where a report is filed. The report form's remembered place and parties, and the
receipt's "Endre kategorien".

- `form_defaults`: the place and parties of the reporter's last report, which the report
  form proposes (bot.slack.listeners opens it; views.new_report_modal chooses them).
- `register(app, door)` (bot.slack.app, next to bot.slack.listeners): the receipt's
  category select (`notifier.CHANGE_CATEGORY_ACTION`), with which the reporter files
  their report under another category or leaves it to the group, and the button that
  takes Meld's suggestion for a report left uncategorized
  (`notifier.TAKE_SUGGESTION_ACTION`).

`door` is bot.slack.listeners.SlackDoor, which imports this module (so this one names it
only in words).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.chat.defaults import last_form_defaults
from bot.slack import views
from bot.slack.notifier import CHANGE_CATEGORY_ACTION, TAKE_SUGGESTION_ACTION
from intake import services
from intake.domain.model import Actor, DomainError, Role
from intake.texts import domain_error_text, error_text
from intake.texts_filing import changed_line

log = logging.getLogger("meld.slack")

DB_DOWN = (OperationalError, PoolTimeout)


async def form_defaults(door: Any, user_id: str | None) -> services.FormDefaults | None:
    """The place and parties of the user's last report, read after the ack (the trigger
    id expires 3 s after the user's click; views.open must be called before)."""
    if not user_id:
        return None
    return await last_form_defaults(door, f"slack:{user_id}", log)


def read_category_choice(action: dict[str, Any]) -> tuple[str, str]:
    """The receipt select's choice (or the "Velg <forslag>" button's value),
    "<reference>|<category[/sub]>": (reference, choice); the choice is "" for "let the
    group choose"."""
    value = str((action.get("selected_option") or {}).get("value")
                or action.get("value") or "")
    reference, _, choice = value.partition("|")
    return reference[:40], choice[:100]


def register(app: AsyncApp, door: Any) -> None:
    """Attach the receipt's category select."""

    @app.action(CHANGE_CATEGORY_ACTION)
    @app.action(TAKE_SUGGESTION_ACTION)
    async def change_category(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                              respond: AsyncRespond) -> None:
        """The receipt's "Endre kategorien": the reporter files their report under another
        category (or leaves it to the group); only they are told, in the DM."""
        await ack()
        tr = door.tr
        reference, choice = read_category_choice(action)
        actor = Actor(identity=f"slack:{body['user']['id']}", role=Role.REPORTER)
        try:
            receipt = await door.call(services.change_category_to, actor=actor,
                                      reference=reference, choice=choice)
        except DomainError as err:
            text = domain_error_text(err, tr)
        except DB_DOWN:
            log.warning("slack category change: database unavailable")
            text = error_text("database_unavailable", tr)
        else:
            log.info("slack category changed by the reporter: %s", receipt.reference)
            text = changed_line(door.ctx.taxonomy, receipt.reference, receipt.category,
                                receipt.subcategory, tr)
        await respond(text=views.escape(text), response_type="ephemeral",
                      replace_original=False)

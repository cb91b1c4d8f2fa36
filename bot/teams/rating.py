"""Teams: "Var svaret nyttig?" from the closing notice's card.

The card (`cards.notice_card(..., rating=True)`) has an optional comment and the buttons
ja / delvis / nei, each an Action.Execute with verb `cards.RATE_VERB`; Teams sends it as
an `adaptiveCard/action` invoke with the comment merged into the action's data, and the
door hands it here. One service call; the answer is a message (the card stays, so another
button changes the answer while the window is open). The comment is never logged.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from intake import services
from intake.domain.model import Actor, DomainError, Role
from intake.i18n import Translator
from intake.texts import domain_error_text, error_text, rating_thanks

log = logging.getLogger("meld.teams")

INVOKE_MESSAGE_TYPE = "application/vnd.microsoft.activity.message"
COMMENT_READ_MAX = 20_000  # longer is refused by the service anyway; never read more


def invoke_message(text: str) -> dict[str, Any]:
    """The body answering an adaptiveCard/action invoke with a message: the card stays."""
    return {"statusCode": 200, "type": INVOKE_MESSAGE_TYPE, "value": text}


async def rate(ctx: services.Context, tr: Translator, aad: str,
               data: dict[str, Any]) -> dict[str, Any]:
    """Store the reporter's answer (and comment) and say so, or say why not."""
    comment = data.get("comment") if isinstance(data.get("comment"), str) else None
    actor = Actor(identity=f"teams:{aad.lower()}", role=Role.REPORTER)
    try:
        rated = await asyncio.to_thread(
            services.rate_answer, ctx=ctx, actor=actor,
            reference=str(data.get("reference") or "")[:40],
            answer=str(data.get("answer") or "")[:20],
            comment=comment[:COMMENT_READ_MAX] if comment else None)
    except DomainError as err:
        return invoke_message(domain_error_text(err, tr))
    except (OperationalError, PoolTimeout):
        log.warning("teams rating: database unavailable")
        return invoke_message(error_text("database_unavailable", tr))
    log.info("teams rating stored: %s", rated.reference)
    assert rated.open_until is not None
    return invoke_message(rating_thanks(
        tr, answer=rated.answer or "", reference=rated.reference,
        until=ctx.local_date(rated.open_until), link=services.rating_link(ctx, rated.reference)))

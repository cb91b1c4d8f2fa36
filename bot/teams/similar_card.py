"""The Teams group card's "Ligner på MELD-2026-0042 (åpen)" and its one-click duplicate
(the match itself: bot.similar, looked up when the card is delivered)."""

from __future__ import annotations

import logging
from typing import Any

from microsoft_teams.cards import ActionSet, CardElement, ExecuteAction, TextBlock
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.teams import rating
from intake import services
from intake.domain.model import DomainError
from intake.i18n import Translator
from intake.texts import STATUS_LABELS, domain_error_text, error_text, label, similar_reasons_text

log = logging.getLogger("meld.teams")

DUPLICATE_VERB = "meld_duplicate"


def similar_elements(tr: Translator, reference: str,
                     similar: services.SimilarReport | None) -> list[CardElement]:
    """"Ligner på MELD-2026-0042 (åpen)", why, its status, and the one-click duplicate:
    the other report by reference and codes only, never its text. None: nothing."""
    if similar is None:
        return []
    other = similar.view.reference
    status = label(STATUS_LABELS, similar.view.status, tr)
    named = (tr("Similar to {reference} (open)", reference=other) if similar.active
             else tr("Similar to {reference} ({status})", reference=other, status=status))
    why = " · ".join(filter(None, [similar_reasons_text(similar.reasons, tr),
                                   f"{tr('Status')}: {status}"]))
    return [
        TextBlock(text=named, weight="Bolder", wrap=True, separator=True),
        TextBlock(text=why, is_subtle=True, wrap=True, spacing="None"),
        ActionSet(actions=[ExecuteAction(
            title=tr("Mark as duplicate of {reference}", reference=other),
            verb=DUPLICATE_VERB,
            data={"meld": "duplicate", "reference": reference, "duplicate_of": other})]),
    ]


def _text(value: Any) -> str:
    return value.strip()[:40] if isinstance(value, str) else ""


async def duplicate(door: Any, aad: str, data: dict[str, Any]) -> dict[str, Any]:
    """The button, for bot.teams.door.TeamsDoor `door`: one call; the answer is a message
    to the member who pressed it (the card stays)."""
    tr = door.tr
    actor = door.actor(aad)
    if not actor.is_group:
        return rating.invoke_message(await door.refuse(actor, "teams:card"))
    reference, duplicate_of = _text(data.get("reference")), _text(data.get("duplicate_of"))
    try:
        await door.call(services.mark_duplicate, actor=actor, reference=reference,
                        duplicate_of=duplicate_of)
    except DomainError as err:
        return rating.invoke_message(domain_error_text(err, tr))
    except (OperationalError, PoolTimeout):
        log.warning("teams duplicate button: database unavailable")
        return rating.invoke_message(error_text("database_unavailable", tr))
    log.info("teams card: %s marked as a duplicate of %s", reference, duplicate_of)
    return rating.invoke_message(tr(
        "{reference} is marked as a duplicate of {other_reference}.",
        reference=reference, other_reference=duplicate_of))

"""What the two chat doors share for a new report's card: the open report it is most
probably about again ("Ligner på MELD-2026-0042 (åpen)"), looked up when the card is
delivered (the outbox worker), never when the report is submitted.

A failed look-up never holds the card back: the card is posted without the line (the
service never names a report sent after the card's own). Only references and codes are
logged.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import SQLAlchemyError

from intake import services
from intake.domain.model import DomainError

log = logging.getLogger("meld.similar")


async def card_match(ctx: services.Context | None,
                     reference: str) -> services.SimilarReport | None:
    """The strong match for a new report's card, or None (no context, none, or failed)."""
    if ctx is None:
        return None
    try:
        match = await asyncio.to_thread(services.card_match, ctx=ctx, reference=reference)
    except (DomainError, SQLAlchemyError) as exc:
        log.warning("card match for %s failed (%s): card posted without it", reference,
                    type(exc).__name__)
        return None
    return match

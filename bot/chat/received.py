"""A chat door's guard against repeated deliveries, in every process at once.

Slack retries an event (X-Slack-Retry-Num) and Teams may deliver an activity twice; the
repeat may reach another process or replica than the first delivery. `first_time` asks
`services.first_delivery`, whose claim is in the database, so the event runs once
wherever its deliveries land. If the database cannot be reached the event is handled
(and the fact logged): a duplicate is better than a lost event, and handling it needs
the database anyway.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from intake import services

log = logging.getLogger("meld.chat")


class ReceivedEvents:
    """The claim on one door's event ids (`door`: "slack", "teams")."""

    def __init__(self, ctx: services.Context, door: str) -> None:
        self.ctx = ctx
        self.door = door

    async def first_time(self, event_id: str) -> bool:
        """True for the first delivery of this id seen by any process; False for a repeat."""
        try:
            return await asyncio.to_thread(services.first_delivery, ctx=self.ctx,
                                           door=self.door, event_id=event_id)
        except (OperationalError, PoolTimeout) as exc:
            log.warning("%s event %s: could not check for a repeat (%s); handling it",
                        self.door, event_id, type(exc).__name__)
            return True

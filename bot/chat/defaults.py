"""What a chat door's report form proposes, shared by Slack and Teams: the place and
parties of the reporter's last report (services.form_defaults), read with a short
deadline, since the platform waits for the form only a few seconds: the form opens
without them rather than not at all."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from intake import services
from intake.domain.model import Actor, Role

DB_DOWN = (OperationalError, PoolTimeout)
DEFAULTS_SECONDS = 1.0  # how long a new form waits for the last report's place and parties


async def last_form_defaults(door: Any, identity: str,
                             log: logging.Logger) -> services.FormDefaults | None:
    """The place and parties of `identity`'s last report ("slack:U…", "teams:<aad>"),
    read on the event loop where it can be (`services.form_defaults_async`); None when the
    database is down or slow."""
    actor = Actor(identity=identity, role=Role.REPORTER)
    try:
        async with asyncio.timeout(DEFAULTS_SECONDS):
            found = await services.form_defaults_async(ctx=door.ctx, actor=actor)
    except DB_DOWN:
        log.warning("report form: defaults not read: database unavailable")
        return None
    except TimeoutError:
        log.warning("report form: defaults not read in %.1f s", DEFAULTS_SECONDS)
        return None
    return found

"""The category suggestions trained anew every night: `suggest_scheduler` builds the
model from the group's assessed reports when `meld serve` starts, then again at
settings.suggest_refresh_hour (MELD_TIMEZONE) every night (when
settings.run_suggest_refresh).

Each process keeps its own model (intake.services.suggesting); every replica trains its
own from the same database, so they suggest alike. A database error is logged (by its
type, never data) and the model in use is kept until the next night.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from intake.reporting.digest_schedule import next_run
from intake.reporting.periodic import sleep_or_stop
from intake.services.suggesting import refresh_category_model

if TYPE_CHECKING:
    from intake.services import Context
    from intake.settings import Settings

log = logging.getLogger("meld.suggest")


def nightly_rule(hour: int) -> str:
    """The RRULE of the nightly training (local wall-clock time)."""
    return f"FREQ=DAILY;BYHOUR={int(hour)};BYMINUTE=0;BYSECOND=0"


async def suggest_scheduler(ctx: Context, settings: Settings, stop: asyncio.Event) -> None:
    """Train at start, then every night at settings.suggest_refresh_hour, until `stop`."""
    rule = nightly_rule(settings.suggest_refresh_hour)
    while not stop.is_set():
        try:
            model = await asyncio.to_thread(refresh_category_model, ctx)
            log.info("suggestions trained on %d assessed reports", model.example_count)
        except asyncio.CancelledError:
            raise
        except SQLAlchemyError as exc:
            log.warning("suggestions: database error (%s); the model in use is kept",
                        type(exc).__name__)
        except Exception as exc:  # a bug must not stop the nightly training for good
            log.error("suggestions: training failed (%s)", type(exc).__name__)
        now = ctx.clock()
        await sleep_or_stop(stop, (next_run(now, rule, settings.timezone) - now)
                            .total_seconds())

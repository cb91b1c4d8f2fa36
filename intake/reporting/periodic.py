"""A check run every so many seconds inside `meld serve` until it stops: the loop the
feedback promise's and the cluster alerts' schedulers share.

A database error is logged (by its type, never data) and waited out until the next round;
any other error is logged too, so that a bug never stops the check for good.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import SQLAlchemyError


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if `stop` is set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))
    except TimeoutError:
        pass


async def run_every(interval: float, stop: asyncio.Event, check: Callable[[], Awaitable[object]],
                    *, name: str, log: logging.Logger) -> None:
    """Await `check()` every `interval` seconds until `stop` is set."""
    log.info("%s: checking every %.0f s", name, interval)
    while not stop.is_set():
        try:
            await check()
        except asyncio.CancelledError:
            raise
        except SQLAlchemyError as exc:
            log.warning("%s: database error (%s); trying again in %.0f s",
                        name, type(exc).__name__, interval)
        except Exception as exc:  # a bug must not stop the check for good
            log.error("%s: check failed (%s); trying again in %.0f s",
                      name, type(exc).__name__, interval)
        await sleep_or_stop(stop, interval)

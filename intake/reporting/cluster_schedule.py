"""Cluster alerts on a schedule: `cluster_scheduler` runs `services.check_clusters` every
settings.cluster_check_seconds inside `meld serve` (when settings.run_cluster_alerts), like
the feedback promise's scheduler.

Every replica may run it: an alert is raised once per cluster and window in one
transaction with its outbox row (intake.services.clusters), so two replicas never both
tell the group. A database error is logged (by its type, never data) and waited out until
the next check.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from intake.services.clusters import check_clusters

if TYPE_CHECKING:
    from intake.services import Context
    from intake.settings import Settings

log = logging.getLogger("meld.clusters")


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))
    except TimeoutError:
        pass


async def cluster_scheduler(ctx: Context, settings: Settings, stop: asyncio.Event) -> None:
    """Look for cluster alerts every settings.cluster_check_seconds until `stop` is set
    (the check runs in a thread: the use case is synchronous). Errors are logged and
    waited out."""
    interval = settings.cluster_check_seconds
    log.info("cluster alerts: checking every %.0f s", interval)
    while not stop.is_set():
        try:
            await asyncio.to_thread(check_clusters, ctx)
        except asyncio.CancelledError:
            raise
        except SQLAlchemyError as exc:
            log.warning("cluster alerts: database error (%s); trying again in %.0f s",
                        type(exc).__name__, interval)
        except Exception as exc:  # a bug must not stop the alerts for good
            log.error("cluster alerts: check failed (%s); trying again in %.0f s",
                      type(exc).__name__, interval)
        await _sleep(stop, interval)

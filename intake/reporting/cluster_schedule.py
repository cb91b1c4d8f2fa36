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

from intake.reporting.periodic import run_every
from intake.services.clusters import check_clusters

if TYPE_CHECKING:
    from intake.services import Context
    from intake.settings import Settings

log = logging.getLogger("meld.clusters")


async def cluster_scheduler(ctx: Context, settings: Settings, stop: asyncio.Event) -> None:
    """Look for cluster alerts every settings.cluster_check_seconds until `stop` is set
    (the check runs in a thread: the use case is synchronous)."""
    await run_every(settings.cluster_check_seconds, stop,
                    lambda: asyncio.to_thread(check_clusters, ctx),
                    name="cluster alerts", log=log)

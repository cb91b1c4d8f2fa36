"""Keeping the feedback promise on a schedule: `promise_scheduler` runs
`services.send_due_promise_notices` every settings.promise_check_seconds inside
`meld serve` (when settings.run_promise_scheduler), like the digest's scheduler, and with
it `send_measure_reminders` (the owners of measures due).

Every replica may run it: each notice is claimed once per report in `report_notices`, in
the same transaction as its outbox rows, so two replicas never both send one. A database
error is logged (by its type, never data) and waited out until the next check; a full
batch is followed at once by another run.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from intake.reporting.periodic import run_every
from intake.services.measures import send_measure_reminders
from intake.services.promises import PromiseRun, send_due_promise_notices

if TYPE_CHECKING:
    from intake.services import Context
    from intake.settings import Settings

log = logging.getLogger("meld.promises")

MAX_BATCHES = 20  # full batches run back to back before the loop sleeps again


async def run_promises_once(ctx: Context) -> PromiseRun:
    """One check (in a thread: the use case is synchronous), repeated while batches are
    full, up to MAX_BATCHES. Returns the last run."""
    run = await asyncio.to_thread(send_due_promise_notices, ctx)
    await asyncio.to_thread(send_measure_reminders, ctx)  # the measures due: their owners
    batches = 1
    while run.more and batches < MAX_BATCHES and (run.reminders or run.overdue):
        run = await asyncio.to_thread(send_due_promise_notices, ctx)
        batches += 1
    return run


async def promise_scheduler(ctx: Context, settings: Settings, stop: asyncio.Event) -> None:
    """Look for reminders and overdue notices due every settings.promise_check_seconds
    until `stop` is set."""
    await run_every(settings.promise_check_seconds, stop, lambda: run_promises_once(ctx),
                    name="promise scheduler", log=log)

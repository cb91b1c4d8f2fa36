"""Group commit: callers that write at the same moment share one transaction.

Every caller puts its item in a queue and then waits for the writer's turn. Whoever gets
the turn writes every item waiting (up to `max_batch`) with one call of `write_batch`,
which commits them in one transaction (one fsync on SQLite, one commit round trip on
PostgreSQL), and hands each caller its own result or its own error. A caller whose item
was written by an earlier turn just takes its result. Nobody waits for a timer: a lone
caller writes at once, and a batch is simply what queued up while the previous one was
being committed.

A caller on an event loop uses `run_async`: it waits on a future, not in a thread of its
own; one worker thread (the loop's default executor) writes batches while any are
waiting, so the callers of a batch share one hand-over to a thread and back.

`write_batch` must return one result per item, in order; an item's error is returned (as
the exception), not raised. An exception raised by `write_batch` itself is given to every
caller of that batch.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_BATCH = 64


class _Slot(Generic[T, R]):
    __slots__ = ("done", "error", "item", "notify", "result")

    def __init__(self, item: T, notify: Callable[[], None] | None = None) -> None:
        self.item = item
        self.done = False
        self.result: R | None = None
        self.error: BaseException | None = None
        self.notify = notify  # called (by the writing thread) once done


def _settle(future: asyncio.Future[R], slot: _Slot[T, R]) -> None:
    if future.done():  # the caller was cancelled: its item is written all the same
        return
    if slot.error is not None:
        future.set_exception(slot.error)
    else:
        future.set_result(slot.result)  # type: ignore[arg-type]


class GroupCommit(Generic[T, R]):
    """Items written together by whoever holds the writer's turn (see the module)."""

    def __init__(self, write_batch: Callable[[Sequence[T]], Sequence[R | BaseException]],
                 max_batch: int = MAX_BATCH) -> None:
        self._write_batch = write_batch
        self._max_batch = max_batch
        self._queue: deque[_Slot[T, R]] = deque()
        self._queue_lock = threading.Lock()
        self._turn = threading.Lock()
        self._draining = False  # a worker thread writes for `run_async` callers
        self._drains: set[asyncio.Future[None]] = set()
        self.batches = 0  # how many batches were written (for tests and figures)
        self.items = 0

    def run(self, item: T) -> R:
        """Write `item` (with whatever else is waiting) and return its result."""
        slot: _Slot[T, R] = _Slot(item)
        with self._queue_lock:
            self._queue.append(slot)
        while not slot.done:
            with self._turn:
                if not slot.done:
                    self._write_waiting()
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    async def run_async(self, item: T) -> R:
        """`run` for a caller on an event loop (see the module)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()

        def notify() -> None:
            try:
                loop.call_soon_threadsafe(_settle, future, slot)
            except RuntimeError:  # the loop has closed: nobody is waiting
                pass

        slot: _Slot[T, R] = _Slot(item, notify)
        with self._queue_lock:
            self._queue.append(slot)
            start, self._draining = not self._draining, True
        if start:
            drain = loop.run_in_executor(None, self._drain)
            self._drains.add(drain)
            drain.add_done_callback(self._drains.discard)
        return await future

    def _drain(self) -> None:
        """Write batches until nothing waits (a worker thread's job for `run_async`)."""
        try:
            while True:
                with self._turn:
                    self._write_waiting()
                with self._queue_lock:
                    if not self._queue:
                        self._draining = False
                        return
        except BaseException:
            with self._queue_lock:
                self._draining = False
            raise

    def _write_waiting(self) -> None:
        with self._queue_lock:
            batch = [self._queue.popleft()
                     for _ in range(min(self._max_batch, len(self._queue)))]
        if not batch:
            return
        try:
            results = list(self._write_batch([s.item for s in batch]))
            if len(results) != len(batch):
                raise RuntimeError("write_batch returned a result count unlike its items")
        except BaseException as exc:  # every caller of the batch gets the error
            results = [exc] * len(batch)
        self.batches += 1
        self.items += len(batch)
        for slot, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                slot.error = result
            else:
                slot.result = result
            slot.done = True
            if slot.notify is not None:
                slot.notify()

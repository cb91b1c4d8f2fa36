"""A bounded closed-loop load: N threads, each with its own connection, until a time or count."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

OK = "ok"

# One operation: returns OK, or a short outcome code (an HTTP status, an exception class name).
Operation = Callable[[], str]
# Opens one client's connection and yields its operation; called once in each thread.
Client = Callable[[], AbstractContextManager[Operation]]


class BenchFailed(RuntimeError):
    """The measurement could not be made (as opposed to a slow or missed target)."""


@dataclass
class LoadResult:
    clients: int
    elapsed_s: float
    ok: int
    errors: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)  # successful operations only

    @property
    def throughput(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def percentile_ms(self, p: float) -> float | None:
        """Nearest-rank percentile of the successful operations' latencies."""
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        rank = max(1, math.ceil(p / 100 * len(ordered)))
        return ordered[rank - 1]


class _Budget:
    """Hands out request slots until the count is used up or the deadline has passed."""

    def __init__(self, max_ops: int, seconds: float) -> None:
        self._left = max_ops
        self._seconds = seconds
        self._deadline = float("inf")
        self._lock = threading.Lock()

    def start(self) -> None:
        self._deadline = time.perf_counter() + self._seconds

    def take(self) -> bool:
        if time.perf_counter() >= self._deadline:
            return False
        with self._lock:
            if self._left <= 0:
                return False
            self._left -= 1
            return True


def merged(results: list[LoadResult]) -> LoadResult:
    """Several loads of the same clients as one: counts, times and latencies summed."""
    out = LoadResult(clients=results[0].clients, elapsed_s=0.0, ok=0)
    for r in results:
        out.elapsed_s += r.elapsed_s
        out.ok += r.ok
        out.errors.update(r.errors)
        out.latencies_ms.extend(r.latencies_ms)
    return out


def run_load(
    client: Client, *, clients: int, seconds: float, max_ops: int, warmup: int = 3,
    on_start: Callable[[], None] | None = None,
) -> LoadResult:
    """Run `clients` threads; each first does `warmup` uncounted operations, then all start
    together and loop until `seconds` have passed or `max_ops` operations were handed out.
    `on_start` runs once every client is warm, before any is let go (a CPU reading)."""
    budget = _Budget(max_ops, seconds)
    # the main thread joins the barrier too, so the clock starts when every client is ready
    ready = threading.Barrier(clients + 1, action=on_start)
    lock = threading.Lock()
    result = LoadResult(clients=clients, elapsed_s=0.0, ok=0)
    failures: list[Exception] = []

    def worker() -> None:
        oks: list[float] = []
        errors: Counter[str] = Counter()
        try:
            with client() as op:
                for _ in range(warmup):
                    op()
                ready.wait()
                for latency, outcome in _loop(op, budget):
                    if outcome == OK:
                        oks.append(latency)
                    else:
                        errors[outcome] += 1
        except threading.BrokenBarrierError:
            return
        except Exception as exc:  # a client that cannot even connect breaks the run
            failures.append(exc)
            ready.abort()
        with lock:
            result.ok += len(oks)
            result.latencies_ms.extend(oks)
            result.errors.update(errors)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        pass
    budget.start()
    started = time.perf_counter()
    for t in threads:
        t.join()
    result.elapsed_s = time.perf_counter() - started
    if failures:
        raise BenchFailed(f"a load client failed: {failures[0]!r}") from failures[0]
    return result


def _loop(op: Operation, budget: _Budget) -> Iterator[tuple[float, str]]:
    while budget.take():
        t0 = time.perf_counter()
        try:
            outcome = op()
        except Exception as exc:  # count it and go on: a measurement, not a test
            outcome = type(exc).__name__
        yield (time.perf_counter() - t0) * 1000.0, outcome

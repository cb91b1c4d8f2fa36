"""Fakes that record what they were asked (real-shaped; no mock.patch)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from intake.delivery.outbox import DeliveryError, Notification


@dataclass
class RecordingNotifier:
    """Records every delivered notification; can be told to fail the next N deliveries."""

    channel: str = "slack"
    delivered: list[Notification] = field(default_factory=list)
    attempts: list[Notification] = field(default_factory=list)
    fail_next: int = 0
    failure: DeliveryError = field(default_factory=lambda: DeliveryError("fake_unavailable"))

    async def deliver(self, note: Notification) -> None:
        self.attempts.append(note)
        if self.fail_next > 0:
            self.fail_next -= 1
            raise self.failure
        self.delivered.append(note)

    @property
    def transcript(self) -> list[tuple[str, str, str | None]]:
        return [(n.recipient, n.event, n.reference) for n in self.delivered]


@dataclass
class FakeClock:
    """A clock tests can move; starts at a fixed Monday noon UTC."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def strings_in(node: Any, keys: tuple[str, ...] = ("text",),
               where: Callable[[dict[str, Any]], bool] | None = None) -> list[str]:
    """Every string under one of `keys` in a JSON tree (Block Kit, Adaptive Cards), in
    document order; with `where`, only in the objects it accepts. For assertions."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if where is None or where(value):
                found.extend(value[k] for k in keys if isinstance(value.get(k), str))
            for child in value.values():
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    walk(node)
    return found

"""Shared state for the guarantees that must hold across processes (migration 0019).

`meld serve` may run MELD_WORKERS processes, and several replicas may share one database;
what one process knows, the others must too:

- `rate_limit_hits`: one row per counted submission per limit key (the sliding windows of
  `intake.http.ratelimit`). `key` is a keyed hash of the client's address or browser
  session, never the value itself; `at` is seconds since the epoch. Rows older than the
  window are pruned as the limits are checked.
- `received_events`: the chat events already received (`intake.services.received`), so
  that a retried delivery landing on another process is acknowledged, not run twice. The
  PRIMARY KEY (door, event) is the claim: INSERT ... ON CONFLICT DO NOTHING. `event` is a
  hash of the platform's event id. Rows are pruned after a day.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, utcnow


class RateLimitHit(Base):
    """One counted submission for one limit key ("reporter" or "ip" scope)."""

    __tablename__ = "rate_limit_hits"
    __table_args__ = (Index("ix_rate_limit_hits_key_at", "key", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))  # a keyed hash, with its scope in it
    at: Mapped[float] = mapped_column(Float, index=True)  # seconds since the epoch


class ReceivedEvent(Base):
    """A chat platform's event (or activity) id seen once; the claim against retries."""

    __tablename__ = "received_events"
    door: Mapped[str] = mapped_column(String(16), primary_key=True)  # "slack", "teams"
    event: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the id
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

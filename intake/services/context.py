"""The Context every use case takes (database, settings, taxonomy, secret key, clock), and
`build_context`, which makes one from Settings."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import make_url

from intake.domain.taxonomy import Taxonomy, load_taxonomy
from intake.settings import Settings
from storage.db import Database, open_database

Wake = Callable[[frozenset[str] | None], None]  # an OutboxSignal subscriber


class OutboxSignal:
    """Tells the outbox worker(s) of this process that a transaction wrote notices, so a
    receipt goes out at once instead of at the next poll. Thread-safe: use cases run in
    worker threads; each subscriber hands the wake-up to its own event loop.

    A subscriber is told the channels written to (None: not known), so a worker with no
    notifier for any of them need not look."""

    def __init__(self) -> None:
        self._subscribers: list[Wake] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: Wake) -> None:
        with self._lock:
            self._subscribers.append(callback)

    def unsubscribe(self, callback: Wake) -> None:
        with self._lock:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

    def fire(self, channels: frozenset[str] | None = None) -> None:
        """Called after the commit: a subscriber's failure never reaches the use case."""
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(channels)
            except Exception:  # noqa: S110 - the poll delivers it anyway
                pass


@dataclass(frozen=True, slots=True)
class Context:
    """What every operation needs: the database, settings, taxonomy and a clock."""

    db: Database
    settings: Settings
    taxonomy: Taxonomy
    secret_key: bytes
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # fired after a commit that wrote outbox rows (intake.services.common.transaction)
    outbox_signal: OutboxSignal = field(default_factory=OutboxSignal)

    def today(self) -> date:
        return self.local_date(self.clock())

    def local_date(self, moment: datetime) -> date:
        """The calendar date of an instant in the configured time zone."""
        return moment.astimezone(ZoneInfo(self.settings.timezone)).date()


def resolve_secret_key(settings: Settings) -> bytes:
    """MELD_SECRET_KEY, else a key kept beside the SQLite file (created once, mode 0600)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise RuntimeError("MELD_SECRET_KEY must be set when the database is not a SQLite file")
    path = Path(url.database).parent / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def build_context(settings: Settings) -> Context:
    return Context(
        db=open_database(settings.database_url),
        settings=settings,
        taxonomy=load_taxonomy(settings.taxonomy_dir),
        secret_key=resolve_secret_key(settings),
    )

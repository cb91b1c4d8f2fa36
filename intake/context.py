"""Builds the service Context from Settings: database, taxonomy and the secret key."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sqlalchemy.engine import make_url

from intake.services import Context
from intake.settings import Settings
from intake.taxonomy import load_taxonomy
from storage.db import open_database


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

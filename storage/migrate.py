"""Run Alembic programmatically: `meld migrate` and the tests use this, no alembic.ini needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head", *, timezone: str | None = None) -> None:
    """Bring the database at url up to revision (default: the newest). `timezone` is the
    configured MELD_TIMEZONE, for filling in local dates (else the environment's)."""
    cfg = alembic_config(url)
    if timezone:
        cfg.attributes["timezone"] = timezone
    command.upgrade(cfg, revision)


def check(url: str) -> None:
    """Raise if the models and the migration history disagree (alembic check)."""
    command.check(alembic_config(url))


def current_head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()

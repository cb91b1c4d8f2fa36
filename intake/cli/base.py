"""What every `meld` command shares: the Cli object (settings and a service context built
on first use), the actor the command line acts as, and where the settings came from.
Command modules import this, never `intake.cli.main`."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from intake import services
from intake.domain.model import Actor, Role
from intake.i18n import Translator
from intake.settings import ENV_FILE_VARIABLE, Settings


class Cli:
    """What a command needs: settings, and a service context built on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._ctx: services.Context | None = None

    @property
    def ctx(self) -> services.Context:
        if self._ctx is None:
            from intake.services.context import build_context

            self.settings.require_secret_key()  # SettingsError: one line, not a traceback
            self._ctx = build_context(self.settings)
        return self._ctx

    @property
    def tr(self) -> Translator:
        return Translator(self.settings.locale, self.settings.timezone)

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.db.dispose()


def cli_actor() -> Actor:
    return Actor(identity=f"cli:{getpass.getuser()}", role=Role.ADMIN)


def settings_source(cli: Cli) -> str | None:
    """Where the settings came from, for the start lines (None: built in code)."""
    settings, tr = cli.settings, cli.tr
    if not settings.read_from_environment:
        return None
    if settings.env_file is not None:
        return tr("Settings: {path} and the MELD_* environment variables (a variable set in "
                  "the environment wins).", path=str(settings.env_file))
    if os.environ.get(ENV_FILE_VARIABLE) is not None:  # set, and empty: no file wanted
        return tr("Settings: the MELD_* environment variables only ({variable} is empty).",
                  variable=ENV_FILE_VARIABLE)
    return tr("Settings: the MELD_* environment variables only (there is no .env file in "
              "{folder}).", folder=str(Path.cwd()))

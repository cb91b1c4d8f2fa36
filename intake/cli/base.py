"""What every `meld` command shares: the Cli object (settings and a service context built
on first use) and the actor the command line acts as. Command modules import this, never
`intake.cli.main`."""

from __future__ import annotations

import getpass

from intake import services
from intake.domain.model import Actor, Role
from intake.i18n import Translator
from intake.settings import Settings


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

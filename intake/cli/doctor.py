"""`meld doctor`: checks the configuration a site has set and says what is wrong and how to
fix it, one line per check, and exits 1 when something needs fixing (0 when all is well).

The database is checked here (reachable, migrated to this Meld's newest revision, in the
words `meld` uses everywhere for a database it cannot use); the secret key and the public
address in `intake.ops.doctor`; the chat doors through `intake.app.door_checks`. Doctor
only reads: it creates no database file, no key and no table.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from intake.cli.base import Cli, settings_source
from intake.cli.checks import DATABASE_MESSAGES, database_problem, schema_revision
from intake.i18n import Translator
from intake.ops.doctor import (
    OK,
    PROBLEM,
    SKIPPED,
    Check,
    base_url_check,
    secret_key_check,
)
from intake.settings import Settings


def add_parser(sub: Any, tr: Translator) -> None:
    text = tr("check the settings, the database and the chat doors, and say what to fix")
    p = sub.add_parser("doctor", help=text, description=text)
    p.set_defaults(func=cmd_doctor)


def _known_revision(revision: str) -> bool:
    """True if this Meld's migrations have `revision` (an older one); False for a revision
    only a newer Meld knows."""
    from alembic.script import ScriptDirectory

    from storage.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    try:
        return script.get_revision(revision) is not None
    except Exception:  # alembic's CommandError / ResolutionError: not one of ours
        return False


def database_check(settings: Settings, tr: Translator) -> Check:
    from storage.migrate import current_head

    label = tr("Database")
    shown = settings.database_url_shown
    if settings.is_sqlite_file:
        path = Path(make_url(settings.database_url).database or "")
        if not path.exists():  # connecting would create it: doctor only looks
            return Check(label, PROBLEM, tr("The SQLite file {path} does not exist yet: run "
                                            "meld migrate (make run does it too).",
                                            path=str(path)))
    try:
        revision = schema_revision(settings.database_url)
    except SQLAlchemyError as exc:
        line = database_problem(exc, settings.database_url, tr)
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
        return Check(label, PROBLEM, line or tr(DATABASE_MESSAGES["other"], url=shown,
                                                reason=reason))
    head = current_head()
    if revision is not None and revision == head:
        return Check(label, OK, tr("{url} answers and is migrated to the newest version "
                                   "({revision}).", url=shown, revision=revision))
    if revision is None or _known_revision(revision):
        return Check(label, PROBLEM, tr(DATABASE_MESSAGES["not_migrated"], url=shown))
    return Check(label, PROBLEM, tr(
        "The database {url} was migrated by a newer Meld (version {revision}; this Meld "
        "knows up to {head}): run that Meld, or restore the backup from before the upgrade.",
        url=shown, revision=revision, head=head or "-"))


def run_checks(settings: Settings, tr: Translator) -> list[Check]:
    from intake.app import door_checks  # the composition root knows the chat doors
    from intake.ops.doctor_mail import mail_check

    return [database_check(settings, tr), secret_key_check(settings, tr),
            base_url_check(settings, tr), *door_checks(settings, tr),
            mail_check(settings, tr)]


def cmd_doctor(cli: Cli, args: argparse.Namespace) -> int:
    settings, tr = cli.settings, cli.tr
    source = settings_source(cli)
    if source:
        print(source)
    checks = run_checks(settings, tr)
    marks = {OK: tr("ok"), PROBLEM: tr("FIX"), SKIPPED: "-"}
    width = max(len(mark) for mark in marks.values())
    for check in checks:
        print(f"{marks[check.status].ljust(width)}  {check.label}: {check.text}")
    problems = sum(check.needs_fixing for check in checks)
    if problems:
        print(tr("To fix: {count} (the lines marked {mark}).", count=problems,
                 mark=marks[PROBLEM]))
        return 1
    print(tr("Everything is in order."))
    return 0

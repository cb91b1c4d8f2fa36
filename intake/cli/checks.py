"""What `meld` checks before it starts, and how it words a database it cannot use.

Every command that opens the database answers a missing database, a refused connection, a
refused login or an unmigrated schema with one line in the user's language and a non-zero
exit status, instead of the driver's traceback. `meld serve` also checks that it can listen
on MELD_HOST:MELD_PORT before it says it is running.
"""

from __future__ import annotations

import errno
import re
import socket
from typing import TYPE_CHECKING

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from intake.i18n import N_

if TYPE_CHECKING:
    from intake.i18n import Translator

# libpq's words (English unless the server's lc_messages says otherwise; then the
# fallback line, with the server's own words, is shown)
_MISSING_DATABASE = re.compile(r'database "[^"]*" does not exist')
_UNKNOWN_ROLE = re.compile(r'role "[^"]*" does not exist')
_REFUSED = ("Connection refused", "Is the server running")
_BAD_PASSWORD = ("password authentication failed", "no password supplied")
_LOGIN_REFUSED = ("no pg_hba.conf entry", "authentication failed", "not permitted to log in")
_UNKNOWN_HOST = ("failed to resolve host", "could not translate host name",
                 "Name or service not known")
_TIMEOUT = ("timeout expired", "timed out")
UNDEFINED_TABLE = "42P01"  # PostgreSQL's SQLSTATE for a missing table

DATABASE_MESSAGES = {
    "missing_database": N_(
        "The database “{database}” does not exist on {server}. Create it (createdb "
        "{database}, or CREATE DATABASE {database}; in psql), then run meld migrate."),
    "refused": N_(
        "Nothing answers on {server}: the connection was refused. Is PostgreSQL running "
        "there, and are host and port in MELD_DATABASE_URL right?"),
    "bad_password": N_(
        "PostgreSQL on {server} did not accept the password of the user “{user}”. Check the "
        "password in MELD_DATABASE_URL."),
    "unknown_role": N_(
        "PostgreSQL on {server} has no user “{user}”. Create it (createuser {user}) or fix "
        "the user in MELD_DATABASE_URL."),
    "login_refused": N_(
        "PostgreSQL on {server} refused the login of “{user}” to “{database}” ({reason})."),
    "unknown_host": N_(
        "The database host “{host}” was not found. Check the host in MELD_DATABASE_URL."),
    "timeout": N_("{server} did not answer in time. Check the host and port in "
                  "MELD_DATABASE_URL, and the network between them."),
    "sqlite_unusable": N_("Meld cannot open the SQLite database {path} ({reason})."),
    "not_migrated": N_(
        "The database {url} has no Meld tables, or older ones: run meld migrate first."),
    "other": N_("Meld cannot use the database {url}: {reason}"),
}


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    # psycopg: 'connection failed: connection to server at "h", port 5432 failed: FATAL: ...'
    text = text.split("FATAL:", 1)[-1] if "FATAL:" in text else text
    return " ".join(text.splitlines()[0].split()) if text else type(error).__name__


def database_problem(error: BaseException, url: str, tr: Translator) -> str | None:
    """One line saying what is wrong with the database, or None if `error` is not about
    reaching or preparing it (then it is a bug, and its traceback is the right answer)."""
    if not isinstance(error, sa_exc.DBAPIError):  # OperationalError, ProgrammingError, ...
        return None
    orig = getattr(error, "orig", None) or error
    message = str(orig)
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError:
        parsed = None
    shown = (parsed.render_as_string(hide_password=True) if parsed is not None
             else url.split("://", 1)[0] + "://...")
    backend = parsed.get_backend_name() if parsed is not None else ""

    def say(code: str, **params: str) -> str:
        return tr(DATABASE_MESSAGES[code], **params)

    if getattr(orig, "sqlstate", None) == UNDEFINED_TABLE or "no such table" in message:
        return say("not_migrated", url=shown)
    if not isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
        return None  # a ProgrammingError or IntegrityError other than these is a bug
    if backend == "sqlite":
        return say("sqlite_unusable", path=(parsed.database if parsed else "") or shown,
                   reason=_first_line(orig))
    host = (parsed.host if parsed else None) or "localhost"
    port = (parsed.port if parsed else None) or 5432
    server = f"{host}:{port}"
    database = (parsed.database if parsed else None) or "-"
    user = (parsed.username if parsed else None) or "-"
    if _MISSING_DATABASE.search(message):
        return say("missing_database", database=database, server=server)
    if any(words in message for words in _BAD_PASSWORD):
        return say("bad_password", user=user, server=server)
    if _UNKNOWN_ROLE.search(message):
        return say("unknown_role", user=user, server=server)
    if any(words in message for words in _LOGIN_REFUSED):
        return say("login_refused", user=user, database=database, server=server,
                   reason=_first_line(orig))
    if any(words in message for words in _REFUSED):
        return say("refused", server=server)
    if any(words in message for words in _UNKNOWN_HOST):
        return say("unknown_host", host=host)
    if any(words in message for words in _TIMEOUT):
        return say("timeout", server=server)
    return say("other", url=shown, reason=_first_line(orig))


def schema_revision(url: str) -> str | None:
    """The Alembic revision the database is migrated to (None: no Meld tables yet).
    Raises the driver's error (see database_problem) when it cannot be reached."""
    from alembic.migration import MigrationContext

    from storage.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def check_schema(url: str) -> bool:
    """True if the database answers and is migrated to this Meld's newest revision.
    Raises the driver's error (see database_problem) when it cannot be reached."""
    from storage.migrate import current_head

    revision = schema_revision(url)
    return revision is not None and revision == current_head()


def listen_problem(host: str, port: int, tr: Translator) -> str | None:
    """Why Meld cannot listen on host:port, in one line, or None if it can. The socket is
    bound as uvicorn binds it (SO_REUSEADDR) and closed again at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except socket.gaierror:
        return tr("MELD_HOST “{host}” is not an address or host name of this machine.",
                  host=host)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return tr("Port {port} on {host} is already in use (another Meld, or another "
                      "program). Stop it, or choose another port with MELD_PORT.",
                      port=port, host=host)
        if exc.errno == errno.EACCES:
            return tr("Meld may not listen on port {port}: ports below 1024 need privileges. "
                      "Choose a port from 1024 with MELD_PORT.", port=port)
        if exc.errno == errno.EADDRNOTAVAIL:
            return tr("MELD_HOST “{host}” is not an address of this machine.", host=host)
        return tr("Meld cannot listen on {host}:{port} ({reason}).", host=host, port=port,
                  reason=exc.strerror or str(exc))
    return None

"""`meld backup` for SQLite: a consistent copy taken while Meld keeps running.

SQLite's online backup API (`sqlite3.Connection.backup`) copies the database page by page.
Done in one step (`pages=-1`) it reads one snapshot under a read transaction: in WAL mode
writers go on meanwhile, and the copy is the database as of one commit, never half a
transaction. The copy is written to a temporary file beside the target, checked with
`PRAGMA integrity_check`, switched to rollback-journal mode (a single self-contained
file) and then renamed into place, so a crash never leaves a half-written backup under
the target name.

PostgreSQL is backed up with its own tools (`pg_dump -Fc`, `pg_restore`); see README.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(Exception):
    """The backup could not be made (the message says why, without data)."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    bytes: int
    reports: int


def sqlite_path(database_url: str) -> Path | None:
    """The file of a sqlite:/// URL, or None for another backend or an in-memory database."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def backup_sqlite(database_url: str, out: Path) -> BackupResult:
    """Copy the SQLite database at database_url to `out`, consistently, while it is in use."""
    source_path = sqlite_path(database_url)
    if source_path is None:
        raise BackupError("not_sqlite")
    if not source_path.exists():
        raise BackupError("database_missing")
    out = out.resolve()
    if out == source_path.resolve():
        raise BackupError("same_file")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    source = sqlite3.connect(source_path, timeout=30)
    try:
        source.execute("PRAGMA busy_timeout=30000")
        target = sqlite3.connect(tmp)
        try:
            source.backup(target, pages=-1)  # one snapshot, one step: no restarts under load
            target.execute("PRAGMA journal_mode=DELETE")
            check = target.execute("PRAGMA integrity_check").fetchone()
            if not check or check[0] != "ok":
                raise BackupError("integrity_check_failed")
            reports = target.execute("SELECT count(*) FROM reports").fetchone()[0]
            target.commit()
        finally:
            target.close()
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out)
        with contextlib.suppress(OSError):  # make the rename durable too
            dir_fd = os.open(out.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    return BackupResult(path=out, bytes=out.stat().st_size, reports=reports)

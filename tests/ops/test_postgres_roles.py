"""The guide's PostgreSQL setup, run for real: deploy/postgres/setup.sql with psql makes the
two roles and the database, `meld migrate` runs as the owner, and Meld's work runs as the
app role (a report through the HTTP API, the CLI's triage, the outbox, retention, the
digest). The app role cannot change the schema or delete rows. deploy/bin/meld-backup
dumps as the owner, and the guide's restore brings the database back under the same
rights. Everything is made with random names and dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ProgrammingError

from intake.app import create_app
from intake.cli.main import main
from intake.domain.model import Actor, Role
from intake.ops import retention
from intake.services.context import build_context
from intake.settings import Settings
from tests.ops.conftest import DEPLOY, IN_CI, tool

pytestmark = pytest.mark.postgres

PG_ENV = "MELD_TEST_POSTGRES_URL"
SQL = DEPLOY / "postgres"
KEY = "k" * 48


@dataclass(frozen=True)
class Site:
    """One throwaway Meld database on the test server, set up as the guide says."""

    server: URL  # the superuser's URL (database postgres)
    db: str
    owner: str
    app: str
    password: str  # both roles' (the server may trust loopback; it is set all the same)

    def url(self, role: str, db: str | None = None) -> str:
        return self.server.set(drivername="postgresql+psycopg", username=role,
                               password=self.password, database=db or self.db
                               ).render_as_string(hide_password=False)

    def settings(self, role: str, db: str | None = None) -> Settings:
        return Settings(database_url=self.url(role, db), secret_key=KEY,
                        run_outbox_worker=False, rate_limit_enabled=False)

    def libpq_env(self, user: str, db: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env |= {"PGHOST": self.server.host or "127.0.0.1",
                "PGPORT": str(self.server.port or 5432), "PGUSER": user, "PGDATABASE": db}
        if user == self.server.username and self.server.password:
            env["PGPASSWORD"] = self.server.password
        elif user != self.server.username:
            env["PGPASSWORD"] = self.password
        return env

    def psql(self, db: str, *args: str) -> None:
        """psql as the superuser, as `sudo -u postgres psql` in the guide."""
        run = subprocess.run(
            [tool("psql"), "-X", "-q", "-v", f"owner={self.owner}", "-v", f"app={self.app}",
             *args], env=self.libpq_env(self.server.username or "postgres", db),
            capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr


@pytest.fixture
def site() -> Iterator[Site]:
    server = os.environ.get(PG_ENV)
    if not server:
        if IN_CI:
            pytest.fail(f"CI=true but {PG_ENV} is not set")
        pytest.skip(f"no PostgreSQL server given ({PG_ENV} is not set)")
    base = make_url(server).set(database="postgres")
    tag = secrets.token_hex(4)
    s = Site(base, f"meld_ops_{tag}", f"meld_owner_{tag}", f"meld_app_{tag}",
             secrets.token_urlsafe(24))
    admin = create_engine(base.set(drivername="postgresql+psycopg"),
                          isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"CI=true but PostgreSQL at {base.host}:{base.port} failed: {exc}")
        pytest.skip(f"PostgreSQL at {base.host}:{base.port} is not reachable: {exc}")
    try:
        yield s
    finally:
        with admin.connect() as conn:
            for db in (s.db, f"{s.db}_restored"):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            for role in (s.app, s.owner):
                conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def set_up(site: Site, sql: Path = SQL) -> None:
    """setup.sql as the guide runs it, then `meld migrate` as the owner."""
    site.psql("postgres", "-v", f"db={site.db}", "-v", f"owner_password={site.password}",
              "-v", f"app_password={site.password}", "-f", str(sql / "setup.sql"))
    assert main(["migrate"], settings=site.settings(site.owner)) == 0


def report(occurred: date) -> dict[str, object]:
    return {"kind": "deviation", "category": "discharge_summary", "subcategory": "missing",
            "description": "Epikrise manglet etter utskriving.",
            "occurred_on": occurred.isoformat(), "severity": "minor",
            "no_patient_identifiers": True}


def submit(settings: Settings) -> str:
    """One report through the JSON API, as a replica takes it."""
    ctx = build_context(settings)

    async def post() -> str:
        transport = httpx.ASGITransport(app=create_app(settings, ctx=ctx))
        async with httpx.AsyncClient(transport=transport, base_url="http://meld") as client:
            ready = await client.get("/readyz")
            assert ready.json() == {"status": "ok", "database": "ok"}
            r = await client.post("/api/v1/reports",
                                  json=report(date.today() - timedelta(days=1)))
            assert r.status_code == 201, r.text
            return str(r.json()["reference"])

    try:
        return asyncio.run(post())
    finally:
        ctx.db.dispose()


def test_the_app_role_runs_meld_and_cannot_change_the_schema(
        site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    set_up(site)
    app = site.settings(site.app)
    first = submit(app)  # makes this year's reference sequence: CREATE on the schema
    second = submit(app)
    assert first != second
    # the group's work from the command line (`sudo meld ...` logs in as the app role)
    for argv in (["triage", "assess", first, "--assessed-severity", "minor"],
                 ["triage", "reply", first, "Takk, vi ser på det."],
                 ["triage", "status", first, "in_progress"],
                 ["triage", "close", first, "Sjekkliste ved utskriving.", "Ny rutine."],
                 ["reports", "list"], ["outbox"], ["retention", "--apply"],
                 ["digest", "--dry-run"], ["token", "create", "--name", "kari",
                                           "--role", "triager"]):
        assert main(argv, settings=app) == 0, (argv, capsys.readouterr().err)
    # two days on, the closed report is past a 1-day retention: erased with UPDATEs only
    ctx = build_context(app)
    ctx = replace(ctx, clock=lambda: datetime.now(UTC) + timedelta(days=2))
    try:
        done = retention.apply(ctx=ctx, actor=Actor(identity="cli:test", role=Role.ADMIN),
                               days=1)
        assert done.references == (first,)
    finally:
        ctx.db.dispose()

    engine = create_engine(site.url(site.app))
    try:
        for statement in ("DROP TABLE reports", "ALTER TABLE reports ADD COLUMN x int",
                          "DELETE FROM reports", "TRUNCATE audit_events",
                          "CREATE TEMPORARY TABLE scratch (x int)"):
            with engine.connect() as conn, pytest.raises(ProgrammingError) as refused:
                conn.execute(text(statement))
            assert "permission denied" in str(refused.value) \
                or "must be owner" in str(refused.value), statement
    finally:
        engine.dispose()


def test_without_create_on_the_schema_the_first_report_of_a_year_fails(
        site: Site, tmp_path: Path) -> None:
    """Why grants.sql gives the app role CREATE on the schema: a copy without it makes a
    database where the year's first report cannot get a reference."""
    for name in ("setup.sql", "grants.sql"):
        (tmp_path / name).write_text((SQL / name).read_text(encoding="utf-8"),
                                     encoding="utf-8")
    grants = tmp_path / "grants.sql"
    text_ = grants.read_text(encoding="utf-8")
    assert "GRANT USAGE, CREATE ON SCHEMA public" in text_
    grants.write_text(text_.replace("GRANT USAGE, CREATE ON SCHEMA public",
                                    "GRANT USAGE ON SCHEMA public"), encoding="utf-8")
    set_up(site, tmp_path)
    with pytest.raises(ProgrammingError, match="permission denied for schema public"):
        submit(site.settings(site.app))


def test_backup_and_restore_as_the_guide_says(site: Site, tmp_path: Path) -> None:
    """meld-backup dumps as the owner (the app role's yearly sequence too), keeps the dumps
    of the last BACKUP_KEEP_DAYS days; the guide's restore (createdb, pg_restore as the
    superuser, grants.sql) gives a database the app role carries on with."""
    tool("pg_dump")
    tool("pg_restore")
    set_up(site)
    app = site.settings(site.app)
    before = submit(app)
    backups = tmp_path / "backups"
    backups.mkdir()
    old = backups / "meld-2020-01-01T021500.dump"
    old.write_bytes(b"an old dump")
    os.utime(old, (0, 1_000_000))  # 1970: long past any BACKUP_KEEP_DAYS
    env = site.libpq_env(site.owner, site.db) | {"BACKUP_DIR": str(backups),
                                                 "BACKUP_KEEP_DAYS": "14"}
    run = subprocess.run([str(DEPLOY / "bin" / "meld-backup")], env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    dumps = sorted(backups.iterdir())
    assert len(dumps) == 1 and dumps[0].name.startswith("meld-") and not old.exists()
    assert dumps[0].stat().st_mode & 0o077 == 0  # only the meld user reads a dump
    assert "wrote " + str(dumps[0]) in run.stdout

    restored = f"{site.db}_restored"
    site.psql("postgres", "-c", f'CREATE DATABASE "{restored}" OWNER "{site.owner}"')
    superuser = site.server.username or "postgres"
    # as the guide: the postgres user may not open /var/backups/meld, so root's shell
    # hands the dump over on standard input
    with open(dumps[0], "rb") as dump:
        run = subprocess.run([tool("pg_restore"), "--exit-on-error", "--single-transaction",
                              "-d", restored], stdin=dump,
                             env=site.libpq_env(superuser, restored), capture_output=True,
                             text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    site.psql(restored, "-f", str(SQL / "grants.sql"))
    after = submit(site.settings(site.app, restored))
    year, number = before.rsplit("-", 1)
    assert after == f"{year}-{int(number) + 1:04d}"  # the sequence came back where it was


def test_a_failed_dump_leaves_no_file(site: Site, tmp_path: Path) -> None:
    """meld-backup as a role that may not read Meld's tables: it fails, and no dump (not
    even a partial one) is left behind."""
    tool("pg_dump")
    set_up(site)
    submit(site.settings(site.app))
    # the owner without its membership in the app role: the yearly sequence is not its own
    site.psql("postgres", "-c", f'REVOKE "{site.app}" FROM "{site.owner}"')
    backups = tmp_path / "backups"
    backups.mkdir()
    env = site.libpq_env(site.owner, site.db) | {"BACKUP_DIR": str(backups)}
    run = subprocess.run([str(DEPLOY / "bin" / "meld-backup")], env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode != 0
    assert "permission denied for sequence meld_reference_" in run.stderr
    assert list(backups.iterdir()) == []

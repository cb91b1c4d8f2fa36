"""`meld` as a real process: a reader that goes away, databases it cannot use, the checks
`meld serve` makes before it says it runs, and the .env it reads.

Each run gets a clean environment (no MELD_* variable from the developer's shell) and an
empty working directory, so no developer's .env is read unless a test writes one.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from intake import services
from intake.domain.model import Actor, Role
from tests.integration.helpers import draft

MELD = Path(sys.executable).with_name("meld")
KEY = "k" * 32
REPORTER = Actor("web:process-test", Role.REPORTER)


def meld_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MELD_")}
    env.update(values)
    return env


def meld(cwd: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(MELD), *argv], cwd=cwd, env=meld_env(**env), text=True,
                          capture_output=True, timeout=90, check=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_one_line(done: subprocess.CompletedProcess[str], status: int, *words: str) -> str:
    """Refused with `status`, in one line on stderr that holds every one of `words`."""
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("meld: "), done.stderr
    assert done.returncode == status, done.stderr
    for word in words:
        assert word in lines[0]
    assert "Meld kjører" not in done.stdout
    return lines[0]


# ------------------------------------------------------------------ a reader goes away


def test_meld_stops_quietly_when_head_has_read_enough(db_url: str, ctx, tmp_path) -> None:
    # 200 lines are about 20 kB: more than the smallest pipe (4 kB) and what head reads
    # at once (at most that much again) hold, so meld is still writing when head has gone
    for _ in range(200):
        services.submit_report(ctx=ctx, actor=REPORTER, draft=draft())
    read, write = os.pipe()
    fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, 4096)
    head = subprocess.Popen(["head", "-1"], stdin=read, stdout=subprocess.PIPE, text=True)
    os.close(read)
    try:
        done = subprocess.run([str(MELD), "reports", "list", "--limit", "200"], cwd=tmp_path,
                              env=meld_env(MELD_DATABASE_URL=db_url, MELD_SECRET_KEY=KEY),
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=90,
                              check=False)
    finally:
        os.close(write)
    first, _ = head.communicate(timeout=30)
    assert first.split() == ["Referanse", "Meldt", "Status", "Type", "Kategori"]
    assert (done.returncode, done.stderr) == (141, "")  # as `yes | head -1`: no traceback


@pytest.mark.parametrize("argv", [["export"], ["reports", "list"], ["audit"]])
def test_a_pipe_closed_before_meld_writes_ends_it_quietly(sqlite_url: str, tmp_path,
                                                          argv: list[str]) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before meld writes a byte
    try:
        done = subprocess.run([str(MELD), *argv], cwd=tmp_path,
                              env=meld_env(MELD_DATABASE_URL=sqlite_url, MELD_SECRET_KEY=KEY),
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=90,
                              check=False)
    finally:
        os.close(write)
    # nothing on stderr: export does not claim rows it could not deliver, no traceback
    assert (done.returncode, done.stderr) == (141, "")


# ------------------------------------------------------------------ databases


def test_a_missing_postgresql_database_is_named_with_the_fix(pg_database_url: str,
                                                             tmp_path: Path) -> None:
    missing = f"meld_missing_{uuid.uuid4().hex[:8]}"
    url = make_url(pg_database_url).set(database=missing).render_as_string(
        hide_password=False)
    done = meld(tmp_path, "migrate", MELD_DATABASE_URL=url)
    line = assert_one_line(done, 1, f"Databasen «{missing}» finnes ikke på",
                           f"createdb {missing}", f"CREATE DATABASE {missing};",
                           "kjør så meld migrate")
    assert line.endswith(".")
    assert done.stdout.splitlines() == [
        f"Innstillinger: bare MELD_*-miljøvariablene (det finnes ingen .env-fil i {tmp_path}).",
        f"Database: {make_url(url).render_as_string(hide_password=True)}.",
    ]


# every command that opens the database, with what else it needs
DATABASE_COMMANDS = [
    ["migrate"], ["serve"], ["reports", "list"], ["reports", "show", "MELD-2026-0001"],
    ["triage", "note", "MELD-2026-0001", "Notat"], ["export"],
    ["token", "create", "--name", "kari", "--role", "triager"], ["audit"],
    ["retention", "--dry-run"], ["outbox"], ["digest", "--dry-run"],
    ["report", "--tertial", "2026-T1", "--out", "t1.html"], ["seed-demo", "--reports", "5"],
]


def test_every_command_answers_a_refused_connection_in_one_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    env = meld_env(MELD_DATABASE_URL=f"postgresql+psycopg://meld@127.0.0.1:{port}/meld",
                   MELD_SECRET_KEY=KEY, MELD_PORT=str(free_port()))
    running = [(argv, subprocess.Popen([str(MELD), *argv], cwd=tmp_path, env=env, text=True,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE))
               for argv in DATABASE_COMMANDS]
    for argv, proc in running:
        out, err = proc.communicate(timeout=120)
        done = subprocess.CompletedProcess(argv, proc.returncode, out, err)
        assert_one_line(done, 1, f"Ingenting svarer på 127.0.0.1:{port}: tilkoblingen ble "
                                 "avvist.", "MELD_DATABASE_URL")
    assert not (tmp_path / "t1.html").exists()


class PasswordRefusingPostgres:
    """Speaks just enough of the PostgreSQL protocol (v3) to ask for a password and refuse
    it as a server with password authentication does (SQLSTATE 28P01). The test server
    may trust every login on loopback, so it cannot show a wrong password itself."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.passwords: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            with conn:
                try:
                    self._refuse(conn)
                except (OSError, struct.error):
                    pass

    @staticmethod
    def _read(conn: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = conn.recv(size - len(data))
            if not chunk:
                raise OSError("client went away")
            data += chunk
        return data

    def _refuse(self, conn: socket.socket) -> None:
        while True:  # SSLRequest / GSSENCRequest first: "N", not supported; then startup
            (length,) = struct.unpack("!I", self._read(conn, 4))
            (code,) = struct.unpack("!I", self._read(conn, length - 4)[:4])
            if code not in (80877103, 80877104):
                break
            conn.sendall(b"N")
        conn.sendall(b"R" + struct.pack("!II", 8, 3))  # AuthenticationCleartextPassword
        tag = self._read(conn, 1)
        (length,) = struct.unpack("!I", self._read(conn, 4))
        body = self._read(conn, length - 4)
        assert tag == b"p"
        self.passwords.append(body.rstrip(b"\0"))
        fields = (b"SFATAL\0VFATAL\0C28P01\0"
                  b'Mpassword authentication failed for user "meld"\0\0')
        conn.sendall(b"E" + struct.pack("!I", len(fields) + 4) + fields)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def password_refusing_postgres() -> Iterator[PasswordRefusingPostgres]:
    server = PasswordRefusingPostgres()
    yield server
    server.close()


def test_a_wrong_password_is_named(password_refusing_postgres, tmp_path: Path) -> None:
    port = password_refusing_postgres.port
    done = meld(tmp_path, "reports", "list", MELD_SECRET_KEY=KEY,
                MELD_DATABASE_URL=f"postgresql+psycopg://meld:wrong@127.0.0.1:{port}/meld")
    assert_one_line(done, 1, f"PostgreSQL på 127.0.0.1:{port} godtok ikke passordet til "
                             "brukeren «meld».", "MELD_DATABASE_URL")
    assert password_refusing_postgres.passwords == [b"wrong"]  # it did get that far
    assert "wrong" not in done.stderr


def test_an_unmigrated_database_says_run_migrate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    done = meld(tmp_path, "reports", "list", MELD_DATABASE_URL=url)
    assert_one_line(done, 1, f"Databasen {url} har ingen Meld-tabeller", "meld migrate")
    done = meld(tmp_path, "serve", "--no-migrate", MELD_DATABASE_URL=url,
                MELD_PORT=str(free_port()))
    assert_one_line(done, 1, "kjør meld migrate først")


# ------------------------------------------------------------------ serve's checks


def test_serve_without_a_key_on_postgresql_says_so_before_it_starts(tmp_path: Path) -> None:
    done = meld(tmp_path, "serve", MELD_DATABASE_URL="postgresql+psycopg://meld@127.0.0.1/meld",
                MELD_PORT=str(free_port()))
    assert_one_line(done, 2, "MELD_SECRET_KEY er ikke satt",
                    "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'")
    assert done.stdout.startswith("Innstillinger: bare MELD_*-miljøvariablene")
    assert len(done.stdout.splitlines()) == 1  # where the settings came from, nothing more


def test_a_short_key_in_dotenv_is_refused_by_every_command(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MELD_SECRET_KEY=too-short\n", encoding="utf-8")
    for argv in (["serve"], ["reports", "list"]):
        done = meld(tmp_path, *argv, MELD_DATABASE_URL=f"sqlite:///{tmp_path}/meld.db")
        assert_one_line(done, 2, "MELD_SECRET_KEY er for kort: 9 byte, og den må ha minst 32.")
        assert done.stdout == ""  # refused while reading the settings, before anything else
    assert "too-short" not in done.stderr and not (tmp_path / "meld.db").exists()


def test_serve_on_a_port_in_use_says_so_before_it_starts(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = meld(tmp_path, "serve", MELD_DATABASE_URL=f"sqlite:///{tmp_path}/meld.db",
                    MELD_PORT=str(port))
    assert_one_line(done, 1, f"Port {port} på 127.0.0.1 er allerede i bruk", "MELD_PORT")
    assert done.stdout.startswith("Innstillinger: ") and len(done.stdout.splitlines()) == 1


# ------------------------------------------------------------------ .env


def test_dotenv_is_read_and_said_and_the_environment_wins(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / ".env").write_text(
        "# copied from .env.example\n"
        f"MELD_DATABASE_URL=postgresql+psycopg://meld:topsecret@127.0.0.1:{port}/meld\n"
        f"MELD_SECRET_KEY={KEY}\n", encoding="utf-8")
    done = meld(tmp_path, "migrate")
    assert done.stdout.splitlines() == [
        f"Innstillinger: {tmp_path}/.env og MELD_*-miljøvariablene (en variabel satt i "
        "miljøet går foran).",
        f"Database: postgresql+psycopg://meld:***@127.0.0.1:{port}/meld.",
    ]
    assert_one_line(done, 1, "tilkoblingen ble avvist")
    assert "topsecret" not in done.stdout + done.stderr

    done = meld(tmp_path, "migrate", MELD_DATABASE_URL=f"sqlite:///{tmp_path}/meld.db")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1:] == [f"Database: sqlite:///{tmp_path}/meld.db.",
                                            "Databasen er oppdatert."]

"""Real processes for the fault tests: Meld as a subprocess, a throwaway PostgreSQL server.

`MeldProcess` runs `python -m uvicorn --factory intake.app:app_from_env` (what
`meld serve --workers N` runs in each worker) with MELD_* settings on a free loopback
port, logs to a file the test reads, and can be SIGKILLed. `ThrowawayPostgres` is a
private PostgreSQL cluster in a temp directory on a free port (as the `postgres` user when
the tests run as root), so a test may stop and start it without touching the shared
server other people's tests use.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


RUNNING: list[MeldProcess] = []  # killed after each test, however it ended (conftest)


class MeldProcess:
    """One Meld server process; `env` holds the MELD_* settings."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None) -> None:
        self.env = env
        self.log_path = log_path
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> MeldProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MELD_")}
        # a burst from loopback is one client address: the per-IP limit is not under test
        env["MELD_RATE_LIMIT_ENABLED"] = "false"
        env["MELD_ENV_FILE"] = ""  # never a developer's .env in the repository
        env.update(self.env)
        env["PYTHONUNBUFFERED"] = "1"
        log = open(self.log_path, "ab")  # the child writes to it; closed here after Popen
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory", "intake.app:app_from_env",
                 "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
                 "--no-access-log"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        RUNNING.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"meld exited at start-up:\n{self.log()[-3000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"meld did not answer /healthz within {timeout} s")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no lifespan end."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def _pg_bindir() -> Path | None:
    candidates: list[str] = []
    if shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            candidates.append(subprocess.run(["pg_config", "--bindir"], capture_output=True,
                                             text=True, check=True).stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for c in candidates:
        if c and (Path(c) / "initdb").exists() and (Path(c) / "pg_ctl").exists():
            return Path(c)
    return None


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


class ThrowawayPostgres:
    """A private PostgreSQL cluster (initdb in a temp dir), started and stopped at will."""

    def __init__(self) -> None:
        bindir = _pg_bindir()
        if bindir is None:
            _missing("PostgreSQL server binaries (initdb, pg_ctl) not found")
        assert bindir is not None
        self.bindir = bindir
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            import pwd

            try:
                pwd.getpwnam("postgres")
            except KeyError:
                _missing("running as root and there is no postgres user to run PostgreSQL as")
            if shutil.which("runuser") is None:
                _missing("running as root and runuser is missing")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.dir = Path(tempfile.mkdtemp(prefix="meld-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        if self.as_user:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "--no-sync", "-E", "UTF8")
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.dir}'\nfsync = on\n"
                       "max_connections = 60\nshared_buffers = 16MB\n")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bindir / tool), *args], check=True,
                       capture_output=True, timeout=60)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"),
                  "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

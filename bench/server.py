"""The real server as a subprocess (`python -m intake.cli.main serve`), and its memory use."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.load import BenchFailed

REPO = Path(__file__).resolve().parent.parent


class ServerFailed(BenchFailed):
    """The server did not come up, or died."""


@dataclass(frozen=True)
class Server:
    pid: int
    base_url: str
    log_path: Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (MELD_WORKERS > 1 runs worker processes), from the
    parent pid in every /proc/<pid>/stat (/proc/<pid>/task/*/children needs a kernel built
    with CONFIG_PROC_CHILDREN, which not every machine has)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # exited meanwhile
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])  # after "pid (comm) state"
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        member = todo.pop()
        found.append(member)
        todo += children.get(member, [])
    return found


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (resident now) and VmHWM (peak resident) of a process tree, in MB (summed)."""
    out: dict[str, float] = {"VmRSS": 0.0, "VmHWM": 0.0}
    for member in process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:  # exited meanwhile
            continue
        for line in status.splitlines():
            key, _, value = line.partition(":")
            if key in out:
                out[key] += int(value.split()[0]) / 1024  # kB -> MB
    return out


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process tree has used so far (a member that has exited
    counts no more)."""
    total = 0.0
    for member in process_tree(pid):
        try:
            stat = Path(f"/proc/{member}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        utime, stime = int(fields[11]), int(fields[12])
        total += (utime + stime) / os.sysconf("SC_CLK_TCK")
    return total


def settle(pid: int, *, window_s: float = 0.5, idle_percent: float = 5.0,
           timeout_s: float = 30.0) -> None:
    """Wait until the process tree is idle: less than `idle_percent` of one core over a
    window. After start-up (every worker process has built its app) and after a load (the
    work a load left behind, such as outbox deliveries, is done)."""
    deadline = time.monotonic() + timeout_s
    before = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(window_s)
        now = cpu_seconds(pid)
        if (now - before) / window_s * 100 < idle_percent:
            return
        before = now


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextmanager
def running_server(database_url: str, log_path: Path, timeout_s: float = 60.0,
                   extra_env: dict[str, str] | None = None,
                   workers: int | None = None) -> Iterator[Server]:
    """Start `serve` (it migrates first), wait for GET /readyz 200, stop it on exit.
    `workers`: server processes (MELD_WORKERS; None: as the environment says)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "MELD_DATABASE_URL": database_url,
        "MELD_HOST": "127.0.0.1",
        "MELD_PORT": str(port),
        "MELD_BASE_URL": base_url,
        "MELD_SECRET_KEY": "bench" * 7,
        "MELD_LOG_LEVEL": "WARNING",
        "MELD_RATE_LIMIT_ENABLED": "false",  # the load generator is one client on loopback
        "MELD_ENV_FILE": "",  # never a developer's .env in the repository
        **({"MELD_WORKERS": str(workers)} if workers is not None else {}),
        **(extra_env or {}),
    }
    with running_process([sys.executable, "-m", "intake.cli.main", "serve"], env, base_url,
                         log_path, timeout_s) as server:
        yield server


@contextmanager
def running_process(argv: list[str], env: dict[str, str], base_url: str, log_path: Path,
                    timeout_s: float = 60.0) -> Iterator[Server]:
    """Start an HTTP server process, wait for GET /readyz 200, stop it (SIGTERM) on exit."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        _wait_ready(proc, base_url, log_path, timeout_s)
        yield Server(pid=proc.pid, base_url=base_url, log_path=log_path)
        if proc.poll() is not None:
            raise ServerFailed(f"server exited with {proc.returncode} during the bench:\n"
                               f"{_tail(log_path)}")
    finally:
        _stop(proc)


def _wait_ready(proc: subprocess.Popen[bytes], base_url: str, log_path: Path,
                timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ServerFailed(f"server exited with {proc.returncode} before it was ready:"
                                   f"\n{_tail(log_path)}")
            try:
                if client.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise ServerFailed(f"server not ready after {timeout_s:.0f} s:\n{_tail(log_path)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # uvicorn shuts down gracefully (stops the outbox worker)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

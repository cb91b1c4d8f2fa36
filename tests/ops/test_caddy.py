"""deploy/Caddyfile: Caddy's own check passes (and fails on a broken copy), its upstreams
are the replicas of meld.target, and Caddy run with it in front of two replicas started
with meld@.service's ExecStart line keeps taking reports when one replica is gone."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from dotenv import dotenv_values

from storage.migrate import upgrade
from tests.ops.conftest import DEPLOY, MELD_BIN, UNITS, tool
from tests.ops.test_systemd_units import replicas

CADDYFILE = DEPLOY / "Caddyfile"
SITE = "meld.example.no"


def caddy_env(tmp: Path) -> dict[str, str]:
    """Caddy keeps its data and autosaved config under HOME/XDG: a temp folder here."""
    home = tmp / "caddy-home"
    home.mkdir(exist_ok=True)
    return {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
            "XDG_CONFIG_HOME": str(home / "config")}


def caddy(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("caddy"), *args], capture_output=True, text=True,
                          timeout=30, env=caddy_env(tmp))


def validate(tmp: Path, path: Path) -> subprocess.CompletedProcess[str]:
    return caddy(tmp, "validate", "--config", str(path), "--adapter", "caddyfile")


def test_caddy_validates_the_caddyfile(tmp_path: Path) -> None:
    run = validate(tmp_path, CADDYFILE)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Valid configuration" in run.stdout + run.stderr
    # Caddy warns, and carries on, when the file is not in `caddy fmt` form
    assert "not formatted" not in run.stdout + run.stderr


@pytest.mark.parametrize(("old", "new"), [
    ("health_uri /readyz", "health_url /readyz"),  # an unknown subdirective
    ("lb_try_duration 5s", "lb_try_duration five"),  # a value Caddy cannot read
    ("lb_policy round_robin", "lb_policy round_robn"),  # no such policy
])
def test_caddy_refuses_a_broken_copy(tmp_path: Path, old: str, new: str) -> None:
    text = CADDYFILE.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / "Caddyfile"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    assert validate(tmp_path, broken).returncode != 0


def proxy_handler(tmp: Path) -> dict[str, Any]:
    """The reverse_proxy handler of Caddy's own JSON for the Caddyfile."""
    run = caddy(tmp, "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile")
    assert run.returncode == 0, run.stderr
    found: list[dict[str, Any]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("handler") == "reverse_proxy":
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(run.stdout))
    assert len(found) == 1
    return found[0]


def test_the_upstreams_are_the_replicas_with_health_checks(tmp_path: Path) -> None:
    handler = proxy_handler(tmp_path)
    ports = [re.sub(r"\D", "", name) for name in replicas()]  # meld@8001.service: 8001
    assert [u["dial"] for u in handler["upstreams"]] == [f"127.0.0.1:{p}" for p in ports]
    active = handler["health_checks"]["active"]
    assert active["uri"] == "/readyz" and active["expect_status"] == 200
    # a submitted report is sent to the other replica when one cannot be reached
    assert handler["load_balancing"]["try_duration"] > 0
    assert handler["buffer_requests"] is True


# --- Caddy in front of two replicas, as on the server --------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args!r} exited:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} did not answer within {timeout} s:\n{log.read_text()[-2000:]}")


def exec_start(port: int) -> list[str]:
    """meld@.service's ExecStart for instance `port`, with this checkout's `meld`."""
    line = next(line for line in (UNITS / "meld@.service").read_text().splitlines()
                if line.startswith("ExecStart="))
    words = line.removeprefix("ExecStart=").replace("%i", str(port)).split()
    meld = str(Path(sys.executable).with_name("meld"))
    return [meld if w == MELD_BIN else w for w in words]


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in started:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def report() -> dict[str, object]:
    return {"kind": "deviation", "category": "discharge_summary", "subcategory": "missing",
            "description": "Epikrise manglet etter utskriving.",
            "occurred_on": (date.today() - timedelta(days=1)).isoformat(), "severity": "minor",
            "no_patient_identifiers": True}


def test_caddy_in_front_of_two_replicas_survives_losing_one(
        tmp_path: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    if not Path(sys.executable).with_name("meld").exists():
        pytest.skip("the meld entry point is not installed beside this Python")
    caddy_bin = tool("caddy")
    database = f"sqlite:///{tmp_path / 'meld.db'}"
    upgrade(database)
    # the settings as the guide writes /etc/meld/meld.env, on SQLite instead of PostgreSQL
    settings = {k: v for k, v in dotenv_values(DEPLOY / "meld.env.example").items()
                if v is not None}
    settings |= {"MELD_DATABASE_URL": database, "MELD_SECRET_KEY": "k" * 48,
                 "MELD_ENV_FILE": "", "MELD_LOG_LEVEL": "WARNING"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("MELD_")} | settings
    ports = [free_port(), free_port()]
    logs = [tmp_path / f"replica-{p}.log" for p in ports]
    for port, log in zip(ports, logs, strict=True):
        with open(log, "wb") as out:
            processes.append(subprocess.Popen(exec_start(port), env=env, cwd=tmp_path,
                                              stdout=out, stderr=subprocess.STDOUT))
    for proc, port, log in zip(processes, ports, logs, strict=True):
        wait_for(f"http://127.0.0.1:{port}/readyz", proc, log)

    front = free_port()
    text = CADDYFILE.read_text(encoding="utf-8")
    text = text.replace(f"\n{SITE} {{", f"\nhttp://127.0.0.1:{front} {{", 1)
    text = text.replace("127.0.0.1:8001 127.0.0.1:8002",
                        f"127.0.0.1:{ports[0]} 127.0.0.1:{ports[1]}", 1)
    text = text.replace("{\n", "{\n\tadmin off\n", 1)  # no admin endpoint on :2019
    config = tmp_path / "Caddyfile"
    config.write_text(text, encoding="utf-8")
    caddy_log = tmp_path / "caddy.log"
    with open(caddy_log, "wb") as out:
        processes.append(subprocess.Popen(
            [caddy_bin, "run", "--config", str(config), "--adapter", "caddyfile"],
            env=caddy_env(tmp_path), stdout=out, stderr=subprocess.STDOUT))
    base = f"http://127.0.0.1:{front}"
    wait_for(base + "/readyz", processes[-1], caddy_log)

    references = set()
    for _ in range(2):
        r = httpx.post(base + "/api/v1/reports", json=report(), timeout=10)
        assert r.status_code == 201, r.text
        assert r.headers["strict-transport-security"].startswith("max-age=")
        references.add(r.json()["reference"])
    processes[0].send_signal(signal.SIGTERM)  # one replica goes away (an upgrade, a crash)
    processes[0].wait(timeout=10)
    for _ in range(2):  # round robin would send one of these to the stopped replica
        r = httpx.post(base + "/api/v1/reports", json=report(), timeout=10)
        assert r.status_code == 201, r.text
        references.add(r.json()["reference"])
    assert len(references) == 4

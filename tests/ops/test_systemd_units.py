"""deploy/systemd/ passes `systemd-analyze verify` as a Debian 12 server would load it.

The units are verified in a throwaway root (`--root`): the host's own units (for
sysinit.target, network-online.target, timers.target ...), deploy/systemd/ in
/etc/systemd/system, and the programs the units start at the paths the guide installs
them to, so a unit naming another path fails as it would on the server. Any line the
verifier prints about a Meld unit is a failure: systemd only warns, and carries on, on an
unknown directive, a bad value or a calendar it cannot parse.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.ops.conftest import BACKUP_BIN, GUIDE, MELD_BIN, UNITS, tool

# the programs the units start, where the guide installs them (/usr/bin/env: Debian's)
PROGRAMS = (MELD_BIN, BACKUP_BIN, "/usr/bin/env")


def host_units() -> Path:
    for candidate in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")):
        if (candidate / "sysinit.target").exists():
            return candidate
    pytest.skip("the host has no systemd unit folder to verify against")
    raise AssertionError  # not reached


def replicas(units: Path = UNITS) -> list[str]:
    """The instances meld.target starts, e.g. ['meld@8001.service', 'meld@8002.service']."""
    text = (units / "meld.target").read_text(encoding="utf-8")
    return re.findall(r"\bmeld@\d+\.service\b", "\n".join(
        line for line in text.splitlines() if line.startswith("Wants=")))


def unit_names(units: Path = UNITS) -> list[str]:
    names = [p.name for p in sorted(units.iterdir()) if p.name != "meld@.service"]
    return [*replicas(units), *names]


def make_root(tmp: Path, units: Path = UNITS) -> Path:
    root = tmp / "root"
    shutil.copytree(host_units(), root / "usr/lib/systemd/system", symlinks=True)
    shutil.copytree(units, root / "etc/systemd/system")
    for program in PROGRAMS:
        stub = root / program.lstrip("/")
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("#!/bin/sh\n")
        stub.chmod(0o755)
    return root


def verify(root: Path, names: list[str]) -> list[str]:
    """What systemd-analyze says is wrong with these units, one line each ([] if nothing)."""
    analyze = tool("systemd-analyze")
    run = subprocess.run([analyze, "verify", "--man=no", f"--root={root}", *names],
                         capture_output=True, text=True, timeout=60)
    lines = [line for line in (run.stdout + run.stderr).splitlines()
             if "meld" in line or str(root) in line]
    if run.returncode != 0 and not lines:
        lines = [f"systemd-analyze exited with {run.returncode}: {run.stderr.strip()}"]
    return lines


def test_the_units_verify_clean(tmp_path: Path) -> None:
    names = unit_names()
    assert len(replicas()) >= 2, "meld.target starts two replicas (or more)"
    assert {"meld-migrate.service", "meld-retention.timer", "meld-backup.timer",
            "meld-digest.timer"} <= set(names)
    assert verify(make_root(tmp_path), names) == []


BROKEN = {
    "a misspelt directive": ("meld@.service", "NoNewPrivileges=yes", "NoNewPrivilege=yes"),
    "a program the guide does not install": ("meld-retention.service", MELD_BIN,
                                             "/opt/meld/bin/meld"),
    "a calendar systemd cannot read": ("meld-digest.timer", "08:00:00 Europe/Oslo",
                                       "08:00:00 Europa/Oslo"),
    "an unknown system call group": ("meld-backup.service", "@system-service",
                                     "@system-servic"),
    "a replica name that is no unit": ("meld.target", "meld@8002.service", "meld@8002.servce"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_a_broken_unit_is_caught(tmp_path: Path, case: str) -> None:
    name, old, new = BROKEN[case]
    broken = tmp_path / "units"
    shutil.copytree(UNITS, broken)
    text = (broken / name).read_text(encoding="utf-8")
    assert old in text
    (broken / name).write_text(text.replace(old, new, 1), encoding="utf-8")
    assert verify(make_root(tmp_path, broken), unit_names(broken)) != []


def test_the_units_are_hardened_and_run_as_meld() -> None:
    """Every service runs as the meld user, with the same sandbox; the replicas listen on
    loopback only, on the port of their instance name."""
    for path in sorted(UNITS.glob("*.service")):
        text = path.read_text(encoding="utf-8")
        for line in ("User=meld", "NoNewPrivileges=yes", "ProtectSystem=strict",
                     "PrivateTmp=yes", "ProtectHome=yes", "CapabilityBoundingSet=\n"):
            assert line in text, f"{path.name} lacks {line.strip()}"
    serve = (UNITS / "meld@.service").read_text(encoding="utf-8")
    assert f"MELD_HOST=127.0.0.1 MELD_PORT=%i {MELD_BIN} serve --no-migrate" in serve


def test_the_guides_drop_in_verifies(tmp_path: Path) -> None:
    """The guide's drop-in for the Teams digest (printf ... > /etc/systemd/system/...)."""
    text = GUIDE.read_text(encoding="utf-8").replace("\\\n", " ")
    match = re.search(r"printf '(\[Service\][^']*)'\s*>\s*/etc/systemd/system/(\S+)", text)
    assert match is not None, "the guide shows a drop-in for meld-digest.service"
    body, target = match.groups()
    root = make_root(tmp_path)
    drop_in = root / "etc/systemd/system" / target
    drop_in.parent.mkdir(parents=True, exist_ok=True)
    drop_in.write_text(body.replace("\\n", "\n"), encoding="utf-8")
    unit = drop_in.parent.name.removesuffix(".d")
    assert verify(root, [unit]) == []
    drop_in.write_text(body.replace("\\n", "\n").replace(MELD_BIN, "/opt/meld/bin/meld"))
    assert verify(root, [unit]) != []  # the drop-in is read: its program is checked too

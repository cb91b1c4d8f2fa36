"""Fault tests start real processes: none may outlive its test, whatever happened."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.procs import RUNNING


@pytest.fixture(autouse=True)
def _no_process_left_behind() -> Iterator[None]:
    yield
    while RUNNING:
        RUNNING.pop().kill()

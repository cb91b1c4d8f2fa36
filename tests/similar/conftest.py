"""The labelled set (tests.similarity_cases) stored as reports, on each backend."""

from __future__ import annotations

import pytest

from intake import services
from intake.domain.model import Actor, Role
from tests.doors.conftest import _join_stopped_servers, api, door, group  # noqa: F401
from tests.integration.helpers import draft
from tests.similarity_cases import CASES, Case


def store_case(ctx: services.Context, case: Case, index: int) -> str:
    actor = Actor(f"web:reporter-{index}", Role.REPORTER)
    receipt = services.submit_report(ctx=ctx, actor=actor, draft=draft(
        kind=case.kind, category=case.category, subcategory=case.subcategory,
        place=case.place, description=case.text, reporter_party=case.reporter,
        concerned_party=case.concerned, confirm_warnings=True))
    return receipt.reference


@pytest.fixture
def labelled(ctx: services.Context) -> list[str]:
    """The references of the cases, in the order of CASES."""
    return [store_case(ctx, case, i) for i, case in enumerate(CASES)]

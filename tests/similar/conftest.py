"""The labelled set (tests.similarity_cases) stored as reports, on each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from intake import services
from intake.domain.model import Actor, Role
from tests.bot.conftest import SlackDoor, slack_settings, start_slack_door, stop_slack_door
from tests.doors.conftest import _join_stopped_servers, api, door, group  # noqa: F401
from tests.integration.helpers import draft
from tests.similarity_cases import CASES, Case
from tests.slack_fake import FakeSlack
from tests.teams.conftest import TeamsHarness, _start, _stop, teams_settings
from tests.teams_fake import FakeMicrosoft


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


# ---------------------------------------------------------------- the chat doors


@pytest.fixture
def slack(db_url: str) -> Iterator[SlackDoor]:
    with FakeSlack() as fake:
        sd = start_slack_door(slack_settings(db_url, fake), fake)
        try:
            yield sd
        finally:
            stop_slack_door(sd)


@pytest.fixture(scope="module")
def ms_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeMicrosoft]:
    with FakeMicrosoft(tmp_path_factory.mktemp("ms")) as fake:
        yield fake


@pytest.fixture
def teams(db_url: str, ms_module: FakeMicrosoft) -> Iterator[TeamsHarness]:
    ms_module.sent.clear()
    ms_module.token_requests.clear()
    h = _start(teams_settings(db_url, ms_module), ms_module)
    try:
        yield h
    finally:
        _stop(h)

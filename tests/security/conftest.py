"""Security tests reuse the door fixtures: a real uvicorn server per test, on both backends,
and the Slack door over signed HTTP against the fake Slack Web API."""

from tests.bot.conftest import _join_stopped_slack_servers, fake_slack, slack  # noqa: F401
from tests.doors.conftest import _join_stopped_servers, api, door, group  # noqa: F401

"""Security tests reuse the door fixtures: a real uvicorn server per test, on both backends."""

from tests.doors.conftest import _join_stopped_servers, api, door, group  # noqa: F401

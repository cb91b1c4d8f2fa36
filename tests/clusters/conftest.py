"""The Teams door's fixtures (tests/teams/conftest.py), for the alert in its channel."""

from tests.teams.conftest import ms, ms_session, teams  # noqa: F401 - fixtures used by name

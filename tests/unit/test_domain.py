"""The one transition table and derived values."""

from __future__ import annotations

import itertools

import pytest

from intake.domain.model import (
    TRANSITIONS,
    InvalidTransition,
    Party,
    Status,
    check_transition,
    direction,
)

ALLOWED = {
    (Status.RECEIVED, Status.TRIAGE),
    (Status.TRIAGE, Status.NEEDS_INFO),
    (Status.NEEDS_INFO, Status.TRIAGE),
    (Status.TRIAGE, Status.IN_PROGRESS),
    (Status.TRIAGE, Status.REDIRECTED),
    (Status.TRIAGE, Status.REJECTED),
    (Status.TRIAGE, Status.DUPLICATE),
    (Status.IN_PROGRESS, Status.CLOSED),
    (Status.REDIRECTED, Status.CLOSED),
    (Status.REJECTED, Status.CLOSED),
    (Status.DUPLICATE, Status.CLOSED),
    (Status.CLOSED, Status.TRIAGE),
}


def test_table_covers_every_status() -> None:
    assert set(TRANSITIONS) == set(Status)


@pytest.mark.parametrize(("current", "target"), list(itertools.product(Status, Status)))
def test_every_pair_is_allowed_or_refused_as_the_workflow_says(
    current: Status, target: Status
) -> None:
    if (current, target) in ALLOWED:
        check_transition(current, target)
    else:
        with pytest.raises(InvalidTransition) as err:
            check_transition(current, target)
        assert err.value.code == "invalid_transition"
        assert err.value.params == {"current": current.value, "target": target.value}


def test_direction_is_derived_from_the_parties() -> None:
    assert direction(Party.GP, Party.HOSPITAL) == "gp->hospital"
    assert direction(Party.HOSPITAL, Party.MUNICIPALITY) == "hospital->municipality"
    assert direction(None, Party.HOSPITAL) is None

"""Kinds, severities, parties, statuses, roles and the one status transition table."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    DEVIATION = "deviation"
    SUGGESTION = "suggestion"
    INPUT = "input"
    # "godt samarbeid" (like LFPSE's good care): something that worked. No harm is asked
    # (stored as severity none), no feedback is promised, and every count keeps it apart
    # from the deviations, suggestions and input (`PROBLEM_KINDS`).
    GOOD_COLLABORATION = "good_collaboration"


# The kinds that tell of a problem, in order: every count but good collaboration's own.
PROBLEM_KINDS = tuple(k for k in Kind if k != Kind.GOOD_COLLABORATION)


class Severity(StrEnum):
    NONE = "none"
    MINOR = "minor"
    MODERATE = "moderate"
    SIGNIFICANT = "significant"
    SEVERE = "severe"
    UNKNOWN = "unknown"


SERIOUS_SEVERITIES = frozenset({Severity.SIGNIFICANT, Severity.SEVERE})


# The category a report is filed under when it has none (categories.toml: `system = true`,
# never offered on a form): mail to the mailbox, and reports sent without a category that
# Meld could not suggest one for. The group sets the real category when assessing.
UNCATEGORIZED = "uncategorized"


class CategorySource(StrEnum):
    """Who chose a report's category (reports.category_source)."""

    REPORTER = "reporter"
    SUGGESTED = "suggested"  # none given; filed under Meld's suggestion (MELD_SUGGEST_MIN_SCORE)
    NONE = "none"  # none given: filed as UNCATEGORIZED (Meld's suggestion kept beside it)
    GROUP = "group"  # the group's assessment


class Party(StrEnum):
    HOSPITAL = "hospital"
    MUNICIPALITY = "municipality"
    GP = "gp"
    OUT_OF_HOURS = "out_of_hours"
    OTHER = "other"


class Status(StrEnum):
    RECEIVED = "received"
    TRIAGE = "triage"
    NEEDS_INFO = "needs_info"
    IN_PROGRESS = "in_progress"
    REDIRECTED = "redirected"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    CLOSED = "closed"


class RedirectTarget(StrEnum):
    EQS = "eqs"
    COMPILO = "compilo"
    TQM = "tqm"
    MELDE_NO = "melde_no"
    OTHER = "other"


class Role(StrEnum):
    REPORTER = "reporter"
    TRIAGER = "triager"
    ADMIN = "admin"
    READER = "reader"  # reads what the group reads (committee members), changes nothing


class Channel(StrEnum):
    SLACK = "slack"
    TEAMS = "teams"
    WEB = "web"
    EMAIL = "email"  # a report that came by mail to the collaboration mailbox


# The one transition table. Every move not listed here is refused.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.RECEIVED: frozenset({Status.TRIAGE}),
    Status.TRIAGE: frozenset(
        {
            Status.NEEDS_INFO,
            Status.IN_PROGRESS,
            Status.REDIRECTED,
            Status.REJECTED,
            Status.DUPLICATE,
        }
    ),
    Status.NEEDS_INFO: frozenset({Status.TRIAGE}),
    Status.IN_PROGRESS: frozenset({Status.CLOSED}),
    Status.REDIRECTED: frozenset({Status.CLOSED}),
    Status.REJECTED: frozenset({Status.CLOSED}),
    Status.DUPLICATE: frozenset({Status.CLOSED}),
    Status.CLOSED: frozenset({Status.TRIAGE}),
}

OPEN_STATUSES = frozenset(Status) - {Status.CLOSED}


def direction(reporter_party: Party | None, concerned_party: Party | None) -> str | None:
    """Derived direction such as 'gp->hospital'; None when either party is unknown."""
    if reporter_party is None or concerned_party is None:
        return None
    return f"{Party(reporter_party).value}->{Party(concerned_party).value}"


class DomainError(Exception):
    """A refused operation. `code` selects the user-facing text in the message catalogue."""

    http_status = 400

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


class InvalidTransition(DomainError):
    http_status = 409

    def __init__(self, current: Status, target: Status) -> None:
        super().__init__("invalid_transition", current=current.value, target=target.value)
        self.current = current
        self.target = target


class NotFound(DomainError):
    http_status = 404


class PermissionDenied(DomainError):
    http_status = 403


class Conflict(DomainError):
    http_status = 409


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one input field; warnings can be confirmed away, errors cannot."""

    field: str
    code: str
    warning: bool = False
    params: dict[str, Any] = field(default_factory=dict)


class ValidationFailed(DomainError):
    http_status = 422

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("validation_failed")
        self.errors = errors

    @property
    def only_warnings(self) -> bool:
        return all(e.warning for e in self.errors)


def check_transition(current: Status, target: Status) -> None:
    """Raise InvalidTransition unless the table allows current -> target."""
    if target not in TRANSITIONS[Status(current)]:
        raise InvalidTransition(Status(current), Status(target))


@dataclass(frozen=True, slots=True)
class Actor:
    """Who performs an operation: identity like 'slack:U123' and a role."""

    identity: str
    role: Role
    display_name: str | None = None

    @property
    def is_group(self) -> bool:
        """May triage: change reports, talk to reporters."""
        return self.role in (Role.TRIAGER, Role.ADMIN)

    @property
    def reads_group(self) -> bool:
        """May read what the group reads (the queue, whole reports), a reader too."""
        return self.is_group or self.role is Role.READER

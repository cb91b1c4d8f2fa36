"""The reporter's answer to "Var svaret nyttig?" (ja / delvis / nei and an optional comment).

The closing notice asks it in every channel. One answer per report, from the reporter
only: on the web the status page's token is the capability, in the chat doors the actor's
identity must be the report's reporter. Answers are taken from the closing
(`reports.closed_at`) until `closed_at + settings.rating_days`; within that window a new
answer replaces the old one (`changed_at`). The comment is reporter text: guarded like
any (no identity numbers, length, control characters) and never logged; the audit event
carries the answer code only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from intake.domain.model import (
    Actor,
    Conflict,
    FieldError,
    PermissionDenied,
    Role,
    Status,
    ValidationFailed,
)
from intake.services.common import (
    check_free_text,
    clean_text,
    db_now,
    hash_token,
    load_report,
    load_report_by_token,
    record_audit,
    status_token_for,
    transaction,
)
from intake.services.context import Context
from storage import models as m

RATING_ANSWERS = m.RATING_ANSWERS  # ("yes", "partly", "no")
MAX_RATING_COMMENT = 1000


@dataclass(frozen=True, slots=True)
class RatingView:
    """A report's answer (None: not answered yet) and whether it can still be given."""

    reference: str
    answer: str | None
    comment: str | None
    answered_at: datetime | None
    changed_at: datetime | None
    open_until: datetime | None  # closed_at + rating_days; None while the report is open
    can_answer: bool             # closed, and the window has not passed


def rating_link(ctx: Context, reference: str) -> str:
    """The status page's "Var svaret nyttig?" form: where a reporter answers or comments."""
    token = status_token_for(ctx, reference)
    return f"{ctx.settings.base_url.rstrip('/')}/status/{token}#nyttig"


_report_of_token = load_report_by_token  # one rule for the status-page token


def _open_until(ctx: Context, report: m.Report) -> datetime | None:
    if report.status != Status.CLOSED or report.closed_at is None:
        return None
    return report.closed_at + timedelta(days=ctx.settings.rating_days)


def _view(ctx: Context, session: Session, report: m.Report) -> RatingView:
    rating = session.get(m.FeedbackRating, report.id)
    until = _open_until(ctx, report)
    return RatingView(
        reference=report.reference,
        answer=rating.answer if rating else None,
        comment=rating.comment if rating else None,
        answered_at=rating.answered_at if rating else None,
        changed_at=rating.changed_at if rating else None,
        open_until=until,
        can_answer=until is not None and ctx.clock() <= until,
    )


def _check_input(answer: str | None, comment: str | None) -> tuple[str, str | None]:
    errors: list[FieldError] = []
    code = (answer or "").strip().lower()
    if not code:
        errors.append(FieldError("answer", "required"))
    elif code not in RATING_ANSWERS:
        errors.append(FieldError("answer", "invalid_choice"))
    text = clean_text(comment)
    errors += check_free_text("comment", text, max_chars=MAX_RATING_COMMENT, warn=False)
    if errors:
        raise ValidationFailed(errors)
    return code, text


def rate_answer(
    *, ctx: Context, actor: Actor | None = None, status_token: str | None = None,
    reference: str | None = None, answer: str, comment: str | None = None,
) -> RatingView:
    """Store (or, within the window, replace) the reporter's answer to "Var svaret nyttig?".

    Give either `status_token` (the web status page) or `actor` and `reference` (a chat
    door). Refused: an invalid answer or comment (ValidationFailed), a report that is not
    closed (`rating_not_closed`), a window that has passed (`rating_closed`), someone else's
    report (`not_your_report`, audited).
    """
    code, text = _check_input(answer, comment)
    with transaction(ctx) as session:
        if status_token is not None:
            report = _report_of_token(session, ctx, status_token, for_update=True)
            who = actor or Actor(report.reporter_id or f"web:{hash_token(status_token)[:24]}",
                                 Role.REPORTER)
        elif actor is not None and reference is not None:
            report = load_report(session, reference, for_update=True)
            who = actor
        else:
            raise ValueError("rate_answer needs status_token, or actor and reference")
        if status_token is None and (report.reporter_id is None
                                     or report.reporter_id != who.identity):
            record_audit(session, who, "rate_denied", report)  # committed: the refusal stays
            denied = PermissionDenied("not_your_report")
        else:
            return _store(ctx, session, who, report, code, text)
    raise denied


def _store(ctx: Context, session: Session, who: Actor, report: m.Report, code: str,
           text: str | None) -> RatingView:
    until = _open_until(ctx, report)
    now = db_now(session)
    if until is None:
        raise Conflict("rating_not_closed", reference=report.reference)
    if now > until:
        raise Conflict("rating_closed", reference=report.reference,
                       date=ctx.local_date(until).isoformat())
    rating = session.get(m.FeedbackRating, report.id)
    changed = rating is not None
    if rating is None:
        session.add(m.FeedbackRating(report_id=report.id, answer=code, comment=text,
                                     answered_at=now, changed_at=now))
    else:
        rating.answer, rating.comment, rating.changed_at = code, text, now
    session.flush()
    record_audit(session, who, "rated", report, answer=code, changed=changed)
    return _view(ctx, session, report)


def rating_for(
    *, ctx: Context, actor: Actor | None = None, status_token: str | None = None,
    reference: str | None = None,
) -> RatingView:
    """A report's answer, for its reporter (status token, or actor and reference) or the
    group (actor and reference)."""
    with ctx.db.reading() as session:
        if status_token is not None:
            report = _report_of_token(session, ctx, status_token, for_update=False)
        elif actor is not None and reference is not None:
            report = load_report(session, reference)
            if not actor.is_group and report.reporter_id != actor.identity:
                raise PermissionDenied("not_your_report")
        else:
            raise ValueError("rating_for needs status_token, or actor and reference")
        return _view(ctx, session, report)

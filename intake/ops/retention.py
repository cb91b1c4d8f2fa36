"""Retention: erase free text and reporter identity some time after a report was closed.

`MELD_RETENTION_DAYS` (default 730) after `closed_at`, a closed report keeps only what the
statistics need. What goes and what stays:

Erased (set to NULL or replaced):
- the report's free text: `description`, `place_text`, `source_link`;
- the dialog: every message `body`, and `author_id` of the reporter's own messages;
- the reporter's identity: `reporter_id`, the notice address `notify_email` (no more
  mails), the status-page token hash (the private link stops working), the idempotency
  key and the request hash (derived from the text);
- the comment on "Var svaret nyttig?" (the answer itself, a code, stays for the figures);
- `+1` identities (`actor_id` becomes `erased:<row id>`: the count stays);
- the reporter's identity in the audit log (`actor_id` of reporter events; the log holds
  codes only, never text);
- the outbox rows of the report: payload emptied, a reporter recipient becomes `erased`;
  one still pending is stopped (`failed_at`, `last_error = "erased"`).

Kept (coded fields, the statistics and the committee's record): reference, kind,
category/subcategory, parties and direction, place, dates, severities, guideline breach
and agreement reference, status, assignee, redirect target and external reference,
duplicate link, channel, first feedback and closing times, and the group's learning point
and measure. The learning points and measures are the working group's own words, written
without patient identifiers, and they are part of the tertial reports already given to
the committee; keeping them means the tertial report of a closed period is the same after
erasure as before (a test checks this).

Each erased report gets one audit event `erased` (details: retention days, codes only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, exists, or_, select, update
from sqlalchemy.orm import Session

from intake.domain.model import Actor, PermissionDenied, Role, Status
from intake.services import Context
from storage import models as m

BATCH = 200
ERASED = "erased"


@dataclass(frozen=True, slots=True)
class RetentionResult:
    cutoff: datetime  # reports closed at or before this are due
    references: tuple[str, ...]  # due (dry run) or erased (apply)
    applied: bool


def cutoff_for(ctx: Context, days: int | None = None) -> datetime:
    return ctx.clock() - timedelta(days=days if days is not None else ctx.settings.retention_days)


def _due(cutoff: datetime) -> Select[Any]:
    R = m.Report
    text_left = or_(
        R.description.is_not(None), R.reporter_id.is_not(None), R.place_text.is_not(None),
        R.source_link.is_not(None), R.status_token_hash.is_not(None),
        R.notify_email.is_not(None),
        exists().where(m.Message.report_id == R.id, m.Message.body.is_not(None)),
        exists().where(m.FeedbackRating.report_id == R.id,
                       m.FeedbackRating.comment.is_not(None)),
    )
    return (select(R.id, R.reference)
            .where(R.status == Status.CLOSED.value, R.closed_at.is_not(None),
                   R.closed_at <= cutoff, text_left)
            .order_by(R.id))


def due_reports(*, ctx: Context, days: int | None = None) -> RetentionResult:
    """What `apply` would erase now (references only)."""
    cutoff = cutoff_for(ctx, days)
    with ctx.db.reading() as session:
        refs = tuple(ref for _id, ref in session.execute(_due(cutoff)).all())
    return RetentionResult(cutoff=cutoff, references=refs, applied=False)


def _erase(session: Session, report_ids: list[int], *, actor: Actor, days: int,
           now: datetime) -> None:
    R = m.Report
    reporters = dict(session.execute(
        select(R.id, R.reporter_id).where(R.id.in_(report_ids))).all())
    session.execute(
        update(R).where(R.id.in_(report_ids)).values(
            description=None, place_text=None, source_link=None, reporter_id=None,
            notify_email=None, status_token_hash=None, idempotency_key=None,
            request_hash=None,
            # updated_at is left alone on purpose: erasure is not a change of the matter
            updated_at=R.updated_at,
        ).execution_options(synchronize_session=False))
    session.execute(
        update(m.Message).where(m.Message.report_id.in_(report_ids)).values(body=None)
        .execution_options(synchronize_session=False))
    session.execute(
        update(m.FeedbackRating).where(m.FeedbackRating.report_id.in_(report_ids))
        .values(comment=None).execution_options(synchronize_session=False))
    session.execute(
        update(m.Message).where(m.Message.report_id.in_(report_ids),
                                m.Message.direction == "reporter").values(author_id=None)
        .execution_options(synchronize_session=False))
    for plus in session.scalars(select(m.PlusOne).where(m.PlusOne.report_id.in_(report_ids))):
        plus.actor_id = f"{ERASED}:{plus.id}"
    session.execute(
        update(m.AuditEvent).where(m.AuditEvent.report_id.in_(report_ids),
                                   m.AuditEvent.actor_role == Role.REPORTER.value)
        .values(actor_id=None).execution_options(synchronize_session=False))
    for row in session.scalars(select(m.OutboxMessage)
                               .where(m.OutboxMessage.report_id.in_(report_ids))):
        row.payload = {}
        if row.recipient == reporters.get(row.report_id) or row.channel == "email":
            row.recipient = ERASED
        if row.delivered_at is None and row.failed_at is None:
            row.failed_at = now
            row.last_error = ERASED
    for report_id in report_ids:
        session.add(m.AuditEvent(at=now, actor_id=actor.identity, actor_role=actor.role.value,
                                 action="erased", report_id=report_id,
                                 details={"reason": "retention", "retention_days": days}))


def apply(*, ctx: Context, actor: Actor, days: int | None = None,
          batch: int = BATCH) -> RetentionResult:
    """Erase every due report, `batch` reports per transaction; returns their references."""
    if actor.role != Role.ADMIN:
        raise PermissionDenied("admin_only")
    days = days if days is not None else ctx.settings.retention_days
    cutoff = cutoff_for(ctx, days)
    erased: list[str] = []
    while True:
        with ctx.db.transaction() as session:
            stmt = _due(cutoff).limit(batch)
            if ctx.db.dialect == "postgresql":  # a concurrent reopen waits, or wins
                stmt = stmt.with_for_update(of=m.Report)
            rows = session.execute(stmt).all()
            if not rows:
                break
            _erase(session, [rid for rid, _ref in rows], actor=actor, days=days,
                   now=ctx.clock())
        erased += [ref for _rid, ref in rows]
    return RetentionResult(cutoff=cutoff, references=tuple(erased), applied=True)

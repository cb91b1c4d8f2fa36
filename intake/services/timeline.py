"""A report's whole story on one timeline, for the group's board: received, assessments,
assignments, status changes (redirects, duplicates, closing and reopening among them), +1s,
measures (created, moved on, reminded), and the messages (the dialog with the reporter
and the internal notes), oldest first.

The changes come from the audit log (codes only, never text); the words from the messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from intake.domain.model import Actor
from intake.services.common import require_reader
from intake.services.context import Context
from intake.services.reading import get_report
from intake.services.views import ReportView
from storage import models as m

# the audit actions that are part of a report's story (reads and refusals are not)
STORY_ACTIONS = ("assessed", "assigned", "status_changed", "plus_one", "measure_created",
                 "measure_updated", "measure_reminded")


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    event: str  # "received", an action of STORY_ACTIONS, or "message"
    actor: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    direction: str | None = None  # a message's: group, reporter, internal
    purpose: str | None = None    # a message's: reply, question, answer, note, ...
    body: str | None = None


def report_timeline(*, ctx: Context, actor: Actor,
                    reference: str) -> tuple[ReportView, tuple[TimelineEntry, ...]]:
    """The report as the group sees it (the read audited, as every group read) and its
    story, oldest first."""
    require_reader(actor)
    view = get_report(ctx=ctx, actor=actor, reference=reference)
    with ctx.db.reading() as session:
        rows = session.execute(
            select(m.AuditEvent.at, m.AuditEvent.actor_id, m.AuditEvent.action,
                   m.AuditEvent.details)
            .join(m.Report, m.Report.id == m.AuditEvent.report_id)
            .where(m.Report.reference == view.reference,
                   m.AuditEvent.action.in_(STORY_ACTIONS))
            .order_by(m.AuditEvent.id)).all()
    entries = [TimelineEntry(at=view.reported_at, event="received",
                             details={"channel": view.channel})]
    entries += [TimelineEntry(at=at, event=action, actor=who, details=dict(details or {}))
                for at, who, action, details in rows]
    entries += [TimelineEntry(at=msg.created_at, event="message", actor=msg.author_id,
                              direction=msg.direction, purpose=msg.purpose, body=msg.body)
                for msg in view.messages]
    entries.sort(key=lambda e: e.at)  # stable: same instant keeps the order above
    return view, tuple(entries)

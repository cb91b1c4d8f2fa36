"""Outbox rows a change writes in its own transaction, beside the change (no other
service module is imported here: `common.change_status` uses it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.domain.model import Channel
from storage import models as m

OUTBOX_WRITTEN = "meld_outbox_written"
FOLLOWED_EVENT = "followed_status"  # a notice to a doctor who follows a report


def mark_outbox_written(session: Session) -> None:
    """This transaction writes outbox rows: wake the worker once it has committed."""
    session.info[OUTBOX_WRITTEN] = True


def notify_followers(session: Session, report: m.Report, status: str, now: datetime,
                     **payload: Any) -> None:
    """Queue a notice of the report's new status to every doctor who follows it in chat
    (with the public title, and the learning point when it closes; never the reporter's
    text). Web followers read it on their private page."""
    # no autoflush: a flush here would write the report's row now and again after the
    # rest of the change, two UPDATEs whose deferred report_counts triggers can then take
    # their row locks out of the one global order (PostgreSQL deadlocks under load)
    with session.no_autoflush:
        followers = session.execute(
            select(m.ReportFollower.actor_id, m.ReportFollower.channel)
            .where(m.ReportFollower.report_id == report.id,
                   m.ReportFollower.channel != Channel.WEB.value)).all()
    if not followers:
        return
    body = {"reference": report.reference, "status": status,
            "title": report.public_title or ""}
    if status == "closed":
        body["learning_point"] = str(payload.get("learning_point") or "")
    if status == "duplicate":
        body["other_reference"] = str(payload.get("other_reference") or "")
    for actor_id, channel in followers:
        session.add(m.OutboxMessage(
            created_at=now, next_attempt_at=now, report_id=report.id, channel=channel,
            recipient=actor_id, event=FOLLOWED_EVENT, payload=dict(body)))
    mark_outbox_written(session)

"""Reading the audit log: who did what to which report, and who read or exported what.

The log is append-only and holds codes and ids, never report text. Reading it is itself
written to it (action `audit_read`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from intake.domain.model import Actor, PermissionDenied
from intake.services import Context
from storage import models as m

# The actions that are accesses to report data (Normen: access to health information is logged)
ACCESS_ACTIONS = ("read", "list", "export", "report_link", "audit_read")


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: datetime
    actor_id: str | None
    actor_role: str
    action: str
    reference: str | None
    details: dict[str, Any]


def list_events(
    *,
    ctx: Context,
    actor: Actor,
    reference: str | None = None,
    actor_id: str | None = None,
    actions: tuple[str, ...] = (),
    since: date | None = None,
    until: date | None = None,
    limit: int = 100,
) -> list[AuditRow]:
    """The newest `limit` events matching every filter given, oldest first."""
    if not actor.is_group:
        raise PermissionDenied("group_only")
    zone = ZoneInfo(ctx.settings.timezone)
    stmt = (
        select(m.AuditEvent, m.Report.reference)
        .outerjoin(m.Report, m.Report.id == m.AuditEvent.report_id)
        .order_by(m.AuditEvent.id.desc())
        .limit(max(1, min(limit, 100_000)))
    )
    if reference:
        stmt = stmt.where(m.Report.reference == reference.strip().upper())
    if actor_id:
        stmt = stmt.where(m.AuditEvent.actor_id == actor_id)
    if actions:
        stmt = stmt.where(m.AuditEvent.action.in_(actions))
    if since:
        stmt = stmt.where(m.AuditEvent.at >= datetime.combine(since, time(), zone))
    if until:
        stmt = stmt.where(
            m.AuditEvent.at < datetime.combine(until + timedelta(days=1), time(), zone))
    with ctx.db.transaction() as session:
        rows = session.execute(stmt).all()
        session.add(m.AuditEvent(
            at=ctx.clock(), actor_id=actor.identity, actor_role=actor.role.value,
            action="audit_read", report_id=None,
            details={"count": len(rows), **({"reference": reference.strip().upper()}
                                            if reference else {})},
        ))
    return [
        AuditRow(e.id, e.at, e.actor_id, e.actor_role, e.action, ref, dict(e.details or {}))
        for e, ref in reversed(rows)
    ]

"""Support for a report: "dette har skjedd meg også" (+1).
"""

from __future__ import annotations

from sqlalchemy import exists, func, select

from intake.domain.model import (
    Actor,
    Conflict,
)
from intake.services.common import db_now, load_report, record_audit, transaction
from intake.services.context import Context
from storage import models as m


def plus_one(*, ctx: Context, actor: Actor, reference: str) -> int:
    """'This happened to me too': one per person; returns the new count."""
    with transaction(ctx) as session:
        report = load_report(session, reference)
        already = session.scalar(
            select(exists().where(m.PlusOne.report_id == report.id,
                                  m.PlusOne.actor_id == actor.identity))
        )
        if already:
            raise Conflict("already_plus_one")
        session.add(m.PlusOne(report_id=report.id, actor_id=actor.identity,
                              created_at=db_now(session)))
        record_audit(session, actor, "plus_one", report)
        session.flush()
        return session.scalar(
            select(func.count()).select_from(m.PlusOne).where(m.PlusOne.report_id == report.id)
        ) or 0


# ---------------------------------------------------------------- report links

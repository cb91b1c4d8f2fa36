"""What the reporter is told to do when the group forwards a report or finds it serious.

The words and links come from the redirect data (`intake/domain/redirects.py`, the site's
redirects.toml) and are put into the notice's payload when it is written, in the report's
language: every channel (Slack, Teams, the status page, e-mail) then shows the same thing,
and the outbox row records what was sent even if the data file changes later.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from intake.domain.model import SERIOUS_SEVERITIES
from intake.services.common import db_now, notify_reporter
from intake.services.context import Context
from storage import models as m

FORMAL_GUIDANCE = "formal_guidance"  # the event, and the once-only claim in report_notices


def redirect_guidance(ctx: Context, report: m.Report, target: str) -> dict[str, Any]:
    """The payload fields of a forwarding notice: the target's guidance text and its link
    as [[name, url]] (no link when the data gives none)."""
    guide = ctx.taxonomy.redirects.guide(target)
    if guide is None:
        return {}
    fields: dict[str, Any] = {"guidance": guide.guidance(report.locale)}
    if guide.link:
        fields["links"] = [[guide.label(report.locale), guide.link]]
    return fields


def offer_formal_guidance(session: Session, ctx: Context, report: m.Report) -> bool:
    """After the group assessed the report: if the assessment is significant or severe harm
    and the reporter has not had the formal-reporting guidance, claim it (a report_notices
    row, in the caller's transaction, with the report row locked) and send it. A reporter who
    reported it as serious had the guidance in the receipt: the claim is recorded, nothing is
    sent. True when a notice was written."""
    if report.assessed_severity not in SERIOUS_SEVERITIES:
        return False
    if session.get(m.ReportNotice, (report.id, FORMAL_GUIDANCE)) is not None:
        return False
    in_receipt = report.reported_severity in SERIOUS_SEVERITIES
    session.add(m.ReportNotice(report_id=report.id, notice=FORMAL_GUIDANCE,
                               at=db_now(session),
                               details={"sent_with": "receipt" if in_receipt else "assessment"}))
    if in_receipt:
        return False
    links = ctx.taxonomy.redirects.formal_links(report.locale)
    notify_reporter(session, report, FORMAL_GUIDANCE, links=[list(pair) for pair in links])
    return True

"""Similar reports: what belongs together, for the group (duplicates) and for cards.

`similar_reports(reference)` gathers candidates from the database (the best full-text
matches for any of the report's words, and the latest reports of the same subcategory or
category and place) and scores each in Python the same way on both databases
(intake.domain.textmatch): text similarity, plus the coded fields the two share. The
result names its reasons ("same_subcategory", "same_place", "similar_text", ...).

`strong_match` is the one a new report's card names ("ligner på MELD-2026-0042 (åpen)"):
open, and alike in text, not only in its coded fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, or_, select
from sqlalchemy.orm import Session

from intake.domain import textmatch
from intake.domain.model import Actor, Kind, Status
from intake.services.common import (
    load_report,
    record_audit,
    require_reader,
    summary_view,
    transaction,
)
from intake.services.context import Context
from intake.services.promises import is_overdue
from intake.services.search import ranked_ids
from intake.services.views import ReportView
from storage import models as m

# the statuses of a report the group still works on (a duplicate, a redirected or a
# rejected report is settled, though not closed)
ACTIVE_STATUSES = frozenset({Status.RECEIVED, Status.TRIAGE, Status.NEEDS_INFO,
                             Status.IN_PROGRESS})

TEXT_CANDIDATES = 120  # best full-text matches looked at
FIELD_CANDIDATES = 80  # latest reports of the same subcategory, or category and place
TEXT_WEIGHT = 0.75
FIELD_POINTS = {"same_subcategory": 0.12, "same_category": 0.05, "same_place": 0.10,
                "same_direction": 0.03}
SIMILAR_TEXT = 0.25  # text similarity from which "tekst ligner" is a reason
MIN_SCORE = 0.15  # below this a report is not similar at all
STRONG_SCORE = 0.35  # a card says "ligner på" from here ...
STRONG_TEXT = 0.25  # ... and only when the texts themselves are this alike


@dataclass(frozen=True, slots=True)
class SimilarReport:
    """Another report like this one: its list view (coded fields), score and why."""

    view: ReportView
    score: float
    reasons: tuple[str, ...]
    text_score: float

    @property
    def active(self) -> bool:
        return self.view.status in ACTIVE_STATUSES


_COLUMNS = (m.Report.id, m.Report.reference, m.Report.status, m.Report.category_id,
            m.Report.subcategory_id, m.Report.place_id, m.Report.direction,
            m.Report.description, m.Report.public_title)


def similar_reports(*, ctx: Context, actor: Actor, reference: str,
                    limit: int = 5) -> tuple[SimilarReport, ...]:
    """The reports most like this one, open ones first among the best `limit`; the read
    is audited as a read of the report."""
    require_reader(actor)
    limit = max(1, min(limit, 20))
    with ctx.db.reading() as session:
        report = load_report(session, reference)
        found = _similar(session, ctx, report, limit)
    with transaction(ctx) as session:
        record_audit(session, actor, "similar", report, count=len(found))
    return found


def card_match(*, ctx: Context, reference: str) -> SimilarReport | None:
    """For a new report's card in the group's channel: the open report it is most probably
    about again ("ligner på MELD-2026-0042 (åpen)"), or None."""
    with ctx.db.reading() as session:
        return strong_match(session, ctx, load_report(session, reference))


def strong_match(session: Session, ctx: Context, report: m.Report) -> SimilarReport | None:
    """The open report a new report is most probably about again, if any is alike enough
    for its card to say so (no audit: the card is Meld's own, not somebody's read). Only
    a report received before this one: a card delivered late never names a later report
    (two cards would each offer to mark the other a duplicate)."""
    good = report.kind == Kind.GOOD_COLLABORATION  # never a duplicate of a problem
    for match in _similar(session, ctx, report, 5, before=report.id):
        if (match.view.kind == Kind.GOOD_COLLABORATION) != good:
            continue
        if match.active and match.score >= STRONG_SCORE and match.text_score >= STRONG_TEXT:
            return match
    return None


def _similar(session: Session, ctx: Context, report: m.Report, limit: int,
             before: int | None = None) -> tuple[SimilarReport, ...]:
    query = " ".join(filter(None, (report.public_title, report.description)))
    ids = set(ranked_ids(session, ctx, query, any_term=True, limit=TEXT_CANDIDATES))
    ids |= _field_candidates(session, report)
    if report.duplicate_of_id is not None:
        ids.add(report.duplicate_of_id)
    ids = {i for i in ids if i != report.id and (before is None or i < before)}
    if not ids:
        return ()
    rows = session.execute(select(*_COLUMNS).where(m.Report.id.in_(ids))).all()
    target = textmatch.TextProfile.of(query)
    profiles = [textmatch.TextProfile.of(" ".join(filter(None, (r.public_title,
                                                                   r.description))))
                for r in rows]
    weights = textmatch.idf([target, *profiles])
    scored = []
    for row, profile in zip(rows, profiles, strict=True):
        text_score = textmatch.text_similarity(target, profile, weights)
        reasons = _shared_fields(report, row)
        score = TEXT_WEIGHT * text_score + sum(FIELD_POINTS[r] for r in reasons)
        if text_score >= SIMILAR_TEXT:
            reasons.append("similar_text")
        if score >= MIN_SCORE:
            scored.append((min(score, 1.0), text_score, tuple(reasons), row.id))
    scored.sort(key=lambda s: (-s[0], -s[3]))
    best = scored[:limit]
    views = _views(session, ctx, [s[3] for s in best])
    found = [SimilarReport(views[i], round(score, 3), reasons, round(text_score, 3))
             for score, text_score, reasons, i in best]
    # the best, open ones first (sorted is stable: by score within each)
    return tuple(sorted(found, key=lambda s: not s.active))


def _field_candidates(session: Session, report: m.Report) -> set[int]:
    same = []
    if report.subcategory_id:
        same.append(m.Report.subcategory_id == report.subcategory_id)
    if report.place_id:
        same.append((m.Report.category_id == report.category_id)
                    & (m.Report.place_id == report.place_id))
    elif not report.subcategory_id:
        same.append(m.Report.category_id == report.category_id)
    if not same:
        return set()
    return set(session.scalars(select(m.Report.id).where(or_(*same))
                               .order_by(m.Report.id.desc()).limit(FIELD_CANDIDATES)))


def _shared_fields(a: m.Report, b: Row[Any]) -> list[str]:
    reasons = []
    if a.subcategory_id and a.subcategory_id == b.subcategory_id:
        reasons.append("same_subcategory")
    elif a.category_id == b.category_id:
        reasons.append("same_category")
    if a.place_id and a.place_id == b.place_id:
        reasons.append("same_place")
    if a.direction and a.direction == b.direction:
        reasons.append("same_direction")
    return reasons


def _views(session: Session, ctx: Context, ids: Sequence[int]) -> dict[int, ReportView]:
    today = ctx.today()
    rows = session.scalars(select(m.Report).where(m.Report.id.in_(ids)))
    return {r.id: summary_view(r, overdue=is_overdue(ctx, r, today)) for r in rows}

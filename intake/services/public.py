"""What other reporters may see of a report, and "Dette har skjedd meg også".

- The group writes a report's **public title** when it triages: a short summary, checked
  more strictly than any other text (every identifier finding refuses, phone numbers,
  e-mail addresses and name-like words too), since other reporters read it.
- **Suggestions** for a reporter about to send: open reports of the chosen category (and
  place, when chosen) that have a public title, ranked by how alike the title is to what
  the reporter has typed. Only coded fields and the title leave this module: never another
  reporter's words, identity, or the group's notes. The ranking reads the title alone, so
  that typing words cannot probe what other reporters wrote.
- **Me too** (`me_too`): a +1 on that report instead of a new report, with its own
  optional date and place, and the doctor follows the report: later status notices and
  the learning point at closing reach them in the chat they used; from the web form they
  get a private page that follows the report.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

from sqlalchemy import exists, func, select

from intake.domain import textmatch
from intake.domain.model import (
    Actor,
    Channel,
    Conflict,
    FieldError,
    NotFound,
    ValidationFailed,
)
from intake.services.common import (
    channel_of,
    check_free_text,
    clean_text,
    db_now,
    hash_token,
    load_report,
    record_audit,
    require_group,
    transaction,
)
from intake.services.context import Context
from intake.services.similarity import ACTIVE_STATUSES
from storage import models as m

MAX_TITLE = 120
MAX_SUGGESTIONS = 3
MAX_TYPED = 2000  # of the text typed so far, read to rank the suggestions
SUGGESTION_POOL = 60  # latest open reports with a title of the category looked at


@dataclass(frozen=True, slots=True)
class Suggestion:
    """An open report a reporter may mean: coded fields and the group's title only."""

    reference: str
    title: str
    kind: str
    category: str
    subcategory: str | None
    place: str | None
    status: str
    plus_ones: int
    learning_point: str | None = None  # a follower's page, once the report is closed


def set_public_title(*, ctx: Context, actor: Actor, reference: str,
                     title: str | None) -> str | None:
    """The group's public title of a report (None or empty clears it: never suggested)."""
    require_group(actor)
    clean = clean_text(title)
    if clean is not None:
        errors = check_free_text("public_title", clean, max_chars=MAX_TITLE, warn=True)
        # other reporters read it: a warning here refuses as surely as an identity number
        errors = [FieldError(e.field, e.code, params=e.params) for e in errors]
        if errors:
            raise ValidationFailed(errors)
    with transaction(ctx) as session:
        report = load_report(session, reference, for_update=True)
        report.public_title = clean
        record_audit(session, actor, "public_title", report, cleared=clean is None)
    return clean


def suggestions(*, ctx: Context, category: str | None, place: str | None = None,
                text: str | None = None, limit: int = MAX_SUGGESTIONS) -> tuple[Suggestion, ...]:
    """Up to `limit` open reports with a public title that a reporter about to send may
    be describing again (no actor: only public fields are read and returned)."""
    if not category or ctx.taxonomy.category(category) is None:
        return ()
    if place and ctx.taxonomy.place(place) is None:
        place = None
    limit = max(1, min(limit, MAX_SUGGESTIONS))
    stmt = (select(m.Report.reference, m.Report.public_title, m.Report.kind,
                   m.Report.category_id, m.Report.subcategory_id, m.Report.place_id,
                   m.Report.status, m.Report.plus_one_count)
            .where(m.Report.category_id == category,
                   m.Report.status.in_([s.value for s in ACTIVE_STATUSES]),
                   m.Report.public_title.is_not(None))
            .order_by(m.Report.id.desc()).limit(SUGGESTION_POOL))
    if place:
        stmt = stmt.where(m.Report.place_id == place)
    with ctx.db.reading() as session:
        rows = session.execute(stmt).all()
    typed = textmatch.TextProfile.of((text or "")[:MAX_TYPED])
    titles = [textmatch.TextProfile.of(row.public_title) for row in rows]
    weights = textmatch.idf([typed, *titles])
    scored = sorted(
        ((textmatch.text_similarity(typed, title, weights), -i, row)
         for i, (row, title) in enumerate(zip(rows, titles, strict=True))),
        reverse=True)
    if not typed.empty:
        scored = [s for s in scored if s[0] > 0]
    return tuple(Suggestion(reference=row.reference, title=row.public_title, kind=row.kind,
                            category=row.category_id, subcategory=row.subcategory_id,
                            place=row.place_id, status=row.status,
                            plus_ones=row.plus_one_count)
                 for _, _, row in scored[:limit])


def me_too(*, ctx: Context, actor: Actor, reference: str, occurred_on: date | None = None,
           place: str | None = None) -> tuple[int, str | None]:
    """"Dette har skjedd meg også": a +1 on a suggested report with its own date and place,
    and the doctor follows it. Only a report that could be suggested takes one (open, with
    a public title). Returns the report's +1 count, and for the web form (no chat to tell
    them in) the token of a private page that follows the report."""
    errors: list[FieldError] = []
    if place and ctx.taxonomy.place(place) is None:
        errors.append(FieldError("place", "unknown_place"))
    if occurred_on is not None and occurred_on > ctx.today():
        errors.append(FieldError("occurred_on", "in_future"))
    if errors:
        raise ValidationFailed(errors)
    with transaction(ctx) as session:
        report = load_report(session, reference, for_update=True)
        if report.status not in ACTIVE_STATUSES or report.public_title is None:
            raise NotFound("report_not_found", reference=report.reference)
        if session.scalar(select(exists().where(m.PlusOne.report_id == report.id,
                                                m.PlusOne.actor_id == actor.identity))):
            raise Conflict("already_plus_one")
        now = db_now(session)
        session.add(m.PlusOne(report_id=report.id, actor_id=actor.identity, created_at=now,
                              occurred_on=occurred_on, place_id=place or None))
        channel = channel_of(actor.identity)
        token = secrets.token_urlsafe(24) if channel == Channel.WEB.value else None
        session.add(m.ReportFollower(report_id=report.id, actor_id=actor.identity,
                                     channel=channel, created_at=now,
                                     token_hash=hash_token(token) if token else None))
        record_audit(session, actor, "plus_one", report, via="reporter")
        session.flush()
        count = session.scalar(select(func.count()).select_from(m.PlusOne)
                               .where(m.PlusOne.report_id == report.id)) or 0
        return count, token


def followed_report(*, ctx: Context, token: str) -> Suggestion | None:
    """What a web follower's private page shows: the report's public fields (None for an
    unknown token)."""
    if not token or len(token) > 100:
        return None
    with ctx.db.reading() as session:
        row = session.execute(
            select(m.Report.reference, m.Report.public_title, m.Report.kind,
                   m.Report.category_id, m.Report.subcategory_id, m.Report.place_id,
                   m.Report.status, m.Report.plus_one_count, m.Report.learning_point)
            .join(m.ReportFollower, m.ReportFollower.report_id == m.Report.id)
            .where(m.ReportFollower.token_hash == hash_token(token))).one_or_none()
    if row is None:
        return None
    return Suggestion(reference=row.reference, title=row.public_title or "", kind=row.kind,
                      category=row.category_id, subcategory=row.subcategory_id,
                      place=row.place_id, status=row.status, plus_ones=row.plus_one_count,
                      learning_point=row.learning_point if row.status == "closed" else None)

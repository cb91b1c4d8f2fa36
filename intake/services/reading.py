"""Reading reports: one report, lists for the group and for the reporter, export.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from intake.domain.model import (
    UNCATEGORIZED,
    Actor,
    Channel,
    FieldError,
    Kind,
    NotFound,
    PermissionDenied,
    Role,
    Severity,
    Status,
    ValidationFailed,
)
from intake.services.common import (
    choice,
    has_control_chars,
    hash_token,
    load_report,
    record_audit,
    record_read,
    report_view,
    require_group,
    require_reader,
    status_token_for,
    summary_view,
    transaction,
)
from intake.services.context import Context
from intake.services.guidance import FORMAL_GUIDANCE
from intake.services.promises import (
    NO_PROMISE,
    OVERDUE_EVENT,
    WAITING_STATUSES,
    is_overdue,
    reported_before_for,
)
from intake.services.search import prepare as prepare_search
from intake.services.search import text_clause
from intake.services.views import Page, ReportFilter, ReportView
from intake.texts_newsletter import NEWSLETTER_EVENT
from storage import models as m

# the notices a web reporter reads on the status page (delivered_notices)
WEB_NOTICE_EVENTS = ("status_changed", OVERDUE_EVENT, FORMAL_GUIDANCE, NEWSLETTER_EVENT)


def get_report(*, ctx: Context, actor: Actor, reference: str,
               mark_read: bool = True) -> ReportView:
    """One report: the group sees everything (and the read is audited); a reporter only own.

    A group member's read shows the report with its messages, so it clears the unread mark
    (the view returned still carries the mark as it was, so the reader sees what was new).
    A door that only fills a form from the report (the assessment form) passes
    mark_read=False: that read shows no messages.
    """
    with transaction(ctx) as session:
        # a group read locks the row: a reporter's message cannot slip in between the view
        # and the clearing of the mark
        # a reader's read does not clear the mark: the group has not read it yet
        mark_read = mark_read and actor.is_group
        report = load_report(session, reference, for_update=mark_read)
        if actor.reads_group:
            record_audit(session, actor, "read", report)
            view = report_view(session, report, for_group=True)
            if mark_read:
                record_read(session, actor, report, "read")
            return view
        if report.reporter_id != actor.identity:
            record_audit(session, actor, "read_denied", report)
            denied = PermissionDenied("not_your_report")
        else:
            return report_view(session, report, for_group=False)
    raise denied


def find_by_status_token(*, ctx: Context, token: str) -> tuple[Actor, ReportView]:
    """The reporter behind a private status link, and their view of the report."""
    if not token or len(token) > 100:
        raise NotFound("report_not_found", reference="")
    with ctx.db.reading() as session:
        report = session.scalars(
            select(m.Report).where(m.Report.status_token_hash == hash_token(token))
        ).one_or_none()
        if report is None or not hmac.compare_digest(
            status_token_for(ctx, report.reference), token
        ):
            raise NotFound("report_not_found", reference="")
        actor = Actor(report.reporter_id or f"web:{hash_token(token)[:24]}", Role.REPORTER)
        return actor, report_view(session, report, for_group=False)


def list_reports(
    *,
    ctx: Context,
    actor: Actor,
    filters: ReportFilter | None = None,
    after: int | None = None,
    limit: int = 50,
    oldest_first: bool = False,
    with_counts: bool = False,
) -> Page:
    """The group's queue, newest first (or oldest first), keyset-paginated on the id; the
    open reports still without a category ("uncategorized") come first, in the same order.

    The cursor holds both parts of the key: the id, plus UNCATEGORIZED_CURSOR while the
    pages are still in the uncategorized part. Each part is read along the id index.

    with_counts adds how many reports match the filters, by status (the board's counts),
    read in the same snapshot as the page. The read runs outside the write lock; its
    audit row is written right after, before the page is returned.
    """
    require_reader(actor)
    filters = filters or ReportFilter()
    _check_filters(filters)
    limit = max(1, min(limit, 200))
    first_part = True
    if after is not None:
        after = max(0, min(after, MAX_LIST_CURSOR))
        first_part = after >= UNCATEGORIZED_CURSOR
        after = after - UNCATEGORIZED_CURSOR if first_part else after
    base = filtered(ctx, select(*LIST_COLUMNS), filters)
    base = base.order_by(m.Report.id.asc() if oldest_first else m.Report.id.desc())

    def part(uncategorized: bool, after_id: int | None, count: int) -> Any:
        stmt = base.where(NEEDS_CATEGORY if uncategorized else ~NEEDS_CATEGORY)
        if after_id is not None:
            stmt = stmt.where(m.Report.id > after_id if oldest_first
                              else m.Report.id < after_id)
        return stmt.limit(count)

    counts = None
    with ctx.db.reading() as session:
        if filters.text:
            prepare_search(session, ctx)
        rows: list[Any] = []
        if first_part:
            rows = list(session.execute(part(True, after, limit + 1)).all())
        in_first = len(rows)
        if len(rows) <= limit:
            rows += session.execute(
                part(False, None if first_part else after, limit + 1 - len(rows))).all()
        more = len(rows) > limit
        rows = rows[:limit]
        today = ctx.today()
        views = tuple(summary_view(r, overdue=is_overdue(ctx, r, today)) for r in rows)
        if with_counts:
            counts = _counts(session, ctx, filters)
    with transaction(ctx) as session:
        record_audit(session, actor, "list", None, count=len(rows))
    cursor = None
    if more and rows:
        cursor = rows[-1].id + (UNCATEGORIZED_CURSOR if len(rows) <= in_first else 0)
    return Page(items=views, next_cursor=cursor, counts=counts)


# an open report that waits for the group to choose its category: first in the lists
NEEDS_CATEGORY = (m.Report.category_id == UNCATEGORIZED) & (m.Report.status != Status.CLOSED)


# what a list row shows and is_overdue needs: plain rows, not ORM objects, and never the
# free text (description, learning point) the list does not show
LIST_COLUMNS = tuple(getattr(m.Report, name) for name in (
    "id", "reference", "kind", "category_id", "subcategory_id", "occurred_on", "reported_at",
    "reported_severity", "assessed_severity", "status", "reporter_party", "concerned_party",
    "direction", "place_id", "agreement_reference", "guideline_breached", "assignee",
    "redirect_target", "redirect_reference", "channel", "reporter_id", "locale",
    "reporter_unread_since", "withheld", "first_feedback_at", "category_source",
    "suggested_category_id", "suggested_subcategory_id",
))
MAX_ROW_ID = 2**31 - 1  # ids are INTEGER columns (int4 on PostgreSQL)
# added to a list cursor whose page ended among the uncategorized reports (list_reports)
UNCATEGORIZED_CURSOR = 2**31
MAX_LIST_CURSOR = UNCATEGORIZED_CURSOR + MAX_ROW_ID


def filtered(ctx: Context, stmt: Any, filters: ReportFilter) -> Any:
    """`stmt` (a select over reports) narrowed to the filters (checked by _check_filters)."""
    if filters.status:
        stmt = stmt.where(m.Report.status == filters.status)
    if filters.kind:
        stmt = stmt.where(m.Report.kind == filters.kind)
    if filters.category:
        stmt = stmt.where(m.Report.category_id == filters.category)
    if filters.place:
        stmt = stmt.where(m.Report.place_id == filters.place)
    if filters.assignee:
        stmt = stmt.where(m.Report.assignee == filters.assignee)
    if filters.severity:
        stmt = stmt.where(func.coalesce(m.Report.assessed_severity, m.Report.reported_severity)
                          == filters.severity)
    if filters.occurred_from:
        stmt = stmt.where(m.Report.occurred_on >= filters.occurred_from)
    if filters.occurred_to:
        stmt = stmt.where(m.Report.occurred_on <= filters.occurred_to)
    if filters.unread:
        stmt = stmt.where(m.Report.reporter_unread_since.is_not(None))
    if filters.text:
        stmt = stmt.where(text_clause(ctx, filters.text))
    if filters.overdue:
        # feedback-by before today: reported before the instant whose feedback-by date is
        # yesterday, still waiting and without first feedback (promises.is_overdue)
        before = reported_before_for(ctx, ctx.today() - timedelta(days=1))
        stmt = stmt.where(m.Report.status.in_(WAITING_STATUSES),
                          m.Report.first_feedback_at.is_(None), m.Report.kind != NO_PROMISE,
                          m.Report.reported_at < before)
    return stmt


def count_reports(*, ctx: Context, actor: Actor,
                  filters: ReportFilter | None = None) -> dict[str, int]:
    """How many reports match the filters, by status (the board's counts)."""
    require_reader(actor)
    filters = filters or ReportFilter()
    _check_filters(filters)
    with ctx.db.reading() as session:
        if filters.text:
            prepare_search(session, ctx)
        return _counts(session, ctx, filters)


def _counts(session: Any, ctx: Context, filters: ReportFilter) -> dict[str, int]:
    stmt = filtered(ctx, select(m.Report.status, func.count()), filters)
    rows = session.execute(stmt.group_by(m.Report.status)).all()
    return {status: int(count) for status, count in rows}


def _check_filters(filters: ReportFilter) -> None:
    """Unknown codes and control characters in list filters are a 422, never a 500."""
    errors: list[FieldError] = []
    choice(Status, filters.status, "status", errors, False)
    choice(Kind, filters.kind, "kind", errors, False)
    choice(Severity, filters.severity, "severity", errors, False)
    for name in ("place", "assignee", "text"):
        value = getattr(filters, name)
        if value and len(value) > 200:
            errors.append(FieldError(name, "too_long", params={"max": 200}))
        elif value and (has_control_chars(value) or "\x00" in value):
            errors.append(FieldError(name, "control_characters"))
    if filters.category and (len(filters.category) > 64 or has_control_chars(filters.category)
                             or "\x00" in filters.category):
        errors.append(FieldError("category", "unknown_category"))
    if errors:
        raise ValidationFailed(errors)


def list_my_reports(*, ctx: Context, actor: Actor, limit: int = 50) -> tuple[ReportView, ...]:
    """A reporter's own reports, newest first."""
    with ctx.db.reading() as session:
        rows = session.scalars(
            select(m.Report)
            .where(m.Report.reporter_id == actor.identity)
            .order_by(m.Report.id.desc())
            .limit(limit)
        ).all()
        return tuple(summary_view(r, for_group=False) for r in rows)


def last_group_messages(*, ctx: Context, actor: Actor) -> dict[str, str]:
    """The group's latest message to this reporter on each of their reports."""
    latest = (
        select(func.max(m.Message.id))
        .join(m.Report, m.Report.id == m.Message.report_id)
        .where(m.Report.reporter_id == actor.identity, m.Message.direction == "group")
        .group_by(m.Message.report_id)
    )
    with ctx.db.reading() as session:
        rows = session.execute(
            select(m.Report.reference, m.Message.body)
            .join(m.Message, m.Message.report_id == m.Report.id)
            .where(m.Message.id.in_(latest))
        ).all()
    return {reference: body or "" for reference, body in rows}


def last_group_activity(*, ctx: Context, actor: Actor) -> dict[str, datetime]:
    """When the group last told this reporter something, per report that has such news.

    News is what the status page shows the reporter: a message from the group (answer,
    question, status words) or a status notice delivered to the reporter.
    """
    mine = m.Report.reporter_id == actor.identity
    with ctx.db.reading() as session:
        messages = session.execute(
            select(m.Report.reference, func.max(m.Message.created_at))
            .join(m.Message, m.Message.report_id == m.Report.id)
            .where(mine, m.Message.direction == "group")
            .group_by(m.Report.reference)
        ).all()
        notices = session.execute(
            select(m.Report.reference, func.max(m.OutboxMessage.delivered_at))
            .join(m.OutboxMessage, m.OutboxMessage.report_id == m.Report.id)
            .where(mine, m.OutboxMessage.recipient == actor.identity,
                   m.OutboxMessage.event.in_(WEB_NOTICE_EVENTS),
                   m.OutboxMessage.delivered_at.is_not(None))
            .group_by(m.Report.reference)
        ).all()
    latest: dict[str, datetime] = {}
    for reference, at in (*messages, *notices):
        if at is not None and (reference not in latest or at > latest[reference]):
            latest[reference] = at
    return latest


def delivered_notices(
    *, ctx: Context, reference: str
) -> list[tuple[datetime, str, dict[str, Any], str | None]]:
    """Status notices already delivered to a web reporter: (when, event, payload, message)."""
    with ctx.db.reading() as session:
        report = load_report(session, reference)
        rows = session.execute(
            select(m.OutboxMessage.delivered_at, m.OutboxMessage.event,
                   m.OutboxMessage.payload, m.Message.body)
            .outerjoin(m.Message,
                       m.Message.id == m.OutboxMessage.payload["message_id"].as_integer())
            .where(m.OutboxMessage.report_id == report.id,
                   m.OutboxMessage.channel == Channel.WEB.value,
                   m.OutboxMessage.delivered_at.is_not(None),
                   m.OutboxMessage.event.in_(WEB_NOTICE_EVENTS))
            .order_by(m.OutboxMessage.id)
        ).all()
    out = []
    for when, event, payload, body in rows:
        data = dict(payload, reference=report.reference)
        out.append((when, event, data, body))
    return out


EXPORT_COLUMNS = (
    "reference", "kind", "category_id", "subcategory_id", "status", "occurred_on",
    "reported_at", "reported_severity", "assessed_severity", "reporter_party",
    "concerned_party", "direction", "place_id", "agreement_reference", "guideline_breached",
    "redirect_target", "channel", "first_feedback_at", "closed_at",
)


def export_rows(*, ctx: Context, actor: Actor, batch: int = 1000) -> Iterator[tuple[Any, ...]]:
    """Coded fields of every report (no free text, no reporter), streamed in id order."""
    require_group(actor)
    with transaction(ctx) as session:
        record_audit(session, actor, "export", None, format="csv")
    cols = [getattr(m.Report, c) for c in EXPORT_COLUMNS]
    last_id = 0
    while True:
        with ctx.db.reading() as session:
            rows = session.execute(
                select(m.Report.id, *cols)
                .where(m.Report.id > last_id)
                .order_by(m.Report.id)
                .limit(batch)
            ).all()
        if not rows:
            return
        for row in rows:
            yield tuple(row[1:])
        last_id = rows[-1][0]


# ---------------------------------------------------------------- triage

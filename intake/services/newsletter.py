"""The tertial newsletter of learning points: the group drafts, edits, approves and
publishes it (the content itself is `intake.reporting.newsletter`).

Statuses: **draft** (built afresh from the tertial's closed reports whenever it is read,
with the group's title, introduction and choice of items) -> **approved** (a named member
of the group approved it; the content is frozen then, so what is published is what was
approved) -> **published** (final: the public page, the posts, the notices). An edit of an
approved newsletter returns it to draft, and it must be approved again; a published one
cannot be changed.

Only the group (triagers, admins) drafts, edits, approves and publishes; readers read.
Every change is audited (codes and the tertial, never text). Publishing is
`intake.services.newsletter_publish`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.domain import periods
from intake.domain.model import Actor, Conflict, FieldError, NotFound, ValidationFailed
from intake.i18n import Translator
from intake.reporting.newsletter import (
    Content,
    NewsletterView,
    PublicationView,
    build_content,
    included_keys,
)
from intake.services.common import (
    check_free_text,
    clean_text,
    db_now,
    record_audit,
    require_group,
    require_reader,
    transaction,
)
from intake.services.context import Context
from storage import models as m
from storage.models_newsletter import Newsletter, NewsletterPublication

MAX_TITLE = 200
MAX_INTRODUCTION = 5000
DRAFT, APPROVED, PUBLISHED = "draft", "approved", "published"
PUBLIC_PATH = "/nyhetsbrev/"


def parse_tertial(ctx: Context, key: str | None) -> periods.Period:
    """'2026-T3' as a Period; a tertial not yet begun, or anything else, is refused."""
    tr = translator(ctx)
    try:
        period = periods.parse_period((key or "")[:20], tr)
    except ValueError:
        period = None
    if period is None or periods.period_kind(period) != "tertial" or period.start > ctx.today():
        raise ValidationFailed([FieldError("tertial", "invalid_tertial")])
    return period


def translator(ctx: Context) -> Translator:
    return Translator(ctx.settings.locale, ctx.settings.timezone)


def public_url(ctx: Context, slug: str, suffix: str = "") -> str:
    return f"{ctx.settings.base_url.rstrip('/')}{PUBLIC_PATH}{slug}{suffix}"


def guard_public_text(field_name: str, value: str | None, max_chars: int) -> str | None:
    """A text everyone reads: every finding of the identifier guard refuses (as for a
    report's public title), not only an identity number."""
    value = clean_text(value)
    errors = check_free_text(field_name, value, max_chars=max_chars, warn=True)
    errors = [FieldError(e.field, e.code, params=e.params) for e in errors]
    if errors:
        raise ValidationFailed(errors)
    return value


# ---------------------------------------------------------------- reading


def _row(session: Session, tertial: str, *, for_update: bool = False) -> Newsletter | None:
    stmt = select(Newsletter).where(Newsletter.tertial == tertial)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def _publications(session: Session, row: Newsletter) -> tuple[PublicationView, ...]:
    o = m.OutboxMessage
    found = session.execute(
        select(NewsletterPublication.channel, NewsletterPublication.claimed_at,
               o.delivered_at, o.failed_at, o.last_error, NewsletterPublication.outbox_id)
        .outerjoin(o, o.id == NewsletterPublication.outbox_id)
        .where(NewsletterPublication.newsletter_id == row.id)
        .order_by(NewsletterPublication.id)).all()
    views = []
    for channel, claimed_at, delivered_at, failed_at, error, outbox_id in found:
        if outbox_id is None:  # the web: published with the claim (or its post was purged)
            state, delivered_at = "published", delivered_at or claimed_at
        elif delivered_at is not None:
            state = "published"
        else:
            state = "failed" if failed_at is not None else "pending"
        views.append(PublicationView(channel=channel, claimed_at=claimed_at, state=state,
                                     delivered_at=delivered_at, error=error))
    return tuple(views)


def _content(session: Session, ctx: Context, period: periods.Period) -> Content:
    return build_content(session, taxonomy=ctx.taxonomy, tertial=period,
                         timezone=ctx.settings.timezone, locale=ctx.settings.locale)


def _view(session: Session, ctx: Context, period: periods.Period,
          row: Newsletter | None) -> NewsletterView:
    tr = translator(ctx)
    previous = periods.previous_period(period, tr)
    if row is not None and row.content is not None:  # approved or published: as frozen
        content = Content.from_json(row.content)
        included = frozenset(i.key for i in content.items)
    else:
        content = _content(session, ctx, period)
        included = included_keys(content, row.choices if row is not None else {})
    return NewsletterView(
        tertial=period.key, period_label=period.label, previous_label=previous.label,
        custom_title=row.title if row else None, introduction=row.introduction if row else None,
        status=row.status if row else DRAFT, revision=row.revision if row else 0,
        slug=row.slug if row else "", content=content, included=included,
        approved_by=row.approved_by if row else None,
        approved_at=row.approved_at if row else None,
        published_by=row.published_by if row else None,
        published_at=row.published_at if row else None,
        publications=_publications(session, row) if row else ())


def newsletter(*, ctx: Context, actor: Actor, tertial: str) -> NewsletterView:
    """A tertial's newsletter as it stands (a draft is built from the reports now)."""
    require_reader(actor)
    period = parse_tertial(ctx, tertial)
    with ctx.db.reading() as session:
        return _view(session, ctx, period, _row(session, period.key))


def newsletter_statuses(*, ctx: Context, actor: Actor) -> dict[str, str]:
    """The tertials that have a newsletter row, and where each stands."""
    require_reader(actor)
    with ctx.db.reading() as session:
        return {t: s for t, s in session.execute(
            select(Newsletter.tertial, Newsletter.status))}


def public_newsletter(*, ctx: Context, slug: str) -> NewsletterView | None:
    """The published newsletter behind a public link (None for any other slug): no actor,
    the link is the capability, and only a published newsletter is shown."""
    if not slug or len(slug) > 64:
        return None
    with ctx.db.reading() as session:
        row = session.scalars(select(Newsletter).where(Newsletter.slug == slug,
                                                         Newsletter.status == PUBLISHED)
                              ).one_or_none()
        if row is None:
            return None
        period = periods.parse_period(row.tertial, translator(ctx))
        return _view(session, ctx, period, row)


# ---------------------------------------------------------------- changes


def _ensure_row(session: Session, ctx: Context, actor: Actor,
                period: periods.Period) -> Newsletter:
    row = _row(session, period.key, for_update=True)
    if row is not None:
        return row
    now = db_now(session)
    row = Newsletter(tertial=period.key, slug=secrets.token_urlsafe(24), status=DRAFT,
                       choices={}, revision=0, created_at=now, updated_at=now,
                       updated_by=actor.identity)
    session.add(row)
    session.flush()
    record_audit(session, actor, "newsletter_created", None, tertial=period.key)
    return row


def _refuse_published(row: Newsletter) -> None:
    if row.status == PUBLISHED:
        raise Conflict("newsletter_published", tertial=row.tertial)


def _to_draft(row: Newsletter) -> bool:
    """An approved newsletter that changes must be approved again."""
    if row.status != APPROVED:
        return False
    row.status = DRAFT
    row.content = None
    row.approved_by = row.approved_at = None
    return True


_KEEP = object()


def draft_newsletter(*, ctx: Context, actor: Actor, tertial: str) -> NewsletterView:
    """Build (or refresh) the draft: the row is made on first use; an approved newsletter
    goes back to draft and is built afresh from the reports."""
    require_group(actor)
    period = parse_tertial(ctx, tertial)
    with transaction(ctx) as session:
        row = _ensure_row(session, ctx, actor, period)
        _refuse_published(row)
        if _to_draft(row):
            row.revision += 1
            row.updated_at, row.updated_by = db_now(session), actor.identity
            record_audit(session, actor, "newsletter_redrafted", None, tertial=period.key)
        return _view(session, ctx, period, row)


def edit_newsletter(*, ctx: Context, actor: Actor, tertial: str, title: Any = _KEEP,
                    introduction: Any = _KEEP, included: Iterable[str] | None = None,
                    revision: int | None = None) -> NewsletterView:
    """The group's edits: the title and introduction (every identifier finding refuses:
    everyone reads them), and which items are in (`included`: the keys ticked; every item
    of the draft not named is left out). An approved newsletter returns to draft."""
    require_group(actor)
    period = parse_tertial(ctx, tertial)
    new_title = guard_public_text("title", title, MAX_TITLE) if title is not _KEEP else None
    new_intro = (guard_public_text("introduction", introduction, MAX_INTRODUCTION)
                 if introduction is not _KEEP else None)
    with transaction(ctx) as session:
        row = _ensure_row(session, ctx, actor, period)
        _refuse_published(row)
        if revision is not None and revision != row.revision:
            raise Conflict("newsletter_changed", tertial=period.key)
        changed: list[str] = []
        if title is not _KEEP and new_title != row.title:
            row.title = new_title
            changed.append("title")
        if introduction is not _KEEP and new_intro != row.introduction:
            row.introduction = new_intro
            changed.append("introduction")
        if included is not None:
            ticked = set(included)
            content = _content(session, ctx, period)
            choices = dict(row.choices or {})
            for item in content.items:
                choices[item.key] = item.key in ticked and not item.blocked
            if choices != (row.choices or {}):
                row.choices = choices
                changed.append("items")
        if changed:
            returned = _to_draft(row)
            row.revision += 1
            row.updated_at, row.updated_by = db_now(session), actor.identity
            record_audit(session, actor, "newsletter_edited", None, tertial=period.key,
                         fields=changed, returned_to_draft=returned)
        return _view(session, ctx, period, row)


def approve_newsletter(*, ctx: Context, actor: Actor, tertial: str,
                       revision: int | None = None) -> NewsletterView:
    """A named member of the group approves the draft as it stands (`revision`: the one
    they read; a newsletter changed since is refused). The content is frozen now."""
    require_group(actor)
    name = clean_text(actor.display_name)
    if name is None:
        raise ValidationFailed([FieldError("approved_by", "approver_name_required")])
    period = parse_tertial(ctx, tertial)
    with transaction(ctx) as session:
        row = _ensure_row(session, ctx, actor, period)
        _refuse_published(row)
        if revision is not None and revision != row.revision:
            raise Conflict("newsletter_changed", tertial=period.key)
        if row.status == APPROVED:
            return _view(session, ctx, period, row)
        content = _content(session, ctx, period)
        keys = included_keys(content, row.choices or {})
        if not content.counts and not content.good_counts:
            raise Conflict("newsletter_empty", tertial=period.key)
        frozen = Content(tertial=content.tertial, previous_tertial=content.previous_tertial,
                         counts=content.counts, good_counts=content.good_counts,
                         items=tuple(i for i in content.items if i.key in keys))
        row.content = frozen.to_json()
        row.status = APPROVED
        row.approved_by = name[:100]
        row.approved_at = row.updated_at = db_now(session)
        row.updated_by = actor.identity
        record_audit(session, actor, "newsletter_approved", None, tertial=period.key,
                     revision=row.revision, items=len(frozen.items))
        return _view(session, ctx, period, row)


def load_for_publishing(session: Session, period: periods.Period) -> Newsletter:
    """The row to publish, locked (two publishers queue here); NotFound without one."""
    row = _row(session, period.key, for_update=True)
    if row is None:
        raise NotFound("newsletter_not_found", tertial=period.key)
    return row


def view_of(session: Session, ctx: Context, period: periods.Period,
            row: Newsletter) -> NewsletterView:
    return _view(session, ctx, period, row)

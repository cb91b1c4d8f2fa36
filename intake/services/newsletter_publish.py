"""Publishing an approved newsletter, exactly once per channel, and telling everyone whose
report is in it.

`publish_newsletter` is one transaction. It locks the newsletter's row (two publishers, in
two replicas or a retried command, queue there), moves an approved newsletter to
published, and claims each configured channel with a row in `newsletter_publications`:
INSERT ... ON CONFLICT DO NOTHING on UNIQUE(newsletter, channel), as `digest_runs` claims
a week. Only a claim that was inserted writes the channel's outbox row, in the same
transaction, so each channel gets one post whoever publishes and however often; calling it
again later publishes to a channel configured since, and nothing twice, and queues again a
post that failed for good (never delivered; one parked with an unknown outcome is left to
`meld outbox --unverified`).

The channels (`newsletter_channels`): `web` (the public page /nyhetsbrev/{slug} and its
PDF, served from the frozen content), `slack:<channel>` and `teams:<conversation>`
(MELD_NEWSLETTER_SLACK_CHANNEL / _TEAMS_CONVERSATION, else the triage channel and
conversation; `off`: none) and `email:<address>` for each address of
MELD_NEWSLETTER_MAIL_TO. The posts are outbox rows of the channels `newsletter_slack`,
`newsletter_teams` and `newsletter_email`, delivered by their notifiers (the doors' and
`intake.delivery.mail_newsletter`) with the outbox's retries: a Slack post or a mail whose
outcome is unknown is sent again (a duplicate is possible, as for the digest), a Teams post
is parked for a person to settle, never sent twice on a guess.

The notices: the first time it is published, everyone who reported a report behind an
included item, or gave it a "this happened to me too" (+1), gets one notice in their own
channel (reporters as every notice to them, by e-mail too when they asked; +1s in the chat
they used, as followers are told), however many of their reports are in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from intake.domain.model import Actor, Channel, Conflict
from intake.reporting.newsletter import NewsletterView
from intake.services.common import (
    EMAIL_CHANNEL,
    channel_of,
    db_now,
    record_audit,
    reporter_notice_rows,
    require_group,
    transaction,
)
from intake.services.context import Context
from intake.services.newsletter import (
    APPROVED,
    DRAFT,
    PUBLISHED,
    load_for_publishing,
    parse_tertial,
    public_url,
    translator,
    view_of,
)
from intake.services.outbox_rows import mark_outbox_written
from intake.texts_newsletter import NEWSLETTER_EVENT, READ_IT, REPORTER, SUPPORTER
from storage import models as m
from storage.models_newsletter import NewsletterPublication

WEB = "web"
POST_EVENT = "newsletter_published"
# the outbox channel of each platform's post (recipient: the channel, conversation, address)
POST_CHANNELS = {"slack": "newsletter_slack", "teams": "newsletter_teams",
                 "email": "newsletter_email"}
OFF = "off"
MAX_RECIPIENT = 200  # outbox.recipient
UNVERIFIED = "unverified:"  # = intake.delivery.outbox.UNVERIFIED: parked, maybe delivered


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What one call did: published it now (or it was already), the channels it claimed
    and those claimed before, how many contributors were told, and how many failed posts
    it queued again."""

    view: NewsletterView
    published_now: bool
    claimed: tuple[str, ...]
    already: tuple[str, ...]
    notices: int
    retried: int = 0  # failed posts queued again


def _configured(value: str | None, fallback: str | None) -> str | None:
    chosen = (value or "").strip() or (fallback or "").strip()
    return None if not chosen or chosen.lower() == OFF else chosen


def mail_recipients(value: str) -> list[str]:
    """The distribution list: addresses, once each, in the order given."""
    found: list[str] = []
    for part in value.split(","):
        address = part.strip()
        if (address and "@" in address and len(address) <= MAX_RECIPIENT
                and not any(c.isspace() for c in address) and address not in found):
            found.append(address)
    return found


def newsletter_channels(settings: Any) -> list[str]:
    """Every channel a newsletter is published to with these settings (claim keys)."""
    channels = [WEB]
    if settings.slack_enabled:
        slack = _configured(settings.newsletter_slack_channel, settings.slack_triage_channel)
        if slack:
            channels.append(f"slack:{slack}")
    if settings.teams_enabled:
        teams = _configured(settings.newsletter_teams_conversation,
                            settings.teams_triage_conversation)
        if teams and len(teams) <= MAX_RECIPIENT:
            channels.append(f"teams:{teams}")
    if settings.mail_enabled:
        channels += [f"email:{a}" for a in mail_recipients(settings.newsletter_mail_to)]
    return channels


def post_payload(ctx: Context, view: NewsletterView) -> dict[str, Any]:
    """What the posts and notices carry: the title, the counts (suppressed when worded),
    the links; never a report's text."""
    tr = translator(ctx)
    content = view.content
    return {"tertial": view.tertial, "period": view.period_label, "title": view.title(tr),
            "url": public_url(ctx, view.slug), "pdf_url": public_url(ctx, view.slug, ".pdf"),
            "total": content.total, "total_previous": content.total_previous,
            "good_total": content.good_total, "points": len(view.items)}


def _claim(session: Session, newsletter_id: int, channel: str, actor: Actor) -> int | None:
    """Insert the claim of (newsletter, channel); its id, or None if it was claimed before."""
    table = NewsletterPublication.__table__
    values = {"newsletter_id": newsletter_id, "channel": channel,
              "claimed_at": db_now(session), "claimed_by": actor.identity}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return session.execute(
        insert(table).values(**values)
        .on_conflict_do_nothing(index_elements=["newsletter_id", "channel"])
        .returning(table.c.id)).scalar_one_or_none()


def _post(session: Session, publication_id: int, channel: str,
          payload: dict[str, Any]) -> None:
    platform, _, recipient = channel.partition(":")
    now = db_now(session)
    row = m.OutboxMessage(created_at=now, next_attempt_at=now, report_id=None,
                          channel=POST_CHANNELS[platform], recipient=recipient,
                          event=POST_EVENT, payload=dict(payload))
    session.add(row)
    session.flush()
    session.execute(update(NewsletterPublication)
                    .where(NewsletterPublication.id == publication_id)
                    .values(outbox_id=row.id))


def _notify_contributors(session: Session, view: NewsletterView,
                         payload: dict[str, Any], link: str) -> int:
    """One notice per person (reporter or +1), in their own channel; returns how many."""
    report_ids = sorted({rid for item in view.items for rid in item.report_ids})
    if not report_ids:
        return 0
    R = m.Report
    base = {"period": payload["period"], "title": payload["title"], "url": payload["url"],
            "tertial": payload["tertial"], "links": [[link, payload["url"]]]}
    now = db_now(session)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    reports = session.execute(
        select(R.id, R.reference, R.channel, R.reporter_id, R.notify_email)
        .where(R.id.in_(report_ids)).order_by(R.id)).all()
    for report_id, reference, channel, reporter_id, address in reports:
        for row in reporter_notice_rows(
                report_id=report_id, reference=reference, channel=channel,
                reporter_id=reporter_id, notify_email=address, event=NEWSLETTER_EVENT,
                payload={**base, "role": REPORTER}, now=now):
            who = (address or "").lower() if row["channel"] == EMAIL_CHANNEL else row["recipient"]
            key = (row["channel"], who)
            if key in rows:
                rows[key]["payload"]["references"].append(reference)
            else:
                row["payload"]["references"] = [reference]
                rows[key] = row
    supporters = session.execute(
        select(m.PlusOne.actor_id, m.PlusOne.report_id, R.reference)
        .join(R, R.id == m.PlusOne.report_id)
        .where(m.PlusOne.report_id.in_(report_ids)).order_by(m.PlusOne.id)).all()
    for actor_id, report_id, reference in supporters:
        channel = channel_of(actor_id)
        if channel in (Channel.WEB.value, Channel.EMAIL.value):
            continue  # a web +1 has its own follower page, which shows the learning point
        key = (channel, actor_id)
        if key in rows:  # told already (as a reporter, or for another report)
            if rows[key]["payload"]["role"] == SUPPORTER:
                rows[key]["payload"]["references"].append(reference)
            continue
        rows[key] = {"report_id": report_id, "channel": channel, "recipient": actor_id,
                     "event": NEWSLETTER_EVENT, "created_at": now, "next_attempt_at": now,
                     "attempts": 0,
                     "payload": {**base, "reference": reference, "role": SUPPORTER,
                                 "references": [reference]}}
    for row in rows.values():
        session.add(m.OutboxMessage(**row))
    if rows:
        mark_outbox_written(session)
    return len(rows)


def _retry_failed(session: Session, newsletter_id: int) -> int:
    """Posts of this newsletter that failed for good (never delivered: not those parked
    with an unknown outcome) are queued once more; returns how many."""
    o = m.OutboxMessage
    posts = (select(NewsletterPublication.outbox_id)
             .where(NewsletterPublication.newsletter_id == newsletter_id,
                    NewsletterPublication.outbox_id.is_not(None)))
    now = db_now(session)
    return session.execute(
        update(o).where(o.id.in_(posts), o.delivered_at.is_(None), o.failed_at.is_not(None),
                        ~func.coalesce(o.last_error, "").like(UNVERIFIED + "%"))
        .values(failed_at=None, attempts=0, next_attempt_at=now, locked_until=None)
    ).rowcount or 0


def publish_newsletter(*, ctx: Context, actor: Actor, tertial: str) -> PublishResult:
    """Publish an approved newsletter (see the module's text); again: only the channels not
    claimed yet. A draft is refused: it must be approved first."""
    require_group(actor)
    period = parse_tertial(ctx, tertial)
    channels = newsletter_channels(ctx.settings)
    tr = translator(ctx)
    with transaction(ctx) as session:
        row = load_for_publishing(session, period)
        if row.status == DRAFT:
            raise Conflict("newsletter_not_approved", tertial=period.key)
        view = view_of(session, ctx, period, row)
        payload = post_payload(ctx, view)
        published_now = row.status == APPROVED
        notices = 0
        if published_now:
            row.status = PUBLISHED
            row.published_at = db_now(session)
            row.published_by = (actor.display_name or actor.identity)[:100]
            notices = _notify_contributors(session, view, payload, tr(READ_IT))
            record_audit(session, actor, "newsletter_published", None, tertial=period.key,
                         notices=notices)
        claimed, already = [], []
        for channel in channels:
            publication = _claim(session, row.id, channel, actor)
            if publication is None:
                already.append(channel)
                continue
            claimed.append(channel)
            if channel != WEB:
                _post(session, publication, channel, payload)
        retried = 0 if published_now else _retry_failed(session, row.id)
        if retried or any(c != WEB for c in claimed):
            mark_outbox_written(session)
        if claimed:
            record_audit(session, actor, "newsletter_channels", None, tertial=period.key,
                         channels=sorted({c.partition(":")[0] for c in claimed}))
        session.flush()
        return PublishResult(view=view_of(session, ctx, period, row),
                             published_now=published_now, claimed=tuple(claimed),
                             already=tuple(already), notices=notices, retried=retried)

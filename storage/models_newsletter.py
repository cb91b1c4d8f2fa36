"""The tertial newsletter of learning points and its publications (migration 0018).

A newsletter is one per tertial ("2026-T3"). The group edits a draft (title, introduction,
which items), a named member approves it, and it is published: the approved content is
frozen in `content` at approval, so what is published is what was approved. Its public
page lives at /nyhetsbrev/{slug}; the slug is random and made with the row, so the link is
known before it works and never changes.

Each place it is published to is one row in `newsletter_publications`, UNIQUE(newsletter,
channel): inserting the row is the claim (like `digest_runs`' unique key), written in the
same transaction as the outbox row that posts it, so a retried command or two replicas
publish to a channel once. Delivery (Slack, Teams, e-mail) is the outbox worker's, with its
retries; the row names its outbox row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, utcnow

NEWSLETTER_STATUSES = ("draft", "approved", "published")


class Newsletter(Base):
    """One tertial's newsletter: the group's edits, its approval and its publication."""

    __tablename__ = "newsletters"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'approved', 'published')", name="status"),
        CheckConstraint("length(introduction) <= 5000", name="introduction_length"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tertial: Mapped[str] = mapped_column(String(10), unique=True)  # "2026-T3"
    slug: Mapped[str] = mapped_column(String(64), unique=True)  # the public link's part
    title: Mapped[str | None] = mapped_column(String(200))  # None: the default title
    introduction: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    # the group's choices by item key: {"lp:ab12...": false, "measure:7": true}; an item
    # not named here takes its default (included unless the identifier guard flagged it)
    choices: Mapped[dict[str, Any]] = mapped_column(default=dict)
    revision: Mapped[int] = mapped_column(Integer, default=0)  # every edit adds one
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(200))
    approved_by: Mapped[str | None] = mapped_column(String(100))  # the member's name
    approved_at: Mapped[datetime | None] = mapped_column()
    published_by: Mapped[str | None] = mapped_column(String(100))
    published_at: Mapped[datetime | None] = mapped_column()
    # the approved content (counts, the included items), frozen at approval; None in draft
    content: Mapped[dict[str, Any] | None] = mapped_column()


class NewsletterPublication(Base):
    """Where a newsletter was published: 'web', 'slack:<channel>', 'teams:<conversation>',
    'email:<address>'. The row is the claim; its outbox row (none for the web) posts it."""

    __tablename__ = "newsletter_publications"
    __table_args__ = (UniqueConstraint("newsletter_id", "channel"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    newsletter_id: Mapped[int] = mapped_column(
        ForeignKey("newsletters.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(300))
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(200))  # who published (identity)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))

"""Typed ORM models. Times are stored in UTC (timezone-aware)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.base import NAMING_CONVENTION, Base, UTCDateTime, utcnow  # noqa: F401


class ReferenceCounter(Base):
    """Last used sequence number per year, for references MELD-YYYY-NNNN."""

    __tablename__ = "reference_counters"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


# Reports waiting for the group: not triaged yet, or in progress without any feedback. The
# partial index below holds just these; the digest's query repeats the predicate word for
# word (SQLite uses a partial index only when the query's WHERE contains its predicate).
WAITING_PREDICATE = ("status IN ('received', 'triage') "
                     "OR (status = 'in_progress' AND first_feedback_at IS NULL)")
# Reports waiting for the reporter's answer, listed by how long the group has waited.
NEEDS_INFO_PREDICATE = "status = 'needs_info'"
# Open suggestions with +1s, for the digest's ranking (same rule: the query repeats it).
BACKED_PREDICATE = ("kind = 'suggestion' AND plus_one_count > 0 "
                    "AND status IN ('received', 'triage', 'needs_info', 'in_progress')")
# Reports with a reporter's message the group has not read (lists and the digest).
UNREAD_PREDICATE = "reporter_unread_since IS NOT NULL"
# Reports in progress, by when the group first gave feedback: the digest of a past week
# finds those that had none yet at the end of that week (migration 0008).
IN_PROGRESS_PREDICATE = "status = 'in_progress'"
# The audit events that clear the unread mark, by time (the digest of a past week).
UNREAD_CLEARED_ACTION = "reporter_message_read"
UNREAD_CLEARED_PREDICATE = f"action = '{UNREAD_CLEARED_ACTION}'"
# A report's status changes, newest last: its status at the end of a past week.
STATUS_CHANGE_PREDICATE = "action = 'status_changed'"


class Report(Base):
    """One report (melding): a deviation, a suggestion or an input."""

    __tablename__ = "reports"
    __table_args__ = (
        CheckConstraint("length(description) <= 20000", name="description_length"),
        Index("ix_reports_status_reported_at", "status", "reported_at"),
        Index("ix_reports_occurred_on_kind", "occurred_on", "kind"),
        Index("ix_reports_reporter_id", "reporter_id"),
        # the weekly digest selects by week: new (reported_at) and closed (closed_at)
        Index("ix_reports_reported_at", "reported_at"),
        Index("ix_reports_closed_at", "closed_at"),
        # covering: the digest counts the waiting reports from the index alone
        Index("ix_reports_waiting", "reported_at", "id", "status", "first_feedback_at",
              sqlite_where=text(WAITING_PREDICATE), postgresql_where=text(WAITING_PREDICATE)),
        Index("ix_reports_needs_info", "status_changed_at", "id",
              sqlite_where=text(NEEDS_INFO_PREDICATE),
              postgresql_where=text(NEEDS_INFO_PREDICATE)),
        # descending, the order the digest ranks them in
        Index("ix_reports_backed", text("plus_one_count DESC"), "reported_at", "id",
              sqlite_where=text(BACKED_PREDICATE), postgresql_where=text(BACKED_PREDICATE)),
        # the digest of a past week: the reports whose status changed after its end
        Index("ix_reports_status_changed_at", "status_changed_at"),
        Index("ix_reports_in_progress_feedback", "first_feedback_at",
              sqlite_where=text(IN_PROGRESS_PREDICATE),
              postgresql_where=text(IN_PROGRESS_PREDICATE)),
        Index("ix_reports_unread", "reporter_unread_since", "id",
              sqlite_where=text(UNREAD_PREDICATE), postgresql_where=text(UNREAD_PREDICATE)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    category_id: Mapped[str] = mapped_column(String(64))
    subcategory_id: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    reporter_party: Mapped[str | None] = mapped_column(String(20))
    concerned_party: Mapped[str | None] = mapped_column(String(20))
    direction: Mapped[str | None] = mapped_column(String(41))
    place_id: Mapped[str | None] = mapped_column(String(64))
    place_text: Mapped[str | None] = mapped_column(String(200))
    occurred_on: Mapped[date] = mapped_column(Date)
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the local date (MELD_TIMEZONE) of reported_at, written with it by the application:
    # the week counts key on it (SQLite cannot convert time zones). A row written without
    # it (a bulk load) is not in report_week_counts until it is filled in.
    reported_on: Mapped[date | None] = mapped_column(Date)
    reported_severity: Mapped[str] = mapped_column(String(20))
    assessed_severity: Mapped[str | None] = mapped_column(String(20))
    agreement_reference: Mapped[str | None] = mapped_column(String(200))
    guideline_breached: Mapped[bool | None] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20), default="received")
    status_changed_at: Mapped[datetime | None] = mapped_column()  # written with status
    assignee: Mapped[str | None] = mapped_column(String(200))
    learning_point: Mapped[str | None] = mapped_column(Text)
    measure: Mapped[str | None] = mapped_column(Text)
    redirect_target: Mapped[str | None] = mapped_column(String(20))
    redirect_reference: Mapped[str | None] = mapped_column(String(200))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    reporter_id: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    locale: Mapped[str] = mapped_column(String(5), default="nb")
    source_link: Mapped[str | None] = mapped_column(String(500))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    status_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    first_feedback_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    # the first of the reporter's messages the group has not read yet (None: all read);
    # see intake.services.reporter_answer for when it is set and cleared (migration 0008)
    reporter_unread_since: Mapped[datetime | None] = mapped_column()
    # where the reporter asked for notices by e-mail (optional; personal data, erased by
    # retention with reporter_id, never logged; migration 0009)
    notify_email: Mapped[str | None] = mapped_column(String(254))
    # why Meld did not store a mailed report's text ("national_id"): the group reads it in
    # the mailbox (migration 0010)
    withheld: Mapped[str | None] = mapped_column(String(40))
    # the group's summary, the only words other reporters see (intake.services.public)
    public_title: Mapped[str | None] = mapped_column(String(200))
    # Who chose the category (migration 0020): "reporter"; "suggested" (the reporter gave
    # none and took Meld's suggestion, shown in the receipt to change); "none" (neither:
    # category_id is "uncategorized" for the group to set); "group" (assessed). The
    # reporter's own choice, and Meld's suggestion, are kept apart from the group's.
    category_source: Mapped[str] = mapped_column(String(10), server_default="reporter")
    reported_category_id: Mapped[str | None] = mapped_column(String(64))
    reported_subcategory_id: Mapped[str | None] = mapped_column(String(64))
    suggested_category_id: Mapped[str | None] = mapped_column(String(64))
    suggested_subcategory_id: Mapped[str | None] = mapped_column(String(64))
    # kept by triggers on plus_ones (migration 0003); never written by the application
    plus_one_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    messages: Mapped[list[Message]] = relationship(
        back_populates="report", order_by="Message.id", cascade="all, delete-orphan"
    )
    duplicate_of: Mapped[Report | None] = relationship(remote_side=[id])


class Message(Base):
    """Dialog on a report: group to reporter, reporter to group, or an internal note."""

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[str | None] = mapped_column(String(200))
    # "group" (to the reporter), "reporter" (to the group) or "internal" (group only)
    direction: Mapped[str] = mapped_column(String(10))
    purpose: Mapped[str] = mapped_column(String(20), default="reply")
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    report: Mapped[Report] = relationship(back_populates="messages")


class PlusOne(Base):
    """'Dette har skjedd meg også': one per person and report."""

    __tablename__ = "plus_ones"
    __table_args__ = (UniqueConstraint("report_id", "actor_id"),
                      # the digest of a past week leaves out the +1s given after it
                      Index("ix_plus_ones_created_at", "created_at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # a doctor's own +1 ("Dette har skjedd meg også" before sending): when and where
    occurred_on: Mapped[date | None] = mapped_column(Date)
    place_id: Mapped[str | None] = mapped_column(String(64))


class ReportFollower(Base):
    """A doctor who said "this happened to me too" (intake.services.public)."""

    __tablename__ = "report_followers"
    __table_args__ = (UniqueConstraint("report_id", "actor_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    actor_id: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """Append-only log of every change and every group read (details hold codes, never text)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        # when the group read a reporter's message (the digest of a past week); small
        Index("ix_audit_events_unread_cleared", "at",
              sqlite_where=text(UNREAD_CLEARED_PREDICATE),
              postgresql_where=text(UNREAD_CLEARED_PREDICATE)),
        # a report's status history (the digest of a past week): small, a row a move
        Index("ix_audit_events_status_changes", "report_id", "at", "id",
              sqlite_where=text(STATUS_CHANGE_PREDICATE),
              postgresql_where=text(STATUS_CHANGE_PREDICATE)),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[str | None] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ReportNotice(Base):
    """A notice that goes out once per report and kind ("reminder", "overdue",
    "formal_guidance"): inserting the row is the claim, in the same transaction as the
    outbox rows it writes, so two replicas never both send it (migration 0009)."""

    __tablename__ = "report_notices"
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"),
                                           primary_key=True)
    notice: Mapped[str] = mapped_column(String(40), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)  # codes and dates only


RATING_ANSWERS = ("yes", "partly", "no")


class FeedbackRating(Base):
    """The reporter's answer to "Var svaret nyttig?": one per report (migration 0009)."""

    __tablename__ = "feedback_ratings"
    __table_args__ = (CheckConstraint("answer IN ('yes', 'partly', 'no')", name="answer"),)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"),
                                           primary_key=True)
    answer: Mapped[str] = mapped_column(String(10))
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundMail(Base):
    """A mail taken from the collaboration mailbox, once: the unique `message_key` (sha256
    of the normalised Message-ID, else of sender, date, subject and body) is the claim.
    No address and no text: the outcome and the report it became (migration 0010)."""

    __tablename__ = "inbound_mails"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_key: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(10))  # "graph" | "import"
    report_id: Mapped[int | None] = mapped_column(
        ForeignKey("reports.id", ondelete="SET NULL"), index=True)
    # "imported" | "withheld" | "reply" | "auto" | "refused"
    outcome: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime | None] = mapped_column()
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)


class MailboxSync(Base):
    """The Graph sync's state per mailbox folder: the delta link to resume from, and the
    lease of the replica syncing it now (migration 0010)."""

    __tablename__ = "mailbox_sync"
    folder: Mapped[str] = mapped_column(String(200), primary_key=True)
    delta_link: Mapped[str | None] = mapped_column(Text)
    synced_at: Mapped[datetime | None] = mapped_column()
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(200))


class OutboxMessage(Base):
    """A notification written in the same transaction as its cause, delivered by a worker."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "delivered_at", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()
    failed_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(200))


class ApiToken(Base):
    """Bearer token for the working group's API use; only a SHA-256 hash is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class Measure(Base):
    """A measure the group decided on, tracked as an action: what, who owns it, by when and
    where it stands; it belongs to one or more reports (migration 0012)."""

    __tablename__ = "measures"
    __table_args__ = (
        CheckConstraint("length(description) <= 20000", name="measure_description_length"),
        Index("ix_measures_status_due_on", "status", "due_on"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="planned")
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # when the owner was reminded in chat that it is due (once per due date)
    reminded_at: Mapped[datetime | None] = mapped_column()


class MeasureReport(Base):
    """Which reports a measure answers (migration 0012)."""

    __tablename__ = "measure_reports"
    measure_id: Mapped[int] = mapped_column(
        ForeignKey("measures.id", ondelete="CASCADE"), primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True, index=True)


class Meeting(Base):
    """A meeting of the group on a date it set; the meeting view shows what came since the
    one before (migration 0013)."""

    __tablename__ = "meetings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    held_on: Mapped[date] = mapped_column(Date, unique=True)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BoardLoginLink(Base):
    """A one-time sign-in link to the group's board (`meld login-link`); only its hash is
    stored, it works once and for a few minutes (migration 0011)."""

    __tablename__ = "board_login_links"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class BoardSession(Base):
    """A signed-in browser on the board: server-side, revocable, ended by idleness. The
    cookie holds a random value; only its hash is stored (migration 0011)."""

    __tablename__ = "board_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    identity: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class DigestRun(Base):
    """One weekly digest per (channel, period), claimed here before it is posted.

    The unique key makes the claim exactly-once across replicas, restarts and manual runs.
    A claim that was never marked posted and whose lease has run out (the claimer crashed
    or the post failed) may be taken over; a posted one never is.
    """

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("channel", "period"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(100))   # e.g. "slack:C0123456789"
    period: Mapped[str] = mapped_column(String(20))     # ISO week, "2026-W10"
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str] = mapped_column(String(64))  # a random token per claim
    lease_until: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    posted_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(200))


class ReportCount(Base):
    """The committee report's counts per month of occurred_on, dimension and key.

    Maintained by triggers on `reports` (migration 0003) in the same transaction as every
    insert, delete and change of a counted column; never written by the application.
    dim: class (k1 kind, k2 category, k3 subcategory), severity (k1 reported, k2 assessed),
    direction (k1), place (k1), feedback (k1 whole hours to first feedback, zero-padded).
    A NULL key is ''. fb, dev, breach: of the n reports, those with feedback, deviations,
    deviations with a breached guideline.
    """

    __tablename__ = "report_counts"
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    dim: Mapped[str] = mapped_column(String(12), primary_key=True)
    k1: Mapped[str] = mapped_column(String(100), primary_key=True)
    k2: Mapped[str] = mapped_column(String(100), primary_key=True)
    k3: Mapped[str] = mapped_column(String(100), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    fb: Mapped[int] = mapped_column(Integer)
    dev: Mapped[int] = mapped_column(Integer)
    breach: Mapped[int] = mapped_column(Integer)


class ReportWeekCount(Base):
    """The weekly digest's counts: reports per ISO week of reported_on (its Monday), kind,
    category and reported severity ('' for none). Maintained by triggers on `reports`
    (migration 0007) like report_counts; never written by the application. Moves leave rows
    with n = 0.
    """

    __tablename__ = "report_week_counts"
    week: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    category_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    severity: Mapped[str] = mapped_column(String(20), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class ReportOpenWeek(Base):
    """How many reports of each week (of reported_on, by its Monday) wait now: for the group
    (`waiting`, WAITING_PREDICATE) and for the reporter's answer (`asked`, needs_info), so
    the digest counts them from a row per week. Maintained by the week triggers on
    `reports` (migration 0007).
    """

    __tablename__ = "report_open_weeks"
    week: Mapped[date] = mapped_column(Date, primary_key=True)
    waiting: Mapped[int] = mapped_column(Integer)
    asked: Mapped[int] = mapped_column(Integer)


class TeamsConversation(Base):
    """Where Meld can reach someone in Teams: a conversation reference for proactive messages.

    `key` is "user:<Entra object id>" for a reporter's personal chat with the bot, or
    "conversation:<conversation id>" for a channel or group chat the bot was added to.
    """

    __tablename__ = "teams_conversations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    conversation_id: Mapped[str | None] = mapped_column(String(300))
    user_id: Mapped[str | None] = mapped_column(String(200))  # the Teams user id, 29:...
    service_url: Mapped[str] = mapped_column(String(500))
    tenant_id: Mapped[str | None] = mapped_column(String(100))
    bot_id: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# The tables of later features live in their own modules; importing them here registers
# them on Base.metadata wherever the models are loaded (migrations, tests, the app).
from storage import (  # noqa: E402,F401
    models_analysis,
    models_clusters,
    models_limits,
    models_newsletter,
)

"""Mail to the collaboration mailbox becomes a report, a reporter's message, or nothing.

`take_mail` is the one use case every mailbox door calls (the backlog import, the Graph
sync), one transaction per mail:

- the mail's `message_key` is claimed in `inbound_mails` first: a mail already taken is a
  "duplicate" and nothing else happens (so an import is safe to run twice);
- auto-mail (auto-replies, bounces, lists) is recorded as "auto": no report, no answer;
- a mail without a usable sender is recorded as "refused";
- an answer to one of Meld's notices (a thread id `meld.outbox.{id}@...`) from the
  report's own notice address becomes the reporter's message on that report ("reply");
- anything else is a new report in the channel "email" ("imported"), or, when the
  identifier guard finds a national identity number, a report whose text is replaced by a
  sentence that sends the group to the mailbox ("withheld"): the number never reaches
  the database or a log.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.domain.model import (
    UNCATEGORIZED,
    Actor,
    CategorySource,
    Kind,
    Role,
    Severity,
    Status,
)
from intake.i18n import N_, Translator
from intake.mailbox.parse import IncomingMail
from intake.services.common import (
    EMAIL_CHANNEL,
    change_status,
    check_free_text,
    feedback_by,
    hash_token,
    notify_group,
    notify_reporter,
    now_utc,
    record_audit,
    status_token_for,
    transaction,
)
from intake.services.context import Context
from intake.services.storing import ensure_reference_sequence, next_reference
from intake.services.submit_plan import Filed
from intake.services.suggesting import suggest_category
from storage import models as m

MAIL_OUTCOMES = ("imported", "withheld", "reply", "duplicate", "auto", "refused")
MAIL_SOURCES = ("graph", "import")
MAIL_CATEGORY = UNCATEGORIZED  # categories.toml: `system = true`, never on a form
WITHHELD_NATIONAL_ID = "national_id"

WITHHELD_TEXT = N_("The text is withheld: possibly a national identity number. "
                   "Read it in the mailbox.")
EMPTY_MAIL = N_("(The e-mail had no text.)")
CUT_NOTE = N_("[The text was cut at {max} characters: read the whole e-mail in the "
              "mailbox.]")
ATTACHMENTS_LINE = N_("Attachments ({count}): {names} — see the mailbox")

_NOTICE_ID_RE = re.compile(r"^meld\.outbox\.(\d{1,18})@(.+)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class MailOutcome:
    kind: str  # "imported" | "withheld" | "reply" | "duplicate" | "auto" | "refused"
    reference: str | None


def message_key(mail: IncomingMail) -> str:
    """The mail's once-only key: the sha256 of its normalised Message-ID, or for a mail
    without one, of its sender, date, subject and text."""
    if mail.message_id and mail.message_id.strip():
        material = "id\x00" + mail.message_id.strip().strip("<>").lower()
    else:
        when = mail.received_at.isoformat() if mail.received_at else ""
        material = "\x00".join(("mail", mail.sender or "", when, mail.subject, mail.text))
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


def take_mail(*, ctx: Context, mail: IncomingMail, source: str,
              send_receipt: bool) -> MailOutcome:
    """Take one mail from the collaboration mailbox (see the module's docstring)."""
    if source not in MAIL_SOURCES:
        raise ValueError(f"unknown mail source {source!r}")
    key = message_key(mail)
    now = now_utc(ctx)
    ensure_reference_sequence(ctx, ctx.local_date(now).year)
    try:
        with transaction(ctx) as session:
            if session.scalar(select(m.InboundMail.id)
                              .where(m.InboundMail.message_key == key)) is not None:
                return MailOutcome("duplicate", None)
            inbound = m.InboundMail(message_key=key, source=source, outcome="refused",
                                    received_at=mail.received_at, taken_at=now)
            session.add(inbound)
            session.flush()  # the claim: a concurrent taker of the same mail fails here
            if mail.auto is not None:
                inbound.outcome = "auto"
                return MailOutcome("auto", None)
            if mail.sender is None:
                return MailOutcome("refused", None)
            report = _answered_report(session, ctx, mail)
            if report is not None:
                kind = _add_answer(session, ctx, report, mail)
            else:
                report, kind = _new_report(session, ctx, mail, send_receipt=send_receipt)
            inbound.report_id = report.id
            inbound.outcome = kind
            return MailOutcome(kind, report.reference)
    except IntegrityError:
        # another sync or import took the same mail at the same moment
        with ctx.db.reading() as session:
            taken = session.scalar(select(m.InboundMail.id)
                                   .where(m.InboundMail.message_key == key))
        if taken is not None:
            return MailOutcome("duplicate", None)
        raise


# ---------------------------------------------------------------- a new report


def _tr(ctx: Context) -> Translator:
    return Translator(ctx.settings.locale, ctx.settings.timezone)


def mail_description(ctx: Context, mail: IncomingMail) -> str:
    """Subject, a blank line, the text, capped at MELD_MAX_TEXT_CHARS with a note that it
    was cut; the attachments counted and named at the end."""
    tr = _tr(ctx)
    limit = ctx.settings.max_text_chars
    body = "\n\n".join(part for part in (mail.subject.strip(), mail.text.strip()) if part)
    body = body or tr(EMPTY_MAIL)
    tail = ""
    if mail.attachments:
        names = ", ".join(mail.attachments)
        tail = tr(ATTACHMENTS_LINE, count=len(mail.attachments), names=names)
        if len(tail) > limit // 4:
            tail = tail[:limit // 4 - 1] + "…"
    whole = body + ("\n\n" + tail if tail else "")
    if len(whole) <= limit:
        return whole
    note = tr(CUT_NOTE, max=limit)
    room = limit - len(note) - len(tail) - 6
    return body[:room].rstrip() + "\n\n" + note + ("\n\n" + tail if tail else "")


def _new_report(session: Session, ctx: Context, mail: IncomingMail, *,
                send_receipt: bool) -> tuple[m.Report, str]:
    assert mail.sender is not None
    now = now_utc(ctx)
    description = mail_description(ctx, mail)
    errors = check_free_text("description", description,
                             max_chars=ctx.settings.max_text_chars, warn=False)
    withheld = any(e.code == "patient_identifier" for e in errors)
    if withheld:  # the number must not reach the database: the group reads the mailbox
        description = _tr(ctx)(WITHHELD_TEXT)
    reporter_id = f"{EMAIL_CHANNEL}:{mail.sender}"
    received = mail.received_at or now
    occurred_on = min(ctx.local_date(received), ctx.local_date(now))
    reference = next_reference(session, ctx.local_date(now).year)
    # a mail is filed "uncategorized" for the group, as any report sent without a category;
    # Meld's suggestion from the text goes with it, for the group and, through the receipt's
    # link to the status page, for the sender to take
    guesses = [] if withheld else suggest_category(ctx, description, limit=1)
    report = m.Report(
        reference=reference, kind=Kind.INPUT.value, category_id=MAIL_CATEGORY,
        category_source=CategorySource.NONE.value,
        suggested_category_id=guesses[0].category if guesses else None,
        suggested_subcategory_id=guesses[0].subcategory if guesses else None,
        description=description, occurred_on=occurred_on, reported_at=now,
        reported_on=ctx.local_date(now), updated_at=now,
        reported_severity=Severity.UNKNOWN.value, status=Status.RECEIVED.value,
        status_changed_at=now, reporter_id=reporter_id, channel=EMAIL_CHANNEL,
        locale=ctx.settings.locale, status_token_hash=hash_token(
            status_token_for(ctx, reference)),
        notify_email=mail.sender, withheld=WITHHELD_NATIONAL_ID if withheld else None,
    )
    session.add(report)
    session.flush()
    kind = "withheld" if withheld else "imported"
    session.add(m.AuditEvent(
        at=now, actor_id=reporter_id, actor_role=Role.REPORTER.value, action="mail_imported",
        report_id=report.id,
        details={"kind": Kind.INPUT.value, "severity": Severity.UNKNOWN.value,
                 "channel": EMAIL_CHANNEL, "outcome": kind,
                 "attachments": len(mail.attachments), "receipt": send_receipt}))
    if send_receipt:
        payload: dict[str, object] = {"formal_guidance": False,
                                      "feedback_by": feedback_by(ctx, now).isoformat()}
        if mail.message_id:
            payload["in_reply_to"] = mail.message_id
        if withheld:
            payload["withheld"] = True
            payload["form_url"] = ctx.settings.base_url
        else:  # what a receipt says of the category (left to the group), as at every door
            payload.update(Filed(MAIL_CATEGORY, None, CategorySource.NONE.value,
                                 report.suggested_category_id,
                                 report.suggested_subcategory_id).receipt_payload())
        notify_reporter(session, report, "receipt", **payload)
    notify_group(session, report, "new_report", kind=Kind.INPUT.value, category=MAIL_CATEGORY,
                 severity=Severity.UNKNOWN.value, place=None, serious=False)
    return report, kind


# ---------------------------------------------------------------- an answer by mail


def _answered_report(session: Session, ctx: Context, mail: IncomingMail) -> m.Report | None:
    """The report whose notice this mail answers, when it comes from that report's own
    notice address; else None (the mail is a new report)."""
    own_domain = (ctx.settings.mail_sender or "").rpartition("@")[2].strip(" >").lower()
    for thread_id in mail.thread_ids:
        found = _NOTICE_ID_RE.match(thread_id.strip())
        if found is None or (own_domain and found.group(2).lower() != own_domain):
            continue
        report = session.scalars(
            select(m.Report).join(m.OutboxMessage, m.OutboxMessage.report_id == m.Report.id)
            .where(m.OutboxMessage.id == int(found.group(1)),
                   m.OutboxMessage.channel == EMAIL_CHANNEL)
            .with_for_update()).one_or_none()
        if (report is not None and report.notify_email is not None and mail.sender is not None
                and report.notify_email.lower() == mail.sender.lower()):
            return report
    return None


def _add_answer(session: Session, ctx: Context, report: m.Report, mail: IncomingMail) -> str:
    """The reporter's message on the report, by the rules of `reporter_answer`: the unread
    mark, the group asked to reopen a closed report, an answer in needs_info back to
    triage."""
    tr = _tr(ctx)
    limit = ctx.settings.max_text_chars
    body = mail.text.strip() or mail.subject.strip() or tr(EMPTY_MAIL)
    if len(body) > limit:
        note = tr(CUT_NOTE, max=limit)
        body = body[:limit - len(note) - 2].rstrip() + "\n\n" + note
    errors = check_free_text("text", body, max_chars=limit, warn=False)
    withheld = any(e.code == "patient_identifier" for e in errors)
    if withheld:
        body = tr(WITHHELD_TEXT)
        report.withheld = WITHHELD_NATIONAL_ID
    actor = Actor(identity=report.reporter_id or f"{EMAIL_CHANNEL}:{mail.sender}",
                  role=Role.REPORTER)
    created: datetime = now_utc(ctx)
    msg = m.Message(report_id=report.id, author_id=actor.identity, created_at=created,
                    direction="reporter", purpose="answer", body=body)
    session.add(msg)
    session.flush()
    record_audit(session, actor, "reporter_answered", report, message_id=msg.id,
                 channel=EMAIL_CHANNEL)
    if report.reporter_unread_since is None:
        report.reporter_unread_since = created
        if report.status == Status.CLOSED:  # once until the group has read it
            notify_group(session, report, "reporter_message", status=report.status,
                         category=report.category_id)
    if report.status == Status.NEEDS_INFO:
        change_status(session, ctx, actor, report, Status.TRIAGE, notify=False)
    report.updated_at = created
    return "withheld" if withheld else "reply"

"""The dialog between the group and the reporter: replies, questions and answers.
"""

from __future__ import annotations

from intake.domain.model import (
    Actor,
    FieldError,
    PermissionDenied,
    Status,
    ValidationFailed,
)
from intake.services.common import (
    add_message,
    change_status,
    check_free_text,
    clean_text,
    ensure_triage,
    load_report,
    notify_group,
    notify_reporter,
    now_utc,
    record_audit,
    record_read,
    report_view,
    require_group,
    required_group_text,
    transaction,
)
from intake.services.context import Context
from intake.services.views import ReportView


def reply(*, ctx: Context, actor: Actor, reference: str, text: str) -> ReportView:
    """A message from the group to the reporter."""
    require_group(actor)
    body = required_group_text(ctx, "text", text)
    with transaction(ctx) as session:
        report = load_report(session, reference, for_update=True)
        ensure_triage(session, ctx, actor, report)
        msg = add_message(session, actor, report, "group", "reply", body)
        record_read(session, actor, report, "reply")
        if report.first_feedback_at is None:
            report.first_feedback_at = now_utc(ctx)
        report.updated_at = now_utc(ctx)
        record_audit(session, actor, "replied", report, message_id=msg.id)
        notify_reporter(session, report, "reply", message_id=msg.id)
        return report_view(session, report, for_group=True)


def request_info(*, ctx: Context, actor: Actor, reference: str, question: str) -> ReportView:
    """Ask the reporter a question; the report waits in needs_info for the answer."""
    require_group(actor)
    body = required_group_text(ctx, "question", question)
    with transaction(ctx) as session:
        report = load_report(session, reference, for_update=True)
        ensure_triage(session, ctx, actor, report)
        msg = add_message(session, actor, report, "group", "question", body)
        record_read(session, actor, report, "question")
        change_status(session, ctx, actor, report, Status.NEEDS_INFO, message_id=msg.id)
        return report_view(session, report, for_group=True)


def reporter_answer(
    *, ctx: Context, actor: Actor, reference: str, text: str, confirm_warnings: bool = False
) -> ReportView:
    """The reporter writes back; an answer to a question puts the report back in triage.

    Any message from the reporter (an answer to a question or a message of their own, from
    any door) marks the report as having an unread message from the reporter
    (`reporter_unread_since`, the time of the first unread one), shown in the group's lists
    and in the weekly digest. The mark is cleared when a group member sees the messages:
    opens the whole report (`get_report`: the API's report, `vis`, `meld reports show`,
    the Vis button) or writes to the reporter (a reply, a question, or a status change
    with words to the reporter). Assessing, assigning, notes and other status changes leave
    it: they do not show the message. On a closed report the message also asks the group,
    through the outbox, whether to reopen it (`gjenåpne`): a closed report is in nobody's
    queue otherwise. One notice until the group has read the report: more messages before
    that only add to what is unread.
    """
    body = clean_text(text)
    errors = check_free_text("text", body, max_chars=ctx.settings.max_text_chars, warn=True)
    if body is None:
        errors.append(FieldError("text", "required"))
    if confirm_warnings:
        errors = [e for e in errors if not e.warning]
    if errors:
        raise ValidationFailed(errors)
    assert body is not None
    with transaction(ctx) as session:
        report = load_report(session, reference, for_update=True)
        if report.reporter_id != actor.identity:
            record_audit(session, actor, "answer_denied", report)
            denied = PermissionDenied("not_your_report")
        else:
            msg = add_message(session, actor, report, "reporter", "answer", body)
            record_audit(session, actor, "reporter_answered", report, message_id=msg.id)
            if report.reporter_unread_since is None:
                report.reporter_unread_since = msg.created_at
                if report.status == Status.CLOSED:  # once until the group has read it
                    notify_group(session, report, "reporter_message", status=report.status,
                                  category=report.category_id)
            if report.status == Status.NEEDS_INFO:
                change_status(session, ctx, actor, report, Status.TRIAGE, notify=False)
            report.updated_at = now_utc(ctx)
            return report_view(session, report, for_group=False)
    raise denied

"""The reporter's say over notices by e-mail: whether they are on, and stopping them.

The private status token is the capability: whoever holds the link may stop the mails
(the mail's List-Unsubscribe link and the page behind it carry it). Stopping erases the
address (`notify_email = NULL`), so mails still in the outbox fail for good at their next
attempt (`no_address`), and the audit log records it with codes only.
"""

from __future__ import annotations

from dataclasses import dataclass

from intake.domain.model import Actor, Role
from intake.services.common import hash_token, load_report_by_token, record_audit, transaction
from intake.services.context import Context

STOP_VIA = ("page", "one_click")  # how the reporter stopped them (an audit code)


@dataclass(frozen=True, slots=True)
class EmailNotices:
    """A report's e-mail notices as its reporter sees them (never the address)."""

    reference: str
    on: bool


_by_token = load_report_by_token  # one rule for the status-page token


def email_notices(*, ctx: Context, token: str) -> EmailNotices:
    """Whether the report behind a status token sends notices by e-mail."""
    with ctx.db.reading() as session:
        report = _by_token(session, ctx, token)
        return EmailNotices(report.reference, report.notify_email is not None)


def stop_email_notices(*, ctx: Context, token: str, via: str = "page") -> EmailNotices:
    """Stop notices by e-mail for the report behind a status token (idempotent: stopping
    them again changes and audits nothing). NotFound for a token that fits no report."""
    if via not in STOP_VIA:
        raise ValueError(f"unknown way to stop e-mail notices: {via!r}")
    with transaction(ctx) as session:
        report = _by_token(session, ctx, token, for_update=True)
        if report.notify_email is not None:
            report.notify_email = None
            actor = Actor(report.reporter_id or f"web:{hash_token(token)[:24]}", Role.REPORTER)
            record_audit(session, actor, "email_notices_stopped", report, via=via)
        return EmailNotices(report.reference, False)

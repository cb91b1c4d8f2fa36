"""Access: the group's API tokens and the signed period-report links.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select

from intake.domain.model import (
    Actor,
    FieldError,
    NotFound,
    PermissionDenied,
    Role,
    ValidationFailed,
)
from intake.services.common import (
    choice,
    clean_text,
    db_now,
    hash_token,
    now_utc,
    record_audit,
    require_group,
    transaction,
)
from intake.services.context import Context
from storage import models as m

REPORT_LINK_HOURS = 24


def _report_signature(ctx: Context, payload: str) -> str:
    return hmac.new(ctx.secret_key, f"report:{payload}".encode(), hashlib.sha256).hexdigest()[:32]


def report_link(*, ctx: Context, actor: Actor, period: str, suppress: bool = True) -> str:
    """A private link to the period's HTML report, valid for a day (for chat doors)."""
    from intake.domain.periods import parse_period

    require_group(actor)
    try:
        key = parse_period(period).key
    except ValueError:
        raise ValidationFailed([FieldError("period", "invalid_period")]) from None
    expires = int((now_utc(ctx) + timedelta(hours=REPORT_LINK_HOURS)).timestamp())
    payload = f"{key}.{int(suppress)}.{expires}"
    with transaction(ctx) as session:
        record_audit(session, actor, "report_link", None, period=key, suppressed=suppress)
    token = f"{payload}.{_report_signature(ctx, payload)}"
    return f"{ctx.settings.base_url.rstrip('/')}/rapport/{token}"


def open_report_link(*, ctx: Context, token: str) -> tuple[str, bool]:
    """(period key, suppressed) of a valid, unexpired report link; NotFound otherwise."""
    payload, _, signature = (token or "")[:120].rpartition(".")
    parts = payload.split(".")
    if (len(parts) != 3 or not hmac.compare_digest(_report_signature(ctx, payload), signature)
            or not parts[2].isdigit() or int(parts[2]) < now_utc(ctx).timestamp()):
        raise NotFound("report_link_expired")
    return parts[0], parts[1] == "1"


# ---------------------------------------------------------------- tokens


def create_token(
    *, ctx: Context, name: str, role: str, valid_days: int | None = None
) -> str:
    """Make a bearer token for a group member or admin; only its hash is stored."""
    errors: list[FieldError] = []
    token_role = choice(Role, role, "role", errors)
    clean = clean_text(name)
    if clean is None:
        errors.append(FieldError("name", "required"))
    elif len(clean) > 100:
        errors.append(FieldError("name", "too_long", params={"max": 100}))
    if token_role == Role.REPORTER:
        errors.append(FieldError("role", "invalid_choice"))
    if errors:
        raise ValidationFailed(errors)
    token = "meld_" + secrets.token_urlsafe(32)
    now = now_utc(ctx)
    with transaction(ctx) as session:
        row = m.ApiToken(
            name=clean, role=token_role.value, token_hash=hash_token(token), created_at=now,
            expires_at=now + timedelta(days=valid_days) if valid_days else None,
        )
        session.add(row)
        session.flush()
        session.add(m.AuditEvent(at=db_now(session), actor_id="cli", actor_role=Role.ADMIN.value,
                                 action="token_created", details={"token_id": row.id,
                                                                  "role": row.role}))
    return token


def revoke_token(*, ctx: Context, name: str) -> int:
    """Revoke every active token with this name; returns how many."""
    with transaction(ctx) as session:
        rows = session.scalars(
            select(m.ApiToken).where(m.ApiToken.name == name, m.ApiToken.revoked_at.is_(None))
        ).all()
        for row in rows:
            row.revoked_at = now_utc(ctx)
            session.add(m.AuditEvent(at=db_now(session), actor_id="cli",
                                     actor_role=Role.ADMIN.value, action="token_revoked",
                                     details={"token_id": row.id}))
        return len(rows)


def _audit_auth_failure(ctx: Context, row: m.ApiToken | None, reason: str) -> None:
    """A refused bearer token is a security event: who (if known) and why, never the token."""
    with transaction(ctx) as session:
        session.add(m.AuditEvent(
            at=db_now(session),
            actor_id=f"token:{row.id}:{row.name}" if row is not None else "token:?",
            actor_role=row.role if row is not None else Role.REPORTER.value,
            action="auth_failed", details={"reason": reason},
        ))


def authenticate_token(*, ctx: Context, token: str) -> Actor:
    """The actor behind a bearer token, or PermissionDenied('invalid_token')."""
    if not token or len(token) > 200:
        _audit_auth_failure(ctx, None, "malformed")
        raise PermissionDenied("invalid_token")
    with ctx.db.reading() as session:
        row = session.scalars(
            select(m.ApiToken).where(m.ApiToken.token_hash == hash_token(token))
        ).one_or_none()
    now = now_utc(ctx)
    if row is None or row.revoked_at is not None or (row.expires_at and row.expires_at <= now):
        reason = ("unknown" if row is None else "revoked" if row.revoked_at is not None
                  else "expired")
        _audit_auth_failure(ctx, row, reason)
        raise PermissionDenied("invalid_token")
    return Actor(identity=f"token:{row.id}:{row.name}", role=Role(row.role),
                 display_name=row.name)

"""Who is signed in on the group's web board: one-time sign-in links and server-side sessions.

A link (`meld login-link --name --role`) works once, for LOGIN_LINK_MINUTES; redeeming it
starts a session. The browser holds a random value; the database holds its hash, the
person's name and role, and when it was last used. A session ends when revoked (sign-out,
or `meld login-link --revoke NAME` for all of a person's) or after `board_idle_minutes`
without a request. The board's actor has the identity `board:<name>` and the same roles as
every other door (triager, reader). Every sign-in and every refusal is audited.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from intake.domain.model import (
    Actor,
    FieldError,
    NotFound,
    PermissionDenied,
    Role,
    ValidationFailed,
)
from intake.services.common import (
    clean_text,
    db_now,
    has_control_chars,
    hash_token,
    now_utc,
    record_audit,
    transaction,
)
from intake.services.context import Context
from storage import models as m

LOGIN_LINK_MINUTES = 10
BOARD_ROLES = (Role.TRIAGER, Role.READER)
# last_seen_at is written at most this often (a page view is then a read, not a write)
SEEN_RESOLUTION = timedelta(minutes=1)
SYSTEM = Actor("system:board", Role.ADMIN)


def _identity(name: str) -> str:
    return f"board:{name}"


def _check_name_and_role(name: str, role: str) -> tuple[str, Role]:
    errors: list[FieldError] = []
    clean = clean_text(name)
    if clean is None:
        errors.append(FieldError("name", "required"))
    elif len(clean) > 100:
        errors.append(FieldError("name", "too_long"))
    elif has_control_chars(clean):
        errors.append(FieldError("name", "control_characters"))
    board_role = next((r for r in BOARD_ROLES if r.value == role), None)
    if board_role is None:
        errors.append(FieldError("role", "invalid_choice"))
    if errors:
        raise ValidationFailed(errors)
    assert clean is not None and board_role is not None
    return clean, board_role


def create_login_link(*, ctx: Context, actor: Actor, name: str, role: str) -> str:
    """A one-time sign-in link to the board for NAME with ROLE (triager or reader)."""
    clean, board_role = _check_name_and_role(name, role)
    token = secrets.token_urlsafe(32)
    with transaction(ctx) as session:
        now = db_now(session)
        session.add(m.BoardLoginLink(token_hash=hash_token(token), name=clean,
                                     role=board_role.value, created_at=now,
                                     expires_at=now + timedelta(minutes=LOGIN_LINK_MINUTES)))
        record_audit(session, actor, "board_link", None, role=board_role.value,
                     for_identity=_identity(clean))
    return f"{ctx.settings.base_url.rstrip('/')}/gruppe/inn/{token}"


def login_link_valid(*, ctx: Context, token: str) -> bool:
    """Whether the link is unused and unexpired (the page asks before it signs in)."""
    if not token or len(token) > 100:
        return False
    with ctx.db.reading() as session:
        link = session.scalars(select(m.BoardLoginLink).where(
            m.BoardLoginLink.token_hash == hash_token(token))).one_or_none()
        return link is not None and link.used_at is None and link.expires_at > now_utc(ctx)


def redeem_login_link(*, ctx: Context, token: str) -> tuple[str, Actor]:
    """Use the link once: (the new session's secret for the cookie, who signed in).
    An unknown, used or expired link is NotFound, and the refusal is audited."""
    secret = secrets.token_urlsafe(32)
    refused = None
    with transaction(ctx) as session:
        now = db_now(session)
        # the UPDATE claims the link: of two browsers racing with it, one wins
        link = None
        if token and len(token) <= 100:
            link = session.scalars(select(m.BoardLoginLink).where(
                m.BoardLoginLink.token_hash == hash_token(token))).one_or_none()
        claimed = link is not None and session.execute(
            update(m.BoardLoginLink)
            .where(m.BoardLoginLink.id == link.id, m.BoardLoginLink.used_at.is_(None),
                   m.BoardLoginLink.expires_at > now)
            .values(used_at=now)).rowcount == 1
        if link is None or not claimed:
            reason = "unknown" if link is None else (
                "used" if link.used_at is not None else "expired")
            record_audit(session, SYSTEM, "board_login_refused", None, reason=reason)
            refused = NotFound("login_link_invalid")
        else:
            actor = Actor(_identity(link.name), Role(link.role), link.name)
            _add_session(session, secret, actor, now, via="login_link")
    if refused is not None:
        raise refused
    return secret, actor


def _add_session(session: Any, secret: str, actor: Actor, now: datetime, *, via: str) -> None:
    session.add(m.BoardSession(token_hash=hash_token(secret), identity=actor.identity,
                               name=actor.display_name or actor.identity, role=actor.role.value,
                               created_at=now, last_seen_at=now))
    record_audit(session, actor, "board_login", None, via=via)


# Entra ID app roles -> Meld's roles (the same roles as every other door)
APP_ROLES = {"Meld.Triage": Role.TRIAGER, "Meld.Read": Role.READER}


def sign_in_with_entra(*, ctx: Context, object_id: str, name: str,
                       app_roles: list[str]) -> tuple[str, Actor]:
    """Start a board session for a user Entra ID signed in (their object id and name, and
    the app roles in the ID token). Without Meld.Triage or Meld.Read nobody gets in:
    PermissionDenied, and the refusal is audited."""
    roles = [APP_ROLES[r] for r in app_roles if r in APP_ROLES]
    clean = (clean_text(name) or object_id)[:100]
    identity = f"entra:{object_id[:64]}"
    secret = secrets.token_urlsafe(32)
    with transaction(ctx) as session:
        if not roles:
            record_audit(session, Actor(identity, Role.REPORTER, clean),
                         "board_login_refused", None, reason="no_app_role")
            actor = None
        else:
            role = Role.TRIAGER if Role.TRIAGER in roles else Role.READER
            actor = Actor(identity, role, clean)
            _add_session(session, secret, actor, db_now(session), via="entra")
    if actor is None:
        raise PermissionDenied("group_only")
    return secret, actor


def refuse_sign_in(*, ctx: Context, reason: str) -> None:
    """Audit a sign-in that failed before anyone was known (an Entra error, a bad answer)."""
    with transaction(ctx) as session:
        record_audit(session, SYSTEM, "board_login_refused", None, reason=reason[:60])


def session_actor(*, ctx: Context, secret: str | None) -> Actor | None:
    """Who holds this board cookie, or None (no such session, revoked or idle too long)."""
    if not secret or len(secret) > 100:
        return None
    now = now_utc(ctx)
    idle = timedelta(minutes=ctx.settings.board_idle_minutes)
    with ctx.db.reading() as session:
        row = session.scalars(select(m.BoardSession).where(
            m.BoardSession.token_hash == hash_token(secret))).one_or_none()
        if row is None or row.revoked_at is not None or row.last_seen_at + idle <= now:
            return None
        actor = Actor(row.identity, Role(row.role), row.name)
        seen: datetime = row.last_seen_at
        row_id = row.id
    if now - seen >= SEEN_RESOLUTION:
        with transaction(ctx) as session:
            session.execute(update(m.BoardSession).where(m.BoardSession.id == row_id)
                            .values(last_seen_at=now))
    return actor


def sign_out(*, ctx: Context, secret: str | None) -> None:
    """End this browser's session (nothing happens for an unknown one)."""
    if not secret or len(secret) > 100:
        return
    with transaction(ctx) as session:
        row = session.scalars(select(m.BoardSession).where(
            m.BoardSession.token_hash == hash_token(secret))).one_or_none()
        if row is not None and row.revoked_at is None:
            row.revoked_at = db_now(session)
            record_audit(session, Actor(row.identity, Role(row.role), row.name),
                         "board_logout", None)


def revoke_sessions(*, ctx: Context, actor: Actor, name: str) -> int:
    """End every open board session of NAME (and the links not used yet); how many."""
    clean = clean_text(name)
    if clean is None:
        raise ValidationFailed([FieldError("name", "required")])
    with transaction(ctx) as session:
        now = db_now(session)
        ended = session.execute(
            update(m.BoardSession)
            .where(m.BoardSession.identity == _identity(clean),
                   m.BoardSession.revoked_at.is_(None))
            .values(revoked_at=now)).rowcount
        session.execute(update(m.BoardLoginLink)
                        .where(m.BoardLoginLink.name == clean,
                               m.BoardLoginLink.used_at.is_(None))
                        .values(used_at=now))
        record_audit(session, actor, "board_revoke", None, for_identity=_identity(clean),
                     sessions=ended)
    return int(ended)

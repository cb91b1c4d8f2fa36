"""Conversation references: where Meld can reach a Teams user or channel later (proactively).

Captured from every inbound activity (a personal chat, a channel the bot is in, the user's
Teams id and serviceUrl) and upserted only when something changed, so the hot path makes
no write for a user Meld already knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storage import models as m
from storage.db import Database


@dataclass(frozen=True, slots=True)
class Reference:
    key: str
    conversation_id: str | None
    user_id: str | None
    service_url: str
    tenant_id: str | None
    bot_id: str | None


def user_key(aad_object_id: str) -> str:
    return f"user:{aad_object_id.lower()}"


def conversation_key(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


def _merged(old: Reference, new: Reference) -> Reference:
    return Reference(key=old.key, conversation_id=new.conversation_id or old.conversation_id,
                     user_id=new.user_id or old.user_id, service_url=new.service_url,
                     tenant_id=new.tenant_id or old.tenant_id, bot_id=new.bot_id or old.bot_id)


class ConversationStore:
    """Upserts and reads TeamsConversation rows; remembers what it wrote in this process."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._known: dict[str, Reference] = {}

    def known(self, ref: Reference) -> bool:
        """True if this process already stored everything `ref` says (no write needed)."""
        old = self._known.get(ref.key)
        return old is not None and _merged(old, ref) == old

    def remember(self, ref: Reference) -> None:
        """Store `ref` unless this process already stored the same; a personal chat id is
        never replaced by a None (a user seen in a channel keeps their chat)."""
        if self.known(ref):
            return
        with self.db.transaction() as session:
            row = session.scalars(select(m.TeamsConversation)
                                 .where(m.TeamsConversation.key == ref.key)).one_or_none()
            if row is None:
                session.add(m.TeamsConversation(
                    key=ref.key, conversation_id=ref.conversation_id, user_id=ref.user_id,
                    service_url=ref.service_url, tenant_id=ref.tenant_id, bot_id=ref.bot_id,
                    updated_at=datetime.now(UTC)))
            else:
                row.conversation_id = ref.conversation_id or row.conversation_id
                row.user_id = ref.user_id or row.user_id
                row.service_url = ref.service_url
                row.tenant_id = ref.tenant_id or row.tenant_id
                row.bot_id = ref.bot_id or row.bot_id
                row.updated_at = datetime.now(UTC)
        self._known[ref.key] = self.get(ref.key) or ref

    def remember_safely(self, ref: Reference) -> None:
        try:
            self.remember(ref)
        except IntegrityError:  # a concurrent first insert of the same key: it is there
            self._known.pop(ref.key, None)

    def get(self, key: str) -> Reference | None:
        with self.db.reading() as session:
            row = session.scalars(select(m.TeamsConversation)
                                 .where(m.TeamsConversation.key == key)).one_or_none()
            if row is None:
                return None
            return Reference(key=row.key, conversation_id=row.conversation_id,
                             user_id=row.user_id, service_url=row.service_url,
                             tenant_id=row.tenant_id, bot_id=row.bot_id)

    def set_conversation(self, key: str, conversation_id: str) -> None:
        """Record the personal chat Meld created for a user."""
        with self.db.transaction() as session:
            row = session.scalars(select(m.TeamsConversation)
                                 .where(m.TeamsConversation.key == key)).one()
            row.conversation_id = conversation_id
            row.updated_at = datetime.now(UTC)
        self._known.pop(key, None)

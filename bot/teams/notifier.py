"""Teams as outbox channels: reporters' personal chats, the group's channel, the digest.

A reporter's notice is a proactive message to the personal chat stored from their earlier
activity; if Meld only saw them in a channel (the message action), it first creates the
personal chat (POST /v3/conversations). Failures become DeliveryError so the outbox worker
owns retries. A Teams message is never sent twice blindly: after an ambiguous failure (a
timeout once the request was out) the notifiers say `resend_blindly = False`, and as the
Bot Connector cannot be asked what was posted, the worker parks the row for a person to
reconcile (`meld outbox --unverified`) instead of posting again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot import similar
from bot.teams import cards, filing, similar_card
from bot.teams.connector import Connector, ConnectorError
from bot.teams.digest_card import digest_card
from intake import services
from intake.delivery.conversations import ConversationStore, conversation_key, user_key
from intake.delivery.outbox import DeliveryError, Notification
from intake.domain.taxonomy import Taxonomy
from intake.i18n import Translator
from intake.reporting import digest_text
from intake.reporting.digest import Digest
from intake.texts import notice_links, notification_text
from intake.texts_clusters import cluster_alert_text

log = logging.getLogger("meld.teams.notifier")


def delivery_error(exc: ConnectorError) -> DeliveryError:
    return DeliveryError(f"teams_{exc.code}", permanent=exc.permanent,
                         retry_after=exc.retry_after, ambiguous=exc.ambiguous)


class TeamsNotifier:
    """Delivers outbox notifications to Teams reporters in their personal chat with Meld."""

    channel = "teams"
    resend_blindly = False  # no idempotency key in the Bot Connector: a resend may duplicate

    def __init__(self, connector: Connector, store: ConversationStore, *, tenant_id: str,
                 timezone: str = "Europe/Oslo", deadline: float = 60.0,
                 taxonomy: Taxonomy | None = None) -> None:
        self.connector = connector
        self.store = store
        self.tenant_id = tenant_id
        self.timezone = timezone
        self.deadline = deadline
        # the category lists of a receipt's "Endre kategorien"; without it, no choice
        self.taxonomy = taxonomy

    async def deliver(self, note: Notification) -> None:
        prefix, _, aad = note.recipient.partition(":")
        if prefix != "teams" or not aad:
            raise DeliveryError("teams_bad_recipient", permanent=True)
        key = user_key(aad)
        ref = await asyncio.to_thread(self.store.get, key)
        if ref is None:
            raise DeliveryError("teams_no_conversation", permanent=True)
        if ref.tenant_id and ref.tenant_id.lower() != self.tenant_id.lower():
            # stored before Meld served one tenant only: never send our bot token there
            raise DeliveryError("teams_foreign_tenant", permanent=True)
        tr = Translator(note.locale, self.timezone)
        rating = (note.event == "status_changed" and note.payload.get("status") == "closed"
                  and not note.payload.get("reopened"))
        card = cards.notice_card(tr, notification_text(note.event, note.payload, tr, "teams",
                                                       links=False),
                                 note.message, note.reference, rating=rating,
                                 links=notice_links(note.payload),
                                 category=filing.category_part(tr, self.taxonomy, note))
        try:
            async with asyncio.timeout(self.deadline):
                conversation = ref.conversation_id
                if conversation is None:
                    if not (ref.user_id and ref.bot_id):
                        raise DeliveryError("teams_no_conversation", permanent=True)
                    conversation = await self.connector.create_conversation(
                        ref.service_url, bot_id=ref.bot_id, user_id=ref.user_id,
                        tenant_id=self.tenant_id)
                    await asyncio.to_thread(self.store.set_conversation, key, conversation)
                await self.connector.send(ref.service_url, conversation, cards.message(card))
        except ConnectorError as exc:
            log.info("teams outbox id=%s attempt %s: %s", note.id, note.attempt, exc.code)
            raise delivery_error(exc) from None
        except TimeoutError:  # the deadline ran out with a call in flight: it may have posted
            raise DeliveryError("teams_timeout", ambiguous=True) from None


class ChannelTarget:
    """The group's Teams channel: its conversation id, and the serviceUrl to reach it."""

    def __init__(self, store: ConversationStore, conversation_id: str,
                 fallback_service_url: str) -> None:
        self.store = store
        self.conversation_id = conversation_id
        self.fallback_service_url = fallback_service_url

    async def service_url(self) -> str:
        ref = await asyncio.to_thread(self.store.get, conversation_key(self.conversation_id))
        return ref.service_url if ref is not None else self.fallback_service_url


class TeamsGroupNotifier:
    """A card per new report in the group's channel: coded fields and buttons, no text.
    With `ctx`, the card also names a strong match (`services.card_match`), looked up here
    at delivery, not when the report is sent."""

    channel = "group"
    resend_blindly = False

    def __init__(self, connector: Connector, target: ChannelTarget, *, taxonomy: Taxonomy,
                 locale: str = "nb", timezone: str = "Europe/Oslo",
                 ctx: services.Context | None = None) -> None:
        self.connector = connector
        self.ctx = ctx
        self.target = target
        self.taxonomy = taxonomy
        self.locale = locale
        self.timezone = timezone

    async def deliver(self, note: Notification) -> None:
        tr = Translator(self.locale, self.timezone)
        if note.event == "reporter_message":  # the reference and a hint, never the message
            activity = cards.text_message(notification_text(note.event, note.payload, tr))
        elif note.event in ("feedback_reminder", "measure_due"):  # plain text: names
            activity = cards.text_message(notification_text(note.event, note.payload, tr))
        elif note.event == services.CLUSTER_ALERT_EVENT:  # names, counts, references
            activity = cards.text_message(cluster_alert_text(note.payload, tr, self.taxonomy))
        elif note.event != "new_report":
            return
        else:
            reference = str(note.payload["reference"])
            match = await similar.card_match(self.ctx, reference)
            card = cards.triage_card(tr, self.taxonomy, note.payload,
                                     similar_card.similar_elements(tr, reference, match))
            activity = cards.message(card, tr("New report {reference}", reference=reference))
        try:
            await self.connector.send(await self.target.service_url(),
                                      self.target.conversation_id, activity)
        except ConnectorError as exc:
            log.info("teams group outbox id=%s: %s", note.id, exc.code)
            raise delivery_error(exc) from None


class FanOutNotifier:
    """One outbox channel delivered through several platforms (the group on Slack and Teams).

    A failure on one platform retries the row, which re-posts on the platforms that had
    succeeded: for the group's cards a duplicate is the accepted trade-off, a loss is not.
    An ambiguous failure on a platform that must not resend blindly (Teams) parks the row
    instead, so that platform is not posted to twice on a guess.
    """

    def __init__(self, channel: str, notifiers: list[Any]) -> None:
        self.channel = channel
        self.notifiers = notifiers
        self.resend_blindly = all(getattr(n, "resend_blindly", True) for n in notifiers)

    async def deliver(self, note: Notification) -> None:
        errors: list[DeliveryError] = []
        for notifier in self.notifiers:
            try:
                await notifier.deliver(note)
            except DeliveryError as err:
                errors.append(err)
        if errors:
            raise DeliveryError(",".join(e.code for e in errors)[:200],
                                permanent=all(e.permanent for e in errors),
                                ambiguous=any(e.ambiguous for e in errors))


class TeamsDigestPoster:
    """`post` for `intake.reporting.digest_schedule.run_digest`: the digest card to the Teams
    channel."""

    def __init__(self, connector: Connector, target: ChannelTarget, tr: Translator) -> None:
        self.connector = connector
        self.target = target
        self.tr = tr

    @property
    def channel_key(self) -> str:
        """The digest_runs key: one claim per Teams channel and week."""
        return f"teams:{self.target.conversation_id}"

    async def __call__(self, digest: Digest) -> None:
        card = digest_card(digest, self.tr)
        try:
            await self.connector.send(await self.target.service_url(),
                                      self.target.conversation_id,
                                      cards.message(card, digest_text.title(digest, self.tr)))
        except ConnectorError as exc:
            raise delivery_error(exc) from None
        log.info("teams digest %s posted", digest.week.key)

"""The published tertial newsletter in Teams: a card with its title, summary and link,
posted to the configured conversation (outbox channel `newsletter_teams`; the recipient is
the conversation id, 19:...@thread.tacv2).

The row was written once per conversation by `intake.services.publish_newsletter` (the
claim); this only posts it. A Teams message is never posted twice on a guess: after an
ambiguous failure the outbox parks the row for a person (`meld outbox --unverified`), as
for every Teams notice. The serviceUrl is the one Meld stored when it saw the conversation,
else MELD_TEAMS_TRIAGE_SERVICE_URL.
"""

from __future__ import annotations

import logging
from typing import Any

from microsoft_teams.cards import AdaptiveCard, CardElement, OpenUrlAction, TextBlock

from bot.teams import cards
from bot.teams.connector import Connector, ConnectorError
from bot.teams.notifier import ChannelTarget, delivery_error
from intake.delivery.conversations import ConversationStore
from intake.delivery.outbox import DeliveryError, Notification
from intake.i18n import Translator
from intake.texts_newsletter import post_lines, post_links

log = logging.getLogger("meld.teams.newsletter")

CHANNEL = "newsletter_teams"  # = intake.services.newsletter_publish.POST_CHANNELS["teams"]


def newsletter_card(payload: dict[str, Any], tr: Translator) -> dict[str, Any]:
    """The announcement as an Adaptive Card: the title, the lines as plain text (never read
    as Markdown), a button per link."""
    title = str(payload.get("title") or "")[:cards.TEXT_MAX]
    body: list[CardElement] = [TextBlock(text=title or "Meld", size="Large", weight="Bolder",
                                         wrap=True)]
    body += [cards.plain(line) for line in post_lines(payload, tr)]
    actions: list[Any] = [OpenUrlAction(title=name, url=url)
                          for name, url in post_links(payload, tr)]
    return cards.dump(AdaptiveCard(body=body, actions=actions or None))


class TeamsNewsletterNotifier:
    """Posts the newsletter's announcement card to a Teams conversation."""

    channel = CHANNEL
    resend_blindly = False  # no idempotency key in the Bot Connector: park, never guess

    def __init__(self, connector: Connector, store: ConversationStore, *,
                 fallback_service_url: str, tr: Translator) -> None:
        self.connector = connector
        self.store = store
        self.fallback_service_url = fallback_service_url
        self.tr = tr

    async def deliver(self, note: Notification) -> None:
        if not note.recipient:
            raise DeliveryError("teams_bad_recipient", permanent=True)
        target = ChannelTarget(self.store, note.recipient, self.fallback_service_url)
        card = newsletter_card(note.payload, self.tr)
        try:
            await self.connector.send(await target.service_url(), note.recipient,
                                      cards.message(card, str(note.payload.get("title", ""))))
        except ConnectorError as exc:
            log.info("teams newsletter outbox id=%s: %s", note.id, exc.code)
            raise delivery_error(exc) from None
        except TimeoutError:
            raise DeliveryError("teams_timeout", ambiguous=True) from None
        log.info("teams newsletter %s posted (outbox id=%s)", note.payload.get("tertial"),
                 note.id)

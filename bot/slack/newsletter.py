"""The published tertial newsletter in Slack: its title, summary and link, posted to the
configured channel (outbox channel `newsletter_slack`; the recipient is the channel id).

The row was written once per channel by `intake.services.publish_newsletter` (the claim);
this only posts it. A failure becomes DeliveryError and the outbox retries; after an
unknown outcome it posts again (`resend_blindly`), as for the digest: chat.postMessage has
no idempotency key, and a duplicate announcement is better than none. Everything in the
post is escaped; it carries the newsletter's title and counts, never a report's text.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import (
    Block,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.notifier import classify, escape_mrkdwn
from intake.delivery.outbox import DeliveryError, Notification
from intake.i18n import Translator
from intake.texts_newsletter import post_lines, post_links

log = logging.getLogger("meld.slack.newsletter")

CHANNEL = "newsletter_slack"  # = intake.services.newsletter_publish.POST_CHANNELS["slack"]
HEADER_MAX = 150
SECTION_MAX = 3000


def newsletter_message(payload: dict[str, Any], tr: Translator) -> tuple[str, list[Block]]:
    """The fallback text and the Block Kit blocks of the announcement (validated)."""
    title = str(payload.get("title") or "")
    lines = post_lines(payload, tr)
    links = " · ".join(f"<{url}|{escape_mrkdwn(name).replace('|', '/')}>"
                       for name, url in post_links(payload, tr))
    body = "\n".join(escape_mrkdwn(line) for line in lines)
    blocks: list[Block] = [
        HeaderBlock(block_id="newsletter_title",
                    text=PlainTextObject(text=title[:HEADER_MAX] or "Meld", emoji=False)),
        SectionBlock(block_id="newsletter_summary",
                     text=MarkdownTextObject(text=body[:SECTION_MAX])),
    ]
    if links:
        blocks.append(SectionBlock(block_id="newsletter_links",
                                   text=MarkdownTextObject(text=links[:SECTION_MAX])))
    for block in blocks:
        block.to_dict()  # slack_sdk's validators
    return escape_mrkdwn(f"{title}: {lines[0]}")[:SECTION_MAX], blocks


class SlackNewsletterNotifier:
    """Posts the newsletter's announcement to a Slack channel."""

    channel = CHANNEL
    resend_blindly = True

    def __init__(self, client: AsyncWebClient, tr: Translator) -> None:
        self.client = client
        self.tr = tr

    async def deliver(self, note: Notification) -> None:
        if not note.recipient:
            raise DeliveryError("slack_bad_recipient", permanent=True)
        text, blocks = newsletter_message(note.payload, self.tr)
        try:
            await self.client.chat_postMessage(
                channel=note.recipient, text=text, blocks=[b.to_dict() for b in blocks],
                unfurl_links=False, unfurl_media=False)
        except SlackApiError as exc:
            raise classify(exc) from None
        except TimeoutError:
            raise DeliveryError("slack_timeout", ambiguous=True) from None
        except aiohttp.ClientConnectionError:
            raise DeliveryError("slack_connection_error", ambiguous=True) from None
        except aiohttp.ClientError:
            raise DeliveryError("slack_client_error") from None
        log.info("slack newsletter %s posted (outbox id=%s)", note.payload.get("tertial"),
                 note.id)

"""The weekly digest in Slack: Block Kit built with slack_sdk.models, posted to the triage channel.

The content comes from `intake.reporting.digest.Digest` (door-neutral) and its shared wording
(`intake.reporting.digest_text`); here it only gets its Slack form. Everything from the
database (category labels, the group's learning points and measures) is escaped, so stored
text cannot mention, link or broadcast. Slack's limits are kept by construction and checked
by slack_sdk's validators (`to_dict()`): at most 50 blocks, at most 3000 characters of text
per section and 2000 per section field; long lists end with "… and N more".
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.notifier import classify, escape_mrkdwn, slack_client
from intake.delivery.outbox import DeliveryError
from intake.i18n import Translator
from intake.reporting import digest_text as d
from intake.reporting.digest import Digest
from intake.settings import Settings

log = logging.getLogger("meld.slack.digest")

MAX_BLOCKS = 50        # per message
SECTION_MAX = 3000     # mrkdwn characters in a section's text
FIELD_MAX = 2000       # characters in one section field
HEADER_MAX = 150       # plain text in a header block
LEARNING_PART_MAX = 1200  # each of learning point and measure, escaped, in one section
TEXT_MAX = 3000        # the notification (fallback) text

_ESCAPED_SIZE = {"&": 5, "<": 4, ">": 4}


def _escaped_len(text: str) -> int:
    return sum(_ESCAPED_SIZE.get(c, 1) for c in text)


def _fit(text: str, limit: int) -> str:
    """Escape `text` and cut it (with '…') so that the escaped form fits `limit`."""
    if _escaped_len(text) <= limit:
        return escape_mrkdwn(text)
    used, cut = 1, 0  # room for the ellipsis
    while cut < len(text) and used + _ESCAPED_SIZE.get(text[cut], 1) <= limit:
        used += _ESCAPED_SIZE.get(text[cut], 1)
        cut += 1
    return escape_mrkdwn(text[:cut]) + "…"


def _list_text(heading: str, lines: list[str], total: int, tr: Translator,
               limit: int = SECTION_MAX) -> str:
    """'*heading*' and one bullet per line, as many as fit; the rest as '… and N more'."""
    head = f"*{escape_mrkdwn(heading)}*"
    shown: list[str] = []
    size = len(head)
    for i, line in enumerate(lines):
        bullet = "\n• " + escape_mrkdwn(line)
        rest = total - i - 1
        reserve = len("\n" + d.more_line(rest, tr)) + 8 if rest > 0 else 0
        if size + len(bullet) + reserve > limit:
            break
        shown.append(bullet)
        size += len(bullet)
    text = head + "".join(shown)
    if total > len(shown):
        text += "\n" + escape_mrkdwn(d.more_line(total - len(shown), tr))
    return text


def _section(block_id: str, text: str) -> SectionBlock:
    return SectionBlock(block_id=block_id, text=MarkdownTextObject(text=text))


def digest_blocks(digest: Digest, tr: Translator) -> list[Block]:
    """The digest as Block Kit blocks (validated; at most 50)."""
    g = digest
    blocks: list[Block] = [
        HeaderBlock(block_id="digest_title",
                    text=PlainTextObject(text=d.title(g, tr)[:HEADER_MAX], emoji=False)),
        ContextBlock(block_id="digest_period",
                     elements=[MarkdownTextObject(text=escape_mrkdwn(d.period_line(g, tr)))]),
    ]
    summary = f"*{escape_mrkdwn(d.summary_line(g, tr))}*"
    if not g.is_empty or g.previous_weeks_total:
        summary += "\n" + escape_mrkdwn(d.trend_line(g, tr))
    blocks.append(_section("digest_summary", summary))
    if not g.is_empty:
        fields = [
            MarkdownTextObject(text=_list_text(heading, [f"{name}: {count}"
                                                         for name, count in rows],
                                               len(rows), tr, FIELD_MAX))
            for heading, rows in d.breakdowns(g, tr)
        ]
        blocks.append(SectionBlock(block_id="digest_counts", fields=fields))
    blocks.append(DividerBlock(block_id="digest_divider_1"))

    if g.waiting:
        waiting = _list_text(d.waiting_heading(g, tr),
                             [d.waiting_line(w, tr) for w in g.waiting], g.waiting_total, tr)
    else:
        waiting = (f"*{escape_mrkdwn(d.waiting_heading(g, tr))}*\n"
                   + escape_mrkdwn(tr("None.")))
    blocks.append(_section("digest_waiting", waiting))
    if g.overdue:
        blocks.append(_section("digest_overdue", _list_text(
            d.overdue_heading(g, tr), [d.overdue_line(o, tr) for o in g.overdue],
            g.overdue_total, tr)))
    if g.needs_info:
        blocks.append(_section("digest_needs_info", _list_text(
            tr("Waiting for more information from the reporter"),
            [d.needs_info_line(n, tr) for n in g.needs_info], g.needs_info_total, tr)))
    if g.unread:
        blocks.append(_section("digest_unread", _list_text(
            d.unread_heading(g, tr), [d.unread_line(u, tr) for u in g.unread],
            g.unread_total, tr)))

    tail: list[Block] = []
    if g.top_suggestions:
        tail = [DividerBlock(block_id="digest_divider_3"),
                _section("digest_suggestions", _list_text(
                    tr("Most supported suggestions"),
                    [d.suggestion_line(s, tr) for s in g.top_suggestions],
                    len(g.top_suggestions), tr))]

    if g.learned:
        learned = escape_mrkdwn(tr("This we have learned (closed this week)"))
        point = escape_mrkdwn(tr("Learning point"))
        measure = escape_mrkdwn(tr("Measure"))
        blocks.append(DividerBlock(block_id="digest_divider_2"))
        blocks.append(_section("digest_learned", f"*{learned}*"))
        # one section per closed report, as many as the 50 blocks allow (one kept for "more")
        room = MAX_BLOCKS - len(blocks) - len(tail) - 1
        items = g.learned[:max(0, room)]
        for i, item in enumerate(items):
            blocks.append(_section(f"digest_learned_{i}", (
                f"*{escape_mrkdwn(item.reference)}* · {_fit(item.category, 200)}\n"
                f"*{point}:* {_fit(item.learning_point, LEARNING_PART_MAX)}\n"
                f"*{measure}:* {_fit(item.measure, LEARNING_PART_MAX)}")))
        if g.learned_total > len(items):
            blocks.append(ContextBlock(block_id="digest_learned_more", elements=[
                MarkdownTextObject(text=escape_mrkdwn(
                    d.more_line(g.learned_total - len(items), tr)))]))
    blocks += tail
    assert len(blocks) <= MAX_BLOCKS
    for block in blocks:
        block.to_dict()  # slack_sdk's validators raise SlackObjectFormationError here
    return blocks


def digest_text(digest: Digest, tr: Translator) -> str:
    """The notification (fallback) text: title and the week's count."""
    text = f"{d.title(digest, tr)}: {d.summary_line(digest, tr)}"
    return escape_mrkdwn(text[:TEXT_MAX])


async def post_digest(client: AsyncWebClient, channel: str, digest: Digest,
                      tr: Translator) -> str | None:
    """chat.postMessage to `channel`; failures become DeliveryError. Returns the ts."""
    blocks: list[dict[str, Any]] = [b.to_dict() for b in digest_blocks(digest, tr)]
    try:
        answer = await client.chat_postMessage(
            channel=channel, text=digest_text(digest, tr), blocks=blocks,
            unfurl_links=False, unfurl_media=False)
    except SlackApiError as exc:
        raise classify(exc) from None
    except TimeoutError:
        raise DeliveryError("slack_timeout") from None
    except aiohttp.ClientConnectionError:
        raise DeliveryError("slack_connection_error") from None
    except aiohttp.ClientError:
        raise DeliveryError("slack_client_error") from None
    return answer.get("ts")


class SlackDigestPoster:
    """`post` for intake.reporting.digest_schedule.run_digest: the digest to the Slack triage
    channel."""

    def __init__(self, client: AsyncWebClient, channel: str, tr: Translator) -> None:
        self.client = client
        self.channel = channel
        self.tr = tr

    async def __call__(self, digest: Digest) -> None:
        await post_digest(self.client, self.channel, digest, self.tr)
        log.info("slack digest %s posted to %s", digest.week.key, self.channel)


def slack_digest_poster(settings: Settings,
                        client: AsyncWebClient | None = None) -> SlackDigestPoster:
    """The poster for the configured triage channel (a client is built if none is given)."""
    if settings.slack_bot_token is None or not settings.slack_triage_channel:
        raise ValueError("Slack and MELD_SLACK_TRIAGE_CHANNEL must be configured")
    if client is None:
        client = slack_client(settings.slack_bot_token.get_secret_value(),
                              base_url=settings.slack_api_url)
    return SlackDigestPoster(client, settings.slack_triage_channel,
                             Translator(settings.locale, settings.timezone))

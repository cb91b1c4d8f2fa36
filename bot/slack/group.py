"""Forbedringsgruppen's Slack channel as an outbox channel: a card per new report, a
line when a reporter writes on a closed report (whether to reopen it), the reminder
the day before a report's feedback-by date (mentioning the assignee), and cluster alerts.

A new report's card names the open report it most probably is about again, looked up
here at delivery (not when the report is sent), with a button marking it a duplicate."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot import similar
from bot.slack import views
from bot.slack.notifier import post_message
from intake import services
from intake.delivery.outbox import Notification
from intake.domain.taxonomy import Taxonomy
from intake.i18n import Translator
from intake.texts import feedback_reminder_text, notification_text
from intake.texts_clusters import cluster_alert_text

log = logging.getLogger("meld.slack.group")


class SlackGroupNotifier:
    """Posts coded fields and buttons (Vis, Vurder, Svar) to the triage channel; no text.
    With `ctx`, a new report's card also names a strong match (`services.card_match`)."""

    channel = "group"

    def __init__(self, client: AsyncWebClient, *, channel_id: str, taxonomy: Taxonomy,
                 locale: str = "nb", timezone: str = "Europe/Oslo",
                 ctx: services.Context | None = None) -> None:
        self.client = client
        self.ctx = ctx
        self.channel_id = channel_id
        self.taxonomy = taxonomy
        self.locale = locale
        self.timezone = timezone

    async def deliver(self, note: Notification) -> None:
        tr = Translator(self.locale, self.timezone)
        if note.event in ("reporter_message", "measure_due"):  # codes and names, never text
            text = views.escape(notification_text(note.event, note.payload, tr))
            await post_message(self.client, note, channel=self.channel_id, text=text,
                               blocks=[{"type": "section",
                                        "text": {"type": "mrkdwn", "text": text}}])
            return
        if note.event == services.CLUSTER_ALERT_EVENT:  # names, counts and references
            text = views.escape(cluster_alert_text(note.payload, tr, self.taxonomy))
            await post_message(self.client, note, channel=self.channel_id, text=text,
                               blocks=[{"type": "section",
                                        "text": {"type": "mrkdwn", "text": text}}])
            return
        if note.event == "feedback_reminder":  # the day before the feedback-by date
            text = reminder_mrkdwn(note.payload, tr)
            await post_message(self.client, note, channel=self.channel_id, text=text,
                               blocks=[{"type": "section",
                                        "text": {"type": "mrkdwn", "text": text}}])
            return
        if note.event != "new_report":
            return  # nothing else is meant for the channel yet
        reference = str(note.payload["reference"])
        match = await similar.card_match(self.ctx, reference)
        blocks = [b.to_dict() for b in views.triage_card(tr, self.taxonomy, note.payload,
                                                         match)]
        text = tr("New report {reference}", reference=reference)
        await post_message(self.client, note, channel=self.channel_id, text=text,
                           blocks=blocks)


_SLACK_ASSIGNEE = re.compile(r"^slack:([UW][A-Z0-9]{2,20})$")


def reminder_mrkdwn(payload: dict[str, Any], tr: Translator) -> str:
    """The reminder as mrkdwn: a Slack assignee (slack:U...) is mentioned (<@U...>), any
    other assignee is named as text (escaped); nobody assigned: the whole group."""
    assignee = payload.get("assignee")
    shown = None
    if assignee:
        match = _SLACK_ASSIGNEE.match(str(assignee))
        shown = f"<@{match.group(1)}>" if match else views.escape(str(assignee))
    safe = {k: views.escape(v) if isinstance(v, str) else v for k, v in payload.items()}
    return feedback_reminder_text(safe, tr, shown)

"""What `meld doctor` asks Slack: how Slack reaches Meld, whether the bot token works
(`auth.test`), and whether the triage channel exists and has the bot as a member
(`conversations.info`). One synchronous WebClient call each, to MELD_SLACK_API_URL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse

from bot.slack.notifier import SDK_LOG
from intake.i18n import Translator
from intake.ops.doctor import OK, PROBLEM, SKIPPED, Check, group_channel_elsewhere
from intake.settings import Settings

# auth.test's errors for a token Slack does not take
_REFUSED_TOKEN = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired",
                            "account_inactive", "not_allowed_token_type", "invalid_token"})


def doctor_client(settings: Settings) -> WebClient:
    """A plain WebClient for the checks, with the bot token, Meld's API URL and timeout."""
    assert settings.slack_bot_token is not None
    return WebClient(token=settings.slack_bot_token.get_secret_value(),
                     base_url=settings.slack_api_url,
                     timeout=settings.slack_timeout_seconds,  # type: ignore[arg-type]
                     retry_handlers=[], logger=SDK_LOG)


def _call(call: Callable[[], SlackResponse]) -> tuple[dict[str, Any] | None, str | None,
                                                      str]:
    """(answer, Slack's error code or None, and why there is no answer when answer is None)."""
    try:
        data = call().data
        return (dict(data) if isinstance(data, dict) else {}), None, ""
    except SlackApiError as exc:
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        return dict(data), str(data.get("error") or f"http_{exc.response.status_code}"), ""
    except (SlackClientError, OSError) as exc:  # refused, timed out, no such host
        reason = getattr(exc, "reason", None) or exc
        return None, None, getattr(reason, "strerror", None) or str(reason) or type(exc).__name__


def slack_checks(settings: Settings, tr: Translator) -> list[Check]:
    if settings.slack_bot_token is None:
        return [Check("Slack", SKIPPED, tr("off (MELD_SLACK_BOT_TOKEN is not set)."))]
    mode_label = tr("Slack mode")
    if settings.slack_app_token is not None:
        checks = [Check(mode_label, OK, tr("on (Socket Mode)"))]
    elif settings.slack_signing_secret is not None:
        checks = [Check(mode_label, OK, tr("on (HTTP, POST /slack/events)"))]
    else:
        checks = [Check(mode_label, PROBLEM, tr(
            "Slack cannot reach Meld: set MELD_SLACK_APP_TOKEN (Socket Mode, xapp-...) or "
            "MELD_SLACK_SIGNING_SECRET (HTTP mode, with a public MELD_BASE_URL)."))]
    client = doctor_client(settings)
    answer, error, reason = _call(client.auth_test)
    bot = ""
    if answer is None:
        checks.append(Check("Slack", PROBLEM, tr(
            "Slack did not answer at {url} ({reason}). Check the network to Slack, and "
            "MELD_SLACK_API_URL if it is set.", url=settings.slack_api_url, reason=reason)))
    elif error in _REFUSED_TOKEN:
        checks.append(Check("Slack", PROBLEM, tr(
            "Slack refused MELD_SLACK_BOT_TOKEN ({error}). Copy the Bot User OAuth Token "
            "(xoxb-...) from the Slack app's OAuth & Permissions page again, or reinstall "
            "the app.", error=error)))
    elif error is not None:
        checks.append(Check("Slack", PROBLEM, tr(
            "Slack answered {method} with an error ({error}). Try again in a while.",
            method="auth.test", error=error)))
    else:
        bot = str(answer.get("user") or answer.get("user_id") or "")
        checks.append(Check("Slack", OK, tr("the bot token works: {user} in the workspace "
                                            "{team}.", user=bot or "-",
                                            team=answer.get("team") or "-")))
    checks.append(_channel_check(settings, tr, client, token_works=answer is not None
                                 and error is None, bot=bot))
    return checks


def _channel_check(settings: Settings, tr: Translator, client: WebClient, *,
                   token_works: bool, bot: str) -> Check:
    label = tr("Slack channel")
    channel = settings.slack_triage_channel
    if not channel:
        if group_channel_elsewhere(settings, "slack"):
            return Check(label, SKIPPED, tr("MELD_SLACK_TRIAGE_CHANNEL is not set; new reports "
                                            "reach Forbedringsgruppen in Teams."))
        return Check(label, PROBLEM, tr(
            "MELD_SLACK_TRIAGE_CHANNEL is not set, so new reports reach Forbedringsgruppen "
            "nowhere. Set it to the id (C...) of the group's channel: in Slack, open the "
            "channel's details; the id is at the bottom."))
    if not token_works:
        return Check(label, SKIPPED, tr("not checked: the bot token does not work."))
    answer, error, reason = _call(lambda: client.conversations_info(channel=channel))
    if answer is None:
        return Check(label, PROBLEM, tr(
            "Slack did not answer at {url} ({reason}). Check the network to Slack, and "
            "MELD_SLACK_API_URL if it is set.", url=settings.slack_api_url, reason=reason))
    if error == "channel_not_found":
        return Check(label, PROBLEM, tr(
            "Slack finds no channel {channel} that the bot can see. MELD_SLACK_TRIAGE_CHANNEL "
            "takes the channel's id (C...), not its name; a private channel must invite the "
            "bot first.", channel=channel))
    if error == "missing_scope":
        return Check(label, PROBLEM, tr(
            "The bot may not read channel details (missing_scope: {needed}). Add that scope "
            "in the Slack app (OAuth & Permissions) and reinstall it.",
            needed=answer.get("needed") or "channels:read"))
    if error is not None:
        return Check(label, PROBLEM, tr(
            "Slack answered {method} with an error ({error}). Try again in a while.",
            method="conversations.info", error=error))
    info = answer.get("channel") or {}
    name = str(info.get("name") or channel)
    if info.get("is_archived"):
        return Check(label, PROBLEM, tr(
            "#{name} ({channel}) is archived: unarchive it, or set MELD_SLACK_TRIAGE_CHANNEL "
            "to the group's current channel.", name=name, channel=channel))
    if not info.get("is_member"):
        return Check(label, PROBLEM, tr(
            "The bot is not a member of #{name} ({channel}): write /invite @{bot} in the "
            "channel.", name=name, channel=channel, bot=bot or "Meld"))
    return Check(label, OK, tr("#{name} ({channel}): the bot is a member.", name=name,
                               channel=channel))

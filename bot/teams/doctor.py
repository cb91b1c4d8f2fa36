"""What `meld doctor` asks of Teams: a bot token from the Microsoft login (msal client
credentials, the same `BotTokens` the door sends with), and the triage channel setting."""

from __future__ import annotations

from bot.teams.auth import BotTokens, TokenError
from intake.i18n import Translator
from intake.ops.doctor import OK, PROBLEM, SKIPPED, Check, group_channel_elsewhere
from intake.settings import Settings

# msal's error codes for an app id or client secret Microsoft does not take
_REFUSED_CREDENTIALS = frozenset({"invalid_client", "unauthorized_client"})


def bot_token_problem(settings: Settings) -> str | None:
    """None when Microsoft gives the bot a token; else the reason's code ('unreachable' when
    the login cannot be reached or read, else msal's error code)."""
    try:
        BotTokens(settings).token_sync()
    except TokenError as exc:
        return str(exc) or "no_token"
    return None


def teams_checks(settings: Settings, tr: Translator) -> list[Check]:
    if not settings.teams_enabled:
        return [Check("Teams", SKIPPED, tr("off (MELD_TEAMS_APP_ID is not set)."))]
    problem = bot_token_problem(settings)
    authority = f"{settings.teams_authority_url.rstrip('/')}/{settings.teams_tenant_id}"
    if problem is None:
        token = Check("Teams", OK, tr("Microsoft gave the bot a token (app {app_id}, tenant "
                                      "{tenant}).", app_id=settings.teams_app_id or "-",
                                      tenant=settings.teams_tenant_id or "-"))
    elif problem == "unreachable":
        token = Check("Teams", PROBLEM, tr(
            "Meld got no usable answer from the Microsoft login at {authority}. Check "
            "MELD_TEAMS_TENANT_ID, the network, and MELD_TEAMS_AUTHORITY_URL and "
            "MELD_TEAMS_CA_BUNDLE if they are set.",
            authority=authority))
    elif problem in _REFUSED_CREDENTIALS:
        token = Check("Teams", PROBLEM, tr(
            "Microsoft refused the app's credentials ({error}). Check MELD_TEAMS_APP_ID and "
            "MELD_TEAMS_APP_PASSWORD: a client secret of that app registration that has not "
            "expired.", error=problem))
    else:
        token = Check("Teams", PROBLEM, tr(
            "Microsoft gave no token ({error}). Check MELD_TEAMS_APP_ID, "
            "MELD_TEAMS_APP_PASSWORD and MELD_TEAMS_TENANT_ID.", error=problem))
    return [token, _channel_check(settings, tr)]


def _channel_check(settings: Settings, tr: Translator) -> Check:
    """The triage channel can only be read from settings: the bot learns its serviceUrl
    when it first sees a message there, and Microsoft offers no way to ask beforehand."""
    label = tr("Teams channel")
    conversation = (settings.teams_triage_conversation or "").strip()
    if not conversation:
        if group_channel_elsewhere(settings, "teams"):
            return Check(label, SKIPPED, tr("MELD_TEAMS_TRIAGE_CONVERSATION is not set; new "
                                            "reports reach Forbedringsgruppen in Slack."))
        return Check(label, PROBLEM, tr(
            "MELD_TEAMS_TRIAGE_CONVERSATION is not set, so new reports reach "
            "Forbedringsgruppen nowhere. Set it to the id of the group's channel "
            "(19:...@thread.tacv2; in Teams: Get link to channel, the id is in the link)."))
    if not (conversation.startswith("19:") and "@thread." in conversation):
        return Check(label, PROBLEM, tr(
            "MELD_TEAMS_TRIAGE_CONVERSATION ({conversation}) is not a Teams channel id. Use "
            "the channel's id, 19:...@thread.tacv2 (in Teams: Get link to channel, the id is "
            "in the link).", conversation=conversation[:80]))
    return Check(label, OK, tr("MELD_TEAMS_TRIAGE_CONVERSATION is set ({conversation}).",
                               conversation=conversation))

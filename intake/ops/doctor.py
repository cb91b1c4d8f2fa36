"""What `meld doctor` checks that no door owns: the secret key and the public address.

A check is one line: what was checked, whether it is in order, and, when it is not, what is
wrong and how to fix it, in the user's language. The chat doors add their own checks (the
bot token, the channel Meld posts to) through `intake.app.door_checks`; the CLI adds the
database. The texts never carry a secret's value.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from intake.settings import KEY_COMMAND, MIN_SECRET_KEY_BYTES, Settings, SettingsError

if TYPE_CHECKING:
    from intake.i18n import Translator

OK = "ok"
PROBLEM = "problem"
SKIPPED = "skipped"  # off, or not checked because an earlier check failed

# host names that never reach the public internet (RFC 6761, RFC 8375, ICANN's .internal)
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".lan")


@dataclass(frozen=True, slots=True)
class Check:
    """One line of `meld doctor`: `label` and `text` are already in the user's language."""

    label: str
    status: str  # OK, PROBLEM or SKIPPED
    text: str

    @property
    def needs_fixing(self) -> bool:
        return self.status == PROBLEM


def group_channel_elsewhere(settings: Settings, door: str) -> str | None:
    """The other chat door that brings new reports to the group, if one does ('Slack' or
    'Teams'); None when `door` is the only way they could reach the group."""
    if door == "teams" and settings.slack_enabled and settings.slack_triage_channel:
        return "Slack"
    if door == "slack" and settings.teams_enabled and settings.teams_triage_conversation:
        return "Teams"
    return None


def secret_key_check(settings: Settings, tr: Translator) -> Check:
    label = tr("Secret key")
    if settings.secret_key is not None:
        length = len(settings.secret_key.get_secret_value().encode())
        if length < MIN_SECRET_KEY_BYTES:  # Settings refuses it; this covers a copied object
            return Check(label, PROBLEM, tr(
                "MELD_SECRET_KEY is too short: {length} bytes, and it needs at least {min}. "
                "Make one with: {command}", length=length, min=MIN_SECRET_KEY_BYTES,
                command=KEY_COMMAND))
        return Check(label, OK, tr("MELD_SECRET_KEY is set ({length} bytes; at least {min} "
                                   "are needed).", length=length, min=MIN_SECRET_KEY_BYTES))
    try:
        settings.require_secret_key()
    except SettingsError as exc:
        return Check(label, PROBLEM, exc.text(tr))
    database = make_url(settings.database_url).database or ""
    return Check(label, OK, tr("MELD_SECRET_KEY is not set; with SQLite Meld keeps its key in "
                               "{path}.", path=str(Path(database).parent / "secret_key")))


def slack_http_mode(settings: Settings) -> bool:
    """Slack sends its events to Meld over HTTP: a bot token and a signing secret, and no
    app token (with one, Meld connects to Slack over Socket Mode instead)."""
    return (settings.slack_enabled and settings.slack_signing_secret is not None
            and settings.slack_app_token is None)


def _is_local_host(host: str) -> bool:
    """This machine, a private network, or a name only a local resolver knows."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        name = host.lower().rstrip(".")
        return name == "localhost" or "." not in name or name.endswith(_LOCAL_SUFFIXES)
    return not address.is_global


def base_url_check(settings: Settings, tr: Translator) -> Check:
    """MELD_BASE_URL must be a public https address when Slack (HTTP mode) or Teams sends
    its requests to Meld; otherwise it only makes the links to reporters."""
    label = tr("Public address")
    url = settings.base_url
    doors = [name for name, on in ((tr("Slack (HTTP mode)"), slack_http_mode(settings)),
                                   ("Teams", settings.teams_enabled)) if on]
    if not doors:
        return Check(label, OK, tr("{url} (Slack in HTTP mode and Teams are off, so it may be "
                                   "a local address).", url=url))
    named = ", ".join(doors)
    parts = urlsplit(url.strip())
    if "base_url" not in settings.model_fields_set:
        return Check(label, PROBLEM, tr(
            "MELD_BASE_URL is not set (links use {url}), and {doors} need Meld's public https "
            "address. Set it, e.g. MELD_BASE_URL=https://meld.example.no", url=url,
            doors=named))
    if not parts.hostname or _is_local_host(parts.hostname):
        return Check(label, PROBLEM, tr(
            "MELD_BASE_URL ({url}) points to this machine or a private network, which {doors} "
            "cannot reach. Set MELD_BASE_URL to Meld's public https address, e.g. "
            "https://meld.example.no", url=url, doors=named))
    if parts.scheme != "https":
        return Check(label, PROBLEM, tr(
            "MELD_BASE_URL ({url}) is not https: {doors} only talk to a public https address. "
            "Set MELD_BASE_URL to Meld's public address, e.g. https://meld.example.no",
            url=url, doors=named))
    return Check(label, OK, tr("{url} is a public https address.", url=url))


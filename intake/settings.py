"""One Settings object, read from MELD_* environment variables and passed in explicitly.

`Settings.from_environment()` is how Meld itself loads them (the `meld` command and the
server's worker processes): MELD_* environment variables, then the `.env` file in the
working directory (MELD_ENV_FILE names another file, or none when empty); a variable set in
the environment wins over the same one in the file. `Settings()` and `Settings(field=value)`
read the environment only, never a file, so tests are not changed by a developer's `.env`.
The fields of the learning features live in `intake.settings_learning`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, PrivateAttr, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import SettingsConfigDict

from intake.i18n import N_, Translator
from intake.settings_learning import LearningSettings

ENV_FILE_VARIABLE = "MELD_ENV_FILE"
DEFAULT_ENV_FILE = ".env"
MIN_SECRET_KEY_BYTES = 32
KEY_COMMAND = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"


class SettingsError(Exception):
    """Settings Meld cannot run with: an English message (a msgid) and its parameters."""

    def __init__(self, msgid: str, **params: Any) -> None:
        super().__init__(msgid.format(**params))
        self.msgid = msgid
        self.params = params

    def text(self, tr: Translator) -> str:
        return tr(self.msgid, **self.params)


class Settings(LearningSettings):
    """Runtime configuration; build with Settings() or Settings(field=value) in tests."""

    model_config = SettingsConfigDict(env_prefix="MELD_", env_file=None, extra="ignore",
                                      env_ignore_empty=True)

    # where from_environment() found these settings (None: built in code)
    _env_file_used: Path | None = PrivateAttr(default=None)
    _from_environment: bool = PrivateAttr(default=False)

    database_url: str = Field(
        "sqlite:///./var/meld.db",
        description="SQLAlchemy URL; sqlite:///path or postgresql+psycopg://user@host/db",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Signs status links and form tokens; required unless the database is a "
        "SQLite file (then a key is created beside it)",
    )
    host: str = Field("127.0.0.1", description="Address `meld serve` listens on")
    port: int = Field(8000, ge=1, le=65535, description="Port `meld serve` listens on")
    workers: int = Field(1, ge=1, le=32, description="Server processes (more use more cores)")
    base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Public URL used in links sent to reporters; unset, it follows MELD_HOST "
        "and MELD_PORT (http://127.0.0.1:<port> for 0.0.0.0 or ::)",
    )
    locale: str = Field("nb", description="Default language: nb (bokmål) or en")
    timezone: str = "Europe/Oslo"
    feedback_days: int = Field(14, ge=1, le=365, description="Promised days to first feedback")
    taxonomy_dir: Path | None = Field(
        None, description="Folder with categories.toml/places.toml overriding the defaults"
    )
    max_text_chars: int = Field(3000, ge=100, le=20000)
    # The group's board: Entra ID sign-in (unset: sign-in links only; see .env.example)
    entra_tenant_id: str | None = Field(None, description="Tenant of the board's sign-in")
    entra_client_id: str | None = Field(None, description="The board's app registration")
    entra_client_secret: SecretStr | None = Field(None, description="Its client secret")
    entra_authority_url: str = Field("https://login.microsoftonline.com",
                                     description="Entra login host (a fake in tests)")
    entra_ca_bundle: Path | None = Field(None, description="CA bundle for that host")
    board_idle_minutes: int = Field(120, ge=5, le=24 * 60, description="Idle session end")
    outbox_poll_seconds: float = Field(2.0, gt=0)
    outbox_max_attempts: int = Field(12, ge=1)
    outbox_backoff_base_seconds: float = Field(5.0, gt=0)
    outbox_backoff_max_seconds: float = Field(3600.0, gt=0)
    outbox_lease_seconds: float = Field(
        120.0, ge=1, le=3600,
        description="How long a claimed notification is reserved for one worker; after a "
        "crash it is delivered again once this has passed",
    )
    run_outbox_worker: bool = True
    retention_days: int = Field(
        730, ge=1, le=36500,
        description="Days after closing until `meld retention --apply` erases a report's "
        "free text and the reporter's identity (coded fields, learning point and measure "
        "stay for the statistics)",
    )
    log_level: str = "INFO"

    # Rate limits on the open submit doors (web form, POST /api/v1/reports); per process
    rate_limit_enabled: bool = Field(True, description="Limit submissions per reporter and IP")
    rate_limit_window_seconds: float = Field(60.0, gt=0, le=86400,
                                             description="Sliding window, in seconds")
    rate_limit_per_reporter: int = Field(
        10, ge=1, description="Submissions per reporter (browser session) in one window"
    )
    rate_limit_per_ip: int = Field(120, ge=1, description="Submissions per IP in one window")

    # Weekly digest for Forbedringsgruppen (posted to the Slack triage channel)
    digest_rrule: str = Field(
        "FREQ=WEEKLY;BYDAY=MO;BYHOUR=8;BYMINUTE=0;BYSECOND=0",
        description="When the weekly digest is posted: an RFC 5545 RRULE in local time "
        "(MELD_TIMEZONE); the digest covers the last full ISO week",
    )
    digest_stale_days: int = Field(
        7, ge=1, le=365,
        description="A report waiting longer than this many days for triage or feedback "
        "is listed in the digest",
    )
    run_digest_scheduler: bool = Field(
        True, description="Post the digest from `meld serve` (needs Slack and a triage channel)"
    )

    # Slack (all optional: without a bot token Meld runs with Slack off)
    slack_bot_token: SecretStr | None = Field(None, description="Bot token, xoxb-...")
    slack_signing_secret: SecretStr | None = Field(
        None, description="Signing secret (HTTP mode); checks that requests come from Slack"
    )
    slack_app_token: SecretStr | None = Field(
        None, description="App-level token, xapp-... (connections:write): turns on Socket Mode"
    )
    slack_api_url: str = Field(
        "https://slack.com/api/", description="Slack Web API base URL (a fake in tests)"
    )
    slack_timeout_seconds: float = Field(
        10.0, gt=0, le=60, description="Timeout of one Slack Web API call"
    )
    slack_triage_channel: str | None = Field(
        None, description="Channel id where new reports are posted as cards for the group"
    )
    slack_group_usergroup: str | None = Field(
        None, description="User group id (S...) whose members are Forbedringsgruppen"
    )
    slack_group_members: str = Field(
        "", description="Comma-separated Slack user ids that are Forbedringsgruppen"
    )

    # Microsoft Teams (all optional: without an app id and password Teams is off)
    teams_app_id: str | None = Field(
        None, description="The bot's Microsoft App ID (Entra app registration, client id)"
    )
    teams_app_password: SecretStr | None = Field(
        None, description="Client secret of that app registration"
    )
    teams_tenant_id: str | None = Field(
        None, description="Entra tenant id (single-tenant bot; required with Teams on)"
    )
    teams_authority_url: str = Field(
        "https://login.microsoftonline.com",
        description="Entra login host for msal; the authority is <this>/<tenant id>",
    )
    teams_openid_metadata_url: str = Field(
        "https://login.botframework.com/v1/.well-known/openidconfiguration",
        description="OpenID metadata naming the JWKS that signs Bot Framework requests",
    )
    teams_service_urls: str = Field(
        "https://smba.trafficmanager.net",
        description="Comma-separated origins (scheme://host[:port]) Meld may send its bot "
        "token to: the Bot Connector serviceUrls it accepts",
    )
    teams_ca_bundle: Path | None = Field(
        None, description="CA bundle for outgoing Teams calls (a private CA in staging)"
    )
    teams_timeout_seconds: float = Field(
        10.0, gt=0, le=60, description="Timeout of one outgoing Teams call"
    )
    teams_group_members: str = Field(
        "", description="Comma-separated Entra object ids that are Forbedringsgruppen"
    )
    teams_triage_conversation: str | None = Field(
        None, description="Conversation id of the Teams channel (19:...@thread.tacv2) for "
        "new-report cards and the weekly digest",
    )
    teams_triage_service_url: str = Field(
        "https://smba.trafficmanager.net/emea/",
        description="serviceUrl for the triage channel until the bot has seen a message there",
    )

    # E-mail notices to reporters who gave an address (off unless a transport is chosen)
    mail_transport: str | None = Field(
        None, description="How notices by e-mail are sent: smtp or graph (unset: no e-mail "
        "notices, and the form does not ask for an address)",
    )
    mail_from: str | None = Field(
        None, description="Sender address of notices by e-mail (smtp; graph defaults to "
        "MELD_GRAPH_MAILBOX)",
    )
    smtp_url: str | None = Field(
        None, description="smtp://[user:password@]host:port (STARTTLS when the server offers "
        "it, login when a user is given); smtps:// for TLS from the start",
    )
    smtp_starttls: str = Field(
        "auto", description="auto (when offered), required, or off (a loopback relay)",
    )
    smtp_ca_bundle: Path | None = Field(
        None, description="CA bundle for the SMTP server's certificate (a private CA)"
    )
    mail_timeout_seconds: float = Field(
        15.0, gt=0, le=120, description="Timeout of one SMTP session or Graph call"
    )
    graph_tenant_id: str | None = Field(None, description="Entra tenant id for Microsoft Graph")
    graph_client_id: str | None = Field(
        None, description="Client id of the app registration with Mail.Send"
    )
    graph_client_secret: SecretStr | None = Field(None, description="Its client secret")
    graph_mailbox: str | None = Field(
        None, description="The shared mailbox notices are sent from (UPN or address)"
    )
    graph_url: str = Field(
        "https://graph.microsoft.com", description="Microsoft Graph base URL (a fake in tests)"
    )
    graph_authority_url: str = Field(
        "https://login.microsoftonline.com",
        description="Entra login host for msal; the authority is <this>/<tenant id>",
    )
    graph_ca_bundle: Path | None = Field(
        None, description="CA bundle for Graph and the authority (a private CA in staging)"
    )

    # The collaboration mailbox read into Meld (Microsoft Graph delta sync of MELD_GRAPH_MAILBOX)
    mailbox_import: str | None = Field(None, description="graph: import the mail of "
                                       "MELD_GRAPH_MAILBOX with Microsoft Graph (unset: no)")
    mailbox_folder: str = Field("inbox", min_length=1, max_length=200, description="The "
                                "folder imported: a well-known name (inbox) or a folder id")
    mailbox_poll_seconds: float = Field(
        60.0, ge=5, le=86400, description="How often `meld serve` syncs the mailbox")
    mailbox_mark: str = Field("category", description="How Outlook shows what Meld took: "
                              "category (the category \"Meld\") or move:<subfolder>")
    run_mailbox_sync: bool = Field(
        True, description="Sync the mailbox from `meld serve` (MELD_MAILBOX_IMPORT=graph)"
    )

    # The feedback promise (MELD_FEEDBACK_DAYS): reminders before, an honest notice after
    run_promise_scheduler: bool = Field(
        True, description="Send feedback reminders and overdue notices from `meld serve`"
    )
    promise_check_seconds: float = Field(
        300.0, gt=0, le=86400, description="How often `meld serve` looks for promises due"
    )
    feedback_extension_days: int = Field(
        7, ge=1, le=365,
        description="When the promise passes without feedback, the new date the reporter "
        "is told: this many days later",
    )
    rating_days: int = Field(
        14, ge=1, le=365,
        description="Days after closing a reporter may answer or change \"Var svaret nyttig?\"",
    )

    @field_validator("database_url")
    @classmethod
    def _database_meld_can_use(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("not a database URL; write sqlite:///path/to/meld.db or "
                             "postgresql+psycopg://user:password@host:5432/database") from None
        if url.drivername in ("postgresql", "postgres"):  # the driver Meld ships with
            return url.set(drivername="postgresql+psycopg").render_as_string(
                hide_password=False)
        if url.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
            raise ValueError(f"Meld works with sqlite and postgresql+psycopg, not "
                             f"{url.drivername}")
        return value

    @field_validator("secret_key")
    @classmethod
    def _long_enough_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        length = len(value.get_secret_value().encode())
        if length < MIN_SECRET_KEY_BYTES:
            raise PydanticCustomError(
                "secret_key_too_short",
                "must be at least {min} bytes, not {length}; make one with: {command}",
                {"min": MIN_SECRET_KEY_BYTES, "length": length, "command": KEY_COMMAND},
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"not a time zone: {value!r} (e.g. Europe/Oslo)") from None
        return value

    @field_validator("digest_rrule")
    @classmethod
    def _valid_rrule(cls, value: str) -> str:
        from dateutil.rrule import rrulestr

        try:
            rrulestr(value)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not an RFC 5545 RRULE: {exc}") from None
        return value

    @model_validator(mode="after")
    def _teams_complete(self) -> Settings:
        given = {"MELD_TEAMS_APP_ID": self.teams_app_id,
                 "MELD_TEAMS_APP_PASSWORD": self.teams_app_password,
                 "MELD_TEAMS_TENANT_ID": self.teams_tenant_id}
        missing = [name for name, value in given.items() if not value]
        if 0 < len(missing) < len(given):
            raise ValueError(f"Teams needs {', '.join(missing)} too (or none of the three)")
        return self

    @field_validator("mail_transport")
    @classmethod
    def _known_mail_transport(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().lower()
        if value not in ("smtp", "graph"):
            raise ValueError(f"not a mail transport: {value!r} (smtp or graph)")
        return value

    @field_validator("smtp_starttls")
    @classmethod
    def _starttls_choice(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("auto", "required", "off"):
            raise ValueError(f"not a STARTTLS choice: {value!r} (auto, required or off)")
        return value

    @model_validator(mode="after")
    def _mail_complete(self) -> Settings:
        if self.mail_transport == "smtp":
            missing = [name for name, value in (("MELD_SMTP_URL", self.smtp_url),
                                                ("MELD_MAIL_FROM", self.mail_from))
                       if not value]
        elif self.mail_transport == "graph":
            missing = [name for name, value in (
                ("MELD_GRAPH_TENANT_ID", self.graph_tenant_id),
                ("MELD_GRAPH_CLIENT_ID", self.graph_client_id),
                ("MELD_GRAPH_CLIENT_SECRET", self.graph_client_secret),
                ("MELD_GRAPH_MAILBOX", self.graph_mailbox)) if not value]
        else:
            return self
        if missing:
            raise ValueError(f"MELD_MAIL_TRANSPORT={self.mail_transport} needs "
                             f"{', '.join(missing)} too")
        return self

    @field_validator("mailbox_import", "mailbox_mark")
    @classmethod
    def _mailbox_choices(cls, value: str | None, info: ValidationInfo) -> str | None:
        text = (value or "").strip()
        kind, _, folder = text.partition(":")
        if info.field_name == "mailbox_import" and text.lower() in ("", "graph"):
            return text.lower() or None
        if info.field_name == "mailbox_mark" and text.lower() == "category":
            return "category"
        if info.field_name == "mailbox_mark" and kind.strip().lower() == "move" and \
                0 < len(folder.strip()) <= 200:
            return f"move:{folder.strip()}"
        raise ValueError(f"not a choice: {value!r} (MELD_MAILBOX_IMPORT: graph or unset; "
                         "MELD_MAILBOX_MARK: category or move:<subfolder>)")

    @model_validator(mode="after")
    def _mailbox_complete(self) -> Settings:
        if self.mailbox_import == "graph" and not (
                self.graph_tenant_id and self.graph_client_id and self.graph_client_secret
                and self.graph_mailbox):
            raise ValueError("MELD_MAILBOX_IMPORT=graph needs MELD_GRAPH_TENANT_ID, "
                             "_CLIENT_ID, _CLIENT_SECRET and _MAILBOX too")
        if self.mailbox_import and not self.mail_transport:  # senders hear back by mail
            raise ValueError("MELD_MAILBOX_IMPORT needs MELD_MAIL_TRANSPORT (graph or smtp) "
                             "too: the senders get their receipts and answers by mail")
        return self

    @model_validator(mode="after")
    def _base_url_follows_host_and_port(self) -> Settings:
        """Without MELD_BASE_URL, links point where `meld serve` listens, so a receipt's link
        works on the port a newcomer chose. An explicit MELD_BASE_URL always wins."""
        if "base_url" in self.model_fields_set:
            return self
        host = self.host.strip().strip("[]")
        if host in ("", "0.0.0.0", "::"):  # noqa: S104 (every interface: link to this machine)
            host = "127.0.0.1"
        elif ":" in host:  # an IPv6 address is bracketed in a URL
            host = f"[{host}]"
        # set past __setattr__: a derived value, not one the site set (model_fields_set)
        object.__setattr__(self, "base_url", f"http://{host}:{self.port}")
        return self

    @property
    def mail_enabled(self) -> bool:
        return self.mail_transport is not None

    @property
    def mail_sender(self) -> str | None:
        """The From address of notices by e-mail."""
        return self.mail_from or self.graph_mailbox

    @property
    def entra_enabled(self) -> bool:  # the board offers signing in with Entra ID
        return bool(self.entra_tenant_id and self.entra_client_id and self.entra_client_secret)

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None

    @property
    def slack_group_member_ids(self) -> frozenset[str]:
        return frozenset(u.strip() for u in self.slack_group_members.split(",") if u.strip())

    @property
    def teams_enabled(self) -> bool:
        return self.teams_app_id is not None and self.teams_app_password is not None

    @property
    def teams_group_member_ids(self) -> frozenset[str]:
        return frozenset(u.strip().lower() for u in self.teams_group_members.split(",")
                         if u.strip())

    @property
    def teams_service_origins(self) -> frozenset[str]:
        return frozenset(u.strip().rstrip("/").lower() for u in self.teams_service_urls.split(",")
                         if u.strip())

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_environment(cls) -> Settings:
        """MELD_* variables, then `.env` here or the file MELD_ENV_FILE names (empty: none).
        Raises SettingsError for a named file missing, ValidationError for bad values."""
        named = os.environ.get(ENV_FILE_VARIABLE)
        path: Path | None = Path(named if named is not None else DEFAULT_ENV_FILE)
        if named is not None and not named.strip():
            path = None
        elif path is not None and not path.is_absolute():
            path = Path.cwd() / path
        if path is not None and not path.is_file():
            if named is not None:
                raise SettingsError(N_("{variable} names {path}, which is not a file."),
                                    variable=ENV_FILE_VARIABLE, path=str(path))
            path = None
        settings = cls(_env_file=path) if path is not None else cls()
        settings._env_file_used = path.resolve() if path is not None else None
        settings._from_environment = True
        return settings

    @property
    def env_file(self) -> Path | None:
        """The .env file from_environment() read, if any."""
        return self._env_file_used

    @property
    def read_from_environment(self) -> bool:
        """True when from_environment() built these settings (False: built in code)."""
        return self._from_environment

    @property
    def database_url_shown(self) -> str:
        """The database URL with its password hidden: safe to print and log."""
        from sqlalchemy.engine import make_url

        try:
            return make_url(self.database_url).render_as_string(hide_password=True)
        except Exception:  # not a URL SQLAlchemy can parse: show the scheme only
            return self.database_url.split("://", 1)[0] + "://..."

    @property
    def is_sqlite_file(self) -> bool:
        from sqlalchemy.engine import make_url

        try:
            url = make_url(self.database_url)
        except Exception:
            return False
        return (url.get_backend_name() == "sqlite" and bool(url.database)
                and url.database != ":memory:")

    def require_secret_key(self) -> None:
        """A key to sign status links: MELD_SECRET_KEY, or a SQLite file to keep one beside."""
        if self.secret_key is None and not self.is_sqlite_file:
            raise SettingsError(
                N_("MELD_SECRET_KEY is not set. Meld needs it with PostgreSQL: at least {min} "
                   "random bytes, e.g. from {command}"),
                min=MIN_SECRET_KEY_BYTES, command=KEY_COMMAND)

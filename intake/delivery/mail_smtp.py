"""SMTP transport for notices by e-mail (MELD_MAIL_TRANSPORT=smtp).

MELD_SMTP_URL is `smtp://[user:password@]host[:port]` (port 25 by default; STARTTLS as
MELD_SMTP_STARTTLS says: `auto` when the server offers it, `required`, or `off` for a
relay on loopback) or `smtps://...` (TLS from the first byte, port 465 by default). A user
in the URL means AUTH after TLS. MELD_SMTP_CA_BUNDLE verifies a private CA;
MELD_MAIL_TIMEOUT_SECONDS bounds every network operation.

One session per mail, in a thread (smtplib blocks). What a failure means for the outbox:

- refused or unreachable before anything was sent, a 4xx answer, a login or TLS problem:
  retried later (`smtp_connection_error`, `smtp_4xx`, `smtp_auth`, `smtp_tls`, ...);
- the recipient refused with 5xx: permanent (`smtp_recipient_refused`); the message
  refused with 5xx after DATA: permanent (`smtp_rejected`);
- the connection lost, or no answer in time, once DATA has started: the server may have
  taken the mail (`smtp_data_lost`, ambiguous): the outbox resends and logs the id.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from intake.delivery.outbox import DeliveryError
from intake.settings import Settings

log = logging.getLogger("meld.mail.smtp")


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    """MELD_SMTP_URL taken apart (the password is never logged or shown)."""

    host: str
    port: int
    implicit_tls: bool
    user: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("MELD_SMTP_URL must be smtp://host:port or smtps://host:port")
        implicit = parts.scheme == "smtps"
        port = parts.port or (465 if implicit else 25)
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        return cls(parts.hostname, port, implicit, user, password)

    @property
    def shown(self) -> str:
        scheme = "smtps" if self.implicit_tls else "smtp"
        return f"{scheme}://{self.host}:{self.port}"


def tls_context(settings: Settings) -> ssl.SSLContext:
    if settings.smtp_ca_bundle is None:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=str(settings.smtp_ca_bundle))


def _reply_error(code: int, what: str, *, permanent_5xx: bool) -> DeliveryError:
    if 400 <= code < 500:
        return DeliveryError("smtp_4xx")
    return DeliveryError(f"smtp_{what}", permanent=permanent_5xx and 500 <= code < 600)


class SmtpTransport:
    """Sends each mail in a session of its own."""

    name = "smtp"

    def __init__(self, settings: Settings) -> None:
        if not settings.smtp_url:
            raise ValueError("MELD_MAIL_TRANSPORT=smtp needs MELD_SMTP_URL")
        self.settings = settings
        self.target = SmtpTarget.parse(settings.smtp_url)
        self.timeout = settings.mail_timeout_seconds
        base_host = urlsplit(settings.base_url).hostname
        # EHLO name: Meld's own host name (socket.getfqdn() can stall on a slow resolver)
        self.local_hostname = base_host if base_host and "." in base_host else "localhost"
        self._context: ssl.SSLContext | None = None

    def context(self) -> ssl.SSLContext:
        """The TLS context, made once (loading the CA store costs ~30 ms) and only when a
        session uses TLS."""
        if self._context is None:
            self._context = tls_context(self.settings)
        return self._context

    def open(self) -> smtplib.SMTP:
        """Connect, EHLO, STARTTLS and login as configured; raises DeliveryError. Nothing
        of a mail has been sent when this fails."""
        t = self.target
        smtp: smtplib.SMTP | None = None
        try:
            if t.implicit_tls:
                smtp = smtplib.SMTP_SSL(t.host, t.port, timeout=self.timeout,
                                        local_hostname=self.local_hostname,
                                        context=self.context())
            else:
                smtp = smtplib.SMTP(t.host, t.port, timeout=self.timeout,
                                    local_hostname=self.local_hostname)
            smtp.ehlo()
            mode = self.settings.smtp_starttls
            if not t.implicit_tls and mode != "off":
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=self.context())
                    smtp.ehlo()
                elif mode == "required":
                    raise DeliveryError("smtp_starttls_unavailable")
            if t.user is not None:
                smtp.login(t.user, t.password or "")
            return smtp
        except DeliveryError:
            _close(smtp)
            raise
        except smtplib.SMTPAuthenticationError:
            _close(smtp)
            raise DeliveryError("smtp_auth") from None  # configuration: every mail fails
        except smtplib.SMTPNotSupportedError:
            _close(smtp)
            raise DeliveryError("smtp_auth_unsupported") from None
        except ssl.SSLError:
            _close(smtp)
            raise DeliveryError("smtp_tls") from None
        except smtplib.SMTPResponseException as exc:
            _close(smtp)
            raise _reply_error(exc.smtp_code, "refused", permanent_5xx=False) from None
        except (OSError, smtplib.SMTPException):  # refused, unreachable, timeout, dropped
            _close(smtp)
            raise DeliveryError("smtp_connection_error") from None

    def send_sync(self, message: EmailMessage, *, sender: str, to: str) -> None:
        smtp = self.open()
        data_started = False
        try:
            international = not (sender.isascii() and to.isascii())
            options: list[str] = []
            if international:
                if not smtp.has_extn("smtputf8"):
                    raise DeliveryError("smtp_smtputf8_unsupported", permanent=True)
                options = ["SMTPUTF8", "BODY=8BITMIME"]
            raw = message.as_bytes(policy=message.policy.clone(utf8=international))
            code, _ = smtp.mail(sender, options)
            if code != 250:
                raise _reply_error(code, "sender_refused", permanent_5xx=False)
            code, _ = smtp.rcpt(to)
            if code not in (250, 251):
                raise _reply_error(code, "recipient_refused", permanent_5xx=True)
            data_started = True
            code, _ = smtp.data(raw)
            if code != 250:
                raise _reply_error(code, "rejected", permanent_5xx=True)
        except DeliveryError:
            _close(smtp)
            raise
        except smtplib.SMTPDataError as exc:  # DATA itself refused: nothing of the mail sent
            _close(smtp)
            raise _reply_error(exc.smtp_code, "rejected", permanent_5xx=True) from None
        except (OSError, smtplib.SMTPException):
            _close(smtp)
            if data_started:  # the server may have taken it: the outcome is unknown
                raise DeliveryError("smtp_data_lost", ambiguous=True) from None
            raise DeliveryError("smtp_connection_error") from None
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            _close(smtp)  # the mail was accepted (250): a failed goodbye changes nothing

    async def send(self, message: EmailMessage, *, sender: str, to: str) -> None:
        await asyncio.to_thread(self.send_sync, message, sender=sender, to=to)

    def check(self) -> None:
        """What `meld doctor` asks: connect, EHLO (STARTTLS, login) and NOOP; raises
        DeliveryError with the code of what failed."""
        smtp = self.open()
        try:
            code, _ = smtp.noop()
            if code != 250:
                raise _reply_error(code, "noop_refused", permanent_5xx=False)
        except (OSError, smtplib.SMTPException):
            raise DeliveryError("smtp_connection_error") from None
        finally:
            _close(smtp, polite=True)


def _close(smtp: smtplib.SMTP | None, *, polite: bool = False) -> None:
    if smtp is None:
        return
    try:
        if polite:
            smtp.quit()
        else:
            smtp.close()
    except (OSError, smtplib.SMTPException):
        smtp.close()

"""What `meld doctor` asks of notices by e-mail: which transport, and whether it answers
(SMTP: connect, EHLO, STARTTLS and login as configured, NOOP; Graph: a token from the
Microsoft login with the app's credentials). Never a password or secret in the text."""

from __future__ import annotations

from intake.delivery.mail_graph import GraphTokenError, GraphTransport
from intake.delivery.mail_smtp import SmtpTarget, SmtpTransport
from intake.delivery.outbox import DeliveryError
from intake.i18n import Translator
from intake.ops.doctor import OK, PROBLEM, SKIPPED, Check
from intake.settings import Settings

_REFUSED_CREDENTIALS = frozenset({"invalid_client", "unauthorized_client"})


def mail_check(settings: Settings, tr: Translator) -> Check:
    label = tr("E-mail")
    if settings.mail_transport == "smtp":
        return _smtp_check(settings, tr, label)
    if settings.mail_transport == "graph":
        return _graph_check(settings, tr, label)
    return Check(label, SKIPPED, tr("off (MELD_MAIL_TRANSPORT is not set): reporters cannot "
                                    "ask for notices by e-mail."))


def _smtp_check(settings: Settings, tr: Translator, label: str) -> Check:
    try:
        transport = SmtpTransport(settings)
    except ValueError:
        return Check(label, PROBLEM, tr("MELD_SMTP_URL is not an SMTP address. Use "
                                        "smtp://host:port, or smtps://host:port for TLS from "
                                        "the start (user:password@ before the host to log "
                                        "in)."))
    shown = SmtpTarget.parse(settings.smtp_url or "").shown
    try:
        transport.check()
    except DeliveryError as exc:
        if exc.code == "smtp_auth":
            return Check(label, PROBLEM, tr(
                "The SMTP server {server} refused the login. Check the user and password in "
                "MELD_SMTP_URL.", server=shown))
        if exc.code == "smtp_tls":
            return Check(label, PROBLEM, tr(
                "TLS with the SMTP server {server} failed (its certificate is not trusted, or "
                "the name does not match). Set MELD_SMTP_CA_BUNDLE to the CA that signed it.",
                server=shown))
        if exc.code == "smtp_starttls_unavailable":
            return Check(label, PROBLEM, tr(
                "The SMTP server {server} does not offer STARTTLS, and MELD_SMTP_STARTTLS is "
                "required.", server=shown))
        return Check(label, PROBLEM, tr(
            "The SMTP server {server} did not answer as it should ({error}). Check "
            "MELD_SMTP_URL, the network and the firewall.", server=shown, error=exc.code))
    return Check(label, OK, tr("SMTP: {server} answers; notices are sent from {sender}.",
                               server=shown, sender=settings.mail_sender or "-"))


def _graph_check(settings: Settings, tr: Translator, label: str) -> Check:
    transport = GraphTransport(settings)
    try:
        transport.check()
    except GraphTokenError as exc:
        code = str(exc) or "no_token"
        if code == "unreachable":
            return Check(label, PROBLEM, tr(
                "Meld got no usable answer from the Microsoft login at {authority}. Check "
                "MELD_GRAPH_TENANT_ID, the network, and MELD_GRAPH_AUTHORITY_URL and "
                "MELD_GRAPH_CA_BUNDLE if they are set.", authority=transport.authority))
        if code in _REFUSED_CREDENTIALS:
            return Check(label, PROBLEM, tr(
                "Microsoft refused the app's credentials ({error}). Check "
                "MELD_GRAPH_CLIENT_ID and MELD_GRAPH_CLIENT_SECRET: a client secret of that "
                "app registration that has not expired.", error=code))
        return Check(label, PROBLEM, tr(
            "Microsoft gave no token for Graph ({error}). Check MELD_GRAPH_CLIENT_ID, "
            "MELD_GRAPH_CLIENT_SECRET and MELD_GRAPH_TENANT_ID.", error=code))
    return Check(label, OK, tr(
        "Microsoft Graph: Microsoft gave the app a token; notices are sent from {mailbox} "
        "(whether the app may send as it shows at the first mail).",
        mailbox=settings.graph_mailbox or "-"))

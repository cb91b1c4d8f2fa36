"""A raw mail (bytes) -> IncomingMail: text, sender, thread ids, attachment names and
whether it is a person's mail at all. Stdlib `email` only. Never raises on malformed
input: each field is read on its own, and a field that cannot be read is left empty.

The text is the mail's own words: the text/plain body (the HTML one converted when there
is no plain one), with quoted replies and the signature trimmed conservatively; when the
trimming would leave nothing (a forwarded mail), the untrimmed text is kept.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

from intake.domain.contact import normalize_email

MAX_ATTACHMENTS = 50  # names kept per mail; the count says the rest
MAX_NAME_CHARS = 120


@dataclass(frozen=True, slots=True)
class IncomingMail:
    message_id: str | None  # the Message-ID, without angle brackets
    sender: str | None  # the From address, normalised (intake.domain.contact.normalize_email)
    subject: str
    text: str  # plain text body: HTML-only converted, quoted replies and signatures trimmed
    received_at: datetime | None  # UTC; the mailbox's received time when given, else Date
    thread_ids: tuple[str, ...]  # In-Reply-To and References message ids, without brackets
    attachments: tuple[str, ...]  # attachment file names (not stored otherwise)
    auto: str | None  # "auto_submitted", "bounce", "list", "autoreply"; None for a person


def parse_message(raw: bytes, *, received_at: datetime | None = None) -> IncomingMail:
    """Read one RFC 5322 message. `received_at` is the mailbox's own received time (Graph's
    receivedDateTime); without it the Date header is used."""
    try:
        msg = message_from_bytes(bytes(raw), policy=policy.default)
    except Exception:  # junk in, an empty mail out (refused: no sender)
        msg = EmailMessage()
    when = _utc(received_at) if received_at is not None else _safe(_date, msg)
    return IncomingMail(
        message_id=_safe(_message_id, msg),
        sender=_safe(_sender, msg),
        subject=_safe(_subject, msg) or "",
        text=_safe(_text, msg) or "",
        received_at=when,
        thread_ids=_safe(_thread_ids, msg) or (),
        attachments=_safe(_attachments, msg) or (),
        auto=_safe(_auto, msg),
    )


def _safe(read, msg):  # type: ignore[no-untyped-def]
    try:
        return read(msg)
    except Exception:  # one unreadable field never loses the others
        return None


# ---------------------------------------------------------------- headers


def _header(msg: Message, name: str) -> str:
    """A header's decoded text ('' when absent): encoded words decoded, raw 8-bit bytes read
    as UTF-8 or else Windows-1252, folding undone."""
    for key, value in msg.raw_items() if hasattr(msg, "raw_items") else msg.items():
        if key.lower() != name.lower():
            continue
        value = str(value)
        if any("\udc80" <= ch <= "\udcff" for ch in value):  # undecoded 8-bit bytes
            data = value.encode("ascii", "surrogateescape")
            try:
                value = data.decode("utf-8")
            except UnicodeDecodeError:
                value = data.decode("windows-1252", "replace")
        else:
            try:
                value = str(make_header(decode_header(value)))
            except Exception:  # noqa: S110 - a broken encoded word: keep it as it is
                pass
        return " ".join(value.split())
    return ""


_ID_RE = re.compile(r"<([^<>\s]+)>")


def _ids(value: str) -> list[str]:
    found = _ID_RE.findall(value)
    if not found and value.strip() and " " not in value.strip():
        found = [value.strip().strip("<>")]  # a bare id without brackets
    return [f for f in found if f]


def _message_id(msg: Message) -> str | None:
    ids = _ids(_header(msg, "Message-ID"))
    return ids[0][:998] if ids else None


def _thread_ids(msg: Message) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for name in ("In-Reply-To", "References"):
        for found in _ids(_header(msg, name)):
            seen.setdefault(found[:998])
    return tuple(seen)


def _sender(msg: Message) -> str | None:
    for name in ("From", "Sender"):
        pairs = getaddresses([_header(msg, name)])
        for _, address in pairs:
            if address:
                return normalize_email(address)
    return None


def _subject(msg: Message) -> str:
    return _clean(_header(msg, "Subject"))[:998]


def _date(msg: Message) -> datetime | None:
    value = _header(msg, "Date")
    if not value:
        return None
    return _utc(parsedate_to_datetime(value))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# ---------------------------------------------------------------- auto-mail

_AUTOREPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder")
_DAEMONS = ("mailer-daemon", "postmaster")


def _auto(msg: Message) -> str | None:
    """Why a mail is not a person's (RFC 3834 and common practice), or None."""
    content_type = msg.get_content_type()
    report_type = str(msg.get_param("report-type", "") or "").lower()
    local = _header(msg, "From").lower()
    addresses = [a.lower() for _, a in getaddresses([local]) if a]
    if (content_type == "multipart/report" and report_type in ("delivery-status", "")) or any(
            a.split("@")[0] in _DAEMONS for a in addresses):
        return "bounce"
    if content_type == "multipart/report":  # a read receipt (disposition-notification)
        return "auto_submitted"
    if any(_header(msg, name) for name in _AUTOREPLY_HEADERS):
        return "autoreply"
    auto_submitted = _header(msg, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted.split(";")[0].strip() != "no":
        return "auto_submitted"
    precedence = _header(msg, "Precedence").lower()
    if precedence in ("bulk", "junk", "list") or _header(msg, "List-Id") or _header(
            msg, "List-Unsubscribe"):
        return "list"
    return None


# ---------------------------------------------------------------- parts


def _is_attachment(part: Message) -> bool:
    disposition = part.get_content_disposition()
    if disposition == "attachment":
        return True
    if part.is_multipart():
        return False
    maintype = part.get_content_maintype()
    if maintype == "message":
        return True  # a forwarded mail as a part: named, not read
    if maintype != "text":
        return True  # inline images, files without a disposition
    return disposition == "inline" and bool(part.get_filename())


def _parts(msg: Message):  # type: ignore[no-untyped-def]
    """Every leaf part of the mail, not descending into attached messages."""
    stack = [msg]
    while stack:
        part = stack.pop(0)
        if part.is_multipart() and part.get_content_maintype() == "multipart":
            payload = part.get_payload()
            if isinstance(payload, list):
                stack[0:0] = [p for p in payload if isinstance(p, Message)]
            continue
        yield part


def _attachments(msg: Message) -> tuple[str, ...]:
    if not msg.is_multipart():
        return ()
    names: list[str] = []
    for part in _parts(msg):
        if part is msg or not _is_attachment(part):
            continue
        if part.get_content_type() in ("message/delivery-status", "text/rfc822-headers"):
            continue
        name = _safe(lambda p: p.get_filename(), part) or part.get_content_type()
        names.append(_clean(str(name)).replace("\n", " ")[:MAX_NAME_CHARS] or "?")
    return tuple(names)


def _decode(part: Message) -> str:
    """A text part's content: transfer encoding undone, any charset, never an exception."""
    data = part.get_payload(decode=True)
    if data is None:
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    charset = (part.get_content_charset() or "").lower()
    if charset in ("iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii"):
        charset = "windows-1252"  # what mail clients mean by it (a superset for text)
    if not charset:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            charset = "windows-1252"
    try:
        return data.decode(charset, "replace")
    except LookupError:  # an unknown charset: UTF-8 if it is, else Windows-1252
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("windows-1252", "replace")


def _text(msg: Message) -> str:
    plain = html = None
    for part in _parts(msg):
        if part is not msg and _is_attachment(part):
            continue
        if part.get_content_maintype() != "text" and part is msg:
            continue
        subtype = part.get_content_subtype()
        if subtype == "html" and html is None:
            html = part
        elif subtype != "html" and plain is None and part.get_content_maintype() == "text":
            plain = part
    if plain is not None:
        body = _decode(plain)
    elif html is not None:
        body = html_to_text(_decode(html))
    else:
        return ""
    return trim_reply(_clean(body))


# ---------------------------------------------------------------- text


def _clean(text: str) -> str:
    """NFC; line ends unified; control and format characters (but newline and tab) out;
    trailing spaces and runs of blank lines gone."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "".join(ch for ch in text if ch in "\n\t"
                   or unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    lines = [line.rstrip() for line in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return text.strip()


_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
})
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript"})


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
        elif tag == "blockquote":
            self.quote += 1
            self.out.append("\n")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag in ("td", "th"):
            self.out.append(" ")
        elif tag in _BLOCK_TAGS:
            self.out.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif tag == "blockquote":
            self.quote = max(0, self.quote - 1)
            self.out.append("\n")
        elif tag in _BLOCK_TAGS and tag not in ("br", "li"):
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        text = " ".join(data.split())
        if not text:
            if data and self.out and not self.out[-1].endswith((" ", "\n")):
                self.out.append(" ")
            return
        if data[:1].isspace() and self.out and not self.out[-1].endswith((" ", "\n")):
            text = " " + text
        if data[-1:].isspace():
            text += " "
        if self.quote:  # a quoted reply in HTML: marked as quoted, trimmed like "> " lines
            text = text.replace("\n", "\n> ")
            if not self.out or self.out[-1].endswith("\n"):
                text = "> " + text
        self.out.append(text)


def html_to_text(markup: str) -> str:
    """HTML as plain text: block elements on lines of their own, scripts and styles dropped,
    entities decoded, blockquotes marked "> "."""
    parser = _HtmlText()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # noqa: S110 - broken markup: what was read so far
        pass
    lines = [" ".join(line.split()) if not line.startswith("> ") else line.rstrip()
             for line in "".join(parser.out).split("\n")]
    return "\n".join(lines)


_WROTE_RE = re.compile(r"\b(skrev|wrote|schrieb)\b[^\n]*:\s*$", re.IGNORECASE)
_WROTE_START_RE = re.compile(r"^(den|on|am|le|man\.|tir\.|ons\.|tor\.|fre\.|lør\.|søn\.)\s",
                             re.IGNORECASE)
_ORIGINAL_RE = re.compile(
    r"^\s*-{2,}\s*(opprinnelig melding|original message|oprindelig meddelelse|"
    r"ursprüngliche nachricht)\s*-{2,}\s*$", re.IGNORECASE)
_FROM_RE = re.compile(r"^\s*\*?(from|fra|von)\s*:\*?\s", re.IGNORECASE)
_SENT_RE = re.compile(r"^\s*\*?(sent|sendt|date|dato|gesendet)\s*:\*?\s", re.IGNORECASE)
_RULE_RE = re.compile(r"^\s*[_\-=]{8,}\s*$")


def _quote_starts(lines: list[str], i: int) -> bool:
    """Does a quoted earlier mail begin at line i?"""
    line = lines[i]
    if _ORIGINAL_RE.match(line):
        return True
    if _FROM_RE.match(line):  # Outlook's header block: From: ... Sent: ... within 4 lines
        return any(_SENT_RE.match(other) for other in lines[i + 1:i + 5])
    # "Den 3. mars 2026 kl. 10:00 skrev Ola <ola@example.no>:" / "On ... wrote:", possibly
    # wrapped over two lines
    for joined in (line, " ".join(lines[i:i + 2])):
        if len(joined) < 300 and _WROTE_RE.search(joined) and (
                _WROTE_START_RE.match(joined) or "@" in joined or re.search(r"\d", joined)):
            if _WROTE_START_RE.match(joined):
                return True
            following = [x for x in lines[i + 1:i + 4] if x.strip()]
            return bool(following) and following[0].lstrip().startswith(">")
    return False


def trim_reply(text: str) -> str:
    """The sender's own words: cut at a quoted earlier mail or the "-- " signature line,
    quoted "> " lines dropped. Conservative: closings and "Sent from my phone" stay; when
    nothing would remain (a forwarded mail), the text is kept whole."""
    lines = text.split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if line.rstrip() == "--" or _quote_starts(lines, i):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    while kept and (not kept[-1].strip() or _RULE_RE.match(kept[-1])):
        kept.pop()
    trimmed = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return trimmed or text

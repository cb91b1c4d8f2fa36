"""The mailbox's backlog: an .mbox file or a folder of .eml files, read one message at a
time (never the whole file in memory), each taken by `services.take_mail`. Safe to run
twice: the second run finds every mail a duplicate (inbound_mails)."""

from __future__ import annotations

import mailbox
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

from intake import services
from intake.mailbox.parse import parse_message
from intake.services.mail_intake import MAIL_OUTCOMES

SOURCE = "import"


class BacklogError(ValueError):
    """The path is neither an .mbox file nor a folder of .eml files."""


def count_messages(path: Path) -> int:
    """How many messages the path holds (an mbox's table of contents: offsets only)."""
    if path.is_dir():
        return sum(1 for _ in _eml_files(path))
    if path.suffix.lower() == ".eml":
        return 1
    box = mailbox.mbox(str(path), create=False)
    try:
        return len(box)
    finally:
        box.close()


def _eml_files(folder: Path) -> Iterator[Path]:
    return iter(sorted(p for p in folder.iterdir()
                       if p.is_file() and p.suffix.lower() == ".eml"))


def raw_messages(path: Path) -> Iterator[bytes]:
    """Each message's bytes, one at a time."""
    if not path.exists():
        raise BacklogError(str(path))
    if path.is_dir():
        for file in _eml_files(path):
            yield file.read_bytes()
        return
    if path.suffix.lower() == ".eml":
        yield path.read_bytes()
        return
    box = mailbox.mbox(str(path), create=False)
    try:
        for key in box.iterkeys():
            yield box.get_bytes(key)
    finally:
        box.close()


def import_backlog(ctx: services.Context, path: Path, *, receipts_since: date | None,
                   progress: Callable[[int], None] | None = None) -> Counter[str]:
    """Take every message under `path`; receipts only for mail received on or after
    `receipts_since` (None: no receipts, the backlog is old news). Counts per outcome."""
    counts: Counter[str] = Counter({kind: 0 for kind in MAIL_OUTCOMES})
    for done, raw in enumerate(raw_messages(path), start=1):
        mail = parse_message(raw)
        receipt = (receipts_since is not None and mail.received_at is not None
                   and ctx.local_date(mail.received_at) >= receipts_since)
        outcome = services.take_mail(ctx=ctx, mail=mail, source=SOURCE, send_receipt=receipt)
        counts[outcome.kind] += 1
        if progress is not None:
            progress(done)
    return counts

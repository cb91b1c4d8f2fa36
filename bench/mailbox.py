"""The mailbox backlog import: messages/s of `meld mailbox import`'s work (parse + take_mail,
one transaction per mail) against parsing alone (parse_message over the same file), on
each backend, and the process's peak RSS after 2,000 and after all messages: the import
reads the mbox one message at a time, so the peak should not grow with the count.

Each phase runs in a fresh child process (`python -m bench.mailbox --child ...`), so one
phase's peak RSS is not another's. The mbox is made in the run: plain, HTML-only, with
attachments, quoted-printable Latin-1, auto-replies and a few with an identity number.
"""

from __future__ import annotations

import argparse
import json
import mailbox
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

from bench.databases import BenchDatabase

CHECKPOINT = 2_000
KEY = "bench-secret" * 3


def _message(i: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Lege {i} <lege{i % 500}@legekontor{i % 37}.example.no>"
    msg["To"] = "fagrad@helse.example.no"
    msg["Subject"] = f"Innspill {i}: epikrise og henvisning"
    msg["Message-ID"] = f"<bench.{i}@legekontor.example.no>"
    msg["Date"] = "Mon, 02 Mar 2026 09:30:00 +0100"
    body = ("Hei,\n\nEpikrisen etter innleggelsen kom ikke fram til fastlegen før "
            f"kontrollen. Sak {i}. Vi ber om at rutinen for utsending gjennomgås.\n\n"
            "Mvh\nÅse\n\nDen 1. mars 2026 kl. 10:00 skrev Fagrådet <fagrad@x.no>:\n"
            "> Takk for forrige innspill.\n")
    kind = i % 10
    if kind == 0:
        msg.set_content(f"<html><body><p>{body}</p><p>Mvh</p></body></html>", subtype="html")
    elif kind == 1:
        msg.set_content(body, charset="iso-8859-1", cte="quoted-printable")
    elif kind == 2:
        msg.set_content(body)
        msg.add_attachment(b"%PDF-1.4 " + b"x" * 2000, maintype="application",
                           subtype="pdf", filename=f"brev{i}.pdf")
    elif kind == 3 and i % 30 == 3:
        msg["Auto-Submitted"] = "auto-replied"
        msg.set_content("Jeg er på ferie.")
    elif kind == 4 and i % 50 == 4:
        msg.set_content("Gjelder 150385 10190.\n" + body)
    else:
        msg.set_content(body)
    return msg.as_bytes(policy=SMTP)


def make_mbox(path: Path, count: int) -> Path:
    box = mailbox.mbox(str(path), create=True)
    try:
        for i in range(count):
            box.add(_message(i))
            if i % 1000 == 999:
                box.flush()
        box.flush()
    finally:
        box.close()
    return path


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _child(args: argparse.Namespace) -> dict[str, Any]:
    from intake.mailbox.backlog import import_backlog, raw_messages
    from intake.mailbox.parse import parse_message

    path = Path(args.mbox)
    marks: dict[str, float] = {}

    def mark(done: int) -> None:
        if done in (CHECKPOINT, args.count):
            marks[str(done)] = round(_peak_mb(), 1)

    if args.url is None:
        started = time.perf_counter()
        done = 0
        for raw in raw_messages(path):
            parse_message(raw)
            done += 1
            mark(done)
        seconds = time.perf_counter() - started
        return {"messages": done, "seconds": seconds, "peak_rss_mb": marks}

    from intake.domain.taxonomy import load_taxonomy
    from intake.services import Context
    from intake.settings import Settings
    from storage.db import open_database

    settings = Settings(database_url=args.url, secret_key=KEY, run_outbox_worker=False)
    db = open_database(settings.database_url)
    ctx = Context(db=db, settings=settings, taxonomy=load_taxonomy(), secret_key=KEY.encode())
    try:
        started = time.perf_counter()
        counts = import_backlog(ctx, path, receipts_since=None, progress=mark)
        seconds = time.perf_counter() - started
    finally:
        db.dispose()
    return {"messages": sum(counts.values()), "seconds": seconds, "peak_rss_mb": marks,
            "outcomes": dict(counts)}


def _run_child(mbox: Path, count: int, url: str | None) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.mailbox", "--child", "--mbox", str(mbox),
           "--count", str(count)]
    if url is not None:
        cmd += ["--url", url]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def run_mailbox(backends: list[str], skipped: dict[str, str],
                databases: Callable[[str, int], AbstractContextManager[list[BenchDatabase]]],
                *, work_dir: Path, count: int, say: Callable[[str], None]) -> int:
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="mailbox-") as folder:
        mbox = Path(folder) / "fagrad.mbox"
        say(f"mailbox: writing {count} messages to an mbox")
        make_mbox(mbox, count)
        size_mb = mbox.stat().st_size / 1e6
        say("mailbox: parsing alone")
        parse = _run_child(mbox, count, None)
        rows = []
        for backend in backends:
            with databases(backend, 1) as (db,):
                say(f"mailbox: {backend}: full import (parse + take_mail)")
                rows.append((backend, _run_child(mbox, count, db.url)))
    parse_rate = parse["messages"] / parse["seconds"]
    print(f"\nMailbox backlog import: {count} messages, mbox {size_mb:.1f} MB")
    print(f"{'phase':<22}{'msgs/s':>10}{'vs parse':>10}{'peak RSS @2000':>16}"
          f"{'@' + str(count):>10}")
    print(f"{'parse_message alone':<22}{parse_rate:>10.0f}{'1.00':>10}"
          f"{parse['peak_rss_mb'].get(str(CHECKPOINT), 0):>13.1f} MB"
          f"{parse['peak_rss_mb'].get(str(count), 0):>7.1f} MB")
    for backend, result in rows:
        rate = result["messages"] / result["seconds"]
        print(f"{'import, ' + backend:<22}{rate:>10.0f}{rate / parse_rate:>10.2f}"
              f"{result['peak_rss_mb'].get(str(CHECKPOINT), 0):>13.1f} MB"
              f"{result['peak_rss_mb'].get(str(count), 0):>7.1f} MB")
        print(f"    outcomes: {result['outcomes']}")
    for backend, reason in skipped.items():
        print(f"{backend}: skipped ({reason})")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.mailbox")
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--mbox", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--url")
    print(json.dumps(_child(parser.parse_args())))

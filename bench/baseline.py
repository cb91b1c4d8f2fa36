"""The raw-driver baseline: the same report row, one transaction per row, same durability.

SQLite: stdlib sqlite3 with WAL, synchronous=FULL and a busy timeout, BEGIN IMMEDIATE ...
COMMIT, as the app's engine does. PostgreSQL: psycopg 3 at the server's default
synchronous_commit. Only the reports row is written: the app also bumps the reference
counter and writes an audit and an outbox row in the same transaction. `report_row` is the
row, for the floor's app (bench.floor) too.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench.load import OK, Client, Operation
from bench.submit import report_body, today_oslo

COLUMNS = (
    "reference", "kind", "category_id", "subcategory_id", "description", "reporter_party",
    "concerned_party", "direction", "place_id", "occurred_on", "reported_at", "reported_on",
    "reported_severity", "status", "status_changed_at", "reporter_id", "channel", "locale",
    "request_hash", "status_token_hash", "updated_at",
)
DATETIMES = ("reported_at", "status_changed_at", "updated_at")


def references() -> Iterator[str]:
    """Unique references without a shared counter: a random prefix per client (or process),
    then a count."""
    prefix = secrets.token_hex(3)
    # map and count are C code: next() is safe from several threads, as a generator's is not
    return map(f"R{prefix}-{{:09d}}".format, count())


def report_row(body: dict[str, Any], reference: str) -> dict[str, Any]:
    """The row a web submit of `body` stores (the columns Meld writes, in COLUMNS)."""
    now = datetime.now(UTC)
    return {
        "reference": reference,
        "kind": body["kind"],
        "category_id": body["category"],
        "subcategory_id": body["subcategory"],
        "description": body["description"],
        "reporter_party": body["reporter_party"],
        "concerned_party": body["concerned_party"],
        "direction": f"{body['reporter_party']}->{body['concerned_party']}",
        "place_id": body["place"],
        "occurred_on": body["occurred_on"],
        "reported_at": now,
        "reported_on": today_oslo(),
        "reported_severity": body["severity"],
        "status": "received",
        "status_changed_at": now,
        "reporter_id": f"web:{secrets.token_hex(12)}",
        "channel": "web",
        "locale": "nb",
        "request_hash": secrets.token_hex(32),
        "status_token_hash": secrets.token_hex(32),
        "updated_at": now,
    }


def sqlite_client(path: Path) -> Client:
    insert_sql = (f"INSERT INTO reports ({', '.join(COLUMNS)}) "
                  f"VALUES ({', '.join(':' + c for c in COLUMNS)})")

    @contextmanager
    def open_client() -> Iterator[Operation]:
        # isolation_level=None: no implicit transactions; we say BEGIN IMMEDIATE ourselves
        conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        with closing(conn):
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=10000")
            body, refs = report_body(), references()

            def insert() -> str:
                row = report_row(body, next(refs))
                # SQLAlchemy stores SQLite datetimes as text, UTC, without the offset
                for key in DATETIMES:
                    row[key] = row[key].replace(tzinfo=None).isoformat(" ")
                row["reported_on"] = row["reported_on"].isoformat()
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute(insert_sql, row)
                    conn.execute("COMMIT")
                except sqlite3.Error:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                return OK

            yield insert

    return open_client


def postgres_client(conninfo: str) -> Client:
    query = sql.SQL("INSERT INTO reports ({}) VALUES ({})").format(
        sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
        sql.SQL(", ").join(map(sql.Placeholder, COLUMNS)),
    )

    @contextmanager
    def open_client() -> Iterator[Operation]:
        with psycopg.connect(conninfo, connect_timeout=5) as conn:
            body, refs = report_body(), references()

            def insert() -> str:
                try:
                    conn.execute(query, report_row(body, next(refs)))
                    conn.commit()
                except psycopg.Error:
                    conn.rollback()
                    raise
                return OK

            yield insert

    return open_client

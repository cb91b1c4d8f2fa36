"""`python -m bench.floor --database-url URL --port N [--workers W]`: the stack floor.

The submit bench's main baseline: the least a FastAPI service can do for Meld's POST
/api/v1/reports. The same JSON body (bench.submit.report_body), validated by a pydantic
model of the same fields and constraints as Meld's ReportIn; one SQLAlchemy Core INSERT ...
RETURNING id of the same row (bench.baseline.report_row) into the same `reports` table of a
database Meld's migrations made (bench.databases); 201 with {"id", "reference"}. Under
uvicorn as `meld serve` runs Meld (no proxy headers, no server header; W processes).

Same durability as Meld (storage/db.py): SQLite in WAL with synchronous=FULL, foreign keys
on, a 10 s busy timeout, each write in BEGIN IMMEDIATE behind a lock of the process (Meld's
one writer at a time, without the busy handler's back-off); PostgreSQL at the server's
default synchronous_commit. What it leaves out is Meld's own work: the reference counter,
the audit and outbox rows, the receipt texts, middleware, rate limits, the status token.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import date
from pathlib import Path
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, MetaData, Table, create_engine, event, insert, text
from sqlalchemy.engine import make_url

from bench.baseline import references, report_row
from bench.server import Server, free_port, running_process
from intake.domain.model import Kind, Party, Severity

URL_ENV = "MELD_FLOOR_DATABASE_URL"  # for the worker processes of --workers > 1
TEXT = 20000  # Meld's cap at the door (intake.http.report_in.TEXT)


class ReportIn(BaseModel):
    """The fields bench.submit.report_body sends, with Meld's types and limits."""

    model_config = ConfigDict(extra="forbid")
    kind: Kind = Kind.DEVIATION
    category: str | None = Field(None, max_length=64)
    subcategory: str | None = Field(None, max_length=130)
    description: str = Field(max_length=TEXT)
    occurred_on: date | None = None
    severity: Severity | None = None
    no_patient_identifiers: Literal[True]
    reporter_party: Party | None = None
    concerned_party: Party | None = None
    place: str | None = Field(None, max_length=64)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we say BEGIN IMMEDIATE ourselves, as Meld does
    cur = dbapi_conn.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON",
                   "busy_timeout=10000"):
        cur.execute(f"PRAGMA {pragma}")
    cur.close()


def make_engine(url: str) -> Engine:
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_size=20, max_overflow=20,
                             connect_args={"connect_timeout": 5})
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    return engine


Write = Callable[[dict[str, Any], date | None], tuple[int, str]]


def row_writer(database_url: str) -> tuple[Engine, Write]:
    """The floor's one write, for any thread: `write(fields, occurred_on)` stores the report
    row of a body's fields (bench.baseline.report_row) in one durable transaction and gives
    its id and reference. Also the bare Bolt's that stores (bench.bare_bolt --store-url)."""
    engine = make_engine(database_url)
    reports = Table("reports", MetaData(), autoload_with=engine)
    statement = insert(reports).returning(reports.c.id)
    refs = references()  # a random prefix per process: unique across worker processes
    write_lock: AbstractContextManager[Any] = (
        threading.Lock() if engine.dialect.name == "sqlite" else nullcontext())

    def write(fields: dict[str, Any], occurred_on: date | None) -> tuple[int, str]:
        row = report_row(fields, next(refs))
        row["occurred_on"] = occurred_on
        with write_lock, engine.begin() as conn:
            report_id = conn.execute(statement, row).scalar_one()
        return report_id, str(row["reference"])

    return engine, write


def build(database_url: str) -> FastAPI:
    engine, write = row_writer(database_url)
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/api/v1/reports", status_code=201)
    def submit(body: ReportIn) -> dict[str, Any]:  # a plain def: FastAPI's thread pool
        report_id, reference = write(body.model_dump(mode="json"), body.occurred_on)
        return {"id": report_id, "reference": reference}

    @app.get("/readyz")
    def readyz() -> dict[str, str]:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok"}

    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn's worker processes (--workers > 1)."""
    return build(os.environ[URL_ENV])


@contextmanager
def running_floor(database_url: str, log_path: Path, workers: int = 1) -> Iterator[Server]:
    """The floor as a subprocess on a free port, until the block ends (bench.server)."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.floor", "--database-url", database_url,
            "--port", str(port), "--workers", str(workers)]
    with running_process(argv, dict(os.environ), f"http://127.0.0.1:{port}",
                         log_path) as server:
        yield server


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database-url", required=True,
                   help="SQLAlchemy URL of a database Meld's migrations made")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--workers", type=int, default=1, help="server processes (default: 1)")
    args = p.parse_args(argv)
    # uvicorn as `meld serve` runs Meld (intake/cli/serve.py), without access logs
    common: dict[str, Any] = {"host": args.host, "port": args.port, "log_level": "warning",
                              "access_log": False, "proxy_headers": False,
                              "server_header": False}
    if args.workers == 1:
        uvicorn.run(build(args.database_url), **common)
    else:
        os.environ[URL_ENV] = args.database_url
        uvicorn.run("bench.floor:app_from_env", factory=True, workers=args.workers, **common)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

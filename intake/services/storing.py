"""Storing a validated submit: its reference, and the report, its audit event and its
outbox rows written in one transaction, durably, before the receipt is given.

- SQLite has one writer at a time and every commit is an fsync: the submits of the same
  moment are written together, in one transaction (`storage.group_commit`).
- PostgreSQL: each submit is two round trips and no explicit transaction. The year's
  sequence gives the number; then one statement inserts the report and, in data-modifying
  CTEs of the same statement, its audit event and outbox rows. A statement is atomic on
  its own and commits when it ends, so all three rows are stored, or none is. (The
  explicit transaction it replaced took six round trips: BEGIN, the number, three
  inserts, COMMIT.) A submit with an idempotency key reads the key first, so a replay
  takes no number; two submits racing with one key meet the unique index, and the loser
  is answered with the winner's report. Both statements go through the driver's own
  connection (`Database.driver`), without SQLAlchemy's work per statement.

A door on the event loop calls `write_async`: no worker thread of its own waits for the
write (on SQLite a batch's callers share one; PostgreSQL's statements run on the loop's
`storage.async_driver`).
"""

from __future__ import annotations

import functools
import json
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from sqlalchemy import insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import Session

from intake.domain import model as domain
from intake.domain.model import Channel, Status
from intake.services.common import (
    GROUP_CHANNEL,
    hash_token,
    reporter_notice_rows,
    status_token_for,
)
from intake.services.context import Context
from intake.services.submit_plan import SubmitPlan
from storage import models as m
from storage.async_driver import AsyncDriver, for_this_loop
from storage.db import Database
from storage.group_commit import GroupCommit

_NEXTVAL = "SELECT nextval('meld_reference_{year}')"  # the year's sequence


def ensure_reference_sequence(ctx: Context, year: int) -> None:
    """PostgreSQL: one sequence per year, created once, outside the submit transaction."""
    db = ctx.db
    if db.dialect != "postgresql" or year in db.known_sequences:
        return
    try:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"CREATE SEQUENCE IF NOT EXISTS meld_reference_{int(year)}"))
    except (IntegrityError, ProgrammingError) as exc:
        # IF NOT EXISTS is not safe against a concurrent CREATE: the loser gets a unique
        # violation (23505, on the catalog) or duplicate_table (42P07). Either way it exists.
        if getattr(exc.orig, "sqlstate", None) not in ("23505", "42P07"):
            raise
    db.known_sequences.add(year)


def next_numbers(session: Session, year: int, count: int) -> list[int]:
    """`count` new numbers for references MELD-YYYY-NNNN, ascending.

    PostgreSQL takes one at a time from the year's sequence (submits there are written one
    by one): no lock is held, so concurrent submits never wait on each other, and a failed
    submit leaves a gap (tolerated). SQLite has one writer at a time anyway and moves a
    counter row on by `count` (the submits of a group commit).
    """
    if session.get_bind().dialect.name == "postgresql":
        if count != 1:
            raise ValueError("PostgreSQL gives reference numbers one at a time")
        return [session.execute(text(_NEXTVAL.format(year=int(year)))).scalar_one()]
    stmt = sqlite.insert(m.ReferenceCounter).values(year=year, last=count)
    stmt = stmt.on_conflict_do_update(
        index_elements=[m.ReferenceCounter.year],
        set_={"last": m.ReferenceCounter.last + count},
    ).returning(m.ReferenceCounter.last)
    last = session.execute(stmt).scalar_one()
    return list(range(last - count + 1, last + 1))


def next_reference(session: Session, year: int) -> str:
    """One new reference MELD-YYYY-NNNN (see `next_numbers`)."""
    return f"MELD-{year}-{next_numbers(session, year, 1)[0]:04d}"


@dataclass(frozen=True, slots=True)
class Written:
    """What writing a plan came to: a new report, or the one its idempotency key names."""

    reference: str
    existing: m.Report | None = None
    channels: frozenset[str] = frozenset()  # of the outbox rows it wrote (the worker's wake)


_WRITERS: weakref.WeakKeyDictionary[Database, GroupCommit[SubmitPlan, Written]] = (
    weakref.WeakKeyDictionary())
_WRITERS_LOCK = threading.Lock()


def write(plan: SubmitPlan) -> Written:
    """SQLite (one writer, and every commit an fsync): submits at the same moment share
    one transaction. PostgreSQL: each alone, in one statement (`_write_postgresql`), and
    concurrently (the server groups their commits; and one transaction inserting reports
    of several categories would take the count rows' locks out of the one order that
    keeps triage changes free of deadlocks)."""
    if plan.ctx.db.dialect == "sqlite":
        return _writer(plan.ctx.db).run(plan)
    try:
        return _write_postgresql(plan)
    except Exception as exc:
        written = _after_failure(plan, exc)
        if isinstance(written, BaseException):
            raise
        return written


def _writer(db: Database) -> GroupCommit[SubmitPlan, Written]:
    """The database's group commit for submits (one per Database, made on first use)."""
    with _WRITERS_LOCK:
        writer = _WRITERS.get(db)
        if writer is None:
            writer = _WRITERS[db] = GroupCommit(_write_plans)
        return writer


def _write_plans(plans: Sequence[SubmitPlan]) -> list[Written | BaseException]:
    """SQLite's group commit: write the plans in one transaction; if that fails (a key
    taken meanwhile by another process, say), write each alone, so that one plan's
    problem is only its own."""
    try:
        return _write_together(plans)
    except Exception as exc:
        if len(plans) > 1:
            return [r for p in plans for r in _write_plans([p])]
        return [_after_failure(plans[0], exc)]


def _after_failure(plan: SubmitPlan, exc: Exception) -> Written | BaseException:
    """A lone plan failed: if its idempotency key was taken by a concurrent submit (the
    unique index said so), that submit's report answers it; else the error stands."""
    if isinstance(exc, IntegrityError) and plan.key is not None:
        with plan.ctx.db.reading() as session:
            existing = by_key(session, plan.key)
        if existing is not None:
            return Written(existing.reference, existing)
    return exc


def _write_together(plans: Sequence[SubmitPlan]) -> list[Written | BaseException]:
    """One transaction: the plans whose key names a stored report are answered by it, the
    rest are inserted (reports, their audit events and outbox rows: three statements).
    A key given twice in the batch is written once; the later plans are answered by it
    after the commit."""
    db = plans[0].ctx.db
    results: list[Written | BaseException | None] = [None] * len(plans)
    later: list[int] = []
    with db.transaction() as session:
        keys = {p.key for p in plans if p.key is not None}
        stored = ({r.idempotency_key: r for r in session.scalars(
            select(m.Report).where(m.Report.idempotency_key.in_(keys)))} if keys else {})
        fresh: list[int] = []
        fresh_keys: set[str] = set()
        for i, plan in enumerate(plans):
            if plan.key in stored:
                found = stored[plan.key]
                results[i] = Written(found.reference, found)
            elif plan.key is not None and plan.key in fresh_keys:
                later.append(i)
            else:
                fresh.append(i)
                if plan.key is not None:
                    fresh_keys.add(plan.key)
        if fresh:
            _insert(session, [plans[i] for i in fresh], results, fresh)
    for i in later:
        results[i] = _write_plans([plans[i]])[0]
    return [r for r in results if r is not None]


def _insert(session: Session, plans: list[SubmitPlan], results: list[Any],
            at: list[int]) -> None:
    """Insert the plans' reports, audit events and outbox rows (Core, three statements)."""
    references = [""] * len(plans)
    for year in sorted({p.year for p in plans}):
        positions = [i for i, p in enumerate(plans) if p.year == year]
        numbers = next_numbers(session, year, len(positions))
        for i, number in zip(positions, numbers, strict=True):
            references[i] = f"MELD-{year}-{number:04d}"
    table = m.Report.__table__
    if len(plans) == 1:  # one row: a plain execute (executemany's batching costs more)
        ids = [session.execute(insert(table).returning(table.c.id),
                               _report_row(plans[0], references[0])).scalar_one()]
    else:
        ids = session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True),
            [_report_row(p, ref) for p, ref in zip(plans, references, strict=True)],
        ).scalars().all()
    audit = [_audit_row(p, report_id) for p, report_id in zip(plans, ids, strict=True)]
    session.execute(insert(m.AuditEvent.__table__), audit[0] if len(audit) == 1 else audit)
    rows = [_outbox_rows(p, report_id, ref)
            for p, report_id, ref in zip(plans, ids, references, strict=True)]
    session.execute(insert(m.OutboxMessage.__table__), [row for each in rows for row in each])
    for i, ref, each in zip(at, references, rows, strict=True):
        results[i] = Written(ref, channels=frozenset(row["channel"] for row in each))


def _report_row(p: SubmitPlan, reference: str) -> dict[str, Any]:
    valid = p.valid
    return {
        "reference": reference,
        "kind": valid.kind.value,
        "category_id": p.filed.category,
        "subcategory_id": p.filed.subcategory,
        "category_source": p.filed.source,
        "reported_category_id": valid.category,
        "reported_subcategory_id": valid.subcategory,
        "suggested_category_id": p.filed.suggested,
        "suggested_subcategory_id": p.filed.suggested_sub,
        "description": valid.description,
        "reporter_party": valid.reporter_party.value if valid.reporter_party else None,
        "concerned_party": valid.concerned_party.value if valid.concerned_party else None,
        "direction": domain.direction(valid.reporter_party, valid.concerned_party),
        "place_id": valid.place,
        "place_text": valid.place_text,
        "occurred_on": valid.occurred_on,
        "reported_at": p.now,
        "reported_on": p.ctx.local_date(p.now),
        "updated_at": p.now,
        "reported_severity": valid.severity.value,
        "status": Status.RECEIVED.value,
        "status_changed_at": p.now,
        "reporter_id": p.reporter_id,
        "channel": p.channel,
        "locale": p.locale,
        "source_link": valid.source_link,
        "idempotency_key": p.key,
        "request_hash": p.request_hash,
        "status_token_hash": hash_token(status_token_for(p.ctx, reference)),
        "notify_email": valid.email,
    }


def _outbox_rows(p: SubmitPlan, report_id: int, reference: str) -> list[dict[str, Any]]:
    """The receipt to the reporter, and the new-report card to the group (coded fields
    only, never the text).

    A web reporter gets no receipt row: the answer to their request is the receipt, and
    their status page shows no receipt notice (intake.services.reading.WEB_NOTICE_EVENTS),
    so the row would only be claimed and marked delivered by the outbox worker, two more
    transactions per web submit for nothing. A receipt by e-mail, when they gave an
    address, is written as before."""
    valid = p.valid
    receipt = [row for row in reporter_notice_rows(
        report_id=report_id, reference=reference, channel=p.channel,
        reporter_id=p.reporter_id, notify_email=valid.email, event="receipt",
        payload={"formal_guidance": p.formal, **(
            {"feedback_by": p.promised.isoformat()} if p.promised
            else {"kind": valid.kind.value}), **p.filed.receipt_payload()},
        now=p.now) if row["channel"] != Channel.WEB]
    return [*receipt, {
        "report_id": report_id, "channel": GROUP_CHANNEL, "recipient": GROUP_CHANNEL,
        "event": "new_report", "created_at": p.now, "next_attempt_at": p.now, "attempts": 0,
        "payload": {"reference": reference, "kind": valid.kind.value,
                    "category": p.filed.category, "severity": valid.severity.value,
                    "place": valid.place, "serious": p.formal}}]


def by_key(session: Session, key: str) -> m.Report | None:
    return session.scalars(select(m.Report).where(m.Report.idempotency_key == key)).one_or_none()


# After the report (the CTE r): its audit event, and its outbox rows from a JSON list.
_AUDIT_AND_OUTBOX = (
    "a AS (INSERT INTO audit_events (at, actor_id, actor_role, action, report_id, details) "
    "SELECT %(a_at)s, %(a_actor_id)s, %(a_actor_role)s, 'submitted', r.id, "
    "%(a_details)s::json FROM r), "
    "o AS (INSERT INTO outbox (report_id, channel, recipient, event, payload, created_at, "
    "attempts, next_attempt_at) SELECT r.id, x.channel, x.recipient, x.event, x.payload, "
    "%(o_at)s, 0, %(o_at)s FROM r, json_to_recordset(%(o_rows)s::json) "
    "AS x(channel text, recipient text, event text, payload json)) "
    "SELECT id FROM r")


@functools.cache
def _pg_submit(columns: tuple[str, ...]) -> str:
    """The one statement of a submit on PostgreSQL, for the report's columns (the keys of
    `_report_row`, never input): the report, and from it the audit event and outbox rows."""
    names, values = ", ".join(columns), ", ".join(f"%({c})s" for c in columns)
    report = f"INSERT INTO reports ({names}) VALUES ({values}) RETURNING id"  # noqa: S608
    return f"WITH r AS ({report}), {_AUDIT_AND_OUTBOX}"


def _write_postgresql(plan: SubmitPlan) -> Written:
    """One submit on PostgreSQL: the key (when given), the number, then one statement,
    on the driver's own connection (`Database.driver`: SQLAlchemy's work per statement
    was a third of the submit's CPU there)."""
    db = plan.ctx.db
    if plan.key is not None:
        with db.reading() as session:
            existing = by_key(session, plan.key)
        if existing is not None:
            return Written(existing.reference, existing)
    with db.driver() as run:
        row = run(_NEXTVAL.format(year=int(plan.year)))
        assert row is not None
        statement, params, written = _pg_submit_params(plan, row[0])
        run(statement, params)
    return written


_KEY_STORED = "SELECT 1 FROM reports WHERE idempotency_key = %(key)s"


def writes_on_loop(db: Database) -> bool:
    """Whether `write_async` can write for the running event loop without a worker
    thread of the caller's own: SQLite's group commit always can, PostgreSQL on the loop
    that has the database's `AsyncDriver`."""
    return db.dialect == "sqlite" or for_this_loop(db) is not None


async def write_async(plan: SubmitPlan) -> Written:
    """`write` for a caller on the event loop (`writes_on_loop`), for a plan whose year's
    sequence exists. SQLite: the plan joins the group commit and waits for it on the loop.
    PostgreSQL: `_write_postgresql`'s statements on the loop's `AsyncDriver`; a key that
    names a stored report, or met a concurrent submit's (the unique index), is answered
    by `write` in a worker thread."""
    db = plan.ctx.db
    if db.dialect == "sqlite":
        return await _writer(db).run_async(plan)
    driver = for_this_loop(db)
    if driver is None:
        raise RuntimeError("no async driver on this loop (see writes_on_loop)")
    written = await _write_postgresql_async(plan, driver)
    if written is None:
        written = await anyio.to_thread.run_sync(write, plan)
    return written


async def _write_postgresql_async(plan: SubmitPlan, driver: AsyncDriver) -> Written | None:
    """`_write_postgresql` on the event loop: the same statements, without a worker
    thread. None when the key names a stored report or the insert met a concurrent
    submit with the same key."""
    async with driver.connection() as run:
        if plan.key is not None and await run(_KEY_STORED, {"key": plan.key}) is not None:
            return None
        row = await run(_NEXTVAL.format(year=int(plan.year)))
        assert row is not None
        statement, params, written = _pg_submit_params(plan, row[0])
        try:
            await run(statement, params)
        except IntegrityError:
            if plan.key is None:
                raise
            return None
    return written


def _pg_submit_params(plan: SubmitPlan, number: int) -> tuple[str, dict[str, Any], Written]:
    """The one statement of a PostgreSQL submit with the year's `number`, its parameters,
    and what it writes."""
    reference = f"MELD-{plan.year}-{number:04d}"
    params = _report_row(plan, reference)
    statement = _pg_submit(tuple(params))
    audit = _audit_row(plan, 0)
    rows = _outbox_rows(plan, 0, reference)
    params.update(a_at=audit["at"], a_actor_id=audit["actor_id"],
                  a_actor_role=audit["actor_role"], a_details=json.dumps(audit["details"]),
                  o_at=plan.now, o_rows=json.dumps([
                      {k: row[k] for k in ("channel", "recipient", "event", "payload")}
                      for row in rows]))
    return statement, params, Written(reference,
                                      channels=frozenset(row["channel"] for row in rows))


def _audit_row(p: SubmitPlan, report_id: int) -> dict[str, Any]:
    return {"at": p.now, "actor_id": p.actor.identity, "actor_role": p.actor.role.value,
            "action": "submitted", "report_id": report_id,
            "details": {"kind": p.valid.kind.value, "severity": p.valid.severity.value,
                        "channel": p.channel}}

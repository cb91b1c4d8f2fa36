"""`python -m bench.reports_bench`: the tertial/annual report and the weekly digest on a
large history, against the raw GROUP BY query on the same table in the same run.

1. Generates `--rows` synthetic reports over six years (default 1,000,000) with a fast
   deterministic generator: realistic kinds, categories, directions, places, severities,
   statuses by age, feedback and closing times, learning points on the closed ones, some
   +1s on open suggestions and the audit event of every report waiting for information.
2. Bulk-loads them into a fresh migrated database (not through the services): SQLite with
   executemany in one transaction per stage (the count triggers run per row, as they do
   for every submit), PostgreSQL with COPY with triggers off and one recount of what they
   keep in the same transaction, then VACUUM (ANALYZE) as autovacuum would;
   chunks of 50,000 rows.
   The newest quarter goes in first, then the next quarter, then the older half, so the
   report can be timed on 1/4, 1/2 and all of the history with the same rows in its period.
3. Times (median of `--repeat`): `build_period_report` for the last complete tertial and
   for the last complete year, `build_digest` for the last complete ISO week, and the raw
   `SELECT category_id, count(*) ... GROUP BY category_id` over the same rows (by
   occurred_on for the reports, by reported_at for the digest); for the reports also the
   raw SELECT of the learning points they list (every closed report has one). Every SQL
   statement the report or digest runs is timed as well, so the slowest ones can be named.
   The digest and its raw query take milliseconds: they alternate run by run, WEEK_RUNS
   times as often. On PostgreSQL no statement is prepared (psycopg would after five runs;
   a weekly digest never is), so both sides are planned every run.
4. Prints EXPLAIN (SQLite: EXPLAIN QUERY PLAN) of the raw queries: is an index used?

Figures go to standard output and to var/bench/reports.json. PostgreSQL needs
MELD_BENCH_POSTGRES_URL or MELD_TEST_POSTGRES_URL (a server URL); the database is created
and dropped again.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql
from sqlalchemy import event, text

from bench.databases import (
    BenchDatabase,
    one_database,
    select_backends,
)
from bench.server import REPO
from intake.domain.model import Actor, Role
from intake.domain.taxonomy import load_taxonomy
from intake.ops import demo
from intake.services import Context
from intake.settings import Settings
from storage.db import Database, open_database
from storage.report_counts import recount_statements

WORK_DIR = REPO / "var" / "bench"
TZ = "Europe/Oslo"
YEARS = 6
CHUNK = 50_000
RATIO_TARGET = 1.5
WEEK_RUNS = 5  # the digest and its raw query run this many times the repeat (ms each)
ACTOR = Actor("bench:forbedringsgruppen", Role.TRIAGER)

RAW_PERIOD = ("SELECT category_id, count(*) FROM reports "
              "WHERE occurred_on BETWEEN :a AND :b GROUP BY category_id")
RAW_WEEK = ("SELECT category_id, count(*) FROM reports "
            "WHERE reported_at >= :a AND reported_at < :b GROUP BY category_id")
COUNT_PERIOD = "SELECT count(*) FROM reports WHERE occurred_on BETWEEN :a AND :b"
# the report lists every learning point of the period (each closed report has one): the
# least a hand-written report must read besides its GROUP BY
RAW_LEARNING = ("SELECT reference, category_id, learning_point, measure, closed_at "
                "FROM reports WHERE closed_at >= :a AND closed_at < :b "
                "AND learning_point IS NOT NULL ORDER BY closed_at, reference")

REPORT_COLUMNS = (
    "id", "reference", "kind", "category_id", "subcategory_id", "description",
    "reporter_party", "concerned_party", "direction", "place_id", "occurred_on", "reported_at",
    "reported_severity", "assessed_severity", "agreement_reference", "guideline_breached",
    "status", "learning_point", "measure", "redirect_target", "redirect_reference",
    "reporter_id", "channel", "locale", "first_feedback_at", "closed_at", "updated_at",
    "reported_on", "status_changed_at",
)
PLUS_COLUMNS = ("report_id", "actor_id", "created_at")
AUDIT_COLUMNS = ("at", "actor_id", "actor_role", "action", "report_id", "details")

try:  # written in parallel with this bench; measured only when they exist
    from intake.domain import periods as _periods
    from intake.reporting.period_report import build_period_report as _build_period_report
except ImportError as exc:  # pragma: no cover - depends on the tree
    _periods = None  # type: ignore[assignment]
    _build_period_report = None  # type: ignore[assignment]
    REPORTS_MISSING: str | None = f"{type(exc).__name__}: {exc}"
else:
    REPORTS_MISSING = None
try:
    from intake.reporting.digest import build_digest as _build_digest
except ImportError as exc:  # pragma: no cover
    _build_digest = None  # type: ignore[assignment]
    DIGEST_MISSING: str | None = f"{type(exc).__name__}: {exc}"
else:
    DIGEST_MISSING = None


def _say(message: str) -> None:
    print(f"[reports-bench] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- periods


@dataclass(frozen=True)
class Span:
    key: str
    start: date  # inclusive
    end: date    # inclusive


def _tertial(year: int, n: int) -> Span:
    first = (n - 1) * 4 + 1
    last_month = first + 3
    end = (date(year + 1, 1, 1) if last_month == 12 else date(year, last_month + 1, 1))
    return Span(f"{year}-T{n}", date(year, first, 1), end - timedelta(days=1))


def last_tertial(today: date) -> Span:
    current = (today.month - 1) // 4 + 1
    return _tertial(today.year - 1, 3) if current == 1 else _tertial(today.year, current - 1)


def previous_tertial(t: Span) -> Span:
    year, n = int(t.key[:4]), int(t.key[-1])
    return _tertial(year - 1, 3) if n == 1 else _tertial(year, n - 1)


def last_year(today: date) -> Span:
    return Span(str(today.year - 1), date(today.year - 1, 1, 1), date(today.year - 1, 12, 31))


def last_week(today: date) -> Span:
    monday = today - timedelta(days=today.weekday() + 7)
    year, week, _ = monday.isocalendar()
    return Span(f"{year}-W{week:02d}", monday, monday + timedelta(days=6))


def utc_bounds(span: Span) -> tuple[datetime, datetime]:
    zone = ZoneInfo(TZ)
    start = datetime.combine(span.start, dtime(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(span.end + timedelta(days=1), dtime(0), tzinfo=zone).astimezone(UTC)
    return start, end


def report_window(t: Span) -> list[Span]:
    """What a tertial report reads besides its own rows: previous tertial, a year earlier,
    and the three-year trend (as intake.reporting.period_report does)."""
    prev = previous_tertial(t)
    ago = _tertial(int(t.key[:4]) - 1, int(t.key[-1]))
    trend_first = t
    for _ in range(8):
        trend_first = previous_tertial(trend_first)
    return [t, prev, ago, Span("trend", trend_first.start, t.end)]


# ---------------------------------------------------------------- data


def _ts(moment: datetime) -> str:
    """A UTC instant the way the app stores it on SQLite (PostgreSQL loads it as UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


US = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


class _Formatter:
    """Integer UTC microseconds -> the app's SQLite text ('YYYY-MM-DD HH:MM:SS.ffffff')."""

    def __init__(self) -> None:
        self.days: dict[int, str] = {}

    def _day(self, day: int) -> str:
        found = self.days.get(day)
        if found is None:
            found = self.days[day] = (_EPOCH + timedelta(days=day)).date().isoformat()
        return found

    def __call__(self, micros: int) -> str:
        day, rest = divmod(micros, 86_400 * US)
        seconds, fraction = divmod(rest, US)
        hours, seconds = divmod(seconds, 3600)
        minutes, seconds = divmod(seconds, 60)
        return f"{self._day(day)} {hours:02d}:{minutes:02d}:{seconds:02d}.{fraction:06d}"

    def year(self, micros: int) -> int:
        return int(self._day(micros // (86_400 * US))[:4])


@dataclass
class Dataset:
    """Rows in id order (ascending occurred_on); loaded newest first in stages."""

    reports: list[tuple[Any, ...]]
    plus_ones: list[tuple[Any, ...]]
    audit: list[tuple[Any, ...]]
    now: datetime
    first_day: date
    last_day: date
    seconds: float


STATUS_BY_AGE = (  # (max age in days, {status: weight})
    (3, {"received": 60, "triage": 35, "needs_info": 5}),
    (30, {"received": 8, "triage": 35, "needs_info": 5, "in_progress": 37, "redirected": 8,
          "rejected": 3, "duplicate": 4}),
    (120, {"triage": 5, "needs_info": 1, "in_progress": 35, "redirected": 10, "rejected": 3,
           "duplicate": 3, "closed": 43}),
    (10**6, {"received": 0.3, "triage": 1.5, "needs_info": 0.2, "in_progress": 12,
             "redirected": 9, "rejected": 2, "duplicate": 2, "closed": 73}),
)
FEEDBACK_HOURS = (2, 5, 20, 30, 50, 80, 120, 200, 340)
FEEDBACK_WEIGHTS = (8, 10, 20, 18, 15, 12, 8, 6, 3)
CLOSE_DAYS = (3, 7, 14, 21, 30, 45, 60, 90, 150)
CLOSE_WEIGHTS = (6, 10, 14, 14, 16, 14, 10, 10, 6)
LAG_DAYS = (0, 1, 2, 3, 5, 8, 14)
LAG_WEIGHTS = (30, 25, 15, 10, 10, 6, 4)
REPORTERS = 6000


def generate(rows: int, *, seed: int, now: datetime) -> Dataset:
    """`rows` reports over six years up to yesterday; deterministic for (rows, seed, now)."""
    started = time.perf_counter()
    rng = random.Random(seed)
    zone = ZoneInfo(TZ)
    today = now.astimezone(zone).date()
    last_day = today - timedelta(days=1)
    first_day = last_day.replace(year=last_day.year - YEARS) + timedelta(days=1)
    ndays = (last_day - first_day).days + 1
    days = [first_day + timedelta(days=i) for i in range(ndays)]
    weights = demo._day_weights(days)  # weekdays, summer and Christmas dips, growth
    day_str = [d.isoformat() for d in days]
    # instants as integer microseconds since the epoch: much faster than datetime objects
    midnight = [_micros(datetime.combine(d, dtime(0), tzinfo=zone)) for d in days]
    now_us = _micros(now)
    hour = 3_600 * US
    ts = _Formatter()

    # (kind, theme, reporter party, concerned party) with their joint weights
    taxonomy = load_taxonomy()
    hospital = [p.id for p in taxonomy.places if p.kind == "hospital"]
    hosp_w = [demo.HOSPITAL_WEIGHTS.get(p, 1) for p in hospital]
    municipalities = [p.id for p in taxonomy.places if p.kind == "municipality"]
    combos: list[tuple[str, str, str | None, str, str, tuple[str, ...]]] = []
    combo_w: list[float] = []
    for kind, share, themes in (("deviation", 78, demo.DEVIATIONS),
                                ("suggestion", 13, demo.SUGGESTIONS),
                                ("input", 9, demo.INPUTS)):
        total = sum(t.weight for t in themes)
        for theme in themes:
            texts = tuple(demo._capitalise(demo._fill(rng, t, "stolav_medisinsk"))
                          for t in theme.texts for _ in range(3))
            parties = sum(p[2] for p in theme.parties)
            for rp, cp, w in theme.parties:
                combos.append((kind, theme.category, theme.subcategory, rp, cp, texts))
                combo_w.append(share * theme.weight / total * w / parties)
    severities = list(demo.SEVERITY_WEIGHTS)
    sev_w = list(demo.SEVERITY_WEIGHTS.values())
    status_tables = [(limit, list(t), list(t.values())) for limit, t in STATUS_BY_AGE]
    redirect_targets = ("eqs", "compilo", "tqm", "melde_no", "other")
    prefix = demo.REDIRECT_PREFIX

    day_idx = sorted(rng.choices(range(ndays), weights, k=rows))
    combo_idx = rng.choices(range(len(combos)), combo_w, k=rows)
    lags = rng.choices(LAG_DAYS, LAG_WEIGHTS, k=rows)
    sev = rng.choices(severities, sev_w, k=rows)
    hosp_places = rng.choices(hospital, hosp_w, k=rows)
    fb_hours = rng.choices(FEEDBACK_HOURS, FEEDBACK_WEIGHTS, k=rows)
    close_days = rng.choices(CLOSE_DAYS, CLOSE_WEIGHTS, k=rows)
    rand = rng.random
    randrange = rng.randrange

    reports: list[tuple[Any, ...]] = []
    plus: list[tuple[Any, ...]] = []
    audit: list[tuple[Any, ...]] = []
    seq: dict[int, int] = {}
    for i in range(rows):
        d = day_idx[i]
        kind, category, sub, rp, cp, texts = combos[combo_idx[i]]
        rday = min(d + lags[i], ndays - 1)
        if rand() < 0.85:
            second = randrange(7 * 3600 + 1800, 16 * 3600 + 1800)
        else:
            second = randrange(17 * 3600, 22 * 3600 + 1800)
        reported = midnight[rday] + second * US + randrange(1, US)
        age = (now_us - reported) // (24 * hour)
        for limit, statuses, sw in status_tables:
            if age < limit:
                status = rng.choices(statuses, sw)[0]
                break
        severity = sev[i] if kind == "deviation" else ("none" if rand() < 0.8 else "unknown")
        place = hosp_places[i] if cp == "hospital" else municipalities[randrange(
            len(municipalities))]
        first_feedback = closed = None
        assessed = agreement = breached = lp = measure = target = ext = None
        if status != "received" and not (status == "triage" and rand() < 0.5):
            first_feedback = reported + fb_hours[i] * hour
            if first_feedback >= now_us:
                first_feedback = None
        if status not in ("received",) and first_feedback is not None:
            assessed = demo._shifted_severity(rng, severity) if kind == "deviation" else "none"
            if kind == "deviation":
                roll = rand()
                if roll < 0.25:
                    agreement, breached = demo.AGREEMENTS[randrange(4)], True
                elif roll < 0.45:
                    breached = False
        if status == "closed":
            closed = (first_feedback or reported) + (close_days[i] * 24 + randrange(1, 9)) * hour
            if closed >= now_us:
                status, closed = "in_progress", None
            else:
                lp = demo.LEARNING_POINTS[randrange(len(demo.LEARNING_POINTS))]
                measure = demo.MEASURES[randrange(len(demo.MEASURES))]
        if status == "redirected" or (status == "closed" and rand() < 0.12):
            target = redirect_targets[min(int(rand() * 4.2), 4)]
            ext = f"{prefix[target]}-{ts.year(reported)}-{randrange(100, 9999):04d}"
        local_year = ts.year(reported + 2 * hour)  # close enough for a reference
        n = seq.get(local_year, 0) + 1
        seq[local_year] = n
        reporter = randrange(REPORTERS)
        channel = ("slack", "teams", "web")[reporter % 3]
        rid = i + 1
        updated = closed or first_feedback or reported
        # the last status change: closing, asking (needs_info, as the audit event below
        # says), else the first feedback (a move out of triage) or the submit
        asked = first_feedback or reported + hour
        changed = closed or (asked if status == "needs_info" else updated)
        reports.append((
            rid, f"MELD-{local_year}-{n:04d}", kind, category, sub,
            texts[randrange(len(texts))], rp, cp, f"{rp}->{cp}", place, day_str[d],
            ts(reported), severity, assessed, agreement, breached, status, lp, measure,
            target, ext, f"{channel}:bench{reporter:05d}", channel, "nb",
            ts(first_feedback) if first_feedback else None,
            ts(closed) if closed else None, ts(updated),
            day_str[rday], ts(changed),  # reported_on: `reported` is on local day rday
        ))
        if kind == "suggestion" and status in ("received", "triage", "in_progress") \
                and rand() < 0.3:
            for backer in rng.sample(range(REPORTERS), randrange(1, 8)):
                when = min(reported + randrange(2, 24 * 40) * hour, now_us - 60 * US)
                plus.append((rid, f"slack:bench{backer:05d}", ts(when)))
        if status == "needs_info":
            audit.append((ts(asked), "slack:benchgroup", "triager", "status_changed", rid,
                          json.dumps({"previous": "triage", "status": "needs_info"})))
    return Dataset(reports, plus, audit, now, first_day, last_day,
                   time.perf_counter() - started)


def stages(total: int) -> list[tuple[int, int]]:
    """[start, end) id-order slices, newest first: a quarter, a quarter, then the older half."""
    q1, q2 = total - total // 4, total - total // 2
    return [(q1, total), (q2, q1), (0, q2)]


# ---------------------------------------------------------------- loading


def _chunks(rows: Sequence[tuple[Any, ...]], lo: int, hi: int) -> Iterator[Sequence[Any]]:
    for start in range(lo, hi, CHUNK):
        yield rows[start:min(start + CHUNK, hi)]


class Loader:
    """Bulk loads into one database: SQLite executemany, PostgreSQL COPY."""

    def __init__(self, db: BenchDatabase) -> None:
        self.db = db

    def load(self, data: Dataset, lo: int, hi: int) -> float:
        started = time.perf_counter()
        plus = [r for r in data.plus_ones if lo < r[0] <= hi]
        audit = [r for r in data.audit if lo < r[4] <= hi]
        if self.db.backend == "sqlite":
            self._sqlite(data.reports, lo, hi, plus, audit)
        else:
            self._postgres(data.reports, lo, hi, plus, audit)
        return time.perf_counter() - started

    def _sqlite(self, rows: list[tuple[Any, ...]], lo: int, hi: int,
                plus: list[tuple[Any, ...]], audit: list[tuple[Any, ...]]) -> None:
        assert self.db.path is not None
        marks = ", ".join("?" * len(REPORT_COLUMNS))
        with closing(sqlite3.connect(self.db.path, isolation_level=None)) as conn:
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("PRAGMA cache_size=-1000000")
            conn.execute("BEGIN")
            for chunk in _chunks(rows, lo, hi):
                conn.executemany(
                    f"INSERT INTO reports ({', '.join(REPORT_COLUMNS)}) VALUES ({marks})", chunk)
            conn.executemany(
                f"INSERT INTO plus_ones ({', '.join(PLUS_COLUMNS)}) VALUES (?, ?, ?)", plus)
            conn.executemany(
                f"INSERT INTO audit_events ({', '.join(AUDIT_COLUMNS)}) "
                "VALUES (?, ?, ?, ?, ?, ?)", audit)
            conn.execute("COMMIT")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _postgres(self, rows: list[tuple[Any, ...]], lo: int, hi: int,
                  plus: list[tuple[Any, ...]], audit: list[tuple[Any, ...]]) -> None:
        assert self.db.conninfo is not None

        def copy(cur: psycopg.Cursor[Any], table: str, columns: Sequence[str],
                 data: Iterator[Sequence[Any]]) -> None:
            stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))
            with cur.copy(stmt) as cp:
                for chunk in data:
                    for row in chunk:
                        cp.write_row(row)

        with psycopg.connect(self.db.conninfo) as conn, conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")  # the timestamps are UTC wall-clock strings
            # a bulk load: triggers off (report_counts: a plpgsql call per row), then one
            # recount of what they keep, in the same transaction
            cur.execute("SET session_replication_role = replica")
            copy(cur, "reports", REPORT_COLUMNS, _chunks(rows, lo, hi))
            copy(cur, "plus_ones", PLUS_COLUMNS, iter([plus]))
            copy(cur, "audit_events", AUDIT_COLUMNS, iter([audit]))
            cur.execute("SET session_replication_role = DEFAULT")
            for statement in recount_statements("postgresql"):
                cur.execute(statement)  # type: ignore[arg-type]
            conn.commit()
            cur.execute("SELECT setval(pg_get_serial_sequence('reports', 'id'), "
                        "(SELECT max(id) FROM reports))")
            conn.commit()
        with psycopg.connect(self.db.conninfo, autocommit=True) as conn:
            # what autovacuum does after a big insert (PostgreSQL 13+): statistics, and the
            # visibility map that index-only scans need
            for table in ("reports", "plus_ones", "audit_events", "report_counts",
                          "report_week_counts", "report_open_weeks"):
                conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))


# ---------------------------------------------------------------- timing


@dataclass
class StatementLog:
    """Every SQL statement the engine runs while `active`, with its duration."""

    active: bool = False
    entries: list[tuple[float, str]] = field(default_factory=list)

    def attach(self, db: Database) -> None:
        @event.listens_for(db.engine, "before_cursor_execute")
        def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            conn.info.setdefault("bench_started", []).append(time.perf_counter())

        @event.listens_for(db.engine, "after_cursor_execute")
        def _after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            started = conn.info["bench_started"].pop()
            if self.active:
                self.entries.append((time.perf_counter() - started, statement))


@dataclass
class Timing:
    label: str
    median_ms: float
    runs_ms: list[float]
    statements: int = 0
    statement_ms: float = 0.0
    slowest: list[tuple[float, str]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    in_order: list[tuple[float, str]] = field(default_factory=list)  # the median run's

    def as_json(self) -> dict[str, Any]:
        return {"median_ms": round(self.median_ms, 2),
                "runs_ms": [round(x, 2) for x in self.runs_ms],
                "statements": self.statements,
                "statement_ms_median_run": round(self.statement_ms, 2),
                "slowest": [{"ms": round(ms, 2), "sql": s} for ms, s in self.slowest],
                **self.info}


def _short(statement: str) -> str:
    one = " ".join(statement.split())
    for marker in (" FROM ", " from "):
        if marker in one:
            head, _, tail = one.partition(marker)
            one = head[:40] + (" ..." if len(head) > 40 else "") + marker + tail
            break
    return one[:110]


def measure(label: str, fn: Callable[[], Any], repeat: int,
            log: StatementLog | None = None,
            describe: Callable[[Any], dict[str, Any]] | None = None,
            between: Callable[[], Any] | None = None) -> Timing:
    """The median of `repeat` timed runs of fn after one warm-up run; `between`, if given,
    runs (untimed) after each run, so that two measurements can alternate."""
    first = fn()  # warms caches and compiled statements
    runs: list[float] = []
    per_run: list[list[tuple[float, str]]] = []
    for _ in range(repeat):
        if log is not None:
            log.entries = []
            log.active = True
        started = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - started) * 1000)
        if log is not None:
            log.active = False
            per_run.append(list(log.entries))
        if between is not None:
            between()
    med = statistics.median(runs)
    timing = Timing(label, med, runs, info=describe(first) if describe else {})
    if per_run:
        middle = per_run[runs.index(sorted(runs)[len(runs) // 2])]
        timing.statements = len(middle)
        timing.statement_ms = sum(d for d, _ in middle) * 1000
        timing.in_order = [(d * 1000, _short(s)) for d, s in middle]
        timing.slowest = sorted(timing.in_order, reverse=True)[:3]
    return timing


class Bench:
    """One loaded database: the app's context, and the raw queries on the same engine."""

    def __init__(self, db: BenchDatabase, now: datetime, repeat: int) -> None:
        self.backend = db.backend
        self.now = now
        self.repeat = repeat
        settings = Settings(database_url=db.url, secret_key="bench" * 7, run_outbox_worker=False)
        self.database = open_database(db.url)
        if db.backend == "postgresql":
            # psycopg prepares a statement after its fifth run on a connection; a weekly
            # digest never gets there, so neither side may here (both are planned each run)
            event.listen(self.database.engine, "connect",
                         lambda conn, _record: setattr(conn, "prepare_threshold", None))
        self.ctx = Context(db=self.database, settings=settings, taxonomy=load_taxonomy(),
                           secret_key=b"bench" * 7, clock=lambda: now)
        self.log = StatementLog()
        self.log.attach(self.database)

    def close(self) -> None:
        self.database.dispose()

    def _params(self, a: Any, b: Any) -> dict[str, Any]:
        if self.backend == "sqlite":  # the app's storage format on SQLite
            a = a.isoformat() if isinstance(a, date) and not isinstance(a, datetime) else _ts(a)
            b = b.isoformat() if isinstance(b, date) and not isinstance(b, datetime) else _ts(b)
        return {"a": a, "b": b}

    def scalar(self, query: str, a: Any, b: Any) -> int:
        with self.database.engine.connect() as conn:
            return int(conn.execute(text(query), self._params(a, b)).scalar_one())

    def raw(self, query: str, a: Any, b: Any) -> list[Any]:
        with self.database.engine.connect() as conn:
            return list(conn.execute(text(query), self._params(a, b)).all())

    def explain(self, query: str, a: Any, b: Any) -> list[str]:
        prefix = "EXPLAIN QUERY PLAN " if self.backend == "sqlite" else "EXPLAIN "
        with self.database.engine.connect() as conn:
            rows = conn.execute(text(prefix + query), self._params(a, b)).all()
        return [str(r[-1]) for r in rows]

    def leading_columns(self) -> dict[str, str]:
        """Index name -> its first column, for the indexes on reports."""
        with self.database.engine.connect() as conn:
            if self.backend == "sqlite":
                names = conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'index' "
                    "AND tbl_name = 'reports'").scalars().all()
                return {name: conn.exec_driver_sql(f'PRAGMA index_info("{name}")').all()[0][2]
                        for name in names}
            rows = conn.exec_driver_sql(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'reports'").all()
        return {name: definition.split("(", 1)[1].split(",")[0].split(")")[0].strip().strip('"')
                for name, definition in rows}

    def rows_in(self, span: Span) -> int:
        return self.scalar(COUNT_PERIOD, span.start, span.end)

    def time_raw_period(self, span: Span) -> Timing:
        return measure(f"raw GROUP BY {span.key}",
                       lambda: self.raw(RAW_PERIOD, span.start, span.end), self.repeat)

    def time_raw_learning(self, span: Span) -> Timing:
        a, b = utc_bounds(span)
        return measure(f"raw learning points {span.key}",
                       lambda: self.raw(RAW_LEARNING, a, b), self.repeat)

    def time_raw_week(self, span: Span) -> Timing:
        a, b = utc_bounds(span)
        return measure(f"raw GROUP BY {span.key}", lambda: self.raw(RAW_WEEK, a, b),
                       self.repeat)

    def time_report(self, span: Span) -> Timing | None:
        if _build_period_report is None or _periods is None:
            return None
        period = _periods.parse_period(span.key)
        return measure(f"report {span.key}", lambda: _build_period_report(
            ctx=self.ctx, actor=ACTOR, period=period), self.repeat, self.log,
            lambda r: {"total": r.total, "learning_points": len(r.learning_points)})

    def time_week(self, span: Span) -> tuple[Timing | None, Timing]:
        """The digest and the raw week GROUP BY, alternating run by run, WEEK_RUNS times
        the repeat each: they take milliseconds, so drift on a shared machine would
        otherwise land on one side of the ratio."""
        a, b = utc_bounds(span)
        repeat = self.repeat * WEEK_RUNS
        if _build_digest is None:
            return None, self.time_raw_week(span)
        raw_runs: list[float] = []

        def raw_once() -> None:
            started = time.perf_counter()
            self.raw(RAW_WEEK, a, b)
            raw_runs.append((time.perf_counter() - started) * 1000)

        self.raw(RAW_WEEK, a, b)  # warm-up
        digest = measure(f"digest {span.key}", lambda: _build_digest(
            ctx=self.ctx, week=span.key, now=self.now), repeat, self.log,
            lambda d: {"total": d.total, "waiting_total": d.waiting_total,
                       "learned_total": d.learned_total}, between=raw_once)
        return digest, Timing(f"raw GROUP BY {span.key}", statistics.median(raw_runs),
                              raw_runs)


# ---------------------------------------------------------------- one backend


@dataclass
class Checkpoint:
    total_rows: int
    load_s: float
    rows_tertial: int
    rows_compared: int
    rows_trend: int
    report: Timing | None
    raw: Timing
    raw_learning: Timing
    digest: Timing | None
    raw_digest: Timing


def run_backend(db: BenchDatabase, data: Dataset, args: argparse.Namespace) -> dict[str, Any]:
    today = data.now.astimezone(ZoneInfo(TZ)).date()
    tertial, year, week = last_tertial(today), last_year(today), last_week(today)
    window = report_window(tertial)
    loader = Loader(db)
    checkpoints: list[Checkpoint] = []
    result: dict[str, Any] = {"backend": db.backend, "periods": {
        "tertial": tertial.key, "year": year.key, "week": week.key}}
    plan = stages(len(data.reports)) if args.stages else [(0, len(data.reports))]
    loaded = 0
    load_total = 0.0
    bench: Bench | None = None
    for number, (lo, hi) in enumerate(plan, 1):
        seconds = loader.load(data, lo, hi)
        loaded += hi - lo
        load_total += seconds
        _say(f"{db.backend}: loaded {hi - lo:,} rows in {seconds:.1f} s "
             f"({(hi - lo) / seconds:,.0f} rows/s), {loaded:,} in all")
        if bench is None:
            bench = Bench(db, data.now, args.repeat)
        last = number == len(plan)
        repeat = args.repeat if last else max(3, args.repeat // 2)
        bench.repeat = repeat
        _say(f"{db.backend}: timing at {loaded:,} rows (median of {repeat})")
        a, b = utc_bounds(week)
        checkpoints.append(Checkpoint(
            total_rows=loaded, load_s=seconds, rows_tertial=bench.rows_in(tertial),
            rows_compared=sum(bench.rows_in(s) for s in window[:3]),
            rows_trend=bench.rows_in(window[3]),
            report=bench.time_report(tertial), raw=bench.time_raw_period(tertial),
            raw_learning=bench.time_raw_learning(tertial),
            **dict(zip(("digest", "raw_digest"), bench.time_week(week), strict=True)),
        ))
    assert bench is not None
    try:
        _say(f"{db.backend}: the annual report and the query plans")
        final = checkpoints[-1]
        bench.repeat = min(args.repeat, 3)  # the annual report takes a few seconds a run
        year_report = bench.time_report(year)
        year_raw = bench.time_raw_period(year)
        year_learning = bench.time_raw_learning(year)
        bench.repeat = args.repeat
        a, b = utc_bounds(week)
        leading = bench.leading_columns()
        plans = {
            "period": bench.explain(RAW_PERIOD, tertial.start, tertial.end),
            "week": bench.explain(RAW_WEEK, a, b),
        }
        verdicts = {"period": index_verdict(plans["period"], leading, "occurred_on"),
                    "week": index_verdict(plans["week"], leading, "reported_at")}
        result.update({
            "rows": loaded, "load_seconds": round(load_total, 2),
            "rows_per_second": round(loaded / load_total) if load_total else None,
            "rows_in": {"tertial": final.rows_tertial, "year": bench.rows_in(year),
                        "week": bench.scalar("SELECT count(*) FROM reports WHERE "
                                             "reported_at >= :a AND reported_at < :b", a, b),
                        "tertial_with_comparisons": final.rows_compared,
                        "trend_window": final.rows_trend},
            "tertial": _pair(final.report, final.raw, final.raw_learning),
            "year": _pair(year_report, year_raw, year_learning),
            "digest": _pair(final.digest, final.raw_digest),
            "scaling": [_checkpoint_json(c) for c in checkpoints],
            "explain": plans,
            "index_used": verdicts,
        })
    finally:
        bench.close()
    return result


def index_verdict(plan: list[str], leading: dict[str, str], column: str) -> str:
    """Does the plan range-scan an index whose first column is `column`?"""
    used = sorted({name for line in plan for name in leading
                   if f" {name} " in f" {line} ".replace("(", " ")})
    on_column = [name for name in used if leading[name] == column]
    if on_column:
        return f"yes: range scan of {', '.join(on_column)}"
    if used:
        return (f"no range on {column}: whole-index scan of {', '.join(used)} (first column "
                f"{', '.join(leading[n] for n in used)}); grows with the history")
    return "NO: full table scan; grows with the history"


def _pair(report: Timing | None, raw: Timing,
          raw_learning: Timing | None = None) -> dict[str, Any]:
    """Meld against the raw GROUP BY; for a report also against the GROUP BY plus the raw
    SELECT of the learning points it lists (`ratio_content`: the target's measure)."""
    out: dict[str, Any] = {
        "report": report.as_json() if report else None, "raw": raw.as_json(),
        "ratio": round(report.median_ms / raw.median_ms, 2) if report and raw.median_ms
        else None}
    if raw_learning is not None:
        both = raw.median_ms + raw_learning.median_ms
        out["raw_learning"] = raw_learning.as_json()
        out["ratio_content"] = round(report.median_ms / both, 2) if report and both else None
    return out


def _checkpoint_json(c: Checkpoint) -> dict[str, Any]:
    return {"total_rows": c.total_rows, "load_seconds": round(c.load_s, 2),
            "rows_tertial": c.rows_tertial, "rows_tertial_prev_year_ago": c.rows_compared,
            "rows_trend_window": c.rows_trend,
            "report_ms": round(c.report.median_ms, 2) if c.report else None,
            "raw_ms": round(c.raw.median_ms, 2),
            "raw_learning_ms": round(c.raw_learning.median_ms, 2),
            "digest_ms": round(c.digest.median_ms, 2) if c.digest else None,
            "raw_digest_ms": round(c.raw_digest.median_ms, 2),
            "report_statements": [[round(ms, 2), q] for ms, q in c.report.in_order]
            if c.report else [],
            "digest_statements": [[round(ms, 2), q] for ms, q in c.digest.in_order]
            if c.digest else []}


# ---------------------------------------------------------------- printing


def _fmt(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:,.1f}"


def print_backend(r: dict[str, Any]) -> None:
    name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[r["backend"]]
    rows_in = r["rows_in"]
    print(f"\n== {name}: {r['rows']:,} reports over {YEARS} years; bulk load "
          f"{r['load_seconds']:.1f} s ({r['rows_per_second']:,} rows/s) ==")
    print(f"{'':34}{'rows':>10}{'Meld ms':>11}{'raw ms':>10}{'ratio':>8}"
          f"{'+LP raw':>9}{'ratio':>8}{'stmts':>7}{'ms/stmt':>9}")
    for key, span_key, rows in (("tertial", r["periods"]["tertial"], rows_in["tertial"]),
                                ("year", r["periods"]["year"], rows_in["year"]),
                                ("digest", r["periods"]["week"], rows_in["week"])):
        pair = r[key]
        rep = pair["report"]
        what = {"tertial": "tertial report", "year": "annual report",
                "digest": "weekly digest"}[key]
        label = f"{what} {span_key}"
        if rep is None:
            print(f"{label:34}{rows:>10,}{'n/a':>11}{_fmt(pair['raw']['median_ms']):>10}")
            continue
        per = rep["median_ms"] / rep["statements"] if rep["statements"] else None
        content = (f"{_fmt(pair['raw_learning']['median_ms']):>9}{pair['ratio_content']:>7.2f}x"
                   if "raw_learning" in pair else f"{'':>9}{'':>8}")
        print(f"{label:34}{rows:>10,}{_fmt(rep['median_ms']):>11}"
              f"{_fmt(pair['raw']['median_ms']):>10}{pair['ratio']:>7.2f}x{content}"
              f"{rep['statements']:>7}{_fmt(per):>9}")
    print("  ratio: against the raw GROUP BY; +LP raw: the raw SELECT of the learning points "
          "the report lists, and the ratio against both")
    for key in ("tertial", "year", "digest"):
        rep = r[key]["report"]
        if rep is None:
            continue
        extra = (f"; {rep['learning_points']:,} learning points listed"
                 if "learning_points" in rep else "")
        print(f"  {key}: {rep['statements']} statements, "
              f"{_fmt(rep['statement_ms_median_run'])} ms of it executing SQL (fetching the "
              f"rows is counted outside){extra}; slowest:")
        for item in rep["slowest"]:
            print(f"    {_fmt(item['ms']):>9} ms  {item['sql']}")
    print(f"  rows the tertial report reads by occurred_on: {rows_in['tertial']:,} in the "
          f"tertial, {rows_in['tertial_with_comparisons']:,} with the previous tertial and "
          f"a year earlier, {rows_in['trend_window']:,} in the three-year trend window")

    scaling = r["scaling"]
    if len(scaling) > 1:
        print(f"\n  Growing history, same tertial {r['periods']['tertial']} "
              "(newest rows loaded first):")
        print(f"  {'total rows':>12}{'in tertial':>12}{'+comparisons':>14}{'trend win.':>12}"
              f"{'report ms':>11}{'raw ms':>9}{'digest ms':>11}{'raw wk ms':>11}")
        for c in scaling:
            print(f"  {c['total_rows']:>12,}{c['rows_tertial']:>12,}"
                  f"{c['rows_tertial_prev_year_ago']:>14,}{c['rows_trend_window']:>12,}"
                  f"{_fmt(c['report_ms']):>11}{_fmt(c['raw_ms']):>9}"
                  f"{_fmt(c['digest_ms']):>11}{_fmt(c['raw_digest_ms']):>11}")
        first, last = scaling[0], scaling[-1]
        for key in ("report", "digest"):
            runs = [c[f"{key}_statements"] for c in scaling]
            if not all(runs) or len({len(x) for x in runs}) != 1:
                continue
            print(f"  {key} statements (execute ms, in the order they run) at "
                  + " / ".join(f"{c['total_rows']:,}" for c in scaling) + " rows:")
            for n, (_ms, query) in enumerate(runs[-1]):
                figures = " / ".join(f"{run[n][0]:,.1f}" for run in runs)
                print(f"    {figures:>26}  {query[:72]}")
        if first["report_ms"] and last["report_ms"]:
            print(f"  history x{last['total_rows'] / first['total_rows']:.1f}: report "
                  f"x{last['report_ms'] / first['report_ms']:.2f}, raw "
                  f"x{last['raw_ms'] / first['raw_ms']:.2f}, digest "
                  f"x{(last['digest_ms'] or 0) / (first['digest_ms'] or 1):.2f}, raw week "
                  f"x{last['raw_digest_ms'] / first['raw_digest_ms']:.2f}")
    tertial = r["tertial"]
    year = r["year"]
    if tertial["report"] and year["report"]:
        print(f"  tertial vs year: rows x{rows_in['year'] / max(rows_in['tertial'], 1):.1f}, "
              f"report x{year['report']['median_ms'] / tertial['report']['median_ms']:.2f}, "
              f"raw x{year['raw']['median_ms'] / tertial['raw']['median_ms']:.2f}")

    print("\n  Query plans of the raw queries:")
    for key, column in (("period", "occurred_on"), ("week", "reported_at")):
        plan = r["explain"][key]
        print(f"  - WHERE {column} in the period: index on {column} used? "
              f"{r['index_used'][key]}")
        for line in plan:
            print(f"      {line}")


def print_targets(results: list[dict[str, Any]]) -> None:
    print(f"\nTargets (Meld time <= {RATIO_TARGET}x the raw queries on the same rows: the "
          "GROUP BY, and for the reports also the SELECT of the learning points they list):")
    for r in results:
        for key in ("tertial", "year", "digest"):
            ratio = r[key].get("ratio_content", r[key]["ratio"])
            if ratio is None:
                print(f"  {r['backend']:<11} {key:<8} not measured")
                continue
            met = "met" if ratio <= RATIO_TARGET else "NOT met"
            alone = (f"  (against the GROUP BY alone {r[key]['ratio']:.2f}x)"
                     if "ratio_content" in r[key] else "")
            print(f"  {r['backend']:<11} {key:<8} {ratio:6.2f}x  {met}{alone}")


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.reports_bench",
                                description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rows", type=int, default=1_000_000,
                   help="synthetic reports over six years (default: 1000000)")
    p.add_argument("--backend", choices=["all", "sqlite", "postgresql"], default="all")
    p.add_argument("--repeat", type=int, default=5,
                   help="timed runs per measurement; the median is shown (default: 5)")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--no-stages", dest="stages", action="store_false",
                   help="load everything at once (no timing at 1/4 and 1/2 of the history)")
    p.add_argument("--out", type=Path, default=WORK_DIR / "reports.json")
    args = p.parse_args(argv)
    if args.rows < 1000:
        p.error("--rows must be at least 1000")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    missing = {name: why for name, why in (("intake.reporting.period_report", REPORTS_MISSING),
                                           ("intake.reporting.digest", DIGEST_MISSING)) if why}
    for name, why in missing.items():
        print(f"NOTE: {name} cannot be imported ({why}); only the raw queries are timed.")
    backends, skipped, server_url = select_backends(args.backend)

    now = datetime.now(UTC).replace(microsecond=0)
    _say(f"generating {args.rows:,} reports over {YEARS} years (seed {args.seed})")
    data = generate(args.rows, seed=args.seed, now=now)
    _say(f"generated in {data.seconds:.1f} s: {len(data.plus_ones):,} +1s, "
         f"{len(data.audit):,} audit events")

    results: list[dict[str, Any]] = []
    failures: dict[str, str] = {}
    for backend in backends:
        backend_started = time.perf_counter()
        try:
            with one_database(backend, server_url, WORK_DIR) as (db,):
                result = run_backend(db, data, args)
        except (psycopg.Error, sqlite3.Error) as exc:
            failures[backend] = f"{type(exc).__name__}: {exc}"
            _say(f"{backend}: {exc}")
            continue
        result["seconds"] = round(time.perf_counter() - backend_started, 1)
        results.append(result)
        _say(f"{backend}: done in {result['seconds']:.0f} s")

    print(f"\nReports bench: {args.rows:,} synthetic reports, {data.first_day} to "
          f"{data.last_day}; generated in {data.seconds:.1f} s; median of {args.repeat}.")
    for result in results:
        print_backend(result)
    print_targets(results)
    for backend, why in {**skipped, **failures}.items():
        print(f"  {backend}: not measured ({why})")
    for name in missing:
        print(f"  {name} missing: report/digest times not measured")
    total = time.perf_counter() - started
    print(f"\nWhole run: {total:.0f} s.")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {"rows": args.rows, "repeat": args.repeat, "seed": args.seed,
                     "stages": args.stages, "years": YEARS},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "results": results, "skipped": skipped, "failures": failures,
        "missing": missing, "seconds": round(total, 1),
    }, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"Figures written to {args.out}")
    return 2 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())

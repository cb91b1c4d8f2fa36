"""`python -m bench.board`: the group's board list (GET /gruppe with a filter) on a large
history, against the same queries run raw, p99 at 10 concurrent clients, per backend.
Target: the page's p99 within 1.5x of the raw queries' p99.

1. Generates `--rows` synthetic reports over six years (default 100,000) with
   bench.reports_bench's generator and bulk-loads them with its Loader into a fresh
   migrated database (SQLite executemany, PostgreSQL COPY then VACUUM (ANALYZE)).
2. Starts the real server (`meld serve`, bench.server) on it and signs a board user in the
   way a browser does: a one-time login link (services.create_login_link) redeemed for a
   session, whose secret goes in the `meld_board` cookie; one probe page per filter must
   be 200 and list every reference the raw query returns (its `meld_session` cookie is
   kept and sent back, as a browser would).
3. Per filter (`--filter`, a query string; default the triage queue
   `status=received&kind=deviation` and the wide `status=closed&kind=deviation`), two
   closed-loop loads of `--seconds` each with `--clients` threads (default 10), one
   connection per thread:
   - raw: what the page needs from the database, with the plain driver (sqlite3 /
     psycopg, autocommit): `SELECT <the columns list_reports selects> FROM reports
     WHERE <filter> ORDER BY id DESC LIMIT 51` and `SELECT status, count(*) FROM reports
     WHERE <filter> GROUP BY status`, all rows fetched; one operation is both;
   - Meld: GET /gruppe?<filter> over keep-alive http.client connections with the
     cookies, the whole response read; an operation counts when it is 200.
   The server is up and idle during the raw load; nothing else differs between the two.
4. Where the time goes, one client: the page over HTTP, the page handler called in-process
   (no HTTP, no middleware), and its service calls alone (session_actor, list_reports
   with its audit row, count_reports) against the two raw queries, median of `--repeat`.
   `--profile` adds a cProfile of list_reports + count_reports.

Prints p50/p99/max and requests/s of both sides and the p99 ratio; writes
var/bench/board.json. PostgreSQL needs MELD_BENCH_POSTGRES_URL or MELD_TEST_POSTGRES_URL
(a server URL); the database is created and dropped again. The load generator runs in
this process and shares the machine's cores with the server (its CPU is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import http.client
import io
import json
import os
import platform
import pstats
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import psycopg
from sqlalchemy.exc import SQLAlchemyError

from bench.databases import (
    BenchDatabase,
    one_database,
    select_backends,
)
from bench.load import OK, BenchFailed, Client, LoadResult, Operation, run_load
from bench.report import LABELS, fmt
from bench.report import ratio as ratio_of
from bench.reports_bench import Dataset, Loader, generate
from bench.server import REPO, cpu_seconds, running_server
from intake import services
from intake.domain.model import Actor, Role
from intake.services.reading import LIST_COLUMNS
from intake.settings import Settings

WORK_DIR = REPO / "var" / "bench"
RATIO_TARGET = 1.5  # the page's p99 <= 1.5x the raw queries' p99
SECRET_KEY = "bench" * 7  # what bench.server.running_server gives the server; passed again
PAGE_SIZE = 50  # intake.http.web.board.PAGE_SIZE: list_reports fetches one more
DEFAULT_FILTERS = ("status=received&kind=deviation", "status=closed&kind=deviation")
# the board's filters that are a plain equality on one column (the others are not
# benched: severity is a coalesce, overdue/unread/fra/til need more than one column)
FILTER_COLUMNS = {"status": "status", "kind": "kind", "category": "category_id",
                  "place": "place_id", "assignee": "assignee"}
# the columns list_reports selects, in its order
COLUMNS = tuple(c.name for c in LIST_COLUMNS)


def _say(message: str) -> None:
    print(f"[board-bench] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the raw side


def parse_filter(text: str) -> dict[str, str]:
    pairs = parse_qsl(text, strict_parsing=True)
    unknown = [k for k, _ in pairs if k not in FILTER_COLUMNS]
    if not pairs or unknown or len({k for k, _ in pairs}) != len(pairs):
        raise ValueError(f"--filter {text!r}: give each of {', '.join(FILTER_COLUMNS)} at "
                         "most once (e.g. status=received&kind=deviation)")
    return dict(pairs)


def raw_statements(filters: dict[str, str], mark: str) -> tuple[str, str]:
    """The page's two queries as plain SQL, `mark` the driver's placeholder."""
    where = " AND ".join(f"{FILTER_COLUMNS[k]} = {mark}" for k in filters)
    listing = (f"SELECT {', '.join(COLUMNS)} FROM reports WHERE {where} "
               f"ORDER BY id DESC LIMIT {PAGE_SIZE + 1}")
    counting = f"SELECT status, count(*) FROM reports WHERE {where} GROUP BY status"
    return listing, counting


@contextmanager
def _raw_connection(db: BenchDatabase) -> Iterator[Callable[[str, tuple[str, ...]], list[Any]]]:
    """One connection set up as the app's engine sets its own up; yields run(sql, params)."""
    if db.backend == "sqlite":
        assert db.path is not None
        conn = sqlite3.connect(db.path, timeout=10, isolation_level=None,
                               check_same_thread=False)
        with closing(conn):
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON",
                           "busy_timeout=10000"):
                conn.execute(f"PRAGMA {pragma}")
            yield lambda query, params: conn.execute(query, params).fetchall()
    else:
        assert db.conninfo is not None
        with psycopg.connect(db.conninfo, autocommit=True, connect_timeout=5) as pg:
            def run(query: str, params: tuple[str, ...]) -> list[Any]:
                return pg.execute(query, params).fetchall()  # type: ignore[arg-type]

            yield run


def raw_client(db: BenchDatabase, filters: dict[str, str]) -> Client:
    listing, counting = raw_statements(filters, "?" if db.backend == "sqlite" else "%s")
    params = tuple(filters.values())

    @contextmanager
    def open_client() -> Iterator[Operation]:
        with _raw_connection(db) as run:

            def page() -> str:
                run(listing, params)
                run(counting, params)
                return OK

            yield page

    return open_client


def explain(db: BenchDatabase, filters: dict[str, str]) -> dict[str, list[str]]:
    mark = "?" if db.backend == "sqlite" else "%s"
    prefix = "EXPLAIN QUERY PLAN " if db.backend == "sqlite" else "EXPLAIN "
    with _raw_connection(db) as run:
        return {name: [str(row[-1]) for row in run(prefix + query, tuple(filters.values()))]
                for name, query in zip(("list", "count"), raw_statements(filters, mark),
                                       strict=True)}


# ---------------------------------------------------------------- the page


class Browser:
    """The cookies a signed-in browser sends to /gruppe."""

    def __init__(self, board_secret: str) -> None:
        self.cookies = {"meld_board": board_secret}

    def header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def keep(self, response: http.client.HTTPResponse) -> None:
        for value in response.headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(value)
            self.cookies.update({k: morsel.value for k, morsel in jar.items()})


def get_page(base_url: str, path: str, browser: Browser) -> tuple[int, str]:
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60.0)
    try:
        conn.request("GET", path, headers={"Cookie": browser.header()})
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        browser.keep(response)
        return response.status, body
    finally:
        conn.close()


def page_client(base_url: str, path: str, browser: Browser) -> Client:
    url = urlsplit(base_url)
    headers = {"Cookie": browser.header()}

    @contextmanager
    def open_client() -> Iterator[Operation]:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60.0)
        try:

            def page() -> str:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                return OK if response.status == 200 else f"HTTP {response.status}"

            yield page
        finally:
            conn.close()

    return open_client


def sign_in(ctx: services.Context) -> str:
    """A board session for a triager, the way a browser gets one: the secret of its cookie."""
    link = services.create_login_link(ctx=ctx, actor=Actor("cli:bench", Role.ADMIN),
                                      name="Bench", role="triager")
    secret, _actor = services.redeem_login_link(ctx=ctx, token=link.rsplit("/", 1)[1])
    return str(secret)


# ---------------------------------------------------------------- one client, in process


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm-up
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


@contextmanager
def handler_call(ctx: services.Context, path: str,
                 browser: Browser) -> Iterator[Callable[[], Any]]:
    """The /gruppe handler called directly: no HTTP, no middleware, no ASGI routing."""
    from starlette.requests import Request

    from intake.app import create_app
    from intake.http.web.board import report_list

    app = create_app(ctx.settings, ctx=ctx)  # its lifespan (the outbox worker) never runs
    target = urlsplit(path)
    scope = {"type": "http", "method": "GET", "path": target.path,
             "raw_path": target.path.encode(), "root_path": "", "scheme": "http",
             "query_string": target.query.encode(), "http_version": "1.1",
             "headers": [(b"host", b"bench"), (b"cookie", browser.header().encode())],
             "client": ("127.0.0.1", 1), "server": ("bench", 80), "app": app}
    loop = asyncio.new_event_loop()

    def call() -> Any:
        response = loop.run_until_complete(report_list(Request(scope)))
        if response.status_code != 200:
            raise BenchFailed(f"in-process page: HTTP {response.status_code}")
        return response

    try:
        yield call
    finally:
        loop.close()


def breakdown(ctx: services.Context, db: BenchDatabase, base_url: str | None, path: str,
              filters: dict[str, str], browser: Browser, repeat: int,
              profile: bool) -> dict[str, Any]:
    """One client, one at a time: the page and its parts, against the raw queries."""
    secret = browser.cookies["meld_board"]
    actor = services.session_actor(ctx=ctx, secret=secret)
    assert actor is not None
    wanted = services.ReportFilter(**{k: filters.get(k) for k in FILTER_COLUMNS})
    listing, counting = raw_statements(filters, "?" if db.backend == "sqlite" else "%s")
    params = tuple(filters.values())
    out: dict[str, Any] = {}
    if base_url is not None:
        client = page_client(base_url, path, browser)
        with client() as op:
            out["page_http_ms"] = median_ms(op, repeat)
    with handler_call(ctx, path, browser) as call:
        out["page_handler_ms"] = median_ms(call, repeat)
    out["session_actor_ms"] = median_ms(
        lambda: services.session_actor(ctx=ctx, secret=secret), repeat)
    out["list_reports_ms"] = median_ms(lambda: services.list_reports(
        ctx=ctx, actor=actor, filters=wanted, limit=PAGE_SIZE), repeat)
    out["count_reports_ms"] = median_ms(
        lambda: services.count_reports(ctx=ctx, actor=actor, filters=wanted), repeat)
    with _raw_connection(db) as run:
        out["raw_list_ms"] = median_ms(lambda: run(listing, params), repeat)
        out["raw_count_ms"] = median_ms(lambda: run(counting, params), repeat)
    if profile:
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(repeat):
            services.list_reports(ctx=ctx, actor=actor, filters=wanted, limit=PAGE_SIZE)
            services.count_reports(ctx=ctx, actor=actor, filters=wanted)
        prof.disable()
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(15)
        out["profile"] = text.getvalue()
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in out.items()}


# ---------------------------------------------------------------- one backend


def _load_json(r: LoadResult) -> dict[str, Any]:
    def rnd(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    return {"clients": r.clients, "ok": r.ok, "errors": dict(r.errors),
            "elapsed_s": round(r.elapsed_s, 3), "per_second": round(r.throughput, 1),
            "p50_ms": rnd(r.percentile_ms(50)), "p99_ms": rnd(r.percentile_ms(99)),
            "max_ms": rnd(max(r.latencies_ms, default=None))}


def run_backend(db: BenchDatabase, data: Dataset, filters: list[str],
                args: argparse.Namespace) -> dict[str, Any]:
    seconds = Loader(db).load(data, 0, len(data.reports))
    _say(f"{db.backend}: loaded {len(data.reports):,} reports in {seconds:.1f} s")
    settings = Settings(database_url=db.url, secret_key=SECRET_KEY, run_outbox_worker=False)
    ctx = services.build_context(settings)
    result: dict[str, Any] = {"backend": db.backend, "rows": len(data.reports),
                              "load_seconds": round(seconds, 1), "filters": []}
    try:
        browser = Browser(sign_in(ctx))
        load = {"clients": args.clients, "seconds": args.seconds, "max_ops": args.requests}
        _say(f"{db.backend}: starting the server")
        with running_server(db.url, WORK_DIR / f"server-board-{db.backend}.log",
                            extra_env={"MELD_SECRET_KEY": SECRET_KEY}) as server:
            for text in filters:
                wanted = parse_filter(text)
                path = "/gruppe?" + urlencode(wanted)
                listing, counting = raw_statements(
                    wanted, "?" if db.backend == "sqlite" else "%s")
                with _raw_connection(db) as run:
                    first_page = run(listing, tuple(wanted.values()))
                    counts = dict(run(counting, tuple(wanted.values())))
                status, body = get_page(server.base_url, path, browser)
                missing = [row[1] for row in first_page[:PAGE_SIZE] if row[1] not in body]
                if status != 200 or missing:
                    raise BenchFailed(f"probe {path}: HTTP {status}, {len(missing)} of "
                                      f"{min(len(first_page), PAGE_SIZE)} references missing")
                matched = sum(counts.values())
                _say(f"{db.backend}: {path} ({matched:,} matching): raw, {args.clients} "
                     f"clients, {args.seconds:g} s")
                cpu0 = time.process_time()
                raw = run_load(raw_client(db, wanted), **load)
                raw_client_cpu = time.process_time() - cpu0
                _say(f"{db.backend}: {path}: Meld over HTTP")
                cpu0, server0 = time.process_time(), cpu_seconds(server.pid)
                meld = run_load(page_client(server.base_url, path, browser), **load)
                meld_client_cpu = time.process_time() - cpu0
                server_cpu = cpu_seconds(server.pid) - server0
                _say(f"{db.backend}: {path}: one client, where the time goes")
                parts = breakdown(ctx, db, server.base_url, path, wanted, browser,
                                  args.repeat, args.profile)
                p99_meld, p99_raw = meld.percentile_ms(99), raw.percentile_ms(99)
                ratio = p99_meld / p99_raw if p99_meld is not None and p99_raw else None
                result["filters"].append({
                    "filter": text, "path": path, "matching": matched,
                    "by_status": counts, "page_bytes": len(body.encode()),
                    "meld": {**_load_json(meld),
                             "server_cpu_ms_per_request":
                                 round(server_cpu / meld.ok * 1000, 2) if meld.ok else None,
                             "bench_cpu_ms_per_request":
                                 round(meld_client_cpu / meld.ok * 1000, 2) if meld.ok
                                 else None},
                    "raw": {**_load_json(raw),
                            "bench_cpu_ms_per_request":
                                round(raw_client_cpu / raw.ok * 1000, 2) if raw.ok else None},
                    "p99_ratio": None if ratio is None else round(ratio, 2),
                    "p50_ratio": ratio_of(meld.percentile_ms(50), raw.percentile_ms(50), 2),
                    "met": ratio is not None and ratio <= RATIO_TARGET
                           and not meld.errors and not raw.errors,
                    "one_client": parts,
                    "explain": explain(db, wanted),
                    "raw_sql": [listing, counting],
                })
    finally:
        ctx.db.dispose()
    return result


# ---------------------------------------------------------------- printing


def print_backend(r: dict[str, Any], args: argparse.Namespace) -> None:
    title, raw_label = LABELS[r["backend"]]
    for f in r["filters"]:
        meld, raw = f["meld"], f["raw"]
        print(f"\n== {title}: GET {f['path']}  ({f['matching']:,} of {r['rows']:,} reports "
              f"match; {args.clients} clients, {args.seconds:g} s each side) ==")
        print(f"  {'':<30}{'Meld (HTTP)':>13}{raw_label:>14}{'Meld/raw':>10}")
        rows = [("requests/s", meld["per_second"], raw["per_second"], ".1f"),
                ("latency p50 ms", meld["p50_ms"], raw["p50_ms"], ".2f"),
                ("latency p99 ms", meld["p99_ms"], raw["p99_ms"], ".2f"),
                ("latency max ms", meld["max_ms"], raw["max_ms"], ".2f")]
        for name, a, b, spec in rows:
            print(f"  {name:<30}{fmt(a, spec):>13}{fmt(b, spec):>14}"
                  f"{fmt(ratio_of(a, b, 2), '.2f'):>10}")
        print(f"  {'requests (ok / errors)':<30}{meld['ok']:>8} / {sum(meld['errors'].values()):<2}"
              f"{raw['ok']:>9} / {sum(raw['errors'].values()):<2}")
        print(f"  {'bench process CPU ms/request':<30}"
              f"{fmt(meld['bench_cpu_ms_per_request'], '.2f'):>13}"
              f"{fmt(raw['bench_cpu_ms_per_request'], '.2f'):>14}")
        print(f"  {'Meld server CPU ms/request':<30}"
              f"{fmt(meld['server_cpu_ms_per_request'], '.2f'):>13}{'-':>14}")
        for label, side in (("Meld", meld), (raw_label, raw)):
            if side["errors"]:
                print(f"  {label} errors: {side['errors']}")
        one = f["one_client"]
        print(f"  one client, median of {args.repeat} (ms): page over HTTP "
              f"{fmt(one.get('page_http_ms'), '.2f')}, page handler in-process "
              f"{fmt(one['page_handler_ms'], '.2f')}; its service calls alone: session_actor "
              f"{fmt(one['session_actor_ms'], '.2f')}, list_reports "
              f"{fmt(one['list_reports_ms'], '.2f')}, count_reports "
              f"{fmt(one['count_reports_ms'], '.2f')}; raw list "
              f"{fmt(one['raw_list_ms'], '.2f')}, raw count {fmt(one['raw_count_ms'], '.2f')}")
        print("  (bench process CPU: the load generator's threads; on the raw SQLite side "
              f"also SQLite's own work, in process. Meld server: MELD_WORKERS="
              f"{os.environ.get('MELD_WORKERS', '1')})")
        for name, plan in f["explain"].items():
            print(f"  plan of the {name} query: " + " | ".join(plan))
        if "profile" in one:
            print("  cProfile of list_reports + count_reports, by own time:")
            print("\n".join("    " + line for line in one["profile"].splitlines()[:40]))


def print_targets(results: list[dict[str, Any]], skipped: dict[str, str]) -> None:
    print(f"\nTargets (the page's p99 <= {RATIO_TARGET}x the raw queries' p99, same filter, "
          "same clients):")
    for r in results:
        for f in r["filters"]:
            met = "met" if f["met"] else "NOT met"
            print(f"  {LABELS[r['backend']][0]:<11} {f['path']:<40} p99 "
                  f"{fmt(f['meld']['p99_ms'], '.1f'):>8} / {fmt(f['raw']['p99_ms'], '.1f'):>8} ms"
                  f" = {fmt(f['p99_ratio'], '.2f'):>6}x  {met}")
    for backend, why in skipped.items():
        print(f"  {LABELS[backend][0]:<11} not measured: {why}")


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.board",
                                description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rows", type=int, default=100_000,
                   help="synthetic reports over six years (default: 100000)")
    p.add_argument("--backend", choices=["all", "sqlite", "postgresql"], default="all")
    p.add_argument("--filter", action="append", dest="filters", metavar="QUERY",
                   help="a board filter as a query string, repeatable (default: "
                   + " and ".join(DEFAULT_FILTERS) + ")")
    p.add_argument("--clients", type=int, default=10, help="concurrent clients (default: 10)")
    p.add_argument("--seconds", type=float, default=5.0,
                   help="length of each load, raw and Meld, per filter (default: 5)")
    p.add_argument("--requests", type=int, default=100_000,
                   help="stop a load after this many requests (default: 100000)")
    p.add_argument("--repeat", type=int, default=10,
                   help="runs of each one-client measurement; the median is shown "
                   "(default: 10)")
    p.add_argument("--profile", action="store_true",
                   help="also print a cProfile of list_reports + count_reports")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--out", type=Path, default=WORK_DIR / "board.json")
    args = p.parse_args(argv)
    if args.rows < 1000:
        p.error("--rows must be at least 1000")
    args.filters = args.filters or list(DEFAULT_FILTERS)
    for text in args.filters:
        try:
            parse_filter(text)
        except ValueError as exc:
            p.error(str(exc))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    backends, skipped, server_url = select_backends(args.backend)
    now = datetime.now(UTC).replace(microsecond=0)
    _say(f"generating {args.rows:,} reports (seed {args.seed})")
    data = generate(args.rows, seed=args.seed, now=now)
    _say(f"generated in {data.seconds:.1f} s")
    # the generated rows stay in memory: out of the collector's way, so that its full
    # collections do not stall the raw clients and the one-client runs in this process
    gc.collect()
    gc.freeze()

    results: list[dict[str, Any]] = []
    failures: dict[str, str] = {}
    for backend in backends:
        try:
            with one_database(backend, server_url, WORK_DIR) as (db,):
                results.append(run_backend(db, data, args.filters, args))
        except (BenchFailed, psycopg.Error, sqlite3.Error, SQLAlchemyError) as exc:
            failures[backend] = f"{type(exc).__name__}: {exc}"
            _say(f"{backend}: {exc}")

    print(f"\nBoard list bench: {args.rows:,} synthetic reports, {data.first_day} to "
          f"{data.last_day}; machine: {os.cpu_count()} CPUs, shared by the server, the "
          "database and the load generator.")
    for result in results:
        print_backend(result, args)
    print_targets(results, {**skipped, **{b: f"failed: {why}" for b, why in failures.items()}})
    total = time.perf_counter() - started
    print(f"\nWhole run: {total:.0f} s.")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {"rows": args.rows, "clients": args.clients, "seconds": args.seconds,
                     "max_requests": args.requests, "repeat": args.repeat, "seed": args.seed,
                     "filters": args.filters, "ratio_target": RATIO_TARGET},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "results": results, "skipped": skipped, "failures": failures,
        "seconds": round(total, 1),
    }, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"Figures written to {args.out}")
    return 2 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())

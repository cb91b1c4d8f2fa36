"""`python -m bench`: Meld's durable submits/s over HTTP against the raw driver, and the Slack
door's ack latency against Bolt's bare dispatch, and the Teams door's form submission
against a bare JWT-validating endpoint, per backend; the identifier guard against a plain
regex scan; the tertial report and digest against the raw GROUP BY (bench/reports_bench);
the receipt latency per channel, from the ack to the fake platform (bench/receipts); the
group's board list against its raw queries (bench/board); full-text search and similar
reports against the raw full-text queries (bench/similar)."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.exc import SQLAlchemyError

from bench.baseline import postgres_client, sqlite_client
from bench.databases import (
    BenchDatabase,
    postgres_databases,
    select_backends,
    sqlite_databases,
)
from bench.load import BenchFailed, Client, run_load
from bench.report import (
    BackendResult,
    SlackResult,
    print_slack_table,
    print_table,
    print_targets,
    write_json,
)
from bench.server import REPO, cpu_seconds, memory_mb, running_server
from bench.slack import bench_slack
from bench.submit import http_client, probe
from bench.teams import TeamsResult, bench_teams

WORK_DIR = REPO / "var" / "bench"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--seconds", type=float, default=10.0,
                   help="length of each load phase (default: 10)")
    # A bound, not the usual stop: with 3000 the raw SQLite phase lasts ~1.5 s, and one
    # writer starved by SQLite's busy handler for a second or two then halves its figure.
    p.add_argument("--requests", type=int, default=50_000,
                   help="stop a load phase after this many requests (default: 50000)")
    p.add_argument("--clients", type=int, default=20, help="concurrent clients (default: 20)")
    p.add_argument("--idle-seconds", type=float, default=3.0,
                   help="idle time after the load before reading the server's RSS (default: 3)")
    p.add_argument("--backend", choices=["all", "sqlite", "postgresql"], default="all")
    p.add_argument("--report-rows", type=int, default=1_000_000,
                   help="synthetic reports for the tertial report and digest bench")
    p.add_argument("--only", choices=["all", "submit", "slack", "reports", "teams", "privacy",
                                      "receipts", "mailbox", "board", "similar"],
                   default="all",
                   help="which phases: durable submits, Slack acks, reports, Teams, the "
                   "identifier guard, receipt latency per channel, the board's list, "
                   "search and similar (default: all)")
    p.add_argument("--board-rows", type=int, default=100_000,
                   help="synthetic reports for the board list bench (default: 100000)")
    p.add_argument("--similar-rows", type=int, default=100_000,
                   help="synthetic reports for the search and similar bench (default: 100000)")
    p.add_argument("--mailbox-messages", type=int, default=10_000,
                   help="messages in the mailbox import bench's mbox (default: 10000)")
    p.add_argument("--receipts", type=int, default=50,
                   help="receipts per channel and backend, one client (default: 50)")
    p.add_argument("--teams-seconds", type=float, default=3.0,
                   help="length of each Teams load (2 per backend; default: 3)")
    p.add_argument("--teams-out", type=Path, default=WORK_DIR / "teams.json")
    p.add_argument("--slack-seconds", type=float, default=5.0,
                   help="length of each Slack load (4 per backend; default: 5)")
    p.add_argument("--out", type=Path, default=WORK_DIR / "submit.json")
    p.add_argument("--slack-out", type=Path, default=WORK_DIR / "slack.json")
    return p.parse_args(argv)


def _say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def bench_backend(
    backend: str, dbs: AbstractContextManager[list[BenchDatabase]], args: argparse.Namespace
) -> BackendResult:
    load = {"clients": args.clients, "seconds": args.seconds, "max_ops": args.requests}
    with dbs as (app_db, raw_db):
        _say(f"{backend}: starting the server")
        with running_server(app_db.url, WORK_DIR / f"server-{backend}.log") as server:
            rss_before = memory_mb(server.pid)["VmRSS"]
            probe(server.base_url)
            _say(f"{backend}: Meld over HTTP, {args.clients} clients, "
                 f"{args.seconds:g} s or {args.requests} requests")
            cpu_before = cpu_seconds(server.pid)
            meld = run_load(http_client(server.base_url), **load)
            server_cpu_s = cpu_seconds(server.pid) - cpu_before
            _say(f"{backend}: idle {args.idle_seconds:g} s")
            time.sleep(args.idle_seconds)
            after = memory_mb(server.pid)
        raw_client: Client
        if backend == "sqlite":
            assert raw_db.path is not None
            raw_client = sqlite_client(raw_db.path)
        else:
            assert raw_db.conninfo is not None
            raw_client = postgres_client(raw_db.conninfo)
        _say(f"{backend}: raw driver baseline")
        raw = run_load(raw_client, **load)
    return BackendResult(backend=backend, meld=meld, raw=raw, rss_before_mb=rss_before,
                         rss_idle_mb=after["VmRSS"], rss_peak_mb=after["VmHWM"],
                         server_cpu_s=server_cpu_s)


def _document(settings: dict[str, Any], **rest: Any) -> dict[str, Any]:
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": settings,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        **rest,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    backends, skipped, server_url = select_backends(args.backend)

    def databases(backend: str, count: int) -> AbstractContextManager[list[BenchDatabase]]:
        if backend == "sqlite":
            return sqlite_databases(WORK_DIR, count)
        assert server_url is not None
        return postgres_databases(server_url, count)

    results: list[BackendResult] = []
    failures: dict[str, str] = {}
    if args.only in ("all", "submit"):
        for backend in backends:
            try:
                results.append(bench_backend(backend, databases(backend, 2), args))
            except (BenchFailed, psycopg.Error) as exc:
                failures[backend] = f"{type(exc).__name__}: {exc}"
                _say(f"{backend}: {exc}")

    slack_results: list[SlackResult] = []
    slack_failures: dict[str, str] = {}
    if args.only in ("all", "slack"):
        for backend in backends:
            try:
                slack_results.append(bench_slack(
                    backend, databases(backend, 1), work_dir=WORK_DIR, clients=args.clients,
                    seconds=args.slack_seconds, max_ops=args.requests,
                    idle_seconds=args.idle_seconds, say=_say))
            except (BenchFailed, psycopg.Error, SQLAlchemyError) as exc:
                slack_failures[backend] = f"{type(exc).__name__}: {exc}"
                _say(f"{backend}: Slack: {exc}")

    teams_results: list[TeamsResult] = []
    teams_failures: dict[str, str] = {}
    if args.only in ("all", "teams"):
        for backend in backends:
            try:
                teams_results.append(bench_teams(
                    backend, databases(backend, 1), work_dir=WORK_DIR, clients=args.clients,
                    seconds=args.teams_seconds, max_ops=args.requests, say=_say))
            except (BenchFailed, psycopg.Error, SQLAlchemyError) as exc:
                teams_failures[backend] = f"{type(exc).__name__}: {exc}"
                _say(f"{backend}: Teams: {exc}")

    for result in results:
        print_table(result)
    for slack_result in slack_results:
        print_slack_table(slack_result)
    if args.only in ("all", "submit"):
        targets = [t for r in results for t in r.targets()]
        print_targets(targets, {**skipped, **{b: "failed (see above)" for b in failures}})
        write_json(args.out, _document(
            {"clients": args.clients, "seconds": args.seconds,
                   "max_requests": args.requests, "idle_seconds": args.idle_seconds},
            backends={r.backend: r.as_json() for r in results}, targets=targets,
            skipped=skipped, failures=failures))
        print(f"\nFigures written to {args.out}")
    if args.only in ("all", "slack"):
        slack_targets = [t for r in slack_results for t in r.targets()]
        print_targets(slack_targets,
                      {**skipped, **{b: "failed (see above)" for b in slack_failures}},
                      title="Slack targets (Slack's limit 3 s; target p99 < 50 ms)")
        write_json(args.slack_out, _document(
            {"clients": args.clients, "seconds": args.slack_seconds,
                   "max_requests": args.requests, "idle_seconds": args.idle_seconds},
            backends={r.backend: r.as_json() for r in slack_results},
            targets=slack_targets, skipped=skipped, failures=slack_failures))
        print(f"\nSlack figures written to {args.slack_out}")

    if args.only in ("all", "teams"):
        for teams_result in teams_results:
            teams_result.print()
        write_json(args.teams_out, _document(
            {"clients": args.clients, "seconds": args.teams_seconds,
             "max_requests": args.requests},
            backends={r.backend: r.as_json() for r in teams_results},
            skipped=skipped, failures=teams_failures))
        print(f"\nTeams figures written to {args.teams_out}")

    receipts_code = 0
    if args.only in ("all", "receipts"):
        from bench.receipts import run_receipts

        receipts_code = run_receipts(backends, skipped, databases, work_dir=WORK_DIR,
                                     count=args.receipts, say=_say, document=_document)

    if args.only in ("all", "mailbox"):
        from bench.mailbox import run_mailbox

        run_mailbox(backends, skipped, databases, work_dir=WORK_DIR,
                    count=args.mailbox_messages, say=_say)

    if args.only in ("all", "privacy"):
        from bench.privacy import (
            bench_guard_rates,
            bench_privacy,
            print_guard_rates,
            print_privacy,
        )

        print_privacy(bench_privacy())
        print_guard_rates(bench_guard_rates())

    reports_code = 0
    if args.only in ("all", "reports"):
        from bench import reports_bench

        _say(f"reports: {args.report_rows} synthetic reports, tertial report and digest "
             "against the raw GROUP BY")
        reports_code = reports_bench.main(["--rows", str(args.report_rows),
                                           "--backend", args.backend])

    board_code = 0
    if args.only in ("all", "board"):
        from bench import board

        _say(f"board: {args.board_rows} synthetic reports, GET /gruppe with a filter against "
             "its raw queries")
        board_code = board.main(["--rows", str(args.board_rows), "--backend", args.backend])

    similar_code = 0
    if args.only in ("all", "similar"):
        from bench import similar

        _say(f"similar: {args.similar_rows} synthetic reports, search_reports and "
             "similar_reports against the raw full-text queries")
        similar_code = similar.main(["--rows", str(args.similar_rows),
                                     "--backend", args.backend])

    if (failures or slack_failures or teams_failures or reports_code or board_code
            or similar_code or receipts_code == 2):
        return 2
    dominated = ([r.backend for r in results if r.errors_dominate]
                 + [f"{r.backend} (Slack)" for r in slack_results if r.errors_dominate]
                 + [f"{r.backend} (Teams)" for r in teams_results
                    if r.meld.error_count > r.meld.ok or r.stored != r.accepted])
    if dominated:
        _say(f"errors dominate on {', '.join(dominated)}")
        return 1
    return receipts_code


if __name__ == "__main__":
    raise SystemExit(main())

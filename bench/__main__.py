"""`python -m bench`: Meld's durable submits/s over HTTP against the stack floor (bench.floor:
a bare FastAPI app doing one INSERT of the same row, measured in alternating rounds with
Meld, per backend and number of server processes) and the raw driver, and the Slack
door's ack latency against Bolt's bare dispatch, and the Teams door's form submission
against a bare JWT-validating endpoint, per backend; the identifier guard against a plain
regex scan; the tertial report and digest against the raw GROUP BY (bench/reports_bench);
the receipt latency per channel, from the ack to the fake platform (bench/receipts); the
group's board list against its raw queries (bench/board); full-text search and similar
reports against the raw full-text queries (bench/similar); the category suggestions' top-1
and top-3 accuracy on the labelled set, their training from the database and time per
suggestion against a plain lookup of the text's stems (bench/suggest)."""

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
from bench.floor import running_floor
from bench.load import BenchFailed, Client, LoadResult, merged, run_load
from bench.report import (
    BackendResult,
    ServerSide,
    SlackResult,
    load_json,
    print_floor_summary,
    print_slack_table,
    print_table,
    print_targets,
    write_json,
)
from bench.server import REPO, Server, cpu_seconds, memory_mb, running_server, settle
from bench.slack import bench_slack
from bench.submit import http_client, probe
from bench.teams import TeamsResult, bench_teams

WORK_DIR = REPO / "var" / "bench"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--seconds", type=float, default=5.0,
                   help="length of each submit load round, and of the raw driver's load "
                   "(default: 5)")
    p.add_argument("--rounds", type=int, default=4,
                   help="submit load rounds, alternating Meld and the floor, Meld first; "
                   "each side's rounds are summed (default: 4)")
    p.add_argument("--workers", type=_worker_counts, default=[1],
                   help="server processes of Meld (MELD_WORKERS) and of the floor; a list "
                   "such as 1,2 measures each (default: 1)")
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
                                      "receipts", "mailbox", "board", "similar", "suggest"],
                   default="all",
                   help="which phases: durable submits, Slack acks, reports, Teams, the "
                   "identifier guard, receipt latency per channel, the board's list, "
                   "search and similar, the category suggestions (default: all)")
    p.add_argument("--board-rows", type=int, default=100_000,
                   help="synthetic reports for the board list bench (default: 100000)")
    p.add_argument("--similar-rows", type=int, default=100_000,
                   help="synthetic reports for the search and similar bench (default: 100000)")
    p.add_argument("--suggest-rows", type=int, default=100_000,
                   help="synthetic reports for the category suggestion bench (default: 100000)")
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
    args = p.parse_args(argv)
    if args.rounds < 2 or args.rounds % 2:
        p.error("--rounds must be even and at least 2")
    return args


def _worker_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("server processes must be at least 1")
    return counts


def _say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


class _Rounds:
    """One server's share of the alternating rounds: its loads and its CPU."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.loads: list[LoadResult] = []
        self.cpu_s = 0.0
        self.cpu_load_s = 0.0
        self.rss_before_mb = memory_mb(server.pid)["VmRSS"]

    def run(self, client: Client, load: dict[str, Any]) -> None:
        pid = self.server.pid
        settle(pid)
        start: list[float] = []
        result = run_load(client, **load, on_start=lambda: start.append(cpu_seconds(pid)))
        during = cpu_seconds(pid) - start[0]
        settle(pid)  # what the load left behind (the outbox's receipts) counts too
        self.loads.append(result)
        self.cpu_load_s += during
        self.cpu_s += cpu_seconds(pid) - start[0]

    def side(self) -> ServerSide:
        after = memory_mb(self.server.pid)
        return ServerSide(load=merged(self.loads), cpu_s=self.cpu_s,
                          cpu_load_s=self.cpu_load_s, rss_before_mb=self.rss_before_mb,
                          rss_idle_mb=after["VmRSS"], rss_peak_mb=after["VmHWM"])


def bench_floor(backend: str, workers: int, dbs: AbstractContextManager[list[BenchDatabase]],
                args: argparse.Namespace) -> tuple[ServerSide, ServerSide]:
    """Meld and the floor, each on a fresh database and with `workers` processes, both up;
    loaded in turn (Meld, floor, Meld, ...), each round after the other server went idle."""
    load = {"clients": args.clients, "seconds": args.seconds, "max_ops": args.requests}
    tag = f"{backend}-w{workers}"
    with dbs as (meld_db, floor_db):
        _say(f"{tag}: starting Meld and the floor, {workers} process(es) each")
        with running_server(meld_db.url, WORK_DIR / f"server-{tag}.log",
                            workers=workers) as meld_server, \
                running_floor(floor_db.url, WORK_DIR / f"floor-{tag}.log",
                              workers=workers) as floor_server:
            sides = {}
            for name, server in (("Meld", meld_server), ("floor", floor_server)):
                probe(server.base_url)
                settle(server.pid)  # every worker process has started
                sides[name] = _Rounds(server)
            for i in range(args.rounds):
                name = ("Meld", "floor")[i % 2]
                _say(f"{tag}: round {i + 1}/{args.rounds}: {name}, {args.clients} clients, "
                     f"{args.seconds:g} s or {args.requests} requests")
                sides[name].run(http_client(sides[name].server.base_url), load)
            _say(f"{tag}: idle {args.idle_seconds:g} s")
            time.sleep(args.idle_seconds)
            return sides["Meld"].side(), sides["floor"].side()


def bench_raw(backend: str, dbs: AbstractContextManager[list[BenchDatabase]],
              args: argparse.Namespace) -> LoadResult:
    with dbs as (raw_db,):
        raw_client: Client
        if backend == "sqlite":
            assert raw_db.path is not None
            raw_client = sqlite_client(raw_db.path)
        else:
            assert raw_db.conninfo is not None
            raw_client = postgres_client(raw_db.conninfo)
        _say(f"{backend}: raw driver baseline")
        return run_load(raw_client, clients=args.clients, seconds=args.seconds,
                        max_ops=args.requests)


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
    raws: dict[str, LoadResult] = {}
    failures: dict[str, str] = {}
    if args.only in ("all", "submit"):
        for backend in backends:
            try:
                raws[backend] = bench_raw(backend, databases(backend, 1), args)
                for workers in args.workers:
                    meld, floor = bench_floor(backend, workers, databases(backend, 2), args)
                    results.append(BackendResult(
                        backend=backend, workers=workers, rounds=args.rounds, meld=meld,
                        floor=floor, raw=raws[backend]))
            except (BenchFailed, psycopg.Error, SQLAlchemyError) as exc:
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
    if results:
        print_floor_summary(results)
    for slack_result in slack_results:
        print_slack_table(slack_result)
    if args.only in ("all", "submit"):
        targets = [t for r in results for t in r.targets()]
        print_targets(targets, {**skipped, **{b: "failed (see above)" for b in failures}})
        by_backend: dict[str, Any] = {
            b: {"raw": load_json(raw), "workers": {}} for b, raw in raws.items()}
        for r in results:
            by_backend[r.backend]["workers"][str(r.workers)] = r.as_json()
        write_json(args.out, _document(
            {"clients": args.clients, "seconds": args.seconds, "rounds": args.rounds,
             "workers": args.workers, "max_requests": args.requests,
             "idle_seconds": args.idle_seconds},
            backends=by_backend, targets=targets, skipped=skipped, failures=failures))
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

    suggest_code = 0
    if args.only in ("all", "suggest"):
        from bench import suggest

        _say(f"suggest: accuracy on the labelled set, then {args.suggest_rows} synthetic "
             "reports: training from the database and time per suggestion")
        suggest_code = suggest.main(["--rows", str(args.suggest_rows),
                                     "--backend", args.backend])

    if (failures or slack_failures or teams_failures or reports_code or board_code
            or similar_code or suggest_code or receipts_code == 2):
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

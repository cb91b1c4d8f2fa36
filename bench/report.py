"""Figures per backend: the table, the targets block and var/bench/submit.json.

The submit phase compares Meld with the stack floor (bench.floor: the least a FastAPI
service does for the same submit) per backend and number of server processes, and with the
raw driver (bench.baseline) per backend."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load import LoadResult

RATIO_TARGET = 0.5  # Meld submits/s at least half of the raw driver's
P99_TARGET_MS = 50.0  # at 20 concurrent clients
FLOOR_THROUGHPUT_TARGET = 0.8  # Meld submits/s at least 0.8 of the floor's
FLOOR_CPU_TARGET = 1.25  # Meld's server CPU per submit at most 1.25 times the floor's
FLOOR_P99_TARGET = 1.0  # Meld's p99 no longer than the floor's

LABELS = {"sqlite": ("SQLite", "raw sqlite3"), "postgresql": ("PostgreSQL", "raw psycopg")}


@dataclass
class ServerSide:
    """One server (Meld or the floor) over its rounds: the loads summed, its process tree's
    CPU and memory."""

    load: LoadResult
    cpu_s: float  # CPU during the loads and until the server was idle again after each
    cpu_load_s: float  # CPU during the loads only
    rss_before_mb: float
    rss_idle_mb: float
    rss_peak_mb: float

    @property
    def cpu_ms_per_submit(self) -> float | None:
        return self.cpu_s / self.load.ok * 1000 if self.load.ok else None

    @property
    def cpu_load_ms_per_submit(self) -> float | None:
        return self.cpu_load_s / self.load.ok * 1000 if self.load.ok else None

    @property
    def cpu_percent(self) -> float:
        """Of one core, during the loads."""
        return self.cpu_load_s / self.load.elapsed_s * 100 if self.load.elapsed_s else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            **load_json(self.load),
            "server_cpu": {"ms_per_submit": _round(self.cpu_ms_per_submit, 3),
                           "ms_per_submit_during_load": _round(self.cpu_load_ms_per_submit, 3),
                           "percent_of_one_core": round(self.cpu_percent, 1)},
            "server_rss_mb": {"before_load": round(self.rss_before_mb, 1),
                              "idle_after_load": round(self.rss_idle_mb, 1),
                              "peak": round(self.rss_peak_mb, 1)},
        }


@dataclass
class BackendResult:
    backend: str
    workers: int  # server processes, of Meld and of the floor
    rounds: int  # load rounds per server, alternating Meld and the floor
    meld: ServerSide
    floor: ServerSide
    raw: LoadResult  # per backend, not per number of processes: the same for each

    @property
    def ratio(self) -> float | None:
        """Meld/raw throughput."""
        return ratio(self.meld.load.throughput, self.raw.throughput)

    @property
    def floor_ratios(self) -> dict[str, float | None]:
        """Meld/floor: throughput, server CPU per submit, p50 and p99 latency."""
        m, f = self.meld, self.floor
        return {
            "per_second": ratio(m.load.throughput, f.load.throughput),
            "cpu_per_submit": ratio(m.cpu_ms_per_submit, f.cpu_ms_per_submit),
            "p50": ratio(m.load.percentile_ms(50), f.load.percentile_ms(50)),
            "p99": ratio(m.load.percentile_ms(99), f.load.percentile_ms(99)),
        }

    @property
    def errors_dominate(self) -> bool:
        return any(r.error_count > r.ok for r in (self.meld.load, self.floor.load, self.raw))

    def targets(self) -> list[dict[str, Any]]:
        p99 = self.meld.load.percentile_ms(99)
        fr = self.floor_ratios
        procs = f"{self.workers} process{'' if self.workers == 1 else 'es'}"
        base = {"backend": self.backend, "workers": self.workers}
        return [
            {**base, "target": f"Meld/floor throughput >= {FLOOR_THROUGHPUT_TARGET} ({procs})",
             "value": fr["per_second"],
             "met": fr["per_second"] is not None
             and fr["per_second"] >= FLOOR_THROUGHPUT_TARGET},
            {**base, "target": f"Meld/floor CPU per submit <= {FLOOR_CPU_TARGET} ({procs})",
             "value": fr["cpu_per_submit"],
             "met": fr["cpu_per_submit"] is not None
             and fr["cpu_per_submit"] <= FLOOR_CPU_TARGET},
            {**base, "target": f"Meld/floor p99 <= {FLOOR_P99_TARGET:g} ({procs})",
             "value": fr["p99"], "met": fr["p99"] is not None and fr["p99"] <= FLOOR_P99_TARGET},
            {**base, "target": f"Meld/raw throughput >= {RATIO_TARGET} ({procs})",
             "value": _round(self.ratio, 3),
             "met": self.ratio is not None and self.ratio >= RATIO_TARGET},
            {**base, "target": f"p99 submit latency < {P99_TARGET_MS:.0f} ms "
                               f"({self.meld.load.clients} clients, {procs})",
             "value": _round(p99, 1), "met": p99 is not None and p99 < P99_TARGET_MS},
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            "workers": self.workers,
            "rounds": self.rounds,
            "meld": self.meld.as_json(),
            "floor": self.floor.as_json(),
            "ratio_meld_over_floor": self.floor_ratios,
            "ratio_meld_over_raw": _round(self.ratio, 3),
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def load_json(r: LoadResult) -> dict[str, Any]:
    return {
        "clients": r.clients, "ok": r.ok, "errors": dict(r.errors),
        "elapsed_s": round(r.elapsed_s, 3), "per_second": round(r.throughput, 1),
        "p50_ms": _round(r.percentile_ms(50), 2), "p99_ms": _round(r.percentile_ms(99), 2),
        "max_ms": _round(max(r.latencies_ms, default=None), 2),
    }


def fmt(value: float | None, spec: str = ".1f") -> str:
    """A figure for the tables ("-" for none); every bench prints with this."""
    return "-" if value is None else format(value, spec)


def print_table(result: BackendResult) -> None:
    title, raw_label = LABELS[result.backend]
    m, f, r = result.meld, result.floor, result.raw
    ml, fl = m.load, f.load
    fr = result.floor_ratios
    procs = f"{result.workers} server process{'' if result.workers == 1 else 'es'}"
    rows: list[tuple[str, str, str, str, str]] = [
        ("durable submits/s", fmt(ml.throughput), fmt(fl.throughput), fmt(r.throughput),
         fmt(fr["per_second"], ".2f")),
        ("ok (201 / committed)", str(ml.ok), str(fl.ok), str(r.ok), ""),
        ("errors", str(ml.error_count), str(fl.error_count), str(r.error_count), ""),
        ("elapsed s", fmt(ml.elapsed_s, ".2f"), fmt(fl.elapsed_s, ".2f"),
         fmt(r.elapsed_s, ".2f"), ""),
        ("latency p50 ms", fmt(ml.percentile_ms(50), ".2f"), fmt(fl.percentile_ms(50), ".2f"),
         fmt(r.percentile_ms(50), ".2f"), fmt(fr["p50"], ".2f")),
        ("latency p99 ms", fmt(ml.percentile_ms(99), ".2f"), fmt(fl.percentile_ms(99), ".2f"),
         fmt(r.percentile_ms(99), ".2f"), fmt(fr["p99"], ".2f")),
        ("latency max ms", fmt(max(ml.latencies_ms, default=None), ".2f"),
         fmt(max(fl.latencies_ms, default=None), ".2f"),
         fmt(max(r.latencies_ms, default=None), ".2f"), ""),
        ("server CPU ms/submit", fmt(m.cpu_ms_per_submit, ".3f"),
         fmt(f.cpu_ms_per_submit, ".3f"), "", fmt(fr["cpu_per_submit"], ".2f")),
        ("  of it during the load", fmt(m.cpu_load_ms_per_submit, ".3f"),
         fmt(f.cpu_load_ms_per_submit, ".3f"), "",
         fmt(ratio(m.cpu_load_ms_per_submit, f.cpu_load_ms_per_submit), ".2f")),
        ("server CPU % of one core", fmt(m.cpu_percent, ".0f"), fmt(f.cpu_percent, ".0f"),
         "", ""),
        ("server RSS MB idle", fmt(m.rss_idle_mb), fmt(f.rss_idle_mb), "", ""),
        ("server RSS MB peak", fmt(m.rss_peak_mb), fmt(f.rss_peak_mb), "", ""),
    ]
    per_side = result.rounds // 2
    print(f"\n{title}: {ml.clients} concurrent clients, {procs}; Meld and the floor in "
          f"{result.rounds} alternating rounds ({per_side} each, summed)")
    print(f"  {'':<26}{'Meld (HTTP)':>13}{'floor (HTTP)':>14}{raw_label:>13}{'Meld/floor':>12}")
    for name, a, b, c, d in rows:
        print(f"  {name:<26}{a:>13}{b:>14}{c:>13}{d:>12}")
    print(f"  {'Meld / raw throughput':<26}{fmt(result.ratio, '.3f'):>13}")
    for label, load in (("Meld", ml), ("floor", fl), (raw_label, r)):
        if load.errors:
            detail = ", ".join(f"{k} x{v}" for k, v in load.errors.most_common())
            print(f"  {label} errors: {detail}")


def print_floor_summary(results: list[BackendResult]) -> None:
    """Meld against the floor, one line per backend and number of server processes."""
    print("\nMeld vs floor (server CPU: the process tree's, per submit)")
    print(f"  {'':<11}{'procs':>5}{'submits/s':>17}{'p50 ms':>15}{'p99 ms':>15}"
          f"{'CPU ms/submit':>15}{'ratios Meld/floor':>24}")
    print(f"  {'':<16}{'Meld':>8}{'floor':>9}{'Meld':>7}{'floor':>8}{'Meld':>7}{'floor':>8}"
          f"{'Meld':>7}{'floor':>8}{'thru':>8}{'CPU':>8}{'p99':>8}")
    for res in results:
        m, f = res.meld, res.floor
        fr = res.floor_ratios
        print(f"  {LABELS[res.backend][0]:<11}{res.workers:>5}"
              f"{fmt(m.load.throughput, '.0f'):>8}{fmt(f.load.throughput, '.0f'):>9}"
              f"{fmt(m.load.percentile_ms(50), '.1f'):>7}"
              f"{fmt(f.load.percentile_ms(50), '.1f'):>8}"
              f"{fmt(m.load.percentile_ms(99), '.1f'):>7}"
              f"{fmt(f.load.percentile_ms(99), '.1f'):>8}"
              f"{fmt(m.cpu_ms_per_submit, '.2f'):>7}{fmt(f.cpu_ms_per_submit, '.2f'):>8}"
              f"{fmt(fr['per_second'], '.2f'):>8}{fmt(fr['cpu_per_submit'], '.2f'):>8}"
              f"{fmt(fr['p99'], '.2f'):>8}")


def print_targets(targets: list[dict[str, Any]], skipped: dict[str, str],
                  title: str = "Targets") -> None:
    print(f"\n{title}")
    width = max([42, *(len(t["target"]) for t in targets)])
    for t in targets:
        print(f"  {LABELS[t['backend']][0]:<11} {t['target']:<{width}} "
              f"{fmt(t['value'], 'g'):>8}  {'met' if t['met'] else 'NOT MET'}")
    for backend, why in skipped.items():
        print(f"  {LABELS[backend][0]:<11} not measured: {why}")


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------- the Slack phase

SLACK_LIMIT_MS = 3000.0  # Slack shows the user an error when the ack takes longer
SLACK_P99_TARGET_MS = 50.0
BOLT_P99_FACTOR = 2.0  # an ack's p99 against bare Bolt's, at the same load
SLACK_KINDS = (("command", "/meld command (the HTTP response is the ack)"),
               ("view", "meld_report submission (store + ack)"))
# the bare Bolt that does what every door must, per kind (its key in server_cpu_s)
WITH_WORK = {"command": "modal", "view": "store"}


@dataclass
class SlackResult:
    backend: str
    meld_command: LoadResult
    bolt_command: LoadResult
    meld_view: LoadResult
    bolt_view: LoadResult
    # bare Bolt whose /meld also opens Meld's blank form (views.open) after the ack
    modal_command: LoadResult
    # the same bare Bolt's meld_report: it stores the stack floor's row before the ack
    store_view: LoadResult
    server_cpu_s: dict[str, float]  # "meld_command", "bolt_view", ...: during each load
    commands_acked: int  # Meld's 200s to /meld, warm-up and probe included
    views_opened: int  # views.open calls the fake received meanwhile
    views_open_drain_s: float  # after the command load, until they had all arrived
    views_cleared: int  # Meld's {"response_action": "clear"} acks, warm-up and probe included
    views_sent: int
    stored: int  # rows with channel 'slack' after the load
    stored_distinct_keys: int
    fake_calls: dict[str, int]  # Web API calls from Meld (during its whole life)
    fake_failed: dict[str, int]
    bolt_fake_calls: dict[str, int]
    modal_views_opened: int  # views.open calls from the bare Bolt that opens the form
    rss_before_mb: float
    rss_after_mb: float
    rss_peak_mb: float
    log_problems: list[str]

    def loads(self, kind: str) -> tuple[LoadResult, LoadResult]:
        return ((self.meld_command, self.bolt_command) if kind == "command"
                else (self.meld_view, self.bolt_view))

    def cpu_ms_per_request(self, who: str, kind: str) -> float | None:
        """Server CPU per request of "meld", "bolt", "modal" (bare Bolt with the form, for
        /meld) or "store" (the same bare Bolt storing, for meld_report)."""
        load = (self.modal_command if who == "modal" else self.store_view if who == "store"
                else self.loads(kind)[0 if who == "meld" else 1])
        cpu = self.server_cpu_s[f"{who}_{kind}"]
        return cpu / load.ok * 1000 if load.ok else None

    def with_work(self, kind: str) -> tuple[LoadResult, str]:
        """The bare Bolt that does what every door must for `kind`, and its short name."""
        return (self.modal_command, "form") if kind == "command" else (self.store_view, "store")

    def cpu_with_receipts_ms(self) -> float | None:
        """Meld's server CPU per submission from the load's start until every receipt DM
        was sent (the outbox sends them after the acks, and catches up after the load)."""
        cpu = self.server_cpu_s.get("meld_view_with_receipts")
        return cpu / self.meld_view.ok * 1000 if cpu is not None and self.meld_view.ok else None

    @property
    def stored_ok(self) -> bool:
        return self.stored == self.views_cleared == self.stored_distinct_keys

    @property
    def errors_dominate(self) -> bool:
        return any(r.error_count > r.ok for kind, _ in SLACK_KINDS for r in self.loads(kind))

    def targets(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for kind, name in (("command", "/meld ack"), ("view", "meld_report ack")):
            meld = self.loads(kind)[0]
            worst = max(meld.latencies_ms, default=None)
            p99 = meld.percentile_ms(99)
            out += [
                {"backend": self.backend, "target": f"{name} max < {SLACK_LIMIT_MS:.0f} ms "
                                                    f"(Slack's limit)",
                 "value": _round(worst, 1),
                 "met": worst is not None and worst < SLACK_LIMIT_MS},
                {"backend": self.backend,
                 "target": f"{name} p99 < {SLACK_P99_TARGET_MS:.0f} ms ({meld.clients} clients)",
                 "value": _round(p99, 1), "met": p99 is not None and p99 < SLACK_P99_TARGET_MS},
                {"backend": self.backend, "target": f"{name}: no errors",
                 "value": meld.error_count, "met": meld.error_count == 0},
                {"backend": self.backend, "target": f"{name} p99 <= {BOLT_P99_FACTOR:g}x bare "
                                                    f"Bolt's ({meld.clients} clients)",
                 "value": ratio(p99, self.loads(kind)[1].percentile_ms(99), 2),
                 "met": _within(p99, self.loads(kind)[1].percentile_ms(99), BOLT_P99_FACTOR)},
            ]
            fair, what = self.with_work(kind)
            out.append({"backend": self.backend,
                        "target": f"{name} p99 <= {BOLT_P99_FACTOR:g}x Bolt+{what}'s "
                                  f"({meld.clients} clients)",
                        "value": ratio(p99, fair.percentile_ms(99), 2),
                        "met": _within(p99, fair.percentile_ms(99), BOLT_P99_FACTOR)})
        out.append({"backend": self.backend, "target": "meld_report: rows stored = 'clear' acks",
                    "value": self.stored, "met": self.stored_ok})
        return out

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for kind, _ in SLACK_KINDS:
            meld, bolt = self.loads(kind)
            out[kind] = {
                "meld": {**load_json(meld), "over_slack_limit": _over(meld),
                         "server_cpu_ms_per_request":
                             _round(self.cpu_ms_per_request("meld", kind), 2)},
                "bare_bolt": {**load_json(bolt), "over_slack_limit": _over(bolt),
                              "server_cpu_ms_per_request":
                                  _round(self.cpu_ms_per_request("bolt", kind), 2)},
                "ratio_meld_over_bolt": {
                    "per_second": ratio(meld.throughput, bolt.throughput),
                    "p50": ratio(meld.percentile_ms(50), bolt.percentile_ms(50)),
                    "p99": ratio(meld.percentile_ms(99), bolt.percentile_ms(99)),
                },
            }
        out["view"]["meld"]["server_cpu_ms_with_receipt_dm"] = _round(
            self.cpu_with_receipts_ms(), 2)
        for kind, _ in SLACK_KINDS:
            meld = self.loads(kind)[0]
            fair, what = self.with_work(kind)
            who = WITH_WORK[kind]
            out[kind][f"bare_bolt_with_{what}"] = {
                **load_json(fair),
                "server_cpu_ms_per_request": _round(self.cpu_ms_per_request(who, kind), 2)}
            out[kind][f"ratio_meld_over_bolt_with_{what}"] = {
                "per_second": ratio(meld.throughput, fair.throughput),
                "p99": ratio(meld.percentile_ms(99), fair.percentile_ms(99)),
                "server_cpu": ratio(self.cpu_ms_per_request("meld", kind),
                                    self.cpu_ms_per_request(who, kind)),
            }
        out["command"]["bare_bolt_with_form"]["views_opened"] = self.modal_views_opened
        out["checks"] = {
            "commands_acked": self.commands_acked, "views_opened": self.views_opened,
            "views_open_backlog_s": round(self.views_open_drain_s, 2),
            "views_sent": self.views_sent, "views_cleared": self.views_cleared,
            "reports_stored": self.stored, "distinct_view_ids_stored": self.stored_distinct_keys,
            "stored_matches_acks": self.stored_ok,
        }
        out["fake_slack_calls"] = {"from_meld": self.fake_calls,
                                   "from_meld_not_ok": self.fake_failed,
                                   "from_bare_bolt": self.bolt_fake_calls}
        out["meld_server_rss_mb"] = {"before_load": round(self.rss_before_mb, 1),
                                     "after_load": round(self.rss_after_mb, 1),
                                     "peak": round(self.rss_peak_mb, 1)}
        out["log_problems"] = self.log_problems
        return out


def _within(value: float | None, base: float | None, factor: float) -> bool:
    return value is not None and base is not None and value <= factor * base


def _over(load: LoadResult) -> int:
    return sum(1 for ms in load.latencies_ms if ms >= SLACK_LIMIT_MS)


def ratio(a: float | None, b: float | None, digits: int = 3) -> float | None:
    """a / b, rounded; None when either is missing (or b is 0)."""
    return None if a is None or not b else round(a / b, digits)


def _print_with_work(result: SlackResult, kind: str) -> None:
    """Meld against a bare Bolt that also does what no door can leave out: /meld opens
    Meld's blank form after the ack, meld_report stores the floor's row before it."""
    m = result.loads(kind)[0]
    f, what = result.with_work(kind)
    who = WITH_WORK[kind]
    cpu_m = result.cpu_ms_per_request("meld", kind)
    cpu_f = result.cpu_ms_per_request(who, kind)
    print(f"    {'':<26}{'Meld':>12}{'Bolt+' + what:>12}{'Meld/' + what:>11}")
    for name, a, b in (("acks/s", m.throughput, f.throughput),
                       ("ack p50 ms", m.percentile_ms(50), f.percentile_ms(50)),
                       ("ack p99 ms", m.percentile_ms(99), f.percentile_ms(99)),
                       ("server CPU ms/request", cpu_m, cpu_f)):
        print(f"    {name:<26}{fmt(a, '.2f'):>12}{fmt(b, '.2f'):>12}"
              f"{fmt(ratio(a, b), '.2f'):>11}")
    if kind == "command":
        print(f"    (Bolt+form: bare Bolt whose /meld opens Meld's blank form after the ack; "
              f"{result.modal_views_opened} views.open)")
    else:
        print("    (Bolt+store: bare Bolt whose meld_report stores the stack floor's row, "
              "durably, before the ack)")


def print_slack_table(result: SlackResult) -> None:
    title = LABELS[result.backend][0]
    clients = result.meld_command.clients
    print(f"\n{title}: Slack door (POST /slack/events), {clients} concurrent "
          f"client{'' if clients == 1 else 's'}")
    print(f"  {'':<28}{'Meld':>12}{'bare Bolt':>12}{'Meld/Bolt':>11}")
    for kind, heading in SLACK_KINDS:
        m, b = result.loads(kind)
        rows: list[tuple[str, str, str, str]] = [
            ("acks/s", fmt(m.throughput), fmt(b.throughput),
             fmt(ratio(m.throughput, b.throughput), ".2f")),
            ("ok", str(m.ok), str(b.ok), ""),
            ("errors (non-200, bad ack)", str(m.error_count), str(b.error_count), ""),
        ]
        for p in (50, 99):
            rows.append((f"ack p{p} ms", fmt(m.percentile_ms(p), ".2f"),
                         fmt(b.percentile_ms(p), ".2f"),
                         fmt(ratio(m.percentile_ms(p), b.percentile_ms(p)), ".2f")))
        rows += [
            ("ack max ms", fmt(max(m.latencies_ms, default=None), ".2f"),
             fmt(max(b.latencies_ms, default=None), ".2f"), ""),
            (f"acks >= {SLACK_LIMIT_MS / 1000:g} s", str(_over(m)), str(_over(b)), ""),
            ("server CPU ms/request", fmt(result.cpu_ms_per_request("meld", kind), ".2f"),
             fmt(result.cpu_ms_per_request("bolt", kind), ".2f"), ""),
        ]
        if kind == "view":
            rows.append(("... with its receipt DM", fmt(result.cpu_with_receipts_ms(), ".2f"),
                         "", ""))
        print(f"  {heading}")
        for name, a, bb, r in rows:
            print(f"    {name:<26}{a:>12}{bb:>12}{r:>11}")
        _print_with_work(result, kind)
        for label, load in (("Meld", m), ("bare Bolt", b)):
            if load.errors:
                detail = ", ".join(f"{k} x{v}" for k, v in load.errors.most_common())
                print(f"    {label} errors: {detail}")
    print(f"  views.open after /meld acks: {result.views_opened} for {result.commands_acked} "
          f"acks (all in {result.views_open_drain_s:.1f} s after the load)")
    print(f"  reports stored: {result.stored} rows, {result.stored_distinct_keys} distinct view "
          f"ids, for {result.views_cleared} 'clear' acks of {result.views_sent} submissions "
          f"(warm-up and probe included): {'ok' if result.stored_ok else 'MISMATCH'}")
    calls = ", ".join(f"{k} {v}" for k, v in sorted(result.fake_calls.items()))
    print(f"  fake Slack calls from Meld: {calls or 'none'}")
    if result.fake_failed:
        failed = ", ".join(f"{k} {v}" for k, v in sorted(result.fake_failed.items()))
        print(f"  ... answered ok=false: {failed}")
    print(f"  Meld server RSS MB: before load {result.rss_before_mb:.1f}, "
          f"after {result.rss_after_mb:.1f}, peak {result.rss_peak_mb:.1f}")
    for line in result.log_problems:
        print(f"  log: {line}")

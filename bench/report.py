"""Figures per backend: the table, the targets block and var/bench/submit.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load import LoadResult

RATIO_TARGET = 0.5  # Meld submits/s at least half of the raw driver's
P99_TARGET_MS = 50.0  # at 20 concurrent clients

LABELS = {"sqlite": ("SQLite", "raw sqlite3"), "postgresql": ("PostgreSQL", "raw psycopg")}


@dataclass
class BackendResult:
    backend: str
    meld: LoadResult
    raw: LoadResult
    rss_before_mb: float
    rss_idle_mb: float
    rss_peak_mb: float
    server_cpu_s: float  # the server process's CPU time during the Meld load

    @property
    def cpu_ms_per_submit(self) -> float | None:
        return self.server_cpu_s / self.meld.ok * 1000 if self.meld.ok else None

    @property
    def cpu_percent(self) -> float:
        return self.server_cpu_s / self.meld.elapsed_s * 100 if self.meld.elapsed_s else 0.0

    @property
    def ratio(self) -> float | None:
        return self.meld.throughput / self.raw.throughput if self.raw.throughput else None

    @property
    def errors_dominate(self) -> bool:
        return any(r.error_count > r.ok for r in (self.meld, self.raw))

    def targets(self) -> list[dict[str, Any]]:
        p99 = self.meld.percentile_ms(99)
        return [
            {"backend": self.backend, "target": f"Meld/raw throughput >= {RATIO_TARGET}",
             "value": _round(self.ratio, 3),
             "met": self.ratio is not None and self.ratio >= RATIO_TARGET},
            {"backend": self.backend,
             "target": f"p99 submit latency < {P99_TARGET_MS:.0f} ms "
                       f"({self.meld.clients} clients)",
             "value": _round(p99, 1), "met": p99 is not None and p99 < P99_TARGET_MS},
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            "meld": _load_json(self.meld),
            "raw": _load_json(self.raw),
            "ratio_meld_over_raw": _round(self.ratio, 3),
            "server_rss_mb": {"before_load": round(self.rss_before_mb, 1),
                              "idle_after_load": round(self.rss_idle_mb, 1),
                              "peak": round(self.rss_peak_mb, 1)},
            "server_cpu": {"ms_per_submit": _round(self.cpu_ms_per_submit, 2),
                           "percent_of_one_core": round(self.cpu_percent, 1)},
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _load_json(r: LoadResult) -> dict[str, Any]:
    return {
        "clients": r.clients, "ok": r.ok, "errors": dict(r.errors),
        "elapsed_s": round(r.elapsed_s, 3), "per_second": round(r.throughput, 1),
        "p50_ms": _round(r.percentile_ms(50), 2), "p99_ms": _round(r.percentile_ms(99), 2),
        "max_ms": _round(max(r.latencies_ms, default=None), 2),
    }


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def print_table(result: BackendResult) -> None:
    title, raw_label = LABELS[result.backend]
    m, r = result.meld, result.raw
    rows: list[tuple[str, str, str]] = [
        ("durable submits/s", _fmt(m.throughput), _fmt(r.throughput)),
        ("ok (201 / committed)", str(m.ok), str(r.ok)),
        ("errors", str(m.error_count), str(r.error_count)),
        ("elapsed s", _fmt(m.elapsed_s, ".2f"), _fmt(r.elapsed_s, ".2f")),
        ("latency p50 ms", _fmt(m.percentile_ms(50), ".2f"), _fmt(r.percentile_ms(50), ".2f")),
        ("latency p99 ms", _fmt(m.percentile_ms(99), ".2f"), _fmt(r.percentile_ms(99), ".2f")),
        ("latency max ms", _fmt(max(m.latencies_ms, default=None), ".2f"),
         _fmt(max(r.latencies_ms, default=None), ".2f")),
    ]
    print(f"\n{title}: {m.clients} concurrent clients")
    print(f"  {'':<24}{'Meld (HTTP)':>14}{raw_label:>16}")
    for name, a, b in rows:
        print(f"  {name:<24}{a:>14}{b:>16}")
    print(f"  {'Meld / raw':<24}{_fmt(result.ratio, '.3f'):>14}")
    print(f"  {'server CPU':<24}{_fmt(result.cpu_ms_per_submit, '.2f')} ms per submit, "
          f"{result.cpu_percent:.0f}% of one core")
    print(f"  {'server RSS MB':<24}before load {result.rss_before_mb:.1f}, "
          f"idle after load {result.rss_idle_mb:.1f}, peak {result.rss_peak_mb:.1f}")
    for label, load in (("Meld", m), (raw_label, r)):
        if load.errors:
            detail = ", ".join(f"{k} x{v}" for k, v in load.errors.most_common())
            print(f"  {label} errors: {detail}")


def print_targets(targets: list[dict[str, Any]], skipped: dict[str, str]) -> None:
    print("\nTargets")
    for t in targets:
        print(f"  {LABELS[t['backend']][0]:<11} {t['target']:<42} "
              f"{_fmt(t['value'], 'g'):>8}  {'met' if t['met'] else 'NOT MET'}")
    for backend, why in skipped.items():
        print(f"  {LABELS[backend][0]:<11} not measured: {why}")


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")

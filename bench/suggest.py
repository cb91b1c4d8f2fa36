"""`python -m bench.suggest`: how good and how quick Meld's category suggestions are.

1. Accuracy on the labelled set (tests/suggest/labelled.py, Norwegian reports written by
   hand): top-1 and top-3 category accuracy and the subcategory named, from the
   taxonomy's words alone (every text) and trained on the group's assessments: k-fold
   over the whole set (`--folds`, every text held out once) and the tests' split (two
   thirds trained, the third held out).
2. Generates `--rows` synthetic reports (default 100,000) with bench.reports_bench's
   generator and bench.similar's texts (a varied Norwegian text per report, its theme's
   words inflected), bulk-loads them with reports_bench's Loader into a fresh migrated
   database per backend (SQLite; PostgreSQL too when MELD_BENCH_POSTGRES_URL or
   MELD_TEST_POSTGRES_URL names a server), then times:
   - `refresh_category_model`: training from the database (the assessed reports, read
     streamed, stemmed and counted), the nightly refresh and the first use's cost;
   - `suggest_category` per text over `--texts` report texts of the database (about 250
     characters) and `--long` texts of 2,000 characters, p50/p99, against the least a
     suggestion can cost, measured on the same texts in the same run: the text's stems
     (intake.domain.textmatch) looked up in a dictionary of the taxonomy's words, the
     category with the most hits. Target: p99 under 20 ms.
   The model trained on the synthetic reports is measured on the labelled set as well
   (written by other hands than the generator's templates).

Prints the figures; writes var/bench/suggest.json.
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
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.exc import SQLAlchemyError

from bench.databases import (
    BenchDatabase,
    one_database,
    select_backends,
)
from bench.load import BenchFailed
from bench.report import LABELS
from bench.reports_bench import Loader, generate
from bench.server import REPO
from bench.similar import DESCRIPTION, write_texts
from intake import services
from intake.domain import textmatch
from intake.domain.suggesting import CategoryModel
from intake.domain.taxonomy import Taxonomy, load_taxonomy
from intake.services import suggesting
from intake.settings import Settings
from tests.suggest import measuring
from tests.suggest.labelled import FRESH, LABELLED

WORK_DIR = REPO / "var" / "bench"
SECRET_KEY = "bench" * 7
TARGET_MS = 20.0
LONG_CHARS = 2000


def _say(message: str) -> None:
    print(f"[suggest-bench] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- accuracy


def accuracy(taxonomy: Taxonomy, folds: int) -> dict[str, measuring.Accuracy]:
    return {
        "taxonomy alone, every text": measuring.cross_validate(taxonomy, trained=False),
        f"trained, {folds}-fold": measuring.cross_validate(taxonomy, folds=folds),
        "taxonomy alone, the tests' third held out": measuring.held_out(
            taxonomy, trained=False),
        "trained on two thirds, the third held out": measuring.held_out(taxonomy),
        "taxonomy alone, texts written after its words": measuring.measure(
            CategoryModel.build(taxonomy), FRESH),
    }


def _accuracy_json(a: measuring.Accuracy) -> dict[str, Any]:
    return {"texts": a.texts, "top1": round(a.top1_rate, 3), "top3": round(a.top3_rate, 3),
            "subcategory_right": round(a.sub_rate, 3), "subcategory_named": a.sub_named,
            "subcategory_labelled": a.sub_labelled}


# ---------------------------------------------------------------- timing


class Baseline:
    """The least a suggestion costs: the text's stems looked up in a dictionary of the
    taxonomy's words (stem -> categories), the category with the most hits."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.index: dict[str, set[str]] = {}
        for category in taxonomy.active_categories():
            items = [category, *category.subcategories]
            for text in (t for item in items for t in (item.nb, *item.words)):
                for stem in textmatch.stems(text):
                    self.index.setdefault(stem, set()).add(category.id)

    def __call__(self, text: str) -> str | None:
        hits: Counter[str] = Counter()
        for stem in textmatch.stems(text):
            hits.update(self.index.get(stem, ()))
        return hits.most_common(1)[0][0] if hits else None


def timed(call: Callable[[str], Any], texts: list[str]) -> dict[str, float]:
    """ms per call over the texts: p50, p99, max and mean (after one untimed pass)."""
    for text in texts[:20]:
        call(text)
    spent = []
    for text in texts:
        started = time.perf_counter()
        call(text)
        spent.append((time.perf_counter() - started) * 1000)
    spent.sort()
    return {"p50_ms": round(statistics.median(spent), 3),
            "p99_ms": round(spent[min(len(spent) - 1, int(len(spent) * 0.99))], 3),
            "max_ms": round(spent[-1], 3), "mean_ms": round(statistics.fmean(spent), 3),
            "calls": len(spent)}


def long_texts(texts: list[str], count: int, rng: random.Random) -> list[str]:
    """`count` texts of LONG_CHARS characters, each several report texts run together."""
    out = []
    for _ in range(count):
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < LONG_CHARS:
            parts.append(rng.choice(texts))
        out.append(" ".join(parts)[:LONG_CHARS])
    return out


def run_backend(db: BenchDatabase, data: Any, args: argparse.Namespace,
                taxonomy: Taxonomy) -> dict[str, Any]:
    seconds = Loader(db).load(data, 0, len(data.reports))
    _say(f"{db.backend}: loaded {len(data.reports):,} reports in {seconds:.1f} s")
    settings = Settings(database_url=db.url, secret_key=SECRET_KEY, run_outbox_worker=False)
    ctx = services.build_context(settings)
    try:
        started = time.perf_counter()
        model = suggesting.refresh_category_model(ctx)
        train_s = time.perf_counter() - started
        _say(f"{db.backend}: trained from {model.example_count:,} assessed reports in "
             f"{train_s:.1f} s")
        if suggesting.category_model(ctx) is not model:
            raise BenchFailed("the refreshed model is not the one kept")
        rng = random.Random(args.seed)
        texts = [row[DESCRIPTION] for row in rng.sample(data.reports, args.texts)]
        long = long_texts(texts, args.long, rng)
        baseline = Baseline(taxonomy)
        timings = {}
        for name, items in (("report texts", texts), (f"{LONG_CHARS}-character texts", long)):
            timings[name] = {
                "meld": timed(lambda text: suggesting.suggest_category(ctx, text), items),
                "baseline": timed(baseline, items),
                "mean_chars": round(statistics.fmean(len(t) for t in items)),
            }
        on_labelled = measuring.measure(model, LABELLED)
    finally:
        ctx.db.dispose()
    return {"backend": db.backend, "rows": len(data.reports), "load_seconds": round(seconds, 1),
            "examples": model.example_count, "train_seconds": round(train_s, 2),
            "timings": timings, "labelled_by_synthetic_model": _accuracy_json(on_labelled),
            "labelled_line": on_labelled.line()}


# ---------------------------------------------------------------- printing


def print_accuracy(results: dict[str, measuring.Accuracy]) -> None:
    print(f"\nCategory suggestions on the labelled set ({len(LABELLED)} texts, "
          f"{len({c.category for c in LABELLED})} categories):")
    for name, a in results.items():
        print(f"  {name:<44} {a.line()}")


def print_backend(r: dict[str, Any]) -> None:
    title = LABELS[r["backend"]][0]
    print(f"\n== {title}: {r['rows']:,} reports (bulk load {r['load_seconds']:.1f} s) ==")
    print(f"  refresh_category_model: {r['train_seconds']:.2f} s, from {r['examples']:,} "
          "assessed reports")
    print(f"  {'':<42}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'calls':>7}")
    for name, t in r["timings"].items():
        for side, label in (("meld", "suggest_category"), ("baseline", "baseline lookup")):
            s = t[side]
            print(f"  {label + ', ' + name:<42}{s['p50_ms']:>9.3f}{s['p99_ms']:>9.3f}"
                  f"{s['max_ms']:>9.3f}{s['calls']:>7}")
        ratio = t["meld"]["p50_ms"] / t["baseline"]["p50_ms"] if t["baseline"]["p50_ms"] else 0
        print(f"    ({t['mean_chars']} characters on average; Meld/baseline p50 {ratio:.1f}x)")
    print(f"  the model trained on these reports, on the labelled set: {r['labelled_line']}")


def print_targets(results: list[dict[str, Any]], skipped: dict[str, str]) -> bool:
    print(f"\nTarget: suggest_category p99 under {TARGET_MS:g} ms at "
          f"{max((r['rows'] for r in results), default=0):,} reports")
    met = True
    for r in results:
        worst = max(t["meld"]["p99_ms"] for t in r["timings"].values())
        ok = worst < TARGET_MS
        met &= ok
        print(f"  {LABELS[r['backend']][0]:<11} worst p99 {worst:.2f} ms: "
              f"{'met' if ok else 'NOT met'}")
    for backend, why in skipped.items():
        print(f"  {LABELS[backend][0]:<11} not measured: {why}")
    return met


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.suggest",
                                description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rows", type=int, default=100_000,
                   help="synthetic reports in the database (default: 100000)")
    p.add_argument("--backend", choices=["all", "sqlite", "postgresql"], default="all")
    p.add_argument("--folds", type=int, default=5, help="k of the k-fold (default: 5)")
    p.add_argument("--texts", type=int, default=300,
                   help="report texts suggested for, timed (default: 300)")
    p.add_argument("--long", type=int, default=50,
                   help=f"texts of {LONG_CHARS} characters, timed (default: 50)")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--out", type=Path, default=WORK_DIR / "suggest.json")
    args = p.parse_args(argv)
    if args.rows < 1000 or args.texts < 1 or args.long < 1 or args.folds < 2:
        p.error("--rows at least 1000, --texts and --long at least 1, --folds at least 2")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    taxonomy = load_taxonomy()
    _say(f"accuracy on the labelled set ({len(LABELLED)} texts, {args.folds}-fold)")
    scores = accuracy(taxonomy, args.folds)
    backends, skipped, server_url = select_backends(args.backend)
    _say(f"generating {args.rows:,} reports (seed {args.seed})")
    data = generate(args.rows, seed=args.seed, now=datetime.now(UTC).replace(microsecond=0))
    write_texts(data, args.seed)

    results: list[dict[str, Any]] = []
    failures: dict[str, str] = {}
    for backend in backends:
        try:
            with one_database(backend, server_url, WORK_DIR) as (db,):
                results.append(run_backend(db, data, args, taxonomy))
        except (BenchFailed, psycopg.Error, sqlite3.Error, SQLAlchemyError) as exc:
            failures[backend] = f"{type(exc).__name__}: {exc}"
            _say(f"{backend}: {exc}")

    print_accuracy(scores)
    # the model's own cost, without the database: build from the taxonomy alone
    built = time.perf_counter()
    CategoryModel.build(taxonomy)
    print(f"  (a model from the taxonomy alone is built in "
          f"{(time.perf_counter() - built) * 1000:.0f} ms)")
    for result in results:
        print_backend(result)
    met = print_targets(results, {**skipped, **{b: f"failed: {why}"
                                                 for b, why in failures.items()}})
    total = time.perf_counter() - started
    print(f"\nWhole run: {total:.0f} s.")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {"rows": args.rows, "folds": args.folds, "texts": args.texts,
                     "long": args.long, "seed": args.seed},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "accuracy": {name: _accuracy_json(a) for name, a in scores.items()},
        "results": [{k: v for k, v in r.items() if k != "labelled_line"} for r in results],
        "skipped": skipped, "failures": failures, "seconds": round(total, 1),
    }, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"Figures written to {args.out}")
    if failures:
        return 2
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())

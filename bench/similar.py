"""`python -m bench.similar`: the group's full-text search and its similar reports on a
large history, against the raw full-text query each is built on, per backend.

1. Generates `--rows` synthetic reports over six years (default 100,000) with
   bench.reports_bench's generator (kinds, categories, places, dates, statuses), and
   writes their text here: that generator fills each theme's templates three times at
   the start, so its texts are real Norwegian but only 150 distinct ones at any size
   (each repeated ~670 times at 100,000 rows), too few for a search or a similarity to
   mean anything. Here every report gets its theme's template filled anew (unit, days,
   drug, test, service, weekday), followed by one to three sentences composed from a
   vocabulary of the theme (discharge summaries, notices, medication, referrals,
   messaging, ...) with its nouns inflected (epikrise, epikrisen, epikriser, epikrisene),
   a subject, a circumstance, the patient and the consequence.
2. Bulk-loads them with reports_bench's Loader into a fresh migrated database (SQLite
   executemany, PostgreSQL COPY then VACUUM (ANALYZE)): the FTS5 triggers / the generated
   tsvector fill the index as rows go in. Before measuring, the index must hold them:
   the reports a common word finds in the index are counted against a LIKE over the text.
3. Chooses with `--seed` a fixed set of `--queries` searches of 1-3 words (words of a
   random report's text, as written there) and `--reports` random reports for similar.
   One untimed pass over each set on both sides warms the caches and checks the answers
   (Meld's top 20 against the raw query's).
4. Per set, two closed loads with `--clients` threads (default 1; one connection per
   thread on the raw side), each `--repeat` passes over the set or `--seconds`, whichever
   ends first:
   - search: services.search_reports(query) (limit 20) against the raw full-text query
     alone: SQLite `SELECT rowid FROM reports_fts WHERE reports_fts MATCH '"stem"* AND ...'
     ORDER BY bm25(reports_fts), rowid DESC LIMIT 20` with sqlite3; PostgreSQL
     `SELECT r.id FROM reports r, to_tsquery('norwegian', 'w:* & ...') AS q WHERE
     r.search_vector @@ q ORDER BY ts_rank(r.search_vector, q) DESC, r.id DESC LIMIT 20`
     with psycopg (autocommit);
   - similar: services.similar_reports(reference) (limit 5) against the raw candidate
     query it builds: the OR-query of the report's most telling terms
     (search.match_text), best rank first, LIMIT 120.
   The match text of the raw side is made beforehand with the services' own helpers.
   PostgreSQL: the raw query is never prepared (planned with its values every run). Under
   Meld's engine psycopg prepares a statement from its fifth run on a connection, and
   PostgreSQL gives a prepared statement a generic plan from its sixth execution on when
   it does not look costlier, so a pooled connection runs the services' queries with
   generic plans; a third load runs the raw query that way too (each client warmed up
   past the switch, GENERIC_WARMUP runs, uncounted), and both plans are shown (EXPLAIN
   ANALYZE).
5. Where the time goes, one client: the services' steps timed apart (their functions
   wrapped for one pass over the searches and the first ten reports), the query plans of
   every statement they run (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN), and with
   `--profile` a cProfile of similar_reports over the ten (top 15 by own time).

Prints p50/p99 and the ratio per backend; writes var/bench/similar.json. PostgreSQL
needs MELD_BENCH_POSTGRES_URL or MELD_TEST_POSTGRES_URL (a server URL); the database is
created and dropped again.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import itertools
import json
import os
import platform
import pstats
import random
import sqlite3
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError

from bench.databases import (
    BenchDatabase,
    one_database,
    select_backends,
)
from bench.load import OK, BenchFailed, Client, LoadResult, Operation, run_load
from bench.report import LABELS, fmt, ratio
from bench.reports_bench import Dataset, Loader, generate
from bench.server import REPO
from intake import services
from intake.domain import textmatch
from intake.domain.model import Actor, Role
from intake.ops import demo
from intake.ops.demo_texts import TEXTS
from intake.services import search as search_module
from intake.services import similarity as similarity_module
from intake.settings import Settings

WORK_DIR = REPO / "var" / "bench"
SECRET_KEY = "bench" * 7
ACTOR = Actor("cli:bench", Role.TRIAGER)
SEARCH_LIMIT = 20  # search_reports' default
TEXT_CANDIDATES = similarity_module.TEXT_CANDIDATES  # 120
DESCRIPTION = 5  # the description's place in a generated report row (REPORT_COLUMNS)
# psycopg prepares at the 5th run, PostgreSQL plans the next five with their values, then
# may go generic: a raw client running prepared is warmed up this many runs first
GENERIC_WARMUP = 12
# a word most reports about discharge summaries hold, to see that the index is filled
PROBE_WORD = "epikrise"
VERIFY_SIMILAR = 5  # Meld's similar in the checking pass: the first few reports
STEP_ITEMS = 10  # similar's steps and profile: one pass over the first ten reports
REST = "the rest: sessions, the ORM rows, Python between"

RAW_SQL = {
    "sqlite": "SELECT rowid FROM reports_fts WHERE reports_fts MATCH ? "
              "ORDER BY bm25(reports_fts), rowid DESC LIMIT {limit}",
    # the statement intake.services.search.ranked_ids runs (its query in FROM)
    "postgresql": "SELECT r.id FROM reports r, to_tsquery('norwegian'::regconfig, %s) AS q "
                  "WHERE r.search_vector @@ q ORDER BY ts_rank(r.search_vector, q) DESC, "
                  "r.id DESC LIMIT {limit}",
}
COUNT_SQL = {
    "sqlite": "SELECT count(*) FROM reports_fts WHERE reports_fts MATCH ?",
    "postgresql": "SELECT count(*) FROM reports "
                  "WHERE search_vector @@ to_tsquery('norwegian', %s)",
}


def _say(message: str) -> None:
    print(f"[similar-bench] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the text of the reports

# nouns: (indefinite singular with its article, definite singular, indefinite plural,
# definite plural)
Noun = tuple[str, str, str, str]
TOPICS: dict[str, tuple[Noun, ...]] = {
    "discharge_summary": (
        ("en epikrise", "epikrisen", "epikriser", "epikrisene"),
        ("et sammendrag", "sammendraget", "sammendrag", "sammendragene"),
        ("et journalnotat", "journalnotatet", "journalnotater", "journalnotatene"),
        ("et poliklinisk notat", "det polikliniske notatet", "polikliniske notater",
         "de polikliniske notatene"),
        ("en foreløpig epikrise", "den foreløpige epikrisen", "foreløpige epikriser",
         "de foreløpige epikrisene"),
    ),
    "discharge_notice": (
        ("en utskrivningsmelding", "utskrivningsmeldingen", "utskrivningsmeldinger",
         "utskrivningsmeldingene"),
        ("et varsel", "varselet", "varsler", "varslene"),
        ("en pleierapport", "pleierapporten", "pleierapporter", "pleierapportene"),
        ("en melding om utskrivningsklar pasient", "meldingen om utskrivningsklar pasient",
         "meldinger om utskrivningsklare pasienter",
         "meldingene om utskrivningsklare pasienter"),
        ("en utskrivning", "utskrivningen", "utskrivninger", "utskrivningene"),
    ),
    "medication": (
        ("en legemiddelliste", "legemiddellisten", "legemiddellister", "legemiddellistene"),
        ("en resept", "resepten", "resepter", "reseptene"),
        ("et legemiddel", "legemidlet", "legemidler", "legemidlene"),
        ("en dosering", "doseringen", "doseringer", "doseringene"),
        ("en medisinendring", "medisinendringen", "medisinendringer", "medisinendringene"),
        ("en multidosepakning", "multidosepakningen", "multidosepakninger",
         "multidosepakningene"),
    ),
    "referral": (
        ("en henvisning", "henvisningen", "henvisninger", "henvisningene"),
        ("en innkalling", "innkallingen", "innkallinger", "innkallingene"),
        ("en vurdering", "vurderingen", "vurderinger", "vurderingene"),
        ("en poliklinisk time", "den polikliniske timen", "polikliniske timer",
         "de polikliniske timene"),
        ("en ventetid", "ventetiden", "ventetider", "ventetidene"),
    ),
    "admission": (
        ("en innleggelse", "innleggelsen", "innleggelser", "innleggelsene"),
        ("en innleggelsesrapport", "innleggelsesrapporten", "innleggelsesrapporter",
         "innleggelsesrapportene"),
        ("en legeopplysning", "legeopplysningen", "legeopplysninger", "legeopplysningene"),
        ("et innleggelsesskriv", "innleggelsesskrivet", "innleggelsesskriv",
         "innleggelsesskrivene"),
    ),
    "follow_up": (
        ("et prøvesvar", "prøvesvaret", "prøvesvar", "prøvesvarene"),
        ("en kontroll", "kontrollen", "kontroller", "kontrollene"),
        ("en oppfølging", "oppfølgingen", "oppfølginger", "oppfølgingene"),
        ("en kontrolltime", "kontrolltimen", "kontrolltimer", "kontrolltimene"),
        ("et røntgensvar", "røntgensvaret", "røntgensvar", "røntgensvarene"),
    ),
    "e_messaging": (
        ("en dialogmelding", "dialogmeldingen", "dialogmeldinger", "dialogmeldingene"),
        ("en adresse", "adressen", "adresser", "adressene"),
        ("en kvittering", "kvitteringen", "kvitteringer", "kvitteringene"),
        ("en elektronisk melding", "den elektroniske meldingen", "elektroniske meldinger",
         "de elektroniske meldingene"),
        ("et adresseregister", "adresseregisteret", "adresseregistre", "adresseregistrene"),
    ),
    "reachability": (
        ("en telefon", "telefonen", "telefoner", "telefonene"),
        ("en vakthavende lege", "den vakthavende legen", "vakthavende leger",
         "de vakthavende legene"),
        ("et sentralbord", "sentralbordet", "sentralbord", "sentralbordene"),
        ("et direktenummer", "direktenummeret", "direktenumre", "direktenumrene"),
        ("en kontaktperson", "kontaktpersonen", "kontaktpersoner", "kontaktpersonene"),
    ),
    "routines": (
        ("en rutine", "rutinen", "rutiner", "rutinene"),
        ("en prosedyre", "prosedyren", "prosedyrer", "prosedyrene"),
        ("en samarbeidsavtale", "samarbeidsavtalen", "samarbeidsavtaler",
         "samarbeidsavtalene"),
        ("en tjenesteavtale", "tjenesteavtalen", "tjenesteavtaler", "tjenesteavtalene"),
        ("et samhandlingsmøte", "samhandlingsmøtet", "samhandlingsmøter",
         "samhandlingsmøtene"),
    ),
    "competence": (
        ("en opplæring", "opplæringen", "opplæringer", "opplæringene"),
        ("et kurs", "kurset", "kurs", "kursene"),
        ("en veileder", "veilederen", "veiledere", "veilederne"),
        ("en internundervisning", "internundervisningen", "internundervisninger",
         "internundervisningene"),
    ),
}
SUBJECTS = ("Fastlegen", "Legevakten", "Hjemmesykepleien", "Sykehjemslegen",
            "Koordinatoren", "Sykepleieren", "Turnuslegen", "Tildelingskontoret",
            "Apoteket", "Fysioterapeuten", "Helsesekretæren", "Overlegen", "Avdelingen",
            "Kommuneoverlegen", "Jordmoren", "Psykologen", "Pårørende")
SEEKING = ("etterlyste", "fikk ikke", "mottok ikke", "savnet", "ventet forgjeves på",
           "fant ikke", "spurte etter", "purret på", "manglet", "fikk aldri")
FOUND = ("oppdaget feil i", "reagerte på", "stusset over", "rettet opp",
         "fikk motstridende opplysninger om", "ringte om")
PREDICATES = ("ble ikke sendt", "kom først etter {days} dager",
              "manglet opplysninger om {detail}", "ble sendt til feil mottaker",
              "ble returnert uten begrunnelse", "ble ikke fulgt opp",
              "forsvant i systemet", "ble liggende ubehandlet i {days} dager",
              "ble først sendt etter purring", "nevnte ikke {detail}",
              "ble avvist av mottakeren", "kom aldri fram")
PLURAL_PREDICATES = ("har kommet for sent den siste tiden", "mangler ofte {detail}",
                     "blir sendt til feil adresse", "blir ikke besvart i tide",
                     "forsvinner mellom sykehus og kommune")
DETAILS = ("funksjonsnivå", "hjelpebehov", "allergier", "legemiddelendringer",
           "videre oppfølging", "kontrolltime", "diagnose", "prøvesvar", "ernæring",
           "sårstell", "mobilisering", "smertelindring", "pårørende", "hjelpemidler",
           "kostholdet", "blodsukkeret", "oksygenbehandling", "kateter", "fallrisiko",
           "sondeernæring", "stomien", "infeksjonen", "ventetiden", "behandlingsplanen")
CIRCUMSTANCES = ("etter utskriving fra {unit}", "ved innleggelse på {unit}", "før helgen",
                 "{time_of_day}", "ved overflytting til {service}",
                 "etter poliklinisk kontroll på {unit}", "ved hjemreise {weekday}",
                 "etter konsultasjon på legevakten", "i forbindelse med ferieavviklingen",
                 "under oppholdet på {unit}", "etter operasjonen", "", "", "")
PATIENTS = ("en eldre pasient med demens", "en pasient med hjertesvikt",
            "en pasient med diabetes", "en kreftpasient i palliativ fase",
            "et barn med astma", "en beboer på sykehjem", "en pasient med KOLS",
            "en ung pasient med psykoselidelse", "en gravid kvinne", "en pasient med hjerneslag",
            "en pasient med nyresvikt", "en hjemmeboende enslig pasient",
            "en pasient med hoftebrudd", "en pasient med rusproblemer")
EVENTS = ("ble skrevet ut {time_of_day}", "ble overflyttet fra {unit}",
          "kom hjem med {service}", "var innlagt i {days} dager",
          "ble sendt hjem fra legevakten", "fikk ny {drug} under oppholdet",
          "ventet på {test}", "ble reinnlagt etter {days} dager")
CONSEQUENCES = ("Dette førte til dobbeltarbeid for {service}.",
                "Behandlingen ble forsinket med {days} dager.",
                "Det gikk med mye tid til telefoner.",
                "Det var risiko for feilmedisinering med {drug}.",
                "Pasienten måtte legges inn på nytt.",
                "Pårørende var bekymret og ringte flere ganger.",
                "Fastlegen måtte ringe {unit} for å få svar.",
                "Saken ble løst etter purring.",
                "Ingen visste hvem som hadde ansvaret for {test}.",
                "Pasienten fikk ikke {drug} på {days} dager.",
                "{service} måtte improvisere over helgen.",
                "Det ble avtalt et samhandlingsmøte for å gå gjennom saken.")
SUGGESTING = ("Det hadde hjulpet om {np} ble sendt samme dag.",
              "Kunne {service} få {indef} før hjemreise?",
              "Vi foreslår at {pl} sendes elektronisk til fastlegen.",
              "En felles mal for {pl} ville spart mye tid.",
              "Forslaget gjelder særlig {pl} fra {unit}.",
              "Det bør være tydelig hvem som sender {np}.")
CROSS_TOPIC = 0.15  # a sentence about another topic now and then


def _topic_nouns(category: str, rng: random.Random) -> tuple[Noun, ...]:
    if category in TOPICS and rng.random() >= CROSS_TOPIC:
        return TOPICS[category]
    return TOPICS[rng.choice(tuple(TOPICS))]


class TextWriter:
    """A report's text: its theme's template filled anew, then composed sentences."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.templates: dict[tuple[str, str, str | None], list[str]] = defaultdict(list)
        for kind, themes in (("deviation", demo.DEVIATIONS), ("suggestion", demo.SUGGESTIONS),
                             ("input", demo.INPUTS)):
            for theme in themes:
                self.templates[(kind, theme.category, theme.subcategory)].extend(theme.texts)

    def _slots(self, place: str) -> dict[str, Any]:
        rng = self.rng
        unit = TEXTS.hospital_units.get(place) or rng.choice(
            tuple(TEXTS.hospital_units.values()))
        return {"unit": unit, "days": rng.randint(2, 21), "weekday": rng.choice(TEXTS.weekdays),
                "service": rng.choice(TEXTS.services), "drug": rng.choice(TEXTS.drugs),
                "test": rng.choice(TEXTS.tests), "time_of_day": rng.choice(TEXTS.time_of_day),
                "detail": rng.choice(DETAILS)}

    def _sentence(self, kind: str, category: str, slots: dict[str, Any]) -> str:
        rng = self.rng
        noun = rng.choice(_topic_nouns(category, rng))
        np = noun[1] if rng.random() < 0.75 else noun[3]
        circumstance = rng.choice(CIRCUMSTANCES).format(**slots)
        tail = f" {circumstance}" if circumstance else ""
        if kind != "deviation" and rng.random() < 0.6:
            return rng.choice(SUGGESTING).format(np=np, indef=noun[0], pl=noun[3], **slots)
        roll = rng.random()
        if roll < 0.3:
            return f"{rng.choice(SUBJECTS)} {rng.choice(SEEKING)} {np}{tail}."
        if roll < 0.4:
            return f"{rng.choice(SUBJECTS)} {rng.choice(FOUND)} {np}{tail}."
        if roll < 0.65:
            head = noun[1] if rng.random() < 0.8 else noun[3]
            return f"{head[0].upper()}{head[1:]} {rng.choice(PREDICATES).format(**slots)}{tail}."
        if roll < 0.75:
            plural = noun[3]
            return (f"{plural[0].upper()}{plural[1:]} fra {slots['unit']} "
                    f"{rng.choice(PLURAL_PREDICATES).format(**slots)}.")
        if roll < 0.88:
            return (f"Det gjaldt {rng.choice(PATIENTS)} som "
                    f"{rng.choice(EVENTS).format(**slots)}.")
        return rng.choice(CONSEQUENCES).format(**slots)

    def text(self, kind: str, category: str, subcategory: str | None, place: str) -> str:
        rng = self.rng
        slots = self._slots(place)
        templates = self.templates.get((kind, category, subcategory)) or [""]
        parts = [demo._fill(rng, rng.choice(templates), place)] if templates[0] else []
        for _ in range(rng.choice((1, 1, 2, 2, 2, 3))):
            parts.append(self._sentence(kind, category, slots))
        if kind == "deviation" and rng.random() < 0.35:
            parts.append(rng.choice(CONSEQUENCES).format(**slots))
        return demo._capitalise(" ".join(p for p in parts if p))


def write_texts(data: Dataset, seed: int) -> dict[str, Any]:
    """Replace every generated report's text with a varied one; figures about them."""
    before = len({row[DESCRIPTION] for row in data.reports})
    writer = TextWriter(random.Random(seed + 1))
    data.reports[:] = [
        (*row[:DESCRIPTION], writer.text(row[2], row[3], row[4], row[9]), *row[DESCRIPTION + 1:])
        for row in data.reports]
    texts = [row[DESCRIPTION] for row in data.reports]
    sample = random.Random(seed).sample(texts, min(5000, len(texts)))
    stems = Counter(s for t in sample for s in set(textmatch.stems(t)))
    return {"distinct_before": before, "distinct": len(set(texts)),
            "mean_chars": round(statistics.fmean(len(t) for t in texts)),
            "distinct_stems_in_5000": len(stems),
            "examples": texts[:: max(1, len(texts) // 3)][:3]}


# ---------------------------------------------------------------- the fixed sets


@dataclass(frozen=True)
class Item:
    """One search or one similar: what Meld is asked, and the raw side's match text."""

    ask: str  # the query (search) or the reference (similar)
    match: str  # the raw query's MATCH / to_tsquery text, made with the services' helpers
    label: str


def raw_match(backend: str, text: str, *, any_term: bool) -> str:
    return search_module.match_text(backend, text, any_term=any_term)


def choose_queries(data: Dataset, count: int, seed: int) -> list[str]:
    """1-3 words of random reports' texts, as written there (no function words)."""
    rng = random.Random(seed + 2)
    out: list[str] = []
    while len(out) < count:
        text = rng.choice(data.reports)[DESCRIPTION]
        plain = [w for w in textmatch._WORD.findall(text.lower())
                 if len(w) >= 4 and textmatch.words(w)]
        plain = list(dict.fromkeys(plain))
        size = 1 + len(out) % 3
        if len(plain) >= size:
            out.append(" ".join(rng.sample(plain, size)))
    return out


def choose_reports(data: Dataset, count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed + 3)
    return [(row[1], row[DESCRIPTION]) for row in rng.sample(data.reports, count)]


# ---------------------------------------------------------------- the two sides

Run = Callable[[str, tuple[Any, ...]], list[Any]]


@contextmanager
def raw_connection(db: BenchDatabase, *, prepare: bool = False) -> Iterator[Run]:
    """One plain driver connection set up as the app's engine sets its own up; yields
    run(sql, params). PostgreSQL, autocommit: never prepared (planned with the values
    every run), or with `prepare` psycopg's default, as under Meld's engine: prepared from
    the fifth run of a statement on the connection."""
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
            if not prepare:
                pg.prepare_threshold = None

            def run(query: str, params: tuple[Any, ...]) -> list[Any]:
                return pg.execute(query, params).fetchall()  # type: ignore[arg-type]

            yield run


def raw_params(backend: str, item: Item) -> tuple[str, ...]:
    return (item.match,)



def raw_client(db: BenchDatabase, items: list[Item], limit: int, *,
               prepare: bool = False) -> Client:
    statement = RAW_SQL[db.backend].format(limit=limit)
    counter = itertools.count()

    @contextmanager
    def open_client() -> Iterator[Operation]:
        with raw_connection(db, prepare=prepare) as run:

            def op() -> str:
                run(statement, raw_params(db.backend, items[next(counter) % len(items)]))
                return OK

            yield op

    return open_client


def meld_client(call: Callable[[str], Any], items: list[Item]) -> Client:
    counter = itertools.count()

    @contextmanager
    def open_client() -> Iterator[Operation]:
        def op() -> str:
            call(items[next(counter) % len(items)].ask)
            return OK

        yield op

    return open_client


# ---------------------------------------------------------------- where the time goes


class StepTimer:
    """Wraps functions of a module for a while and adds up the time spent in each, its
    own time only: a wrapped call made inside another one is taken off the outer one."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self._stack: list[str] = []
        self._undo: list[Callable[[], None]] = []

    @contextmanager
    def _timing(self, label: str) -> Iterator[None]:
        self._stack.append(label)
        started = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - started
            self._stack.pop()
            self.seconds[label] += spent
            if self._stack:
                self.seconds[self._stack[-1]] -= spent

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = owner.__dict__[name]
        is_classmethod = isinstance(original, classmethod)
        func = original.__func__ if is_classmethod else original
        timing = self._timing

        def timed(*args: Any, **kwargs: Any) -> Any:
            with timing(label):
                return func(*args, **kwargs)

        setattr(owner, name, classmethod(timed) if is_classmethod else timed)
        self._undo.append(lambda: setattr(owner, name, original))

    def wrap_context(self, owner: Any, name: str, label: str) -> None:
        """A context manager factory: from entering to leaving (a commit included)."""
        original = owner.__dict__[name]
        timing = self._timing

        @contextmanager
        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            with timing(label), original(*args, **kwargs) as value:
                yield value

        setattr(owner, name, timed)
        self._undo.append(lambda: setattr(owner, name, original))

    def restore(self) -> None:
        while self._undo:
            self._undo.pop()()


def steps(call: Callable[[str], Any], items: list[Item],
          wrap: Callable[[StepTimer], None]) -> dict[str, Any]:
    """One pass over the items with the steps wrapped: mean ms per call and share."""
    timer = StepTimer()
    wrap(timer)
    totals = []
    slowest: tuple[float, str, dict[str, float]] = (-1.0, "", {})
    try:
        for item in items:
            before = Counter(timer.seconds)
            started = time.perf_counter()
            call(item.ask)
            spent = time.perf_counter() - started
            totals.append(spent)
            if spent > slowest[0]:
                own = {k: v - before[k] for k, v in timer.seconds.items() if v - before[k]}
                slowest = (spent, item.label, own)
    finally:
        timer.restore()
    total = sum(totals)
    parts = {label: s for label, s in timer.seconds.items()}
    parts[REST] = total - sum(parts.values())
    return {"calls": len(items), "mean_ms": round(total / len(items) * 1000, 2),
            "median_ms": round(statistics.median(totals) * 1000, 2),
            "parts": {label: {"mean_ms": round(s / len(items) * 1000, 2),
                              "share": round(s / total, 3) if total else None}
                      for label, s in parts.items()},
            "slowest": {"ms": round(slowest[0] * 1000, 2), "item": slowest[1],
                        "parts_ms": {k: round(v * 1000, 2) for k, v in
                                     sorted(slowest[2].items(), key=lambda kv: -kv[1])}}}


def wrap_search(timer: StepTimer) -> None:
    # _search_ids, its own time: the lookup by reference, lower(reference) = the query
    timer.wrap(search_module, "_search_ids", "_search_ids: lookup by reference")
    timer.wrap(search_module, "ranked_ids", "ranked_ids (AND, LIMIT 20)")
    timer.wrap(search_module, "fuzzy_ids", "fuzzy_ids (pg_trgm)")
    timer.wrap_context(search_module, "transaction", "audit row (write + commit)")
    timer.wrap(search_module, "summary_view", "summary_view")


def wrap_similar(timer: StepTimer) -> None:
    timer.wrap(similarity_module, "load_report", "load_report")
    # _similar, its own time: mostly the SELECT of the candidates' rows (up to 200)
    timer.wrap(similarity_module, "_similar", "_similar: the candidates' rows, sorting")
    timer.wrap(similarity_module, "ranked_ids", "ranked_ids (OR, LIMIT 120)")
    timer.wrap(similarity_module, "_field_candidates", "_field_candidates (LIMIT 80)")
    timer.wrap(textmatch.TextProfile, "of", "TextProfile.of (stems, trigrams)")
    timer.wrap(textmatch, "idf", "idf")
    timer.wrap(textmatch, "text_similarity", "text_similarity")
    timer.wrap(similarity_module, "_views", "_views (the best 5)")
    timer.wrap_context(similarity_module, "transaction", "audit row (write + commit)")


@contextmanager
def statements(ctx: services.Context) -> Iterator[list[tuple[str, Any]]]:
    """The SELECT statements the engine runs meanwhile, with their driver parameters."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and \
                not statement.lstrip().upper().startswith("SELECT 1"):
            seen.append((statement, parameters))

    event.listen(ctx.db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(ctx.db.engine, "before_cursor_execute", record)


def plans(ctx: services.Context, backend: str, seen: list[tuple[str, Any]]
          ) -> list[dict[str, Any]]:
    prefix = "EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN "
    out = []
    with ctx.db.engine.connect() as conn:
        for statement, parameters in seen:
            rows = conn.exec_driver_sql(prefix + statement, parameters).all()
            conn.rollback()
            out.append({"sql": " ".join(statement.split()),
                        "plan": [str(row[-1]) for row in rows]})
    return out


def raw_plans(db: BenchDatabase, item: Item, limit: int) -> dict[str, list[str]]:
    """SQLite: EXPLAIN QUERY PLAN. PostgreSQL: EXPLAIN ANALYZE of the plan made for these
    values (a statement not prepared, or one of its first five runs prepared), and of the
    generic plan a prepared statement is given from its sixth run on when the planner
    thinks it no worse (plan_cache_mode auto)."""
    statement = RAW_SQL[db.backend].format(limit=limit)
    if db.backend == "sqlite":
        with raw_connection(db) as run:
            return {"plan": [str(row[-1]) for row in
                             run("EXPLAIN QUERY PLAN " + statement, (item.match,))]}
    explain = "EXPLAIN (ANALYZE, COSTS OFF) "
    generic = statement.replace("%s", "$1", 1).replace("%s", "$2", 1)
    assert db.conninfo is not None
    with psycopg.connect(db.conninfo, autocommit=True, connect_timeout=5) as pg:
        pg.prepare_threshold = None
        params = raw_params(db.backend, item)
        custom = [str(row[0]) for row in pg.execute(explain + statement, params)]
        pg.execute("SET plan_cache_mode = force_generic_plan")
        # by the simple protocol: PREPARE's $1 and $2 are its own, not this statement's
        done = pg.pgconn.exec_(f"PREPARE bench_generic (text, text) AS {generic}".encode())
        if done.error_message:
            raise BenchFailed(f"PREPARE: {done.error_message.decode()}")
        forced = [str(row[0]) for row in pg.execute(
            sql.SQL(explain + "EXECUTE bench_generic ({}, {})").format(  # type: ignore[arg-type]
                sql.Literal(item.match), sql.Literal(item.match)))]
    return {"custom plan": custom, "generic plan (prepared)": forced}


def profile_similar(call: Callable[[str], Any], items: list[Item]) -> str:
    prof = cProfile.Profile()
    prof.enable()
    for item in items:
        call(item.ask)
    prof.disable()
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(15)
    return text.getvalue()


# ---------------------------------------------------------------- one backend


def _load_json(r: LoadResult) -> dict[str, Any]:
    def rnd(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    return {"clients": r.clients, "ok": r.ok, "errors": dict(r.errors),
            "elapsed_s": round(r.elapsed_s, 3), "per_second": round(r.throughput, 1),
            "p50_ms": rnd(r.percentile_ms(50)), "p99_ms": rnd(r.percentile_ms(99)),
            "max_ms": rnd(max(r.latencies_ms, default=None))}


def check_index(db: BenchDatabase, data: Dataset) -> dict[str, Any]:
    """The reports the index finds for a common word, against the texts holding it."""
    expected = sum(1 for row in data.reports if PROBE_WORD in row[DESCRIPTION].lower())
    with raw_connection(db) as run:
        indexed = run(COUNT_SQL[db.backend],
                      (raw_match(db.backend, PROBE_WORD, any_term=False),))[0][0]
        rows = run("SELECT count(*) FROM reports", ())[0][0]
        empty = None
        if db.backend == "postgresql":
            empty = run("SELECT count(*) FROM reports WHERE search_vector IS NULL "
                        "OR search_vector = ''::tsvector", ())[0][0]
    out = {"word": PROBE_WORD, "texts_holding_it": expected, "index_finds": indexed,
           "reports": rows, "empty_vectors": empty}
    if rows != len(data.reports) or indexed < expected or empty:
        raise BenchFailed(f"the full-text index is not filled: {out}")
    return out


def verify(db: BenchDatabase, ctx: services.Context, queries: list[Item],
           similar: list[Item], ids: dict[str, int]) -> dict[str, Any]:
    """One untimed pass (warms the caches): do Meld's and the raw answers agree, and how
    many reports does each query match? (Meld's similar on the first few reports only:
    on PostgreSQL it takes seconds.)"""
    search_sql = RAW_SQL[db.backend].format(limit=SEARCH_LIMIT)
    similar_sql = RAW_SQL[db.backend].format(limit=TEXT_CANDIDATES)

    def params(item: Item) -> tuple[str, ...]:
        return raw_params(db.backend, item)

    same = 0
    differ: list[dict[str, Any]] = []
    search_matches, search_found, similar_matches, similar_found = [], [], [], []
    with raw_connection(db) as run:
        for item in queries:
            raw_ids = [row[0] for row in run(search_sql, params(item))]
            views = services.search_reports(ctx=ctx, actor=ACTOR, query=item.ask)
            meld_ids = [ids[v.reference] for v in views]
            same += meld_ids == raw_ids
            if meld_ids != raw_ids:
                differ.append({"query": item.ask, "meld": len(meld_ids), "raw": len(raw_ids),
                               "in_both": len(set(meld_ids) & set(raw_ids))})
            search_found.append(len(views))
            search_matches.append(run(COUNT_SQL[db.backend], (item.match,))[0][0])
        for n, item in enumerate(similar):
            candidates = run(similar_sql, params(item))
            if n < VERIFY_SIMILAR:
                similar_found.append(len(services.similar_reports(ctx=ctx, actor=ACTOR,
                                                                  reference=item.ask)))
            similar_matches.append(run(COUNT_SQL[db.backend], (item.match,))[0][0])
            if not candidates:
                raise BenchFailed(f"no candidates for {item.ask}: {item.match}")
    if not any(search_found):
        raise BenchFailed("no search found anything")

    def spread(values: list[int]) -> dict[str, float]:
        return {"min": min(values), "median": statistics.median(values), "max": max(values)}

    return {"search_same_as_raw": same, "searches": len(queries), "search_differs": differ,
            "search_matching": spread(search_matches), "search_found": spread(search_found),
            "similar_matching": spread(similar_matches), "similar_found": spread(similar_found)}


def run_backend(db: BenchDatabase, data: Dataset, args: argparse.Namespace) -> dict[str, Any]:
    seconds = Loader(db).load(data, 0, len(data.reports))
    _say(f"{db.backend}: loaded {len(data.reports):,} reports in {seconds:.1f} s")
    index = check_index(db, data)
    _say(f"{db.backend}: the index finds {index['index_finds']:,} reports for "
         f"{PROBE_WORD!r}; {index['texts_holding_it']:,} texts hold it")
    settings = Settings(database_url=db.url, secret_key=SECRET_KEY, run_outbox_worker=False)
    ctx = services.build_context(settings)
    ids = {row[1]: row[0] for row in data.reports}
    queries = [Item(q, raw_match(db.backend, q, any_term=False), q) for q in args.query_set]
    similar = [Item(ref, raw_match(db.backend, text, any_term=True), ref)
               for ref, text in args.report_set]
    result: dict[str, Any] = {"backend": db.backend, "rows": len(data.reports),
                              "load_seconds": round(seconds, 1), "index": index}
    try:
        _say(f"{db.backend}: one pass on both sides (warm-up, answers compared)")
        result["checks"] = verify(db, ctx, queries, similar, ids)

        def search(query: str) -> Any:
            return services.search_reports(ctx=ctx, actor=ACTOR, query=query)

        def similar_to(reference: str) -> Any:
            return services.similar_reports(ctx=ctx, actor=ACTOR, reference=reference)

        for name, items, call, limit in (("search", queries, search, SEARCH_LIMIT),
                                         ("similar", similar, similar_to, TEXT_CANDIDATES)):
            load = {"clients": args.clients, "seconds": args.seconds,
                    "max_ops": args.repeat * len(items)}
            _say(f"{db.backend}: {name}: raw, {args.clients} client(s), {args.repeat} passes "
                 f"over {len(items)} or {args.seconds:g} s")
            raw = run_load(raw_client(db, items, limit), **load)
            sides = {"raw": _load_json(raw)}
            if db.backend == "postgresql":
                _say(f"{db.backend}: {name}: raw, prepared (generic plan)")
                sides["raw_prepared"] = _load_json(run_load(
                    raw_client(db, items, limit, prepare=True), **load,
                    warmup=GENERIC_WARMUP))
            _say(f"{db.backend}: {name}: Meld")
            meld = run_load(meld_client(call, items), **load)
            p50 = ratio(meld.percentile_ms(50), raw.percentile_ms(50), 2)
            p99 = ratio(meld.percentile_ms(99), raw.percentile_ms(99), 2)
            result[name] = {"meld": _load_json(meld), **sides,
                            "p50_ratio": p50, "p99_ratio": p99,
                            "raw_sql": RAW_SQL[db.backend].format(limit=limit),
                            "raw_plans": raw_plans(db, items[0], limit),
                            "raw_plan_for": items[0].match}
        _say(f"{db.backend}: one client, where the time goes")
        result["search"]["steps"] = steps(search, queries, wrap_search)
        result["similar"]["steps"] = steps(similar_to, similar[:STEP_ITEMS], wrap_similar)
        with statements(ctx) as seen:
            search(queries[0].ask)
        result["search"]["plans"] = plans(ctx, db.backend, seen)
        with statements(ctx) as seen:
            similar_to(similar[0].ask)
        result["similar"]["plans"] = plans(ctx, db.backend, seen)
        if args.profile:
            result["similar"]["profile"] = profile_similar(similar_to, similar[:STEP_ITEMS])
    finally:
        ctx.db.dispose()
    return result


# ---------------------------------------------------------------- printing


def _f(value: float | None, spec: str = ".2f") -> str:
    return fmt(value, spec)


def _short(sql: str, width: int = 150) -> str:
    return sql if len(sql) <= width else sql[:width - 4] + " ..."


def print_backend(r: dict[str, Any], args: argparse.Namespace) -> None:
    title, raw_label = LABELS[r["backend"]]
    checks, index = r["checks"], r["index"]
    print(f"\n== {title}: {r['rows']:,} reports (bulk load {r['load_seconds']:.1f} s); "
          f"{args.clients} client(s), {args.repeat} passes over each set or "
          f"{args.seconds:g} s ==")
    print(f"  index: {index['index_finds']:,} reports found for {index['word']!r} "
          f"({index['texts_holding_it']:,} texts hold the word)")
    sm = checks["search_matching"]
    print(f"  {checks['searches']} searches: matching reports min/median/max "
          f"{sm['min']:,}/{sm['median']:,.0f}/{sm['max']:,}; Meld's answer = the raw top "
          f"{SEARCH_LIMIT} for {checks['search_same_as_raw']} of {checks['searches']}")
    for d in checks["search_differs"]:
        print(f"    {d['query']!r}: Meld {d['meld']}, raw {d['raw']}, {d['in_both']} in both "
              "(Meld adds misspelt matches, pg_trgm, when it finds fewer than 20)")
    cm, cf = checks["similar_matching"], checks["similar_found"]
    print(f"  {len(args.report_set)} similar: reports matching the OR-query min/median/max "
          f"{cm['min']:,}/{cm['median']:,.0f}/{cm['max']:,}; similar reports found "
          f"{cf['min']}/{cf['median']:.0f}/{cf['max']}")
    prepared = "raw_prepared" in r["search"]
    head = f"  {'':<36}{'Meld':>10}{raw_label:>14}{'Meld/raw':>10}"
    if prepared:
        head += f"{'raw, prepared':>16}{'Meld/that':>11}"
    print(head)
    for name, what in (("search", "search_reports (1-3 words)"),
                       ("similar", "similar_reports")):
        s = r[name]
        meld, raw, other = s["meld"], s["raw"], s.get("raw_prepared")
        for key, label in (("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"), ("max_ms", "max ms"),
                           ("per_second", "per second")):
            line = (f"  {what + ' ' + label:<36}{_f(meld[key]):>10}{_f(raw[key]):>14}"
                    f"{_f(ratio(meld[key], raw[key], 2)):>10}")
            if other is not None:
                line += f"{_f(other[key]):>16}{_f(ratio(meld[key], other[key], 2)):>11}"
            print(line)
        line = (f"  {what + ' calls':<36}{meld['ok']:>10}{raw['ok']:>14}{'':>10}")
        if other is not None:
            line += f"{other['ok']:>16}"
        print(line)
        for label, side in (("Meld", meld), (raw_label, raw), ("raw, prepared", other)):
            if side is not None and side["errors"]:
                print(f"    {label} errors: {side['errors']}")
    if prepared:
        print("  (raw psycopg: planned with its values every run; raw, prepared: psycopg's "
              "default, as under Meld's engine, each client warmed up past the switch to "
              f"the generic plan, {GENERIC_WARMUP} runs)")
    for name in ("search", "similar"):
        st = r[name]["steps"]
        print(f"\n  {name}, one client, one pass of {st['calls']} calls: mean "
              f"{st['mean_ms']:.2f} ms, median {st['median_ms']:.2f} ms; where it goes "
              "(mean ms per call, share):")
        for label, part in sorted(st["parts"].items(), key=lambda kv: -kv[1]["mean_ms"]):
            if part["mean_ms"] or label == REST:
                print(f"    {part['mean_ms']:>9.2f}  {100 * (part['share'] or 0):5.1f}%  {label}")
        slow = st["slowest"]
        print(f"    slowest call {slow['ms']:.1f} ms ({_short(slow['item'], 60)!r}): "
              + ", ".join(f"{label} {ms:.1f}" for label, ms in list(slow["parts_ms"].items())[:4]))
        print(f"  raw {name} query: {r[name]['raw_sql']}")
        for kind, lines in r[name]["raw_plans"].items():
            print(f"    {kind} (for {_short(r[name]['raw_plan_for'], 80)!r}):")
            for line in lines:
                if not line.lstrip().startswith(("Buffers:", "Worker ", "Sort Method")):
                    print(f"      {_short(line, 180)}")
        print(f"  plans of the statements {name} runs (EXPLAIN with their values):")
        for p in r[name]["plans"]:
            print(f"    {_short(p['sql'])}")
            for line in p["plan"][:8]:
                print(f"      {_short(line, 180)}")
    if "profile" in r["similar"]:
        print(f"\n  cProfile of similar_reports over the first {STEP_ITEMS} reports, by own "
              "time:")
        print("\n".join("    " + line for line in r["similar"]["profile"].splitlines()[:40]))


def print_summary(results: list[dict[str, Any]], skipped: dict[str, str]) -> None:
    print("\nSummary (Meld against the raw full-text query alone, same items):")
    for r in results:
        for name in ("search", "similar"):
            s = r[name]
            print(f"  {LABELS[r['backend']][0]:<11} {name:<8} p50 "
                  f"{_f(s['meld']['p50_ms']):>8} / {_f(s['raw']['p50_ms']):>7} ms = "
                  f"{_f(s['p50_ratio']):>6}x   p99 {_f(s['meld']['p99_ms']):>8} / "
                  f"{_f(s['raw']['p99_ms']):>7} ms = {_f(s['p99_ratio']):>6}x")
            if "raw_prepared" in s:
                other = s["raw_prepared"]
                print(f"  {'':<11} {'':<8} (raw prepared, generic plan: p50 "
                      f"{_f(other['p50_ms'])} ms, "
                      f"p99 {_f(other['p99_ms'])} ms; Meld/that p50 "
                      f"{_f(ratio(s['meld']['p50_ms'], other['p50_ms'], 2))}x, p99 "
                      f"{_f(ratio(s['meld']['p99_ms'], other['p99_ms'], 2))}x)")
    for backend, why in skipped.items():
        print(f"  {LABELS[backend][0]:<11} not measured: {why}")


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.similar",
                                description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rows", type=int, default=100_000,
                   help="synthetic reports over six years (default: 100000)")
    p.add_argument("--backend", choices=["all", "sqlite", "postgresql"], default="all")
    p.add_argument("--queries", type=int, default=40,
                   help="searches of 1-3 words in the fixed set (default: 40)")
    p.add_argument("--reports", type=int, default=20,
                   help="reports in the fixed set for similar (default: 20)")
    p.add_argument("--clients", type=int, default=1,
                   help="concurrent clients, threads (default: 1)")
    p.add_argument("--repeat", type=int, default=5,
                   help="passes over each set per load (default: 5)")
    p.add_argument("--seconds", type=float, default=10.0,
                   help="at most this long per load, whatever --repeat (default: 10)")
    p.add_argument("--profile", action="store_true",
                   help="also print a cProfile of similar_reports over the set")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--out", type=Path, default=WORK_DIR / "similar.json")
    args = p.parse_args(argv)
    if args.rows < 1000:
        p.error("--rows must be at least 1000")
    if min(args.queries, args.reports, args.clients, args.repeat) < 1:
        p.error("--queries, --reports, --clients and --repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    backends, skipped, server_url = select_backends(args.backend)
    now = datetime.now(UTC).replace(microsecond=0)
    _say(f"generating {args.rows:,} reports (seed {args.seed})")
    data = generate(args.rows, seed=args.seed, now=now)
    texts = write_texts(data, args.seed)
    _say(f"generated in {data.seconds:.1f} s; texts: {texts['distinct']:,} distinct "
         f"(the generator's own: {texts['distinct_before']:,})")
    args.query_set = choose_queries(data, args.queries, args.seed)
    args.report_set = choose_reports(data, args.reports, args.seed)
    gc.collect()
    gc.freeze()  # the rows stay in memory, out of the collector's way

    results: list[dict[str, Any]] = []
    failures: dict[str, str] = {}
    for backend in backends:
        backend_started = time.perf_counter()
        try:
            with one_database(backend, server_url, WORK_DIR) as (db,):
                result = run_backend(db, data, args)
        except (BenchFailed, psycopg.Error, sqlite3.Error, SQLAlchemyError) as exc:
            failures[backend] = f"{type(exc).__name__}: {exc}"
            _say(f"{backend}: {exc}")
            continue
        result["seconds"] = round(time.perf_counter() - backend_started, 1)
        results.append(result)
        _say(f"{backend}: done in {result['seconds']:.0f} s")

    print(f"\nSearch and similar bench: {args.rows:,} synthetic reports, {data.first_day} to "
          f"{data.last_day}; texts written here: {texts['distinct']:,} distinct (the shared "
          f"generator's: {texts['distinct_before']:,}), mean {texts['mean_chars']} "
          f"characters, {texts['distinct_stems_in_5000']:,} distinct stems in 5,000 of them; "
          f"machine: {os.cpu_count()} CPUs.")
    print(f"  e.g. {texts['examples'][0]!r}")
    print("  queries: " + ", ".join(repr(q) for q in args.query_set[:9]) + ", ...")
    for result in results:
        print_backend(result, args)
    print_summary(results, {**skipped, **{b: f"failed: {why}" for b, why in failures.items()}})
    total = time.perf_counter() - started
    print(f"\nWhole run: {total:.0f} s.")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {"rows": args.rows, "clients": args.clients, "repeat": args.repeat,
                     "seconds": args.seconds, "seed": args.seed, "queries": args.query_set,
                     "reports": [ref for ref, _ in args.report_set]},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "texts": texts, "results": results, "skipped": skipped, "failures": failures,
        "seconds": round(total, 1),
    }, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"Figures written to {args.out}")
    return 2 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The weekly digest on SQLite and PostgreSQL: content, text, dry run, exactly-once posting."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import bindparam, func, select, text

from intake import services
from intake.cli.main import main
from intake.domain.model import Actor, DomainError, Role
from intake.domain.taxonomy import load_taxonomy
from intake.i18n import Translator
from intake.reporting import digest
from intake.reporting.digest import Digest, build_digest
from intake.reporting.digest_query import LIST_MAX, digest_statement
from intake.reporting.digest_schedule import claim, digest_scheduler, run_digest, run_state
from intake.reporting.digest_text import render_text
from intake.settings import Settings
from storage import models as m
from storage.db import open_database
from tests.fakes import FakeClock
from tests.integration.helpers import draft

OSLO = ZoneInfo("Europe/Oslo")
NB = Translator("nb")
REPORTER = Actor("slack:U0REPORTER1", Role.REPORTER)
GROUP = Actor("slack:U0GROUP01", Role.TRIAGER)
SECRET_TEXT = "Hemmelig detalj XYZZY om epikrisen til pasienten på rom 12"
CHANNEL = "slack:CTRIAGE"
MONDAY_0800 = datetime(2026, 3, 9, 7, 0, tzinfo=UTC)  # after W10 2026 (2-8 March)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def submit(ctx: services.Context, clock: FakeClock, when: datetime, **overrides) -> str:
    clock.now = when
    overrides.setdefault("description", SECRET_TEXT)
    overrides.setdefault("occurred_on", when.astimezone(OSLO).date())
    return services.submit_report(ctx=ctx, actor=REPORTER, draft=draft(**overrides)).reference


def at(clock: FakeClock, when: datetime) -> None:
    clock.now = when


def plus(ctx: services.Context, reference: str, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        services.plus_one(ctx=ctx, actor=Actor(f"slack:U0PLUS{i:03d}", Role.REPORTER),
                          reference=reference)


def close(ctx: services.Context, reference: str, learning_point: str, measure: str) -> None:
    services.move_status(ctx=ctx, actor=GROUP, reference=reference, status="in_progress")
    services.close(ctx=ctx, actor=GROUP, reference=reference, learning_point=learning_point,
                   measure=measure)


@pytest.fixture
def week10(ctx: services.Context, clock: FakeClock) -> dict[str, str]:
    """Reports around ISO week 10 of 2026, with triage history; returns name -> reference."""
    refs: dict[str, str] = {}
    # before the trend window (W04): waiting longest; a rejected suggestion with many +1s
    refs["jan"] = submit(ctx, clock, utc(2026, 1, 20, 9, 0))
    refs["rejected_idea"] = submit(ctx, clock, utc(2026, 1, 21, 9, 0), kind="suggestion",
                                   category="routines", subcategory=None)
    plus(ctx, refs["rejected_idea"], 4)
    services.move_status(ctx=ctx, actor=GROUP, reference=refs["rejected_idea"],
                         status="rejected")
    # the four weeks before W10 (W06-W09, 2 Feb - 1 Mar): six reports
    refs["old1"] = submit(ctx, clock, utc(2026, 2, 3, 10, 0))
    refs["old2"] = submit(ctx, clock, utc(2026, 2, 16, 10, 0), category="medication",
                          subcategory=None)
    services.assess(ctx=ctx, actor=GROUP, reference=refs["old2"], assessed_severity="minor")
    refs["old3"] = submit(ctx, clock, utc(2026, 2, 20, 10, 0))
    at(clock, utc(2026, 2, 25, 10, 0))
    close(ctx, refs["old3"], "Lært i uke 9", "Tiltak i uke 9")
    refs["old4"] = submit(ctx, clock, utc(2026, 2, 23, 10, 0), category="referral",
                          subcategory=None)
    at(clock, utc(2026, 2, 24, 10, 0))
    services.request_info(ctx=ctx, actor=GROUP, reference=refs["old4"],
                          question="Hvilken avdeling gjaldt det?")
    refs["old_idea"] = submit(ctx, clock, utc(2026, 2, 25, 12, 0), kind="suggestion",
                              category="e_messaging", subcategory=None)
    plus(ctx, refs["old_idea"], 2)
    services.move_status(ctx=ctx, actor=GROUP, reference=refs["old_idea"],
                         status="in_progress")
    # Sunday 1 March 23:30 in Oslo (W09), answered at once
    refs["sunday_w09"] = submit(ctx, clock, utc(2026, 3, 1, 22, 30))
    services.move_status(ctx=ctx, actor=GROUP, reference=refs["sunday_w09"],
                         status="in_progress")
    # W10: Monday 2 March 00:10 in Oslo is still Sunday in UTC
    refs["a"] = submit(ctx, clock, utc(2026, 3, 1, 23, 10))
    refs["b"] = submit(ctx, clock, utc(2026, 3, 3, 9, 0), category="medication",
                       subcategory=None, severity="moderate")
    refs["c"] = submit(ctx, clock, utc(2026, 3, 4, 9, 0), severity="significant")
    plus(ctx, refs["c"], 5)  # a deviation: not among the suggestions
    refs["d"] = submit(ctx, clock, utc(2026, 3, 5, 9, 0), kind="suggestion",
                       category="routines", subcategory=None, severity="none")
    plus(ctx, refs["d"], 2, start=10)
    plus(ctx, refs["old_idea"], 1, start=20)  # its third +1, given this week
    refs["e"] = submit(ctx, clock, utc(2026, 3, 6, 9, 0), kind="input", category="other",
                       subcategory=None, severity="unknown")
    at(clock, utc(2026, 3, 6, 14, 0))
    close(ctx, refs["b"], "Legemiddellisten må følge pasienten ved utskriving & <!channel>.",
          "Sjekkliste for utskriving innført på medisinsk avdeling.")
    # Sunday 8 March 23:30 in Oslo: W10; Monday 9 March 00:10 in Oslo: W11
    refs["f"] = submit(ctx, clock, utc(2026, 3, 8, 22, 30), category="referral",
                       subcategory=None)
    refs["g"] = submit(ctx, clock, utc(2026, 3, 8, 23, 10))
    at(clock, MONDAY_0800)
    return refs


def counts(rows) -> dict[str, int]:
    return {c.key: c.count for c in rows}


def test_content_of_a_week(ctx: services.Context, week10: dict[str, str]) -> None:
    d = build_digest(ctx=ctx, week="2026-W10", now=MONDAY_0800)
    r = week10
    assert d.week.key == "2026-W10" and d.stale_days == 7
    assert d.total == 6
    assert counts(d.by_kind) == {"deviation": 4, "suggestion": 1, "input": 1}
    assert [c.key for c in d.by_kind] == ["deviation", "suggestion", "input"]
    assert counts(d.by_category) == {"discharge_summary": 2, "medication": 1, "referral": 1,
                                     "routines": 1, "other": 1}
    assert d.by_category[0].label == "Epikrise"
    assert counts(d.by_severity) == {"none": 1, "minor": 2, "moderate": 1,
                                     "significant": 1, "unknown": 1}
    assert sum(c.count for c in d.by_category) == sum(c.count for c in d.by_severity) == 6

    # waiting more than 7 days at the end of the week (Monday 00:00), oldest first: a came
    # in at 00:10 the Monday before (6 days 23 hours 50 minutes); e (3 days) is not listed
    assert [(w.reference, w.days) for w in d.waiting] == [
        (r["jan"], 48), (r["old1"], 34), (r["old2"], 21)]
    assert d.waiting_total == 3
    assert [w.has_feedback for w in d.waiting] == [False, False, True]
    assert [(n.reference, n.category, n.days) for n in d.needs_info] == [
        (r["old4"], "Henvisning", 13)]
    assert (d.needs_info_total, d.learned_total) == (1, 1)

    # closed this week with the group's words; the one closed in W09 is not here
    assert [(x.reference, x.category) for x in d.learned] == [(r["b"], "Legemidler")]
    assert d.learned[0].measure.startswith("Sjekkliste")

    # +1s: open suggestions only (the rejected one and the deviation are left out)
    assert [(s.reference, s.plus_ones, s.plus_ones_this_week) for s in d.top_suggestions] == [
        (r["old_idea"], 3, 1), (r["d"], 2, 2)]
    assert d.previous_weeks_total == 6 and d.previous_average == 1.5


def test_the_text_reads_well_and_carries_no_report_text(ctx: services.Context,
                                                         week10: dict[str, str]) -> None:
    r = week10
    text = render_text(build_digest(ctx=ctx, week="2026-W10", now=MONDAY_0800), NB)
    assert text.startswith("Ukeoversikt for Forbedringsgruppen, uke 10 2026\n"
                           "2. mars–8. mars 2026\n\nNye meldinger denne uka: 6\n"
                           "Trend: 6 denne uka mot i snitt 1,5 i uka de fire ukene før "
                           "(+300 %).\n")
    assert "Etter type:\n  Avvik: 4\n  Forbedringsforslag: 1\n  Innspill eller spørsmål: 1\n" \
        in text
    assert "  Epikrise: 2\n" in text and "  Legemidler: 1\n" in text
    assert "Etter alvorlighetsgrad (slik den ble meldt):\n" in text
    assert ("Venter mer enn 7 dager på vurdering eller tilbakemelding, eldste først:\n"
            f"  {r['jan']} · Epikrise · 48 dager · venter på vurdering, ingen tilbakemelding "
            "ennå\n") in text
    assert f"  {r['old2']} · Legemidler · 21 dager · venter på vurdering\n" in text
    assert (f"Venter på mer informasjon fra melderen:\n  {r['old4']} · Henvisning · "
            "spurt for 13 dager siden\n") in text
    assert (f"Dette har vi lært (lukket denne uka):\n  {r['b']} · Legemidler\n"
            "    Læringspunkt: Legemiddellisten må følge pasienten ved utskriving & "
            "<!channel>.\n    Tiltak: Sjekkliste for utskriving innført på medisinsk "
            "avdeling.\n") in text
    assert (f"Forslag med mest støtte:\n  {r['old_idea']} · Elektronisk meldingsutveksling · "
            f"+1: 3 (1 denne uka)\n  {r['d']} · Rutiner og samarbeidsavtale · +1: 2 "
            "(2 denne uka)\n") in text
    # never the report's own words, never who reported or who triaged
    assert "XYZZY" not in text and SECRET_TEXT[:20] not in text
    assert "slack:U" not in text and "U0REPORTER1" not in text and "U0GROUP01" not in text
    assert "Hvilken avdeling" not in text  # the group's question to the reporter
    assert r["g"] not in text and r["rejected_idea"] not in text


def test_reports_sent_with_the_text_alone_have_their_own_rows(ctx: services.Context,
                                                               clock: FakeClock) -> None:
    """Sent with the text alone, a report is counted under "Ikke kategorisert" and
    "Ukjent": each its own row, beside the others, never folded into another category or
    severity, nor left out. A report Meld filed under its suggestion (where a group opted
    in) counts under that category; Meld's mere suggestion never counts."""
    def text_alone(when: datetime, text: str, c: services.Context = ctx) -> str:
        clock.now = when
        return services.submit_report(ctx=c, actor=REPORTER, draft=services.ReportDraft(
            description=text, no_patient_identifiers=True)).reference

    clear = "Epikrisen mangler fortsatt, pasienten ble utskrevet for en uke siden."
    text_alone(utc(2026, 3, 2, 9, 0), "Hei, dette er bare en prøve.")
    text_alone(utc(2026, 3, 3, 9, 0), "Noe gikk galt i går.")
    text_alone(utc(2026, 3, 4, 9, 0), clear)  # suggested, and still uncategorized
    opted_in = dataclasses.replace(ctx, settings=ctx.settings.model_copy(
        update={"suggest_min_score": 0.5}))
    text_alone(utc(2026, 3, 5, 9, 0), clear, opted_in)  # filed under the suggestion
    submit(ctx, clock, utc(2026, 3, 6, 9, 0), category="referral", subcategory=None,
           severity="minor")
    d = build_digest(ctx=ctx, week="2026-W10", now=MONDAY_0800)
    assert d.total == 5
    assert counts(d.by_category) == {"uncategorized": 3, "discharge_summary": 1,
                                     "referral": 1}
    assert (d.by_category[0].key, d.by_category[0].label) == ("uncategorized",
                                                              "Ikke kategorisert")
    assert counts(d.by_severity) == {"minor": 1, "unknown": 4}
    text = render_text(d, NB)
    assert ("Etter kategori:\n  Ikke kategorisert: 3\n  Epikrise: 1\n  Henvisning: 1\n"
            in text)
    assert ("Etter alvorlighetsgrad (slik den ble meldt):\n  Mindre alvorlig: 1\n  Ukjent: 4\n"
            in text)


def test_an_empty_week_says_so_and_still_lists_the_waiting(ctx: services.Context,
                                                           week10: dict[str, str]) -> None:
    d = build_digest(ctx=ctx, week="2026-W12", now=utc(2026, 3, 23, 7, 0))
    assert d.is_empty and d.by_kind == () and d.learned == ()
    text = render_text(d, NB)
    assert "Ingen nye meldinger denne uka\n" in text
    assert "Etter type" not in text
    assert week10["jan"] in text and week10["e"] in text  # e has now waited 16 days
    # W08-W11 held 12 reports: 3 a week
    assert "Trend: 0 denne uka mot i snitt 3 i uka de fire ukene før (−100 %)." in text


def test_an_empty_database(ctx: services.Context) -> None:
    text = render_text(build_digest(ctx=ctx, week=None, now=MONDAY_0800), NB)
    assert text == ("Ukeoversikt for Forbedringsgruppen, uke 10 2026\n2. mars–8. mars 2026\n\n"
                    "Ingen nye meldinger denne uka\n\nVenter mer enn 7 dager på vurdering "
                    "eller tilbakemelding, eldste først:\n  Ingen.\n")
    english = render_text(build_digest(ctx=ctx, week="2026-W10", now=MONDAY_0800),
                          Translator("en"))
    assert "No new reports this week" in english


def test_a_reopened_report_is_not_among_the_learned(ctx: services.Context,
                                                    week10: dict[str, str],
                                                    clock: FakeClock) -> None:
    clock.now = utc(2026, 3, 7, 9, 0)
    services.reopen(ctx=ctx, actor=GROUP, reference=week10["b"])
    d = build_digest(ctx=ctx, week="2026-W10", now=MONDAY_0800)
    assert d.learned == () and d.learned_total == 0
    assert "Dette har vi lært" not in render_text(d, NB)


def test_the_stale_threshold_is_a_setting(ctx: services.Context, week10: dict[str, str]) -> None:
    lenient = services.Context(db=ctx.db, settings=ctx.settings.model_copy(
        update={"digest_stale_days": 30}), taxonomy=ctx.taxonomy, secret_key=ctx.secret_key,
        clock=ctx.clock)
    d = build_digest(ctx=lenient, week="2026-W10", now=MONDAY_0800)
    assert [w.reference for w in d.waiting] == [week10["jan"], week10["old1"]]
    assert "mer enn 30 dager" in render_text(d, NB)


def test_trend_without_history_and_unchanged(ctx: services.Context, clock: FakeClock) -> None:
    submit(ctx, clock, utc(2026, 3, 3, 9, 0))
    text = render_text(build_digest(ctx=ctx, week="2026-W10", now=MONDAY_0800), NB)
    assert "Trend: 1 denne uka; ingen de fire ukene før.\n" in text
    for day in (3, 10, 17, 24):  # one a week in W06-W09 and W10: unchanged
        submit(ctx, clock, utc(2026, 2, day, 9, 0))
    text = render_text(build_digest(ctx=ctx, week="2026-W10", now=MONDAY_0800), NB)
    assert "Trend: 1 denne uka mot i snitt 1 i uka de fire ukene før (uendret).\n" in text


# ---------------------------------------------------------------- meld digest


def test_dry_run_prints_the_text_and_claims_nothing(ctx: services.Context,
                                                    week10: dict[str, str],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    settings = ctx.settings.model_copy(update={"slack_bot_token": None})
    code = main(["digest", "--week", "2026-W10", "--dry-run"], settings=settings)
    out = capsys.readouterr()
    assert code == 0, out.err
    assert out.out.startswith("Ukeoversikt for Forbedringsgruppen, uke 10 2026\n")
    assert "Nye meldinger denne uka: 6\n" in out.out and week10["b"] in out.out
    assert "XYZZY" not in out.out and "slack:U" not in out.out
    with ctx.db.reading() as s:
        assert s.scalar(select(func.count()).select_from(m.DigestRun)) == 0


def test_without_slack_the_command_says_so(ctx: services.Context,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["digest", "--week", "2026-W10"], settings=ctx.settings)
    out = capsys.readouterr()
    assert code == 1 and "Slack er ikke satt opp" in out.err and "--dry-run" in out.err
    code = main(["digest", "--week", "2025-W53", "--dry-run"], settings=ctx.settings)
    out = capsys.readouterr()
    assert code == 2 and "2025-W53 er ikke en ISO-uke" in out.err


# ---------------------------------------------------------------- exactly once


class Recorder:
    """A poster that records what it was given (optionally slow, or failing)."""

    def __init__(self, *, delay: float = 0.0, fail: int = 0) -> None:
        self.posted: list[Digest] = []
        self.calls = 0
        self.delay = delay
        self.fail = fail
        self._lock = threading.Lock()

    async def __call__(self, d: Digest) -> None:
        with self._lock:
            self.calls += 1
            failing = self.fail > 0
            if failing:
                self.fail -= 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if failing:
            raise RuntimeError("slack is down")
        with self._lock:
            self.posted.append(d)


def run(ctx: services.Context, post, period: str = "2026-W10") -> bool:
    return asyncio.run(run_digest(ctx=ctx, channel=CHANNEL, period=period, post=post))


def row(ctx: services.Context, period: str = "2026-W10") -> m.DigestRun:
    with ctx.db.reading() as s:
        return s.scalars(select(m.DigestRun).where(m.DigestRun.channel == CHANNEL,
                                                   m.DigestRun.period == period)).one()


def test_a_period_is_posted_once(ctx: services.Context, clock: FakeClock) -> None:
    clock.now = MONDAY_0800
    post = Recorder()
    assert run(ctx, post) is True
    assert [d.week.key for d in post.posted] == ["2026-W10"]
    first = row(ctx)
    assert (first.posted_at, first.attempts, first.last_error) == (MONDAY_0800, 1, None)
    clock.advance(days=30)  # long after the lease: a posted claim is never taken over
    assert run(ctx, post) is False
    assert len(post.posted) == 1
    # another channel or another week is its own claim
    assert asyncio.run(run_digest(ctx=ctx, channel="slack:COTHER", period="2026-W10",
                                  post=post)) is True
    assert run(ctx, post, "2026-W11") is True
    assert len(post.posted) == 3


def test_a_plain_function_can_post(ctx: services.Context, clock: FakeClock) -> None:
    clock.now = MONDAY_0800
    seen: list[str] = []
    assert run(ctx, lambda d: seen.append(d.week.key)) is True
    assert seen == ["2026-W10"]


def test_a_crash_after_claiming_is_retried_when_the_lease_runs_out(
    ctx: services.Context, clock: FakeClock,
) -> None:
    clock.now = MONDAY_0800
    assert claim(ctx, CHANNEL, "2026-W10") is not None  # ...and then the process died
    post = Recorder()
    assert run(ctx, post) is False  # the lease still holds
    clock.advance(minutes=4, seconds=59)
    assert run(ctx, post) is False
    assert post.calls == 0
    clock.advance(seconds=2)
    assert run(ctx, post) is True
    assert len(post.posted) == 1
    taken = row(ctx)
    assert taken.attempts == 2 and taken.posted_at == clock.now
    clock.advance(hours=1)
    assert run(ctx, post) is False and len(post.posted) == 1


def test_a_failed_post_frees_the_claim_with_the_error(ctx: services.Context,
                                                      clock: FakeClock) -> None:
    clock.now = MONDAY_0800
    post = Recorder(fail=1)
    with pytest.raises(RuntimeError):
        run(ctx, post)
    failed = row(ctx)
    assert failed.posted_at is None and failed.last_error == "RuntimeError"
    assert failed.lease_until <= clock.now
    clock.advance(seconds=1)
    assert run(ctx, post) is True
    done = row(ctx)
    assert (done.attempts, done.last_error, len(post.posted)) == (2, None, 1)


def test_the_claim_is_written_before_the_post(ctx: services.Context, clock: FakeClock) -> None:
    clock.now = MONDAY_0800
    seen: list[tuple[bool, object]] = []

    def post(d: Digest) -> None:
        state = run_state(ctx, CHANNEL, d.week.key)
        seen.append((state is not None, state.posted_at if state else "-"))

    assert run(ctx, post) is True
    assert seen == [(True, None)]


@pytest.mark.postgres
def test_two_concurrent_posters_post_once_on_postgres(pg_database_url: str) -> None:
    from tests.conftest import _truncate_all

    _truncate_all(pg_database_url)
    clock = FakeClock(MONDAY_0800)
    dbs = [open_database(pg_database_url) for _ in range(2)]  # two "replicas"
    ctxs = [services.Context(db=db, settings=Settings(database_url=pg_database_url,
                                                      secret_key="test-secret" * 3),
                             taxonomy=load_taxonomy(), secret_key=b"test-secret" * 3, clock=clock)
            for db in dbs]
    post = Recorder(delay=0.2)
    barrier = threading.Barrier(8)

    def poster(i: int) -> bool:
        barrier.wait()
        return asyncio.run(run_digest(ctx=ctxs[i % 2], channel=CHANNEL, period="2026-W10",
                                      post=post))

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(poster, range(8)))
        assert results.count(True) == 1
        assert post.calls == 1 and len(post.posted) == 1

        # a stale claim raced by several takers: exactly one takes it over
        clock.now = MONDAY_0800 + timedelta(weeks=1)  # W11 has ended
        assert claim(ctxs[0], CHANNEL, "2026-W11") is not None  # then it "crashed"
        clock.advance(minutes=6)
        barrier.reset()
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(
                lambda i: (barrier.wait(), asyncio.run(run_digest(
                    ctx=ctxs[i % 2], channel=CHANNEL, period="2026-W11", post=post)))[1],
                range(8)))
        assert results.count(True) == 1
        assert [d.week.key for d in post.posted] == ["2026-W10", "2026-W11"]
        assert row(ctxs[0], "2026-W11").attempts == 2
    finally:
        for db in dbs:
            db.dispose()


def test_concurrent_posters_on_each_backend(ctx: services.Context, clock: FakeClock) -> None:
    clock.now = MONDAY_0800
    post = Recorder(delay=0.05)
    barrier = threading.Barrier(4)

    def poster(_: int) -> bool:
        barrier.wait()
        return run(ctx, post)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(poster, range(4)))
    assert results.count(True) == 1 and len(post.posted) == 1


# ---------------------------------------------------------------- the scheduler


async def _until(predicate, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


def _slack_settings(ctx: services.Context) -> Settings:
    return ctx.settings.model_copy(update={"slack_bot_token": "xoxb-test",
                                           "slack_triage_channel": "CTRIAGE"})


def test_scheduler_catches_up_then_posts_on_schedule(ctx: services.Context,
                                                     clock: FakeClock) -> None:
    settings = _slack_settings(ctx)
    clock.now = utc(2026, 3, 11, 10, 0)  # Wednesday: Monday's digest (W10) was missed
    post = Recorder()

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(digest_scheduler(ctx, settings, post, stop,
                                                   max_sleep=0.01))
        await _until(lambda: len(post.posted) == 1)
        # a second replica starting now finds W10 posted and waits for the next Monday
        replica = asyncio.create_task(digest_scheduler(ctx, settings, post, stop,
                                                      max_sleep=0.01))
        await asyncio.sleep(0.1)
        assert len(post.posted) == 1
        clock.now = utc(2026, 3, 16, 6, 59, 59)  # Monday 07:59:59 in Oslo
        await asyncio.sleep(0.1)
        assert len(post.posted) == 1
        clock.now = utc(2026, 3, 16, 7, 0, 1)
        await _until(lambda: len(post.posted) == 2)
        await asyncio.sleep(0.1)
        stop.set()
        await asyncio.gather(task, replica)

    asyncio.run(scenario())
    assert [d.week.key for d in post.posted] == ["2026-W10", "2026-W11"]
    assert post.calls == 2


def test_scheduler_retries_a_failed_post(ctx: services.Context, clock: FakeClock) -> None:
    settings = _slack_settings(ctx)
    clock.now = MONDAY_0800 + timedelta(seconds=1)
    post = Recorder(fail=2)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(digest_scheduler(ctx, settings, post, stop,
                                                   max_sleep=0.01, retry_base=60))
        await _until(lambda: post.calls == 1)
        await asyncio.sleep(0.05)
        assert post.calls == 1  # waits for the retry time
        clock.advance(seconds=61)
        await _until(lambda: post.calls == 2)
        await asyncio.sleep(0.1)  # the failure is recorded and the next retry set
        clock.advance(seconds=119)
        await asyncio.sleep(0.05)
        assert post.calls == 2  # the backoff doubled
        clock.advance(seconds=2)
        await _until(lambda: len(post.posted) == 1)
        stop.set()
        await task

    asyncio.run(scenario())
    assert row(ctx).attempts == 3


def test_scheduler_is_off_without_a_destination(ctx: services.Context) -> None:
    stop = asyncio.Event()
    asyncio.run(asyncio.wait_for(
        digest_scheduler(ctx, ctx.settings, Recorder(), stop), timeout=1))


def test_a_long_waiting_list_shows_the_oldest_and_counts_them_all(
    ctx: services.Context, clock: FakeClock
) -> None:
    """More waiting reports than the list holds: the oldest LIST_MAX, and the full count;
    in-progress reports with feedback and finished ones are not waiting."""
    refs = [submit(ctx, clock, utc(2026, 1, 5, 8, 0) + timedelta(hours=i))
            for i in range(LIST_MAX + 3)]
    answered = submit(ctx, clock, utc(2026, 1, 4, 8, 0))
    services.move_status(ctx=ctx, actor=GROUP, reference=answered, status="in_progress",
                         message="Vi jobber med saken.")
    closed = submit(ctx, clock, utc(2026, 1, 3, 8, 0))
    close(ctx, closed, "Lærdom", "Tiltak")
    d = build_digest(ctx=ctx, week="2026-W10", now=MONDAY_0800)
    assert d.waiting_total == LIST_MAX + 3
    assert [w.reference for w in d.waiting] == refs[:LIST_MAX]


@pytest.mark.parametrize("index", [
    # the counts
    "sqlite_autoindex_report_week_counts_1", "report_open_weeks", "ix_reports_closed_at",
    # the lists
    "ix_reports_waiting", "ix_reports_needs_info", "ix_reports_backed",
    # the state at the end of the week: the few reports changed since (their status then
    # from their status changes), feedback given since, unread marks set before it or
    # cleared since, +1s given since
    "ix_reports_status_changed_at", "ix_audit_events_status_changes",
    "ix_reports_in_progress_feedback", "ix_reports_unread", "ix_audit_events_unread_cleared",
    "ix_plus_ones_created_at",
])
def test_the_digest_statement_reads_an_index_in_order(sqlite_url: str, index: str) -> None:
    """SQLite takes a partial index only when the query repeats its predicate, and has no
    statistics to choose by: the digest's statement is planned on its indexes, reads
    nothing else of the tables, and sorts no table rows (the lists come in index order;
    only the few rows each list returns are merged)."""
    from sqlalchemy import create_engine

    engine = create_engine(sqlite_url)
    compiled = digest_statement("sqlite").compile(dialect=engine.dialect)
    try:
        with engine.connect() as conn:
            plan = [(int(row[0]), int(row[1]), str(row[-1])) for row in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + str(compiled),
                tuple(None for _ in compiled.positiontup or ()))]
    finally:
        engine.dispose()
    steps = [step for _, _, step in plan]
    assert any(index in step for step in steps), steps
    # report_open_weeks has a row per week of history (52 a year): read whole, it is small
    tables = ("reports", "report_week_counts", "plus_ones")
    reads = [(parent, step) for _, parent, step in plan if step.startswith(("SCAN", "SEARCH"))
             and step.split()[1] in tables]
    # (an INTEGER PRIMARY KEY is the table's own index: a few rows looked up by id)
    assert reads and all("INDEX" in step or "PRIMARY KEY" in step for _, step in reads), steps
    for _, parent, step in plan:  # a sort beside a table read would sort table rows
        if "TEMP B-TREE" in step:
            assert parent not in {p for p, _ in reads}, steps


def test_the_index_predicates_name_the_open_statuses() -> None:
    """The partial indexes spell their statuses out (SQLite needs the words); they must
    stay the statuses in which a report is still open."""
    import re

    from intake.domain.model import Status

    finished = {Status.CLOSED, Status.REJECTED, Status.DUPLICATE, Status.REDIRECTED}
    backed = set(re.findall(r"'(\w+)'", m.BACKED_PREDICATE)) - {"suggestion"}
    assert backed == {s.value for s in Status if s not in finished}
    waiting = set(re.findall(r"'(\w+)'", m.WAITING_PREDICATE))
    assert waiting == {"received", "triage", "in_progress"}


def test_the_suggestion_ranking_reads_the_plus_one_counts(
    ctx: services.Context, clock: FakeClock
) -> None:
    """+1s kept on the report by triggers: the ranking follows them, counts the week's own,
    and drops suggestions once they are finished."""
    ideas = [submit(ctx, clock, utc(2026, 2, 2 + i, 9, 0), kind="suggestion",
                    category="routines", subcategory=None) for i in range(7)]
    for i, ref in enumerate(ideas):
        at(clock, utc(2026, 2, 20, 9, 0))
        plus(ctx, ref, i + 1)
    at(clock, utc(2026, 3, 4, 9, 0))  # in W10
    plus(ctx, ideas[1], 2, start=100)
    services.move_status(ctx=ctx, actor=GROUP, reference=ideas[6], status="rejected",
                         message="Ikke aktuelt nå.")
    d = build_digest(ctx=ctx, week="2026-W10", now=MONDAY_0800)
    assert [(s.reference, s.plus_ones, s.plus_ones_this_week) for s in d.top_suggestions] == [
        (ideas[5], 6, 0), (ideas[4], 5, 0), (ideas[1], 4, 2), (ideas[3], 4, 0),
        (ideas[2], 3, 0)]
    with ctx.db.reading() as session:
        stored = dict(session.execute(select(m.Report.reference, m.Report.plus_one_count)
                                      .where(m.Report.reference.in_(ideas))).all())
    assert stored == {ref: (i + 1) + (2 if i == 1 else 0) for i, ref in enumerate(ideas)}


def test_the_waiting_count_matches_the_reports_wherever_the_cutoff_falls(
    ctx: services.Context, clock: FakeClock
) -> None:
    """The waiting total adds the per-week counts the triggers keep for the weeks before the
    cutoff's week to the index count of that week: it equals a count of the reports
    themselves for cutoffs on every weekday and hour (a week still running is shown as it
    stands, so its cutoff falls anywhere), across the change to summer time, while reports
    are triaged, answered and rejected. "More than 7 days" is counted in local wall-clock
    time: the cutoff is the same local time seven days earlier."""
    refs = []
    for i in range(LIST_MAX + 40):
        when = utc(2026, 3, 14, 6, 0) + timedelta(hours=9 * i)
        ref = submit(ctx, clock, when)
        refs.append(ref)
        at(clock, when + timedelta(hours=1))
        if i % 5 == 1:  # in progress with feedback: no longer waiting
            services.move_status(ctx=ctx, actor=GROUP, reference=ref, status="in_progress",
                                 message="Vi jobber med saken.")
        elif i % 7 == 2:
            services.move_status(ctx=ctx, actor=GROUP, reference=ref, status="rejected",
                                 message="Ikke aktuelt.")
        elif i % 4 == 3:  # still waiting, in triage
            services.move_status(ctx=ctx, actor=GROUP, reference=ref, status="triage")
    with ctx.db.transaction() as session:  # in progress without feedback: still waiting
        session.execute(text("UPDATE reports SET status = 'in_progress', "
                             "first_feedback_at = NULL WHERE reference IN :refs")
                        .bindparams(bindparam("refs", expanding=True)),
                        {"refs": refs[4::11]})
    r = m.Report
    with ctx.db.reading() as session:
        rows = session.execute(select(r.reported_at, r.status, r.first_feedback_at)).all()
    full = 0
    for step in range(60):
        now = utc(2026, 3, 30, 5, 0) + timedelta(hours=13 * step)
        cutoff = (now.astimezone(OSLO) - timedelta(days=ctx.settings.digest_stale_days)) \
            .astimezone(UTC)
        expected = sum(1 for at_, status, feedback in rows if at_ < cutoff and (
            status in ("received", "triage") or (status == "in_progress" and feedback is None)))
        running = digest.week_of(now.astimezone(OSLO).date()).key
        d = build_digest(ctx=ctx, week=running, now=now)
        assert not d.ended and d.as_of == now
        assert d.waiting_total == expected, now
        full += len(d.waiting) == LIST_MAX
    assert full > 20  # more than the list holds: counted, not the list's length


# ---------------------------------------------------------------- a week as it ended


def test_a_past_week_is_described_as_it_was_at_its_end(ctx: services.Context,
                                                        week10: dict[str, str],
                                                        clock: FakeClock) -> None:
    """W10 built in August is W10 as it ended (Monday 9 March 00:00 in Oslo): what waited
    then, with its age then; not a report from August, nor what happened since."""
    r = week10
    before = build_digest(ctx=ctx, week="2026-W10", now=MONDAY_0800)
    # after the week: jan is answered and closed, old4's reporter answers, b is reopened,
    # the +1s change, and a report comes in in August
    at(clock, utc(2026, 4, 2, 9, 0))
    close(ctx, r["jan"], "Lært i april", "Tiltak i april")
    services.reporter_answer(ctx=ctx, actor=REPORTER, reference=r["old4"],
                             text="Det gjaldt medisinsk avdeling.")
    services.reopen(ctx=ctx, actor=GROUP, reference=r["b"])
    plus(ctx, r["d"], 6, start=200)
    august = submit(ctx, clock, utc(2026, 8, 12, 9, 0))
    at(clock, utc(2026, 8, 20, 9, 0))

    after = build_digest(ctx=ctx, week="2026-W10", now=clock.now)
    assert dataclasses.replace(after, generated_at=before.generated_at) == before
    assert after.as_of == utc(2026, 3, 8, 23, 0) and after.ended
    assert [(w.reference, w.days, w.status) for w in after.waiting] == [
        (r["jan"], 48, "received"), (r["old1"], 34, "received"), (r["old2"], 21, "triage")]
    assert [(n.reference, n.days) for n in after.needs_info] == [(r["old4"], 13)]
    assert [x.reference for x in after.learned] == [r["b"]]
    assert [(s.reference, s.plus_ones) for s in after.top_suggestions] == [
        (r["old_idea"], 3), (r["d"], 2)]
    text = render_text(after, NB)
    assert august not in text and "115 dager" not in text and "Uka er ikke over" not in text
    # today's state is another digest: the week that has just ended
    now = build_digest(ctx=ctx, week=None, now=clock.now)
    assert now.week.key == "2026-W33"
    assert r["jan"] not in [w.reference for w in now.waiting]
    assert [(n.reference, n.days) for n in now.unread] == [(r["old4"], 137)]


def _timeline(ctx: services.Context, clock: FakeClock, seed: int,
              before_step: Callable[[datetime], None]) -> None:
    """Eight weeks of reports and of the group's and reporters' work, in random order,
    one step every eight hours; `before_step(when)` is called before each."""
    import random

    rng = random.Random(seed)
    refs: list[str] = []
    states: dict[str, str] = {}
    start = utc(2026, 2, 20, 7, 13)  # two weeks before W10, off the hour
    for step in range(8 * 7 * 3):
        when = start + timedelta(hours=8 * step)
        before_step(when)
        at(clock, when)
        roll = rng.random()
        if roll < 0.22 or not refs:
            kind = "suggestion" if rng.random() < 0.3 else "deviation"
            extra = {"category": "routines", "subcategory": None} if kind == "suggestion" \
                else {}
            ref = submit(ctx, clock, when, kind=kind, **extra)
            refs.append(ref)
            states[ref] = "received"
            continue
        ref = rng.choice(refs)
        state = states[ref]
        try:
            if roll < 0.35:
                plus(ctx, ref, 1, start=step)
            elif roll < 0.45 and state in ("received", "triage"):
                services.request_info(ctx=ctx, actor=GROUP, reference=ref, question="Hvor?")
                states[ref] = "needs_info"
            elif roll < 0.55:
                services.reporter_answer(ctx=ctx, actor=REPORTER, reference=ref,
                                         text="Svar fra melderen.")
                if state == "needs_info":
                    states[ref] = "triage"
            elif roll < 0.62:
                services.get_report(ctx=ctx, actor=GROUP, reference=ref)
            elif roll < 0.7 and state in ("received", "triage"):
                services.move_status(ctx=ctx, actor=GROUP, reference=ref,
                                     status="in_progress")
                states[ref] = "in_progress"
            elif roll < 0.78 and state == "in_progress":
                services.close(ctx=ctx, actor=GROUP, reference=ref,
                               learning_point=f"Lærdom {ref}", measure=f"Tiltak {ref}")
                states[ref] = "closed"
            elif roll < 0.84 and state == "closed":
                services.reopen(ctx=ctx, actor=GROUP, reference=ref)
                states[ref] = "triage"
            elif roll < 0.9 and state in ("received", "triage"):
                services.move_status(ctx=ctx, actor=GROUP, reference=ref, status="rejected",
                                     message="Utenfor mandatet.")
                states[ref] = "rejected"
            elif roll < 0.95:
                services.reply(ctx=ctx, actor=GROUP, reference=ref, text="Takk!")
                if state == "received":
                    states[ref] = "triage"
            else:
                services.move_status(ctx=ctx, actor=GROUP, reference=ref, status="triage")
                states[ref] = "triage"
        except DomainError:
            pass  # a second +1 by the same person, a move the table refuses


@pytest.mark.parametrize("seed", [1, 4])
def test_every_past_week_is_the_same_whenever_it_is_built(ctx: services.Context,
                                                          clock: FakeClock,
                                                          seed: int) -> None:
    """A digest built the instant its week ends reads the state as it stands; built weeks
    later it reads the history (status changes and unread marks in the audit log, first
    feedback and +1 times). Both must give the same digest, for every week, list and
    count, however the reports moved on after the week."""
    tz = ctx.settings.timezone
    ends = {key: digest.parse_week(key).bounds(tz)[1]
            for key in (f"2026-W{w}" for w in range(10, 16))}
    snapshots: dict[str, Digest] = {}

    def before_step(when: datetime) -> None:
        for key, end in ends.items():  # nothing has happened after `end` yet
            if key not in snapshots and when > end:
                snapshots[key] = build_digest(ctx=ctx, week=key, now=end)

    _timeline(ctx, clock, seed, before_step)
    assert set(snapshots) == set(ends)
    # then every report moves on: answered, read, closed, with more +1s
    at(clock, clock.now + timedelta(days=1))
    with ctx.db.reading() as session:
        refs = session.scalars(select(m.Report.reference).order_by(m.Report.id)).all()
    for i, ref in enumerate(refs):
        view = services.get_report(ctx=ctx, actor=GROUP, reference=ref)  # read: not unread
        status = view.status
        if status == "needs_info":
            services.reporter_answer(ctx=ctx, actor=REPORTER, reference=ref, text="Svar.")
            services.get_report(ctx=ctx, actor=GROUP, reference=ref)
            status = "triage"
        if status in ("received", "triage"):
            services.move_status(ctx=ctx, actor=GROUP, reference=ref, status="in_progress")
            status = "in_progress"
        if status == "in_progress":
            services.close(ctx=ctx, actor=GROUP, reference=ref, learning_point=f"Lærdom {ref}",
                           measure=f"Tiltak {ref}")
        if view.kind == "suggestion":
            plus(ctx, ref, 1, start=1000 + i)
    for key, snapshot in snapshots.items():
        later = build_digest(ctx=ctx, week=key, now=clock.now)
        assert dataclasses.replace(later, generated_at=snapshot.generated_at) == snapshot, key
    # the timeline exercised what it is meant to: every list, with reports whose state
    # changed after the week (so the later digests had to read the history)
    seen = list(snapshots.values())
    assert any(s.waiting for s in seen) and any(s.needs_info for s in seen)
    assert any(u.status == "closed" for s in seen for u in s.unread)
    assert any(s.learned for s in seen) and any(s.top_suggestions for s in seen)
    today = build_digest(ctx=ctx, week=None, now=clock.now + timedelta(weeks=1))
    assert today.waiting == today.needs_info == today.unread == today.top_suggestions == ()


def test_only_a_week_that_has_ended_is_posted_and_a_future_week_is_refused(
    ctx: services.Context, week10: dict[str, str], clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The rules live in intake.reporting.digest: a week not yet begun has no digest; a week still
    running is shown as it stands (a dry run) but never posted, nor claimed."""
    clock.now = utc(2026, 3, 11, 10, 0)  # Wednesday of W11
    for week in ("2026-W12", "2027-W01"):
        with pytest.raises(DomainError) as refused:
            build_digest(ctx=ctx, week=week, now=clock.now)
        assert refused.value.code == "week_not_started"
    running = build_digest(ctx=ctx, week="2026-W11", now=clock.now)
    assert not running.ended and running.as_of == clock.now
    assert "Uka er ikke over: slik står det 11. mars 2026" in render_text(running, NB)
    with pytest.raises(DomainError) as refused:
        run(ctx, Recorder(), "2026-W11")
    assert refused.value.code == "week_not_ended"
    with ctx.db.reading() as s:
        assert s.scalar(select(func.count()).select_from(m.DigestRun)) == 0
    assert run(ctx, Recorder(), "2026-W10") is True  # the week that has ended

    # `meld digest` (on the real clock) says so and posts nothing
    settings = _slack_settings(ctx)
    today = datetime.now(OSLO).date()
    running, future = (digest.week_of(today).key,
                       digest.week_of(today + timedelta(weeks=2)).key)
    for args in (["--week", future, "--dry-run"], ["--week", future]):
        assert main(["digest", *args], settings=settings) == 2
        assert f"Uke {future} har ikke begynt ennå" in capsys.readouterr().err
    assert main(["digest", "--week", running], settings=settings) == 2
    assert f"uke {running} er ikke over ennå" in capsys.readouterr().err
    with ctx.db.reading() as s:
        assert s.scalar(select(func.count()).select_from(m.DigestRun)) == 1


def test_unread_answers_are_listed_and_a_closed_one_asks_to_reopen(
    ctx: services.Context, clock: FakeClock,
) -> None:
    done = submit(ctx, clock, utc(2026, 2, 23, 9, 0))
    close(ctx, done, "Lærdom", "Tiltak")
    open_ = submit(ctx, clock, utc(2026, 2, 24, 9, 0))
    read = submit(ctx, clock, utc(2026, 2, 24, 10, 0))
    at(clock, utc(2026, 3, 3, 9, 0))
    for ref in (done, open_, read):
        services.reporter_answer(ctx=ctx, actor=REPORTER, reference=ref, text="XYZZY igjen")
    services.get_report(ctx=ctx, actor=GROUP, reference=read)
    d = build_digest(ctx=ctx, week="2026-W10", now=MONDAY_0800)
    assert [(u.reference, u.days, u.status) for u in d.unread] == [
        (done, 6, "closed"), (open_, 6, "received")]
    assert d.unread_total == 2
    text = render_text(d, NB)
    assert (f"Uleste svar fra meldere, eldste først:\n  {done} · Epikrise · ulest i 6 dager · "
            f"lukket: gjenåpne?\n  {open_} · Epikrise · ulest i 6 dager\n") in text
    assert "XYZZY" not in text


def test_doctors_me_too_counts_in_the_digest_like_the_groups_plus_ones(
        ctx: services.Context, clock: FakeClock) -> None:
    """"Dette har skjedd meg også" from a doctor about to report is a +1 like any other:
    the digest's most supported suggestions count it, in the week it was given."""
    idea = submit(ctx, clock, utc(2026, 2, 2, 9, 0), kind="suggestion", category="routines",
                  subcategory=None)
    other = submit(ctx, clock, utc(2026, 2, 3, 9, 0), kind="suggestion",
                   category="routines", subcategory=None)
    services.set_public_title(ctx=ctx, actor=GROUP, reference=idea,
                              title="Felles rutine for legemiddelliste")
    at(clock, utc(2026, 3, 4, 9, 0))  # in W10
    for i in range(3):
        services.me_too(ctx=ctx, actor=Actor(f"teams:doc-{i}", Role.REPORTER),
                        reference=idea, place="trondheim")
    plus(ctx, other, 1)
    d = build_digest(ctx=ctx, week="2026-W10", now=MONDAY_0800)
    assert [(s.reference, s.plus_ones, s.plus_ones_this_week) for s in d.top_suggestions] == [
        (idea, 3, 3), (other, 1, 1)]

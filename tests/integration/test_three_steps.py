"""Three steps from any door, in the service, on SQLite and PostgreSQL: only the text and
the no-identifiers confirmation are required; what is left out is filed as the group
expects (a deviation of today, of unknown severity, "uncategorized" with Meld's suggestion
from the text kept and offered in the receipt; filed under the suggestion only where a group
opts in with MELD_SUGGEST_MIN_SCORE); the reporter's choice always wins and is kept apart
from the suggestion and from the group's assessment; the reporter can change a category until the
group has assessed it; the group's lists show the uncategorized open reports first."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from faker import Faker
from sqlalchemy import select

from intake import services
from intake.domain.model import (
    Actor,
    Conflict,
    PermissionDenied,
    Role,
    Severity,
    ValidationFailed,
)
from intake.domain.periods import parse_period
from intake.i18n import Translator
from intake.reporting.period_report import build_period_report
from intake.services.suggesting import suggest_category
from intake.settings import Settings
from intake.texts_filing import category_line, offered_choice
from storage import async_driver
from storage import models as m

REPORTER = Actor("slack:U0THREE1", Role.REPORTER)
OTHER = Actor("slack:U0THREE2", Role.REPORTER)
GROUP = Actor("slack:UGROUP", Role.TRIAGER)
NB = Translator("nb", "Europe/Oslo")
CLEAR = "Epikrisen mangler fortsatt, pasienten ble utskrevet for en uke siden."
NOTHING = "Hei, dette er bare en prøve."
# suggested with a posterior of some 1 - 1e-6, and one that rounds to exactly 1.0
CERTAIN = ("Epikrisen mangler. Epikrise ikke mottatt, utskrivningsepikrise etterlyst, "
           "utskrivningsnotat og legebrev mangler, epikrisen er aldri kommet.")
BEYOND_DOUBT = (CERTAIN + " Foreløpig epikrise, sammenfatning, oppsummering og diktat er "
                "uteblitt; vi savner kopi av epikrise og journalnotat. Epikrisetid, utreise, "
                "behandlingsforløp, forløpet under oppholdet, anbefalinger til fastlegen og "
                "plan videre mangler; ingen papirer, ingen forløpsbeskrivelse.")


def minimal(text: str = CLEAR, **more: Any) -> services.ReportDraft:
    """The three steps: the text, the confirmation, send."""
    return services.ReportDraft(description=text, no_patient_identifiers=True, **more)


def with_settings(ctx: services.Context, **changes: Any) -> services.Context:
    return dataclasses.replace(ctx, settings=ctx.settings.model_copy(update=changes))


def stored(ctx: services.Context, reference: str) -> m.Report:
    with ctx.db.reading() as s:
        return s.scalars(select(m.Report).where(m.Report.reference == reference)).one()


def receipt_payload(ctx: services.Context, reference: str) -> dict[str, Any]:
    with ctx.db.reading() as s:
        return s.scalars(select(m.OutboxMessage.payload).where(
            m.OutboxMessage.event == "receipt",
            m.OutboxMessage.payload["reference"].as_string() == reference)).one()


@pytest.fixture
def eager(ctx: services.Context) -> services.Context:
    """Files every report under Meld's suggestion when it has one (the threshold apart)."""
    return with_settings(ctx, suggest_min_score=0.0)


def test_text_and_confirmation_alone_are_a_report(eager: services.Context) -> None:
    ctx = eager
    receipt = services.submit_report(ctx=ctx, actor=REPORTER, draft=minimal())
    report = stored(ctx, receipt.reference)
    assert report.kind == "deviation"
    assert report.reported_severity == Severity.UNKNOWN
    assert report.occurred_on == ctx.today()
    assert report.place_id is None and report.reporter_party is None
    assert report.reported_category_id is None  # the reporter chose none
    # a clear text is filed under Meld's suggestion, and the receipt says so
    assert report.category_source == "suggested"
    assert report.category_id == "discharge_summary"
    assert (receipt.category, receipt.category_source) == ("discharge_summary", "suggested")
    assert report.suggested_category_id == "discharge_summary"
    payload = receipt_payload(ctx, receipt.reference)
    assert payload["category_source"] == "suggested"
    assert payload["alternatives"][0] == "discharge_summary"
    line = category_line(ctx.taxonomy, payload, NB)
    assert line is not None and "Epikrise" in line and "endre" in line


def test_by_default_even_a_certain_suggestion_is_left_to_the_group(
        ctx: services.Context) -> None:
    """The default never files under a suggestion: "uncategorized" for the group to set,
    the suggestion kept, and the receipt names it with a way to take it."""
    assert Settings().suggest_min_score is None and ctx.settings.suggest_min_score is None
    [top] = suggest_category(ctx, CERTAIN, limit=1)
    assert (top.category, top.subcategory) == ("discharge_summary", "missing")
    assert top.score > 0.999  # near-certain, and still not filed
    receipt = services.submit_report(ctx=ctx, actor=REPORTER, draft=minimal(CERTAIN))
    report = stored(ctx, receipt.reference)
    assert (report.category_id, report.subcategory_id, report.category_source) == (
        "uncategorized", None, "none")
    assert (report.suggested_category_id, report.suggested_subcategory_id) == (
        "discharge_summary", "missing")
    assert (receipt.category, receipt.category_source) == ("uncategorized", "none")
    assert (receipt.suggested_category, receipt.suggested_subcategory) == (
        "discharge_summary", "missing")
    # the receipt notice (Slack, Teams) and a receipt shown again (the status page) say so
    payload = receipt_payload(ctx, receipt.reference)
    assert (payload["suggested_category"], payload["suggested_subcategory"]) == (
        "discharge_summary", "missing")
    again = services.receipt_for(ctx=ctx, reference=receipt.reference)
    assert again.suggested_category == "discharge_summary"
    assert category_line(ctx.taxonomy, payload, NB) == (
        "Kategori: Ikke kategorisert; Forbedringsgruppen velger den. Meld foreslår "
        "Epikrise › Mangler: velg den om den passer.")
    assert offered_choice(ctx.taxonomy, payload, NB) == (
        "discharge_summary/missing", "Epikrise › Mangler")
    # taking it files the reporter's choice; left to the group again, it is offered again
    taken = services.change_category_to(ctx=ctx, actor=REPORTER, reference=receipt.reference,
                                        choice="discharge_summary/missing")
    assert (taken.category, taken.subcategory, taken.category_source) == (
        "discharge_summary", "missing", "reporter")
    assert taken.suggested_category is None  # nothing to offer: the reporter chose
    left = services.change_category_to(ctx=ctx, actor=REPORTER, reference=receipt.reference,
                                       choice="")
    assert (left.category_source, left.suggested_category) == ("none", "discharge_summary")


def test_a_threshold_of_one_never_files_even_a_posterior_of_one(
        ctx: services.Context) -> None:
    [top] = suggest_category(ctx, BEYOND_DOUBT, limit=1)
    assert top.score == 1.0  # rounded: the reason 1 must mean "never", not "at least 1"
    for threshold in (None, 1.0):
        receipt = services.submit_report(
            ctx=with_settings(ctx, suggest_min_score=threshold), actor=REPORTER,
            draft=minimal(BEYOND_DOUBT, confirm_warnings=True))
        assert (receipt.category, receipt.category_source) == ("uncategorized", "none")
    opted_in = with_settings(ctx, suggest_min_score=0.999)
    receipt = services.submit_report(ctx=opted_in, actor=REPORTER,
                                     draft=minimal(BEYOND_DOUBT, confirm_warnings=True))
    assert (receipt.category, receipt.category_source) == ("discharge_summary", "suggested")
    assert receipt.suggested_category is None  # filed under it: nothing more to offer


def test_the_confirmation_and_the_text_stay_required(ctx: services.Context) -> None:
    with pytest.raises(ValidationFailed) as err:
        services.submit_report(ctx=ctx, actor=REPORTER, draft=services.ReportDraft(
            description="  ", no_patient_identifiers=False))
    assert {(e.field, e.code) for e in err.value.errors} == {
        ("description", "required"), ("no_patient_identifiers", "must_confirm_no_identifiers")}


def test_no_telling_words_leave_it_to_the_group(ctx: services.Context) -> None:
    receipt = services.submit_report(ctx=ctx, actor=REPORTER, draft=minimal(NOTHING))
    report = stored(ctx, receipt.reference)
    assert (report.category_id, report.category_source) == ("uncategorized", "none")
    assert receipt.category_source == "none"
    line = category_line(ctx.taxonomy, receipt_payload(ctx, receipt.reference), NB)
    assert line is not None and "ikke valgt" in line


def test_a_suggestion_below_the_threshold_is_not_filed(ctx: services.Context) -> None:
    strict = with_settings(ctx, suggest_min_score=1.0)
    receipt = services.submit_report(ctx=strict, actor=REPORTER, draft=minimal())
    report = stored(ctx, receipt.reference)
    assert (report.category_id, report.category_source) == ("uncategorized", "none")
    # the suggestion is still kept for the group to take
    assert report.suggested_category_id == "discharge_summary"


def test_the_reporters_choice_wins_and_the_suggestion_is_kept_apart(
        eager: services.Context) -> None:
    ctx = eager
    receipt = services.submit_report(ctx=ctx, actor=REPORTER, draft=minimal(
        category="referral", subcategory="referral/unanswered"))
    report = stored(ctx, receipt.reference)
    assert (report.category_id, report.subcategory_id) == ("referral", "unanswered")
    assert (report.reported_category_id, report.category_source) == ("referral", "reporter")
    assert report.suggested_category_id == "discharge_summary"
    assert category_line(ctx.taxonomy, receipt_payload(ctx, receipt.reference), NB) is None
    # the group's assessment is its own: the reporter's choice stays as it was
    services.assess(ctx=ctx, actor=GROUP, reference=receipt.reference,
                    category="discharge_summary")
    report = stored(ctx, receipt.reference)
    assert (report.category_id, report.category_source) == ("discharge_summary", "group")
    assert report.reported_category_id == "referral"


def test_a_combined_subcategory_names_its_category(ctx: services.Context) -> None:
    receipt = services.submit_report(ctx=ctx, actor=REPORTER, draft=minimal(
        NOTHING, subcategory="medication/med_list"))
    report = stored(ctx, receipt.reference)
    assert (report.category_id, report.subcategory_id) == ("medication", "med_list")


def test_unknown_choices_are_still_refused(ctx: services.Context) -> None:
    for bad in ({"category": "nope"}, {"category": "uncategorized"}, {"severity": "huge"},
                {"kind": "gossip"}, {"place": "mars"}):
        with pytest.raises(ValidationFailed):
            services.submit_report(ctx=ctx, actor=REPORTER, draft=minimal(**bad))


def test_an_identity_number_is_refused_without_a_category(ctx: services.Context) -> None:
    with pytest.raises(ValidationFailed) as err:
        services.submit_report(ctx=ctx, actor=REPORTER, draft=minimal(
            f"Epikrisen til {Faker('no_NO').ssn()} mangler."))
    assert any(e.code == "patient_identifier" and not e.warning for e in err.value.errors)


def test_same_key_same_report_whatever_the_model_says_later(
        eager: services.Context) -> None:
    ctx = eager
    first = services.submit_report(ctx=ctx, actor=REPORTER, draft=minimal(), idempotency_key="k1")
    strict = with_settings(ctx, suggest_min_score=1.0)
    again = services.submit_report(ctx=strict, actor=REPORTER, draft=minimal(),
                                   idempotency_key="k1")
    assert again.reference == first.reference and not again.created
    assert again.category_source == "suggested"


# ---------------------------------------------------------------- the reporter's "endre"


def test_the_reporter_changes_the_category_until_the_group_assessed(
        ctx: services.Context) -> None:
    receipt = services.submit_report(ctx=ctx, actor=REPORTER, draft=minimal(NOTHING))
    ref = receipt.reference
    changed = services.change_category(ctx=ctx, actor=REPORTER, reference=ref,
                                       category="medication",
                                       subcategory="medication/med_list")
    assert (changed.category, changed.subcategory, changed.category_source) == (
        "medication", "med_list", "reporter")
    report = stored(ctx, ref)
    assert (report.reported_category_id, report.reported_subcategory_id) == (
        "medication", "med_list")
    # someone else cannot, and the attempt is audited
    with pytest.raises(PermissionDenied):
        services.change_category(ctx=ctx, actor=OTHER, reference=ref, category="referral")
    # back to the group's choice
    left = services.change_category(ctx=ctx, actor=REPORTER, reference=ref, category="")
    assert (left.category, left.category_source) == ("uncategorized", "none")
    with pytest.raises(ValidationFailed):
        services.change_category(ctx=ctx, actor=REPORTER, reference=ref, category="referral",
                                 subcategory="medication/med_list")
    services.assess(ctx=ctx, actor=GROUP, reference=ref, category="follow_up")
    with pytest.raises(Conflict) as err:
        services.change_category(ctx=ctx, actor=REPORTER, reference=ref, category="referral")
    assert err.value.code == "category_assessed"
    assert stored(ctx, ref).category_id == "follow_up"
    with ctx.db.reading() as s:
        actions = list(s.scalars(select(m.AuditEvent.action).where(
            m.AuditEvent.report_id == stored(ctx, ref).id).order_by(m.AuditEvent.id)))
    assert actions.count("category_changed") == 2
    assert "category_change_denied" in actions


def test_form_defaults_are_the_last_reports_place_and_parties(ctx: services.Context) -> None:
    assert services.form_defaults(ctx=ctx, actor=REPORTER) == services.FormDefaults()
    services.submit_report(ctx=ctx, actor=REPORTER, draft=minimal(
        place="stolav_medisinsk", reporter_party="gp", concerned_party="hospital"))
    services.submit_report(ctx=ctx, actor=OTHER, draft=minimal(place="trondheim"))
    found = services.form_defaults(ctx=ctx, actor=REPORTER)
    assert (found.place, found.reporter_party, found.concerned_party) == (
        "stolav_medisinsk", "gp", "hospital")
    # forged or retired values are dropped
    assert services.defaults_of(ctx, "mars", "boss", "gp") == services.FormDefaults(
        concerned_party="gp")

    # a door on the event loop reads the same (PostgreSQL: on the loop's own connections)
    actors = (REPORTER, OTHER, GROUP)
    used: list[int] = []

    async def on_the_loop() -> list[services.FormDefaults]:
        driver = async_driver.open_for_loop(ctx.db)
        try:
            return [await services.form_defaults_async(ctx=ctx, actor=a) for a in actors]
        finally:
            await async_driver.close_for_loop(ctx.db)
            used.append(driver.checkouts if driver is not None else 0)

    assert asyncio.run(on_the_loop()) == [services.form_defaults(ctx=ctx, actor=a)
                                          for a in actors]
    assert used == [3 if ctx.db.dialect == "postgresql" else 0]


# ---------------------------------------------------------------- the group's lists


def test_the_uncategorized_open_reports_come_first_in_every_page(
        eager: services.Context) -> None:
    ctx = eager
    refs = []
    for i in range(9):
        text = NOTHING if i % 3 == 0 else CLEAR
        refs.append(services.submit_report(ctx=ctx, actor=REPORTER,
                                           draft=minimal(f"{text} ({i})")).reference)
    uncategorized = [r for i, r in enumerate(refs) if i % 3 == 0]
    # a closed uncategorized report waits for nobody: it keeps its place by date
    closed = uncategorized[0]
    services.move_status(ctx=ctx, actor=GROUP, reference=closed, status="triage")
    services.move_status(ctx=ctx, actor=GROUP, reference=closed, status="rejected")
    services.close(ctx=ctx, actor=GROUP, reference=closed, learning_point="Ingen.",
                   measure="Ingen.")
    first = [r for r in reversed(uncategorized) if r != closed]
    rest = [r for r in reversed(refs) if r not in first]
    for oldest_first in (False, True):
        expected = (first + rest) if not oldest_first else (
            list(reversed(first)) + list(reversed(rest)))
        for size in (1, 2, 3, 50):
            seen: list[str] = []
            after = None
            while True:
                page = services.list_reports(ctx=ctx, actor=GROUP, after=after, limit=size,
                                             oldest_first=oldest_first)
                seen += [v.reference for v in page.items]
                if page.next_cursor is None:
                    break
                after = page.next_cursor
            assert seen == expected, (oldest_first, size)


def test_the_group_sees_the_suggestion_and_the_source(eager: services.Context) -> None:
    ctx = eager
    ref = services.submit_report(ctx=ctx, actor=REPORTER, draft=minimal()).reference
    view = services.get_report(ctx=ctx, actor=GROUP, reference=ref)
    assert (view.category_source, view.suggested_category) == ("suggested", "discharge_summary")
    [row] = services.list_reports(ctx=ctx, actor=GROUP).items
    assert row.category_source == "suggested"
    mine = services.get_report(ctx=ctx, actor=REPORTER, reference=ref)
    assert mine.suggested_category is None  # the group's view only


def test_the_period_counts_keep_uncategorized_in_their_own_row(
        eager: services.Context) -> None:
    ctx = eager
    for text in (NOTHING, NOTHING, CLEAR):
        services.submit_report(ctx=ctx, actor=REPORTER, draft=minimal(text))
    strict = with_settings(ctx, suggest_min_score=1.0)
    services.submit_report(ctx=strict, actor=REPORTER, draft=minimal(CLEAR))
    report = build_period_report(ctx=ctx, actor=GROUP,
                                 period=parse_period(str(ctx.today().year), NB))
    rows = {r.key: r for r in next(b for b in report.breakdowns if b.key == "category").rows}
    assert rows["uncategorized"].count == 3
    assert rows["uncategorized"].label == "Ikke kategorisert"
    assert rows["discharge_summary"].count == 1
    severities = {r.key: r.count for r in next(
        b for b in report.breakdowns if b.key == "reported_severity").rows}
    assert severities["unknown"] == 4


# ---------------------------------------------------------------- training in serve


def test_a_submit_does_not_wait_for_the_first_training(eager: services.Context) -> None:
    """While `meld serve` trains the first model (seconds on a large database), a submit is
    suggested from the categories' words alone instead of waiting."""
    from intake.services.suggesting import _kept

    lock = _kept(eager).lock
    assert lock.acquire(timeout=5)  # as the start-up training holds it
    try:
        done: list[services.Receipt] = []
        worker = threading.Thread(target=lambda: done.append(services.submit_report(
            ctx=eager, actor=REPORTER, draft=minimal())))
        worker.start()
        worker.join(timeout=20)
        assert done, "the submit waited for the training"
        assert done[0].category == "discharge_summary"  # from the categories' own words
    finally:
        lock.release()


def test_the_scheduler_trains_at_start_and_at_the_nightly_hour(ctx: services.Context) -> None:
    from intake.reporting.digest_schedule import next_run
    from intake.reporting.suggest_schedule import nightly_rule, suggest_scheduler

    rule = nightly_rule(3)
    after = ctx.clock()
    first = next_run(after, rule, "Europe/Oslo")
    assert first > after and first - after <= timedelta(days=1)
    assert first.astimezone(ZoneInfo("Europe/Oslo")).hour == 3

    async def run() -> int:
        stop = asyncio.Event()
        task = asyncio.create_task(suggest_scheduler(ctx, ctx.settings, stop))
        for _ in range(200):  # the start-up training, in a thread
            await asyncio.sleep(0.02)
            if category_model_kept(ctx):
                break
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        return services.category_model(ctx).example_count

    assert asyncio.run(run()) == 0  # trained (on no assessed report yet), and stopped


def category_model_kept(ctx: services.Context) -> bool:
    from intake.services.suggesting import _kept

    return _kept(ctx).get(ctx.taxonomy) is not None


def test_the_group_reads_who_chose_the_category(eager: services.Context) -> None:
    from intake.texts_filing import group_category_text

    suggested = services.submit_report(ctx=eager, actor=REPORTER, draft=minimal()).reference
    strict = with_settings(eager, suggest_min_score=1.0)
    left = services.submit_report(ctx=strict, actor=REPORTER, draft=minimal()).reference
    text = group_category_text(eager.taxonomy, services.get_report(
        ctx=eager, actor=GROUP, reference=suggested), NB)
    assert text.startswith("Epikrise") and "foreslått av Meld" in text
    text = group_category_text(eager.taxonomy, services.get_report(
        ctx=eager, actor=GROUP, reference=left), NB)
    assert text.startswith("Ikke kategorisert (ikke valgt). Meld foreslår: Epikrise")
    services.assess(ctx=eager, actor=GROUP, reference=left, category="referral")
    text = group_category_text(eager.taxonomy, services.get_report(
        ctx=eager, actor=GROUP, reference=left), NB)
    assert text == "Henvisning"

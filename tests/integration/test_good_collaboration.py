"""Good collaboration ("godt samarbeid", like LFPSE's good care), on SQLite and PostgreSQL:
accepted with no harm asked, a thank-you receipt with no feedback date, refused like any
report when it holds a national identity number, never reminded or overdue, and counted
apart in the tertial and annual reports and the weekly digest: the counts of deviations,
suggestions and input are the same with or without it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from typing import Any

import pytest
from faker import Faker
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.chat.parsing import parse
from intake import services
from intake.domain.model import Actor, Kind, Role, Status, ValidationFailed
from intake.i18n import Translator
from intake.reporting.digest import build_digest
from intake.reporting.digest_text import breakdowns, render_text, summary_line
from intake.reporting.model import PeriodReport
from intake.reporting.render_html import render_html
from intake.reporting.render_tables import render_csv, render_xlsx
from intake.texts import notification_text, receipt_lines
from intake.texts_good import GOOD_THANKS
from storage import models as m
from tests.fakes import FakeClock
from tests.integration.helpers import draft
from tests.integration.test_reports import LATE_2026, assert_sums, build, load_golden

GOOD = Kind.GOOD_COLLABORATION.value
REPORTER = Actor("slack:U0GOOD1", Role.REPORTER)
WEB = Actor(services.ANONYMOUS_WEB, Role.REPORTER)
GROUP = Actor("slack:UGROUP", Role.TRIAGER)
NB = Translator("nb", "Europe/Oslo")
EN = Translator("en", "Europe/Oslo")
THANKS_NB = "Takk for at du forteller oss hva som fungerte!"
WORKED = "Epikrisen kom samme dag, og sykehuset ringte fastlegen før utskriving."


def good(**overrides: Any) -> services.ReportDraft:
    """A good-collaboration report as a door sends it: no severity asked."""
    values: dict[str, Any] = {"kind": GOOD, "description": WORKED, "severity": None}
    values.update(overrides)
    return draft(**values)


def outbox(ctx: services.Context, event: str) -> list[m.OutboxMessage]:
    with ctx.db.reading() as s:
        return list(s.scalars(select(m.OutboxMessage).where(m.OutboxMessage.event == event)
                              .order_by(m.OutboxMessage.id)))


def stored(ctx: services.Context, reference: str) -> m.Report:
    with ctx.db.reading() as s:
        return s.scalars(select(m.Report).where(m.Report.reference == reference)).one()


# ---------------------------------------------------------------- submitting


def test_accepted_with_no_harm_asked_and_a_thank_you_receipt(ctx: services.Context) -> None:
    receipt = services.submit_report(ctx=ctx, actor=REPORTER, draft=good())
    assert receipt.created and receipt.status == Status.RECEIVED
    assert receipt.kind == GOOD
    assert receipt.feedback_by is None  # nothing waits for an answer: no date promised
    assert not receipt.formal_guidance
    report = stored(ctx, receipt.reference)
    assert (report.kind, report.reported_severity) == (GOOD, "none")
    # the receipt notice thanks, and promises no date
    [row] = outbox(ctx, "receipt")
    assert {k: v for k, v in row.payload.items() if k != "alternatives"} == {
        "reference": receipt.reference, "formal_guidance": False, "kind": GOOD,
        "category": "discharge_summary", "subcategory": "missing",
        "category_source": "reporter"}
    text = notification_text("receipt", row.payload, NB, "slack")
    assert text.startswith(THANKS_NB) and receipt.reference in text
    assert "senest" not in text and "Takk! Meldingen din" not in text
    assert notification_text("receipt", row.payload, EN).startswith(
        EN(GOOD_THANKS, reference=receipt.reference))
    # the group's card is told what it is, in coded fields only
    [card] = outbox(ctx, "new_report")
    assert (card.payload["kind"], card.payload["severity"], card.payload["serious"]) == (
        GOOD, "none", False)
    # the web receipt (status page, API) says the same, and where answers would come
    lines = receipt_lines(services.receipt_for(ctx=ctx, reference=receipt.reference), NB)
    assert lines[0].startswith(THANKS_NB) and len(lines) == 3


def test_a_severity_sent_anyway_is_stored_as_none(ctx: services.Context) -> None:
    """A chat form may still hold a severity picked before the kind was changed: no harm
    is asked of good collaboration, so it is none (and no formal-reporting guidance)."""
    receipt = services.submit_report(ctx=ctx, actor=REPORTER, draft=good(severity="severe"))
    assert stored(ctx, receipt.reference).reported_severity == "none"
    assert not receipt.formal_guidance


def test_every_other_kind_left_without_a_severity_is_of_unknown_severity(
        ctx: services.Context) -> None:
    # the severity may be left out (three steps from any door); only good collaboration is
    # "none", the others "unknown" for the group to assess
    for kind in ("deviation", "suggestion", "input", None):
        receipt = services.submit_report(ctx=ctx, actor=REPORTER,
                                         draft=draft(kind=kind, severity=None))
        report = stored(ctx, receipt.reference)
        assert (report.kind, report.reported_severity) == (kind or "deviation", "unknown")


def test_a_deviation_keeps_its_promise_in_the_receipt(ctx: services.Context) -> None:
    receipt = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft())
    assert receipt.feedback_by == date(2026, 3, 16)
    assert receipt_lines(receipt, NB)[0].startswith("Takk! Meldingen din er mottatt")


@pytest.mark.parametrize("field", ["description", "place_text"])
def test_the_identifier_guard_refuses_national_identity_numbers(
    ctx: services.Context, field: str
) -> None:
    fake = Faker("no_NO")
    fake.seed_instance(2026)
    text = f"Takk for god hjelp med pasient {fake.ssn()} i går."
    with pytest.raises(ValidationFailed) as caught:
        services.submit_report(ctx=ctx, actor=WEB, draft=good(**{field: text}))
    assert (field, "patient_identifier") in {(e.field, e.code) for e in caught.value.errors}
    with ctx.db.reading() as s:
        assert s.scalar(select(func.count()).select_from(m.Report)) == 0
        assert s.scalar(select(func.count()).select_from(m.OutboxMessage)) == 0
    # and "send anyway" does not send it either: a refusal is no warning
    with pytest.raises(ValidationFailed):
        services.submit_report(ctx=ctx, actor=WEB,
                               draft=good(**{field: text}, confirm_warnings=True))


# ---------------------------------------------------------------- the feedback promise


def test_never_reminded_nor_overdue(ctx: services.Context, clock: FakeClock) -> None:
    thanks = services.submit_report(ctx=ctx, actor=REPORTER, draft=good()).reference
    deviation = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    clock.advance(days=14)  # the day before a deviation's date: its reminder
    first = services.send_due_promise_notices(ctx)
    assert first.reminded == (deviation,)
    clock.advance(days=2)  # the date has passed
    run = services.send_due_promise_notices(ctx)
    assert run.overdue_refs == (deviation,)
    assert thanks not in (*first.reminded, *run.reminded, *run.overdue_refs)
    page = services.list_reports(ctx=ctx, actor=GROUP)
    marks = {v.reference: v.feedback_overdue for v in page.items}
    assert marks == {thanks: False, deviation: True}
    overdue = services.list_reports(ctx=ctx, actor=GROUP,
                                    filters=services.ReportFilter(overdue=True))
    assert [v.reference for v in overdue.items] == [deviation]
    # the good report is still the group's to read: listed under its own kind
    listed = services.list_reports(ctx=ctx, actor=GROUP,
                                   filters=services.ReportFilter(kind=GOOD))
    assert [v.reference for v in listed.items] == [thanks]


# ---------------------------------------------------------------- the period report


def _add_good_collaboration(ctx: services.Context, clock: FakeClock) -> list[str]:
    """Good collaboration in 2026-T1 (the golden tertial), 2025-T3 (the previous one) and
    2025-T1 (a year earlier), with places, parties and feedback of their own."""
    clock.now = LATE_2026
    refs = []
    for occurred, category, place, parties in (
        ("2026-01-08", "discharge_summary", "stolav_medisinsk", ("gp", "hospital")),
        ("2026-02-12", "discharge_summary", "trondheim", ("hospital", "municipality")),
        ("2026-03-03", "medication", None, (None, None)),
        ("2026-04-20", "reachability", "stolav_kirurgisk", ("gp", "hospital")),
        ("2025-10-02", "discharge_summary", "stolav_medisinsk", ("gp", "hospital")),
        ("2025-02-02", "routines", "malvik", ("municipality", "hospital")),
    ):
        refs.append(services.submit_report(ctx=ctx, actor=REPORTER, draft=good(
            occurred_on=occurred, category=category, subcategory=None, place=place,
            reporter_party=parties[0], concerned_party=parties[1])).reference)
    clock.advance(hours=30)  # feedback of its own: must not move the feedback figures
    services.reply(ctx=ctx, actor=GROUP, reference=refs[0], text="Takk, vi sender det videre.")
    services.assess(ctx=ctx, actor=GROUP, reference=refs[1], assessed_severity="none")
    return refs


def _without_good(report: PeriodReport) -> PeriodReport:
    return dataclasses.replace(report, good_collaboration=())


@pytest.mark.parametrize("key", ["2026-T1", "2026", "2026-W02"])
def test_the_period_report_counts_it_apart(
    ctx: services.Context, clock: FakeClock, key: str
) -> None:
    load_golden(ctx, clock)
    clock.now = LATE_2026 + timedelta(days=3)
    before = build(ctx, key, suppress=False)
    assert before.good_collaboration == ()
    _add_good_collaboration(ctx, clock)
    clock.now = LATE_2026 + timedelta(days=3)
    after = build(ctx, key, suppress=False)
    # every figure of the deviations, suggestions and input is what it was
    assert _without_good(after) == before
    assert_sums(after)
    assert "good_collaboration" not in {r.key for b in after.breakdowns for r in b.rows}
    if key == "2026-W02":  # 5-11 January: one of them
        [by_category, by_place] = after.good_collaboration
        assert (by_category.total, by_category.total_previous) == (1, 0)
        return
    [by_category, by_place] = after.good_collaboration
    assert by_category.key == "good_collaboration_category"
    assert by_place.key == "good_collaboration_place"
    rows = {r.key: (r.count, r.previous, r.year_ago) for r in by_category.rows}
    if key == "2026-T1":
        assert (by_category.total, by_category.total_previous,
                by_category.total_year_ago) == (4, 1, 1)
        assert rows == {"discharge_summary": (2, 1, 0), "medication": (1, 0, 0),
                        "reachability": (1, 0, 0), "routines": (0, 0, 1)}
        places = {r.key: r.count for r in by_place.rows}
        assert places == {"stolav_medisinsk": 1, "trondheim": 1, "stolav_kirurgisk": 1,
                          "malvik": 0, "not_given": 1}
        assert by_category.title == "Godt samarbeid etter kategori"
    else:  # the year 2026 against 2025
        assert (by_category.total, by_category.total_previous) == (4, 2)
    for table in after.good_collaboration:
        assert sum(r.count for r in table.rows) == table.total


def test_the_renderings_show_it_in_its_own_section(ctx: services.Context,
                                                   clock: FakeClock) -> None:
    load_golden(ctx, clock)
    _add_good_collaboration(ctx, clock)
    report = build(ctx, "2026-T1")
    html = render_html(report, NB)
    assert "Godt samarbeid (telles for seg)" in html
    assert html.index("Godt samarbeid (telles for seg)") > html.index("Tabeller")
    csv = render_csv(report, NB)
    assert "good_collaboration_category,_total,Sum,4,1,1" in csv
    assert "kind,good_collaboration" not in csv
    assert "totals,reports,Meldinger i alt,30,5,4" in csv  # the golden set's own total
    sheets = load_workbook(BytesIO(render_xlsx(report, NB))).sheetnames
    assert "Godt samarbeid etter kategori" in sheets and "Godt samarbeid etter sted" in sheets


# ---------------------------------------------------------------- the weekly digest

MONDAY_0800 = datetime(2026, 3, 9, 7, 0, tzinfo=UTC)  # after W10 2026 (2-8 March)


def _submit(ctx: services.Context, clock: FakeClock, when: datetime,
            report: services.ReportDraft) -> str:
    clock.now = when
    report.occurred_on = when.date()
    return services.submit_report(ctx=ctx, actor=REPORTER, draft=report).reference


def test_the_digest_counts_it_apart(ctx: services.Context, clock: FakeClock) -> None:
    def utc(day: int, month: int = 3) -> datetime:
        return datetime(2026, month, day, 9, 0, tzinfo=UTC)

    _submit(ctx, clock, utc(3, 2), draft())  # the four weeks before: one deviation
    _submit(ctx, clock, utc(3), draft())
    _submit(ctx, clock, utc(4), draft(severity="moderate", category="medication",
                                      subcategory=None))
    _submit(ctx, clock, utc(5), draft(kind="suggestion", severity="none"))
    before = build_digest(ctx=ctx, week="2026-W10", now=MONDAY_0800)
    # good collaboration: in the four weeks before (never answered: waits, but is never
    # overdue) and three times in the week
    old = _submit(ctx, clock, utc(10, 2), good())
    _submit(ctx, clock, utc(3), good())
    _submit(ctx, clock, utc(6), good())
    _submit(ctx, clock, utc(6), good(category="routines", subcategory=None))
    after = build_digest(ctx=ctx, week="2026-W10", now=MONDAY_0800)

    counted = ("total", "by_kind", "by_category", "by_severity", "previous_weeks_total",
               "overdue_total", "overdue")
    assert {f: getattr(after, f) for f in counted} == {f: getattr(before, f) for f in counted}
    assert (after.total, after.previous_weeks_total) == (3, 1)
    assert [c.key for c in after.by_kind] == ["deviation", "suggestion"]
    assert (before.good_total, after.good_total) == (0, 3)
    assert [(c.key, c.label, c.count) for c in after.good_by_category] == [
        ("discharge_summary", "Epikrise", 2), ("routines", "Rutiner og samarbeidsavtale", 1)]
    assert old in [w.reference for w in after.waiting]  # still the group's to read
    assert summary_line(after, NB) == (
        "Nye meldinger denne uka: 3 · Godt samarbeid denne uka (telles for seg): 3")
    heading, rows = breakdowns(after, NB)[-1]
    assert heading == "Godt samarbeid (telles for seg)"
    assert rows == [("Epikrise", 2), ("Rutiner og samarbeidsavtale", 1)]
    assert "Godt samarbeid (telles for seg):" in render_text(after, NB)
    assert WORKED not in render_text(after, NB)


def test_a_week_of_good_collaboration_only_is_no_empty_digest(ctx: services.Context,
                                                              clock: FakeClock) -> None:
    _submit(ctx, clock, datetime(2026, 3, 4, 9, 0, tzinfo=UTC), good())
    d = build_digest(ctx=ctx, week="2026-W10", now=MONDAY_0800)
    assert (d.total, d.good_total, d.is_empty) == (0, 1, False)
    assert [heading for heading, _rows in breakdowns(d, NB)] == [
        "Godt samarbeid (telles for seg)"]
    assert (d.overdue_total, d.previous_weeks_total) == (0, 0)
    assert isinstance(render_text(d, NB), str)


# ---------------------------------------------------------------- the group's words


@pytest.mark.parametrize("words", ["liste godt-samarbeid", "liste ros mottatt",
                                   "liste Godt_Samarbeid"])
def test_the_group_lists_it_by_its_own_word(words: str) -> None:
    assert parse(words).options["kind"] == GOOD

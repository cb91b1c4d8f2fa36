"""The tertial/annual report content on SQLite and PostgreSQL: SQL aggregation, comparisons,
learning points, feedback figures, permission and audit; and GET /api/v1/reports/stats."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, func, select, text

from intake import services
from intake.app import create_app
from intake.domain.model import Actor, PermissionDenied, Role
from intake.domain.periods import parse_period
from intake.domain.taxonomy import Taxonomy
from intake.http import stats_api
from intake.i18n import Translator
from intake.reporting.model import Breakdown, PeriodReport, Row
from intake.reporting.period_counts import (
    breakdown_statement,
    collect,
    counts_rows,
    counts_statements,
    grouping_masks,
    whole_months,
)
from intake.reporting.period_figures import median_of_histogram
from intake.reporting.period_report import build_period_report
from intake.settings import Settings
from storage import models as m
from tests.fakes import FakeClock
from tests.integration.helpers import draft

REPORTER = Actor("slack:U123", Role.REPORTER)
GROUP = Actor("slack:UGROUP", Role.TRIAGER)
ADMIN = Actor("cli", Role.ADMIN)
TR = Translator("nb")
LATE_2026 = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)  # every date used below is in the past


def period(key: str):
    return parse_period(key, TR)


def submit(ctx: services.Context, occurred_on: str, **overrides: Any) -> str:
    return services.submit_report(
        ctx=ctx, actor=REPORTER, draft=draft(occurred_on=occurred_on, **overrides)
    ).reference


def build(ctx: services.Context, key: str, actor: Actor = GROUP, **kw: Any) -> PeriodReport:
    return build_period_report(ctx=ctx, actor=actor, period=period(key), **kw)


def breakdown(report: PeriodReport, key: str) -> Breakdown:
    return next(b for b in report.breakdowns if b.key == key)


def table(report: PeriodReport, key: str, *, nonzero: bool = True) -> dict[str, tuple]:
    """key -> (count, previous, year_ago), rows with any count only unless nonzero=False."""
    return {
        r.key: (r.count, r.previous, r.year_ago)
        for r in breakdown(report, key).rows
        if not nonzero or r.count or r.previous or r.year_ago
    }


def assert_sums(report: PeriodReport) -> None:
    """Every breakdown's rows add up to its total, in the period and in both comparisons."""
    assert [b.key for b in report.breakdowns] == [
        "kind", "category", "subcategory", "reported_severity", "assessed_severity",
        "severity_merged", "direction", "place", "month"]
    for b in report.breakdowns:
        assert b.total == report.total, b.key
        assert sum(r.count for r in b.rows) == report.total, b.key
        assert len({r.key for r in b.rows}) == len(b.rows), f"duplicate keys in {b.key}"
        if b.key == "month" and report.previous.key != report.year_ago.key:
            assert all(r.previous is None for r in b.rows)
            assert b.total_previous is None, b.key  # no comparison: none in the sum either
        else:
            assert sum(r.previous or 0 for r in b.rows) == report.total_previous, b.key
            assert b.total_previous == report.total_previous, b.key
        if b.key != "month" or not report.period.key.count("-W"):
            assert sum(r.year_ago or 0 for r in b.rows) == report.total_year_ago, b.key
            assert b.total_year_ago == report.total_year_ago, b.key


# ---------------------------------------------------------------- a golden data set

# 2026-T1: 30 reports. date, kind (Deviation, Suggestion, Input), category[/subcategory],
# severity, reporter party, concerned party (hosp = hospital, mun = municipality), place
# (med/kir = St. Olavs medisinsk/kirurgisk klinikk); "-" is not given
GOLDEN_T1 = """
01-05 D discharge_summary/missing                   minor       gp   hosp med
01-09 D discharge_summary/missing                   minor       gp   hosp med
01-14 D discharge_summary/missing                   none        gp   hosp kir
01-20 D discharge_summary/late                      moderate    gp   hosp med
01-22 D discharge_notice/discharged_without_notice  significant mun  hosp trondheim
01-27 S referral/misrouted                          minor       gp   hosp -
02-02 D medication/med_list                         moderate    mun  hosp trondheim
02-03 D medication/med_list                         minor       mun  hosp malvik
02-10 I reachability                                unknown     gp   hosp -
02-11 D discharge_summary/missing                   minor       gp   hosp med
02-16 D discharge_notice/discharged_without_notice  moderate    mun  hosp trondheim
02-18 S e_messaging/not_received                    none        hosp gp   -
02-24 D discharge_summary/late                      minor       gp   hosp kir
02-28 D follow_up/test_results                      severe      hosp gp   med
03-02 D discharge_summary/missing                   moderate    gp   hosp med
03-05 S other                                       none        gp   -    -
03-09 D medication/unexplained_change               minor       hosp mun  trondheim
03-12 D discharge_notice/discharge_timing           significant mun  hosp melhus
03-17 I other                                       none        -    -    -
03-20 D discharge_summary/incomplete                minor       gp   hosp med
03-23 D referral/unanswered                         moderate    hosp gp   -
03-30 S discharge_summary                           minor       gp   hosp med
04-01 D discharge_summary/missing                   minor       gp   hosp kir
04-06 I e_messaging/not_received                    unknown     hosp gp   -
04-09 D discharge_notice/discharged_without_notice  minor       mun  hosp trondheim
04-14 S reachability                                none        mun  hosp -
04-17 D medication/med_list                         moderate    gp   hosp med
04-21 I routines                                    minor       gp   hosp -
04-27 D discharge_summary/late                      minor       gp   hosp med
04-30 S discharge_notice/discharge_timing           none        hosp mun  trondheim
"""
# line number (1-based) -> the group's assessment
GOLDEN_ASSESSMENTS = {
    2: {"assessed_severity": "minor", "guideline_breached": True},
    5: {"assessed_severity": "moderate", "guideline_breached": True},
    9: {"assessed_severity": "none"},
    13: {"assessed_severity": "significant", "guideline_breached": True},
    14: {"assessed_severity": "severe", "guideline_breached": False},
}


GOLDEN_CODES = {"D": "deviation", "S": "suggestion", "I": "input", "hosp": "hospital",
                "mun": "municipality", "med": "stolav_medisinsk", "kir": "stolav_kirurgisk"}


def _golden_draft(line: str, year: int) -> dict[str, Any]:
    day, kind, cat, severity, rp, cp, place = line.split()
    category, _, sub = cat.partition("/")

    def opt(v: str) -> str | None:
        return None if v == "-" else GOLDEN_CODES.get(v, v)

    return {"occurred_on": f"{year}-{day}", "kind": GOLDEN_CODES[kind], "category": category,
            "subcategory": sub or None, "severity": severity, "reporter_party": opt(rp),
            "concerned_party": opt(cp), "place": opt(place)}


def load_golden(ctx: services.Context, clock: FakeClock) -> list[str]:
    clock.now = LATE_2026
    refs = [submit(ctx, **_golden_draft(line, 2026)) for line in GOLDEN_T1.strip().splitlines()]
    # the previous tertial: 5 minor deviations; a year earlier: 2 + 2
    for day in ("09-10", "10-01", "10-20", "11-11", "12-31"):
        submit(ctx, f"2025-{day}")
    for day in ("01-10", "04-30"):
        submit(ctx, f"2025-{day}", severity="moderate")
    for day in ("02-14", "03-03"):
        submit(ctx, f"2025-{day}", kind="suggestion", category="medication",
                subcategory="med_list", severity="none")
    submit(ctx, "2025-05-01")  # 2025-T2: in none of the three
    submit(ctx, "2026-05-01")  # 2026-T2: neither
    clock.advance(days=2)
    for line, assessment in GOLDEN_ASSESSMENTS.items():
        services.assess(ctx=ctx, actor=GROUP, reference=refs[line - 1], **assessment)
    return refs


def test_golden_data_set_exact_numbers(ctx: services.Context, clock: FakeClock) -> None:
    load_golden(ctx, clock)
    report = build(ctx, "2026-T1")
    assert_sums(report)
    assert (report.total, report.total_previous, report.total_year_ago) == (30, 5, 4)
    assert (report.previous.key, report.year_ago.key) == ("2025-T3", "2025-T1")

    assert table(report, "kind") == {
        "deviation": (20, 5, 2), "suggestion": (6, 0, 2), "input": (4, 0, 0)}
    assert table(report, "category", nonzero=False) == {
        "discharge_summary": (11, 5, 2), "discharge_notice": (5, 0, 0),
        "medication": (4, 0, 2), "referral": (2, 0, 0), "admission": (0, 0, 0),
        "follow_up": (1, 0, 0), "e_messaging": (2, 0, 0), "reachability": (2, 0, 0),
        "routines": (1, 0, 0), "competence": (0, 0, 0), "other": (2, 0, 0)}
    assert table(report, "reported_severity", nonzero=False) == {
        "none": (6, 0, 2), "minor": (13, 5, 0), "moderate": (6, 0, 2),
        "significant": (2, 0, 0), "severe": (1, 0, 0), "unknown": (2, 0, 0)}
    assert table(report, "assessed_severity", nonzero=False) == {
        "none": (1, 0, 0), "minor": (1, 0, 0), "moderate": (1, 0, 0),
        "significant": (1, 0, 0), "severe": (1, 0, 0), "unknown": (0, 0, 0),
        "not_assessed": (25, 5, 4)}
    merged = breakdown(report, "severity_merged")
    assert [(r.key, r.label, r.count, r.previous, r.year_ago) for r in merged.rows] == [
        ("minor_or_none", "Mindre alvorlig/ingen/ubetydelig konsekvens", 19, 5, 2),
        ("moderate", "Moderat skade", 7, 0, 2),
        ("significant", "Betydelig skade", 2, 0, 0),
        ("severe", "Alvorlig skade eller død", 1, 0, 0),
        ("unknown", "Ukjent", 1, 0, 0)]
    direction = breakdown(report, "direction")
    assert [(r.key, r.label, r.count, r.previous) for r in direction.rows] == [
        ("gp->hospital", "Fastlege → Sykehus", 15, 5),
        ("municipality->hospital", "Kommune → Sykehus", 7, 0),
        ("hospital->gp", "Sykehus → Fastlege", 4, 0),
        ("hospital->municipality", "Sykehus → Kommune", 2, 0),
        ("not_given", "Ikke oppgitt", 2, 0)]
    assert table(report, "place") == {
        "stolav_medisinsk": (10, 5, 4), "trondheim": (6, 0, 0), "stolav_kirurgisk": (3, 0, 0),
        "malvik": (1, 0, 0), "melhus": (1, 0, 0), "not_given": (9, 0, 0)}
    assert [r.key for r in breakdown(report, "place").rows][-1] == "not_given"
    assert [(r.key, r.label, r.count, r.year_ago) for r in breakdown(report, "month").rows] == [
        ("2026-01", "januar 2026", 6, 1), ("2026-02", "februar 2026", 8, 1),
        ("2026-03", "mars 2026", 8, 1), ("2026-04", "april 2026", 8, 1)]
    assert [(r.key, r.count) for r in report.top_problem_areas] == [
        ("discharge_summary/missing", 6), ("discharge_summary/late", 3),
        ("discharge_notice/discharged_without_notice", 3), ("medication/med_list", 3),
        ("discharge_notice/discharge_timing", 2)]
    assert report.top_problem_areas[0].label == "Epikrise – Mangler"
    subs = table(report, "subcategory")
    assert subs["discharge_summary"] == (1, 0, 0)  # a suggestion without a subcategory
    assert subs["discharge_summary/missing"] == (6, 5, 2)
    assert report.guideline_breached_share == pytest.approx(3 / 20)
    assert report.feedback_share == pytest.approx(5 / 30)
    assert report.median_days_to_feedback == pytest.approx(2.0)
    assert report.learning_points == ()
    assert report.suppressed is True
    # the first report is from January 2025: the tertials before it have no data
    assert [(t.period, t.count) for t in report.trend] == [
        ("2023-T2", None), ("2023-T3", None), ("2024-T1", None), ("2024-T2", None),
        ("2024-T3", None), ("2025-T1", 4), ("2025-T2", 1), ("2025-T3", 5), ("2026-T1", 30)]


def test_annual_report_of_the_golden_set(ctx: services.Context, clock: FakeClock) -> None:
    load_golden(ctx, clock)
    report = build(ctx, "2026", suppress=False)
    assert_sums(report)
    assert report.period.label == "2026"
    assert report.previous.key == report.year_ago.key == "2025"
    assert (report.total, report.total_previous, report.total_year_ago) == (31, 10, 10)
    months = breakdown(report, "month").rows
    assert len(months) == 12
    assert (months[4].key, months[4].count, months[4].previous) == ("2026-05", 1, 1)
    assert (months[11].key, months[11].previous) == ("2026-12", 1)
    assert report.suppressed is False
    assert report.trend[0].period == "2024-T1" and report.trend[-1].period == "2026-T3"


# ---------------------------------------------------------------- rules, one at a time


def test_empty_period_lists_every_category_with_zero(ctx: services.Context) -> None:
    report = build(ctx, "2026-T1")
    assert_sums(report)
    assert report.total == 0
    cats = breakdown(report, "category").rows
    assert [r.key for r in cats] == [c.id for c in ctx.taxonomy.active_categories()]
    assert all((r.count, r.previous, r.year_ago) == (0, 0, 0) for r in cats)
    subs = breakdown(report, "subcategory").rows
    assert {r.key.split("/")[0] for r in subs} == {c.id for c in ctx.taxonomy.active_categories()}
    assert "reachability" in [r.key for r in subs]
    assert [r.key for r in breakdown(report, "kind").rows] == ["deviation", "suggestion", "input"]
    assert len(breakdown(report, "reported_severity").rows) == 6
    assert [r.key for r in breakdown(report, "assessed_severity").rows][-1] == "not_assessed"
    assert len(breakdown(report, "severity_merged").rows) == 5
    assert breakdown(report, "direction").rows == ()
    assert breakdown(report, "place").rows == ()
    assert [r.key for r in breakdown(report, "month").rows] == [
        "2026-01", "2026-02", "2026-03", "2026-04"]
    assert report.guideline_breached_share is None
    assert report.feedback_share is None
    assert report.median_days_to_feedback is None
    assert report.top_problem_areas == ()
    assert [t.count for t in report.trend] == [None] * 9  # no report yet: no data at all


def test_retired_and_unknown_categories(ctx: services.Context, clock: FakeClock) -> None:
    clock.now = LATE_2026
    submit(ctx, "2026-02-01", category="competence", subcategory=None)
    submit(ctx, "2026-02-02", category="other", subcategory=None)
    with ctx.db.transaction() as s:  # a category since removed from the file
        s.execute(text("UPDATE reports SET category_id = 'old_cat', subcategory_id = 'x' "
                       "WHERE category_id = 'other'"))
    retired = {"competence", "routines"}
    taxonomy = Taxonomy(
        categories=tuple(dataclasses.replace(c, active=c.id not in retired)
                         for c in ctx.taxonomy.categories),
        places=ctx.taxonomy.places,
    )
    report = build(dataclasses.replace(ctx, taxonomy=taxonomy), "2026-T1")
    assert_sums(report)
    keys = [r.key for r in breakdown(report, "category").rows]
    assert "competence" in keys  # retired, but it has a report
    assert "routines" not in keys  # retired and empty
    assert "admission" in keys  # active and empty
    assert keys[-1] == "old_cat"
    assert table(report, "subcategory") == {"competence": (1, 0, 0), "old_cat/x": (1, 0, 0)}


def test_previous_and_year_ago_comparisons(ctx: services.Context, clock: FakeClock) -> None:
    clock.now = LATE_2026
    for day in ("2026-05-02", "2026-06-30", "2026-08-31"):  # 2026-T2
        submit(ctx, day)
    for day in ("2026-01-01", "2026-04-30"):  # 2026-T1: the previous tertial
        submit(ctx, day, category="medication", subcategory="med_list")
    submit(ctx, "2025-07-01", category="referral", subcategory="misrouted")  # 2025-T2
    submit(ctx, "2025-09-01")  # 2025-T3: neither
    report = build(ctx, "2026-T2")
    assert_sums(report)
    assert (report.total, report.total_previous, report.total_year_ago) == (3, 2, 1)
    assert table(report, "category") == {
        "discharge_summary": (3, 0, 0), "medication": (0, 2, 0), "referral": (0, 0, 1)}
    assert table(report, "month") == {
        "2026-05": (1, None, 0), "2026-06": (1, None, 0), "2026-07": (0, None, 1),
        "2026-08": (1, None, 0)}
    # rows that exist only in a comparison period still count there
    assert table(report, "subcategory")["referral/misrouted"] == (0, 0, 1)


def test_trend_has_no_data_before_the_first_report(
    ctx: services.Context, clock: FakeClock
) -> None:
    clock.now = LATE_2026
    submit(ctx, "2025-06-10")
    submit(ctx, "2026-02-01")
    trend = [(t.period, t.count) for t in build(ctx, "2026-T1").trend]
    assert trend == [("2023-T2", None), ("2023-T3", None), ("2024-T1", None),
                     ("2024-T2", None), ("2024-T3", None), ("2025-T1", None),
                     ("2025-T2", 1), ("2025-T3", 0), ("2026-T1", 1)]  # 2025-T3: a real zero
    # a report of an earlier event moves the start; a tertial after it is a real zero
    submit(ctx, "2024-01-31")
    trend = [(t.period, t.count) for t in build(ctx, "2026-T1").trend]
    assert trend[:5] == [("2023-T2", None), ("2023-T3", None), ("2024-T1", 1),
                         ("2024-T2", 0), ("2024-T3", 0)]
    # the API gives the missing tertials as null, the CSV as an empty count
    report = build(ctx, "2026-T1")
    assert dataclasses.asdict(report)["trend"][1] == {"period": "2023-T3", "count": None}
    from intake.reporting.render_tables import render_csv

    rows = [line.split(",") for line in render_csv(report, TR).splitlines()]
    assert [r[3] for r in rows if r[0] == "trend"][:4] == ["", "", "1", "0"]


def test_merged_severity_uses_the_assessment_where_set(
    ctx: services.Context, clock: FakeClock
) -> None:
    refs = [submit(ctx, "2026-02-01", severity=s)
            for s in ("none", "minor", "minor", "moderate", "significant", "unknown", "unknown")]
    services.assess(ctx=ctx, actor=GROUP, reference=refs[1], assessed_severity="severe")
    services.assess(ctx=ctx, actor=GROUP, reference=refs[4], assessed_severity="none")
    services.assess(ctx=ctx, actor=GROUP, reference=refs[5], assessed_severity="moderate")
    report = build(ctx, "2026-T1")
    assert_sums(report)
    assert table(report, "reported_severity") == {
        "none": (1, 0, 0), "minor": (2, 0, 0), "moderate": (1, 0, 0),
        "significant": (1, 0, 0), "unknown": (2, 0, 0)}
    assert table(report, "assessed_severity") == {
        "severe": (1, 0, 0), "none": (1, 0, 0), "moderate": (1, 0, 0),
        "not_assessed": (4, 0, 0)}
    # none, minor, significant->none = 3; moderate + unknown->moderate = 2; minor->severe
    assert table(report, "severity_merged") == {
        "minor_or_none": (3, 0, 0), "moderate": (2, 0, 0), "severe": (1, 0, 0),
        "unknown": (1, 0, 0)}


def test_guideline_share_counts_deviations_only(ctx: services.Context) -> None:
    dev = [submit(ctx, "2026-02-01") for _ in range(4)]
    sug = submit(ctx, "2026-02-01", kind="suggestion")
    services.assess(ctx=ctx, actor=GROUP, reference=dev[0], guideline_breached=True)
    services.assess(ctx=ctx, actor=GROUP, reference=dev[1], agreement_reference="Retningslinje 5")
    services.assess(ctx=ctx, actor=GROUP, reference=dev[2], guideline_breached=False)
    services.assess(ctx=ctx, actor=GROUP, reference=sug, guideline_breached=True)
    assert build(ctx, "2026-T1").guideline_breached_share == pytest.approx(2 / 4)


def test_boundary_days_fall_in_the_right_tertial(ctx: services.Context, clock: FakeClock) -> None:
    clock.now = LATE_2026
    for day in ("2025-12-31", "2026-01-01", "2026-04-30", "2026-05-01"):
        submit(ctx, day)
    t1 = build(ctx, "2026-T1")
    assert (t1.total, t1.total_previous) == (2, 1)
    assert table(t1, "month") == {"2026-01": (1, None, 0), "2026-04": (1, None, 0)}
    t2 = build(ctx, "2026-T2")
    assert (t2.total, t2.total_previous) == (1, 2)
    assert build(ctx, "2025-T3").total == 1
    assert build(ctx, "2025").total == 1


def test_iso_week_report(ctx: services.Context, clock: FakeClock) -> None:
    for day in ("2026-03-02", "2026-03-01", "2026-02-24"):  # W10 starts Monday 2 March
        submit(ctx, day)
    for day in ("2025-03-03", "2025-03-09", "2025-03-10"):  # 2025-W10 is 3-9 March
        submit(ctx, day, kind="input")
    report = build(ctx, "2026-W10")
    assert_sums(report)
    assert report.period.label == "uke 10 2026"
    assert (report.previous.key, report.year_ago.key) == ("2026-W09", "2025-W10")
    assert (report.total, report.total_previous, report.total_year_ago) == (1, 2, 2)
    assert table(report, "kind") == {"deviation": (1, 2, 0), "input": (0, 0, 2)}


def test_learning_points_of_reports_closed_in_the_period(
    ctx: services.Context, clock: FakeClock
) -> None:
    clock.now = datetime(2025, 12, 20, 12, 0, tzinfo=UTC)
    refs = {name: submit(ctx, "2025-12-19", category=cat, subcategory=None)
            for name, cat in (("a", "routines"), ("b", "other"), ("c", "other"),
                              ("d", "other"), ("e", "other"))}
    for ref in refs.values():
        services.move_status(ctx=ctx, actor=GROUP, reference=ref, status="in_progress")

    def close(name: str, when: datetime) -> None:
        clock.now = when
        services.close(ctx=ctx, actor=GROUP, reference=refs[name],
                       learning_point=f"Lærdom {name}", measure=f"Tiltak {name}")

    close("d", datetime(2025, 12, 31, 22, 30, tzinfo=UTC))  # 23:30 Oslo on New Year's Eve
    close("a", datetime(2026, 2, 1, 10, 0, tzinfo=UTC))
    close("e", datetime(2026, 2, 2, 10, 0, tzinfo=UTC))
    services.reopen(ctx=ctx, actor=GROUP, reference=refs["e"])  # not closed any more
    close("b", datetime(2026, 4, 30, 21, 30, tzinfo=UTC))  # 23:30 Oslo (CEST): still T1
    close("c", datetime(2026, 4, 30, 22, 30, tzinfo=UTC))  # 00:30 Oslo on 1 May: T2

    t1 = build(ctx, "2026-T1")
    assert [(lp.reference, lp.closed_on, lp.learning_point, lp.measure, lp.category)
            for lp in t1.learning_points] == [
        (refs["a"], date(2026, 2, 1), "Lærdom a", "Tiltak a", "Rutiner og samarbeidsavtale"),
        (refs["b"], date(2026, 4, 30), "Lærdom b", "Tiltak b", "Annet"),
    ]
    assert t1.total == 0  # the reports themselves occurred in 2025-T3
    assert [lp.reference for lp in build(ctx, "2026-T2").learning_points] == [refs["c"]]
    t3 = build(ctx, "2025-T3")
    assert [(lp.reference, lp.closed_on) for lp in t3.learning_points] == [
        (refs["d"], date(2025, 12, 31))]


def test_feedback_share_and_median_days(ctx: services.Context, clock: FakeClock) -> None:
    refs = [submit(ctx, "2026-02-20") for _ in range(4)]
    outside = submit(ctx, "2025-12-01")

    def answer(ref: str) -> None:
        services.reply(ctx=ctx, actor=GROUP, reference=ref, text="Takk, vi ser på det.")

    clock.advance(days=1)
    answer(refs[0])  # 1 day
    clock.advance(days=2)
    answer(refs[1])  # 3 days
    clock.advance(days=7)
    answer(refs[2])  # 10 days
    answer(outside)
    report = build(ctx, "2026-T1")
    assert report.feedback_share == pytest.approx(0.75)
    assert report.median_days_to_feedback == pytest.approx(3.0)
    clock.advance(hours=12)
    answer(refs[3])  # 10.5 days: an even count takes the mean of the middle two
    report = build(ctx, "2026-T1")
    assert report.feedback_share == pytest.approx(1.0)
    assert report.median_days_to_feedback == pytest.approx(6.5)
    assert build(ctx, "2025-T3").median_days_to_feedback == pytest.approx(10.0)


def test_median_is_taken_in_whole_hours(ctx: services.Context, clock: FakeClock) -> None:
    """Feedback 47 h 59 min after the report counts as 47 hours, from report_counts
    (tertial) and from the reports (week) alike."""
    clock.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    ref = submit(ctx, "2026-03-02")
    clock.advance(hours=47, minutes=59)
    services.reply(ctx=ctx, actor=GROUP, reference=ref, text="Takk, vi ser på det.")
    assert build(ctx, "2026-T1").median_days_to_feedback == pytest.approx(47 / 24, abs=1e-4)
    assert build(ctx, "2026-W10").median_days_to_feedback == pytest.approx(47 / 24, abs=1e-4)


@pytest.mark.parametrize(("buckets", "median"), [
    ([], None),
    ([(5, 0)], None),
    ([(7, 1)], 7),
    ([(3, 1), (1, 1)], 2),                 # unsorted; even count: mean of the middle two
    ([(1, 2), (9, 1)], 1),
    ([(1, 1), (2, 1), (10, 2)], 6),
    ([(0, 5), (48, 5)], 24),
    ([(24, 1000), (1, 999)], 24),
])
def test_median_of_histogram(buckets: list[tuple[int, int]], median: float | None) -> None:
    assert median_of_histogram(buckets) == median


def test_whole_months() -> None:
    assert whole_months(period("2026-T1")) and whole_months(period("2024"))
    assert whole_months(period("2024-T3"))
    assert not whole_months(period("2026-W10")) and not whole_months(period("2026-W01"))


def _recount(ctx: services.Context) -> dict[tuple[Any, ...], tuple[int, int, int, int]]:
    """report_counts as it should be, computed in Python from every report (tests only)."""
    expected: dict[tuple[Any, ...], list[int]] = {}
    with ctx.db.reading() as session:
        reports = session.scalars(select(m.Report)).all()
        for r in reports:
            month = r.occurred_on.replace(day=1)
            flags = (1, int(r.first_feedback_at is not None), int(r.kind == "deviation"),
                     int(r.kind == "deviation" and r.guideline_breached is True))
            keys = [("class", r.kind, r.category_id or "", r.subcategory_id or ""),
                    ("severity", r.reported_severity or "", r.assessed_severity or "", ""),
                    ("direction", r.direction or "", "", ""),
                    ("place", r.place_id or "", "", "")]
            if r.first_feedback_at is not None:
                hours = max(0, int((r.first_feedback_at.replace(microsecond=0)
                                    - r.reported_at.replace(microsecond=0))
                                   .total_seconds()) // 3600)
                keys.append(("feedback", f"{hours:06d}", "", ""))
            for key in keys:
                row = expected.setdefault((month, *key), [0, 0, 0, 0])
                for i, v in enumerate(flags):
                    row[i] += v
    return {k: tuple(v) for k, v in expected.items()}


def _stored_counts(ctx: services.Context) -> dict[tuple[Any, ...], tuple[int, int, int, int]]:
    rc = m.ReportCount
    with ctx.db.reading() as session:
        rows = session.execute(select(rc.month, rc.dim, rc.k1, rc.k2, rc.k3,
                                      rc.n, rc.fb, rc.dev, rc.breach)).all()
    return {tuple(r[:5]): tuple(r[5:]) for r in rows if any(r[5:])}


def _week_recount(ctx: services.Context) -> dict[tuple[Any, ...], int]:
    """report_week_counts as it should be, from every report that has its local date: by
    the Monday of that week, kind, category and reported severity (tests only)."""
    r = m.Report
    expected: dict[tuple[Any, ...], int] = {}
    with ctx.db.reading() as session:
        for on, kind, cat, sev in session.execute(
                select(r.reported_on, r.kind, r.category_id, r.reported_severity)):
            if on is not None:
                key = (on - timedelta(days=on.weekday()), kind, cat or "", sev or "")
                expected[key] = expected.get(key, 0) + 1
    return expected


def _open_recount(ctx: services.Context) -> dict[date, tuple[int, int]]:
    """report_open_weeks as it should be: by the Monday of their week, the reports waiting
    for the group (not triaged, or in progress without feedback) and for the reporter."""
    r = m.Report
    expected: dict[date, list[int]] = {}
    with ctx.db.reading() as session:
        for on, status, feedback in session.execute(
                select(r.reported_on, r.status, r.first_feedback_at)):
            waiting = status in ("received", "triage") or (
                status == "in_progress" and feedback is None)
            if on is not None and (waiting or status == "needs_info"):
                row = expected.setdefault(on - timedelta(days=on.weekday()), [0, 0])
                row[0 if waiting else 1] += 1
    return {week: (a, b) for week, (a, b) in expected.items()}


def _stored_week_counts(ctx: services.Context) -> dict[tuple[Any, ...], int]:
    wc = m.ReportWeekCount
    with ctx.db.reading() as session:
        rows = session.execute(select(wc.week, wc.kind, wc.category_id, wc.severity, wc.n))
        return {tuple(row[:4]): row[4] for row in rows if row[4]}


def _assert_counts_kept(ctx: services.Context) -> None:
    assert _stored_counts(ctx) == _recount(ctx)
    assert _stored_week_counts(ctx) == _week_recount(ctx)
    ow = m.ReportOpenWeek
    with ctx.db.reading() as session:
        stored = {w: (a, b) for w, a, b in session.execute(
            select(ow.week, ow.waiting, ow.asked)) if a or b}
    assert stored == _open_recount(ctx)


def test_report_counts_follow_every_change(ctx: services.Context, clock: FakeClock) -> None:
    """The triggers keep report_counts, report_week_counts and report_open_weeks equal
    to a recount of the reports through submits, assessments (severity, category,
    guideline), feedback, closing, reopening, redirects, duplicates, and plain SQL updates
    and deletes."""
    refs = load_golden(ctx, clock)
    with ctx.db.reading() as session:  # the services write the local date with the instant
        stamps = session.execute(select(m.Report.reported_at, m.Report.reported_on)).all()
    assert stamps and all(on == ctx.local_date(at) for at, on in stamps)
    _assert_counts_kept(ctx)
    clock.advance(hours=5, minutes=30)
    services.reply(ctx=ctx, actor=GROUP, reference=refs[0], text="Takk for meldingen.")
    services.move_status(ctx=ctx, actor=GROUP, reference=refs[1], status="in_progress")
    services.assess(ctx=ctx, actor=GROUP, reference=refs[2], assessed_severity="moderate",
                    guideline_breached=True, category="medication", subcategory="med_list")
    services.assess(ctx=ctx, actor=GROUP, reference=refs[4], assessed_severity="minor",
                    guideline_breached=False)
    services.close(ctx=ctx, actor=GROUP, reference=refs[1], learning_point="Lærdom",
                   measure="Tiltak")
    services.reopen(ctx=ctx, actor=GROUP, reference=refs[1])
    services.mark_duplicate(ctx=ctx, actor=GROUP, reference=refs[6],
                            duplicate_of=refs[0])
    _assert_counts_kept(ctx)
    with ctx.db.transaction() as session:
        session.execute(text("UPDATE reports SET occurred_on = :d, place_id = NULL, "
                             "direction = NULL, reported_on = :d WHERE reference = :r"),
                        {"d": date(2025, 12, 31), "r": refs[3]})
        session.execute(text("UPDATE reports SET description = 'x', status = 'triage' "
                             "WHERE reference = :r"), {"r": refs[5]})
    _assert_counts_kept(ctx)
    # a row written without the services (as a bulk load would), then deleted
    with ctx.db.transaction() as session:
        session.add(m.Report(
            reference="MELD-2026-9999", kind="deviation", category_id="other",
            description="x", occurred_on=date(2026, 2, 1), reported_at=clock.now,
            reported_on=date(2026, 2, 1),
            reported_severity="minor", guideline_breached=True, channel="web",
            first_feedback_at=clock.now, status="triage"))
    _assert_counts_kept(ctx)
    assert (date(2026, 2, 1), "class", "deviation", "other", "") in _stored_counts(ctx)
    with ctx.db.transaction() as session:
        session.execute(text("DELETE FROM reports WHERE reference = 'MELD-2026-9999'"))
    _assert_counts_kept(ctx)


@pytest.mark.parametrize("key", ["2026-T1", "2026-T2", "2025-T3", "2026", "2025"])
def test_counts_and_reports_give_the_same_breakdowns(
    ctx: services.Context, clock: FakeClock, key: str
) -> None:
    """Tertials and years are read from report_counts; the same statement over the reports
    (what a week uses) gives the same breakdowns for them."""
    load_golden(ctx, clock)
    cur = period(key)
    from intake.domain.periods import previous_period, year_ago

    prev, ago = previous_period(cur, TR), year_ago(cur, TR)
    dialect = ctx.db.dialect
    with ctx.db.reading() as session:
        per_key, per_month = counts_statements(cur, prev, ago)
        from_counts = collect(counts_rows(session.execute(per_key).all(),
                                          session.execute(per_month).all()))
        direct = session.execute(breakdown_statement(cur, prev, ago, dialect)).all()
        from_reports = collect(direct, grouping_masks() if dialect == "postgresql" else None)
    assert from_counts[0].counts == from_reports[0].counts
    assert (from_counts[0].feedback, from_counts[0].deviations, from_counts[0].breached) == (
        from_reports[0].feedback, from_reports[0].deviations, from_reports[0].breached)
    assert from_counts[1] == from_reports[1]
    assert from_counts[0].counts.p > 0 or key == "2026-T2"


def test_only_the_group_gets_the_report(ctx: services.Context) -> None:
    with pytest.raises(PermissionDenied) as caught:
        build(ctx, "2026-T1", actor=REPORTER)
    assert caught.value.code == "group_only"
    with ctx.db.reading() as s:
        assert s.scalar(select(func.count()).select_from(m.AuditEvent)) == 0
    assert build(ctx, "2026-T1", actor=ADMIN).total == 0


def test_the_export_is_audited(ctx: services.Context, clock: FakeClock) -> None:
    build(ctx, "2026-T1")
    build(ctx, "2025", suppress=False)
    with ctx.db.reading() as s:
        events = s.scalars(select(m.AuditEvent).order_by(m.AuditEvent.id)).all()
    assert [(e.action, e.actor_id, e.actor_role, e.report_id, e.details) for e in events] == [
        ("export", GROUP.identity, "triager", None, {"kind": "period_report", "period": "2026-T1"}),
        ("export", GROUP.identity, "triager", None, {"kind": "period_report", "period": "2025"}),
    ]
    assert events[0].at == clock.now


def test_few_queries_whatever_the_number_of_reports(
    ctx: services.Context, clock: FakeClock
) -> None:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        first = statement.lstrip().split(None, 1)[0].upper()
        statements.append("SELECT" if first == "WITH" else first)

    def queries() -> list[str]:
        statements.clear()
        event.listen(ctx.db.engine, "before_cursor_execute", record)
        try:
            build(ctx, "2026-T1")
        finally:
            event.remove(ctx.db.engine, "before_cursor_execute", record)
        return [s for s in statements if s in ("SELECT", "INSERT", "UPDATE", "DELETE")]

    # the audit row; counts per key and per month, learning points, trend (no feedback:
    # no median); the measures by status and the overdue ones (none: no references)
    assert queries() == ["INSERT", *["SELECT"] * 6]
    load_golden(ctx, clock)
    # and the median, the promise kept and the answers to "Var svaret nyttig?"
    assert queries() == ["INSERT", *["SELECT"] * 9]


def test_breakdown_query_uses_the_occurred_on_index(sqlite_url: str) -> None:
    """SQLite: three index ranges (the periods), no full scan of the table."""
    from storage.db import open_database

    db = open_database(sqlite_url)
    try:
        cur = period("2026-W10")
        stmt = breakdown_statement(cur, period("2026-W09"), period("2025-W10"), "sqlite")
        sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
        with db.reading() as s:
            plan = " ".join(str(r[-1]) for r in s.execute(text("EXPLAIN QUERY PLAN " + sql)))
        assert "USING INDEX ix_reports_occurred_on_kind" in plan
        assert "SCAN reports" not in plan
    finally:
        db.dispose()


# ---------------------------------------------------------------- the API


@pytest.fixture
def app(ctx: services.Context, settings: Settings) -> FastAPI:
    application = create_app(settings, ctx=ctx)
    paths = [getattr(r, "path", "") for r in application.router.routes]
    if "/api/v1/reports/stats" not in paths:
        # until intake/app.py includes the router itself (before intake.http.api.router)
        before = len(application.router.routes)
        application.include_router(stats_api.router)
        added = application.router.routes[before:]
        del application.router.routes[before:]
        application.router.routes[0:0] = added
    return application


class Client:
    """Requests straight into the ASGI app (no server, no lifespan: nothing runs beside)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://meld") as c:
                return await c.get(url, **kwargs)

        return asyncio.run(go())


@pytest.fixture
def client(app: FastAPI) -> Client:
    return Client(app)


def bearer(ctx: services.Context, role: str = "triager") -> dict[str, str]:
    return {"Authorization": f"Bearer {services.create_token(ctx=ctx, name='kari', role=role)}"}


def test_api_stats_for_a_triager(
    ctx: services.Context, clock: FakeClock, client: Client
) -> None:
    clock.now = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
    ref = submit(ctx, "2026-02-01")
    services.move_status(ctx=ctx, actor=GROUP, reference=ref, status="in_progress")
    services.close(ctx=ctx, actor=GROUP, reference=ref, learning_point="Lærdom",
                   measure="Tiltak")
    r = client.get("/api/v1/reports/stats", params={"period": "2026-T1"}, headers=bearer(ctx))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["period"] == {"key": "2026-T1", "label": "1. tertial 2026",
                              "start": "2026-01-01", "end": "2026-04-30"}
    assert body["previous"]["key"] == "2025-T3"
    assert body["total"] == 1 and body["suppressed"] is True
    kinds = next(b for b in body["breakdowns"] if b["key"] == "kind")
    assert kinds["title"] == "Meldingstype"
    assert kinds["rows"][0] == {"key": "deviation", "label": "Avvik", "count": 1,
                                "previous": 0, "year_ago": 0}
    assert len(body["trend"]) == 9
    assert body["learning_points"] == [{
        "reference": ref, "category": "Epikrise", "learning_point": "Lærdom",
        "measure": "Tiltak", "closed_on": "2026-02-02"}]
    r = client.get("/api/v1/reports/stats?period=2026&suppress=false", headers=bearer(ctx))
    assert r.status_code == 200 and r.json()["suppressed"] is False
    # the report route next to it still answers
    r = client.get(f"/api/v1/reports/{ref}", headers=bearer(ctx))
    assert r.status_code == 200 and r.json()["reference"] == ref


def test_api_stats_refuses_bad_periods(ctx: services.Context, client: Client) -> None:
    auth = bearer(ctx)
    r = client.get("/api/v1/reports/stats", params={"period": "2026-T4"}, headers=auth)
    assert r.status_code == 422
    error = r.json()["errors"][0]
    assert (error["field"], error["code"]) == ("period", "invalid_period")
    assert "2026-T1" in error["message"] and "Ukjent periode" in error["message"]
    r = client.get("/api/v1/reports/stats", params={"period": "2025-W53"}, headers=auth)
    assert r.status_code == 422 and "ingen uke 53" in r.json()["errors"][0]["message"]
    r = client.get("/api/v1/reports/stats", headers=auth)
    assert r.status_code == 422  # period is required


def test_api_stats_needs_a_group_token(ctx: services.Context, client: Client) -> None:
    r = client.get("/api/v1/reports/stats", params={"period": "2026-T1"})
    assert r.status_code == 401
    r = client.get("/api/v1/reports/stats", params={"period": "2026-T1"},
                   headers={"Authorization": "Bearer meld_not-a-token"})
    assert r.status_code == 401
    with ctx.db.reading() as s:
        assert s.scalar(select(func.count()).select_from(m.AuditEvent)
                        .where(m.AuditEvent.action == "export")) == 0


def test_a_row_dataclass_is_what_renderers_get(ctx: services.Context) -> None:
    report = build(ctx, "2026-T1")
    assert all(isinstance(r, Row) for b in report.breakdowns for r in b.rows)


def test_recount_restores_what_the_triggers_keep(ctx: services.Context, clock: FakeClock) -> None:
    """After a bulk load with the triggers off, `recount` makes report_counts and the +1
    counts what the triggers would have kept."""
    from storage.report_counts import recount

    refs = load_golden(ctx, clock)
    for i in range(3):
        services.plus_one(ctx=ctx, actor=Actor(f"slack:UPLUS{i}", Role.REPORTER),
                          reference=refs[5])
    kept = _stored_counts(ctx)
    with ctx.db.transaction() as session:
        session.execute(text("DELETE FROM report_counts WHERE dim = 'class'"))
        session.execute(text("UPDATE report_counts SET n = n + 7 WHERE dim = 'place'"))
        session.execute(text("UPDATE reports SET plus_one_count = 0"))
    assert _stored_counts(ctx) != kept
    with ctx.db.transaction() as session:
        recount(session.connection())
    assert _stored_counts(ctx) == kept == _recount(ctx)
    with ctx.db.reading() as session:
        assert session.scalar(select(m.Report.plus_one_count)
                              .where(m.Report.reference == refs[5])) == 3


@pytest.mark.postgres
def test_concurrent_changes_keep_the_counts_without_deadlocks(pg_database_url: str) -> None:
    """Threads moving reports between the same categories in opposite directions while
    others submit: the triggers take report_counts' row locks in one order, so PostgreSQL
    finds no deadlock, and the counts end equal to a recount."""
    from concurrent.futures import ThreadPoolExecutor

    from intake.domain.taxonomy import load_taxonomy
    from intake.settings import Settings
    from storage.db import open_database
    from tests.conftest import _truncate_all

    _truncate_all(pg_database_url)
    db = open_database(pg_database_url)
    ctx = services.Context(db=db, settings=Settings(database_url=pg_database_url,
                                                    secret_key="test-secret" * 3),
                           taxonomy=load_taxonomy(), secret_key=b"test-secret" * 3)
    cats = [("medication", "med_list"), ("referral", "misrouted")]
    refs = [submit(ctx, "2026-02-10", category=cats[i % 2][0], subcategory=cats[i % 2][1],
                   severity="minor") for i in range(8)]

    def churn(i: int) -> int:
        for n in range(8):
            cat, sub = cats[(i + n + 1) % 2]
            services.assess(ctx=ctx, actor=GROUP, reference=refs[i], category=cat,
                            subcategory=sub, assessed_severity=("minor", "moderate")[n % 2],
                            guideline_breached=bool(n % 2))
            submit(ctx, "2026-02-11", category=cat, subcategory=sub)
        return i

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            assert sorted(pool.map(churn, range(8))) == list(range(8))
        _assert_counts_kept(ctx)
    finally:
        db.dispose()

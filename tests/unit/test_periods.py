"""Reporting periods: tertial and ISO-week boundaries, comparisons, Oslo dates across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from intake.domain.periods import (
    iso_week,
    local_date,
    months_of,
    parse_period,
    period_kind,
    previous_period,
    tertial_of,
    trend_periods,
    utc_bounds,
    weeks_in_year,
    year_ago,
)
from intake.i18n import Translator

TR = Translator("nb")


def contains(key: str, day: date) -> bool:
    p = parse_period(key, TR)
    return p.start <= day <= p.end


# ---------------------------------------------------------------- tertials and years


@pytest.mark.parametrize(
    ("key", "start", "end", "label"),
    [
        ("2026-T1", date(2026, 1, 1), date(2026, 4, 30), "1. tertial 2026"),
        ("2026-T2", date(2026, 5, 1), date(2026, 8, 31), "2. tertial 2026"),
        ("2026-T3", date(2026, 9, 1), date(2026, 12, 31), "3. tertial 2026"),
        ("2026", date(2026, 1, 1), date(2026, 12, 31), "2026"),
        ("2024-T1", date(2024, 1, 1), date(2024, 4, 30), "1. tertial 2024"),
    ],
)
def test_tertial_and_year_bounds(key: str, start: date, end: date, label: str) -> None:
    p = parse_period(key, TR)
    assert (p.key, p.start, p.end, p.label) == (key, start, end, label)


def test_30_april_is_t1_and_1_may_is_t2() -> None:
    assert contains("2026-T1", date(2026, 4, 30))
    assert not contains("2026-T2", date(2026, 4, 30))
    assert contains("2026-T2", date(2026, 5, 1))
    assert not contains("2026-T1", date(2026, 5, 1))
    assert contains("2026-T2", date(2026, 8, 31))
    assert contains("2026-T3", date(2026, 9, 1))


def test_31_december_and_1_january() -> None:
    assert contains("2025-T3", date(2025, 12, 31))
    assert contains("2025", date(2025, 12, 31))
    assert contains("2026-T1", date(2026, 1, 1))
    assert not contains("2025", date(2026, 1, 1))
    assert tertial_of(date(2025, 12, 31)).key == "2025-T3"
    assert tertial_of(date(2026, 1, 1)).key == "2026-T1"


def test_every_day_of_a_year_is_in_exactly_one_tertial() -> None:
    day = date(2024, 1, 1)  # a leap year
    while day.year == 2024:
        holders = [k for k in ("2024-T1", "2024-T2", "2024-T3") if contains(k, day)]
        assert holders == [tertial_of(day).key]
        day += timedelta(days=1)


def test_previous_and_year_ago_of_tertials_and_years() -> None:
    t1 = parse_period("2026-T1", TR)
    assert previous_period(t1, TR).key == "2025-T3"
    assert previous_period(parse_period("2026-T3", TR)).key == "2026-T2"
    assert year_ago(t1, TR).key == "2025-T1"
    assert year_ago(t1, TR).label == "1. tertial 2025"
    year = parse_period("2026", TR)
    assert previous_period(year).key == year_ago(year).key == "2025"


def test_trend_is_nine_tertials_up_to_the_period() -> None:
    keys = [p.key for p in trend_periods(parse_period("2026-T1", TR), tr=TR)]
    assert keys == ["2023-T2", "2023-T3", "2024-T1", "2024-T2", "2024-T3",
                    "2025-T1", "2025-T2", "2025-T3", "2026-T1"]
    annual = [p.key for p in trend_periods(parse_period("2026", TR))]
    assert annual[0] == "2024-T1" and annual[-1] == "2026-T3" and len(annual) == 9
    assert len(trend_periods(parse_period("2026-T2", TR), years=1)) == 3


def test_months_of_a_period() -> None:
    assert months_of(parse_period("2026-T2", TR)) == ((2026, 5), (2026, 6), (2026, 7),
                                                       (2026, 8))
    assert months_of(parse_period("2026-W01", TR)) == ((2025, 12), (2026, 1))
    assert len(months_of(parse_period("2026", TR))) == 12


# ---------------------------------------------------------------- ISO weeks


def test_iso_week_monday_to_sunday() -> None:
    w = parse_period("2026-W10", TR)
    assert (w.start, w.end) == (date(2026, 3, 2), date(2026, 3, 8))
    assert w.start.weekday() == 0 and w.end.weekday() == 6
    assert w.label == "uke 10 2026"
    assert parse_period("2026-w1", TR).key == "2026-W01"


def test_week_1_can_start_in_december() -> None:
    w = parse_period("2026-W01", TR)
    assert (w.start, w.end) == (date(2025, 12, 29), date(2026, 1, 4))
    assert previous_period(w, TR).key == "2025-W52"


def test_years_with_week_53() -> None:
    assert weeks_in_year(2026) == 53
    assert weeks_in_year(2020) == 53
    assert weeks_in_year(2025) == 52
    w53 = parse_period("2026-W53", TR)
    assert (w53.start, w53.end) == (date(2026, 12, 28), date(2027, 1, 3))
    assert previous_period(w53).key == "2026-W52"
    assert previous_period(parse_period("2027-W01", TR)).key == "2026-W53"
    # same week number a year earlier; 2025 has no week 53
    assert year_ago(w53, TR).key == "2025-W52"
    assert year_ago(parse_period("2020-W53", TR)).key == "2019-W52"
    assert year_ago(parse_period("2026-W10", TR)).key == "2025-W10"


def test_a_week_the_year_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="2025 har ingen uke 53"):
        parse_period("2025-W53", TR)
    with pytest.raises(ValueError, match="uke 0"):
        iso_week(2026, 0, TR)


def test_period_kind() -> None:
    assert [period_kind(parse_period(k, TR)) for k in ("2026-T2", "2026", "2026-W10")] == [
        "tertial", "year", "week"]


@pytest.mark.parametrize(
    "key",
    ["", "  ", "2026-T0", "2026-T4", "2026-T", "26-T1", "2026T1", "2026-Q1", "2026-W",
     "2026-W100", "T1-2026", "0999", "2026-01", "tertial", "2026-T1; DROP TABLE reports"],
)
def test_bad_keys_give_a_clear_message(key: str) -> None:
    with pytest.raises(ValueError, match="Ukjent periode") as caught:
        parse_period(key, TR)
    assert "2026-T1" in str(caught.value) and "2026-W10" in str(caught.value)


def test_messages_in_english_too() -> None:
    with pytest.raises(ValueError, match="Unknown period"):
        parse_period("2026-T9", Translator("en"))
    assert parse_period("2026-T2", Translator("en")).label == "Tertial 2 2026"


# ---------------------------------------------------------------- Oslo dates


def test_local_date_near_midnight() -> None:
    # winter (CET, UTC+1): 30 April is summer, so use January
    assert local_date(datetime(2026, 1, 31, 22, 59, tzinfo=UTC)) == date(2026, 1, 31)
    assert local_date(datetime(2026, 1, 31, 23, 0, tzinfo=UTC)) == date(2026, 2, 1)
    # summer (CEST, UTC+2): 30 April 23:59 Oslo is T1, 1 May 00:00 Oslo is T2
    assert local_date(datetime(2026, 4, 30, 21, 59, tzinfo=UTC)) == date(2026, 4, 30)
    assert local_date(datetime(2026, 4, 30, 22, 0, tzinfo=UTC)) == date(2026, 5, 1)
    assert tertial_of(local_date(datetime(2026, 4, 30, 21, 59, tzinfo=UTC))).key == "2026-T1"
    assert tertial_of(local_date(datetime(2026, 4, 30, 22, 0, tzinfo=UTC))).key == "2026-T2"
    # new year
    assert local_date(datetime(2025, 12, 31, 23, 0, tzinfo=UTC)) == date(2026, 1, 1)


def test_local_date_on_the_spring_dst_weekend() -> None:
    # 2026-03-29 02:00 CET -> 03:00 CEST (01:00 UTC)
    assert local_date(datetime(2026, 3, 28, 22, 59, tzinfo=UTC)) == date(2026, 3, 28)
    assert local_date(datetime(2026, 3, 28, 23, 0, tzinfo=UTC)) == date(2026, 3, 29)
    assert local_date(datetime(2026, 3, 29, 21, 59, tzinfo=UTC)) == date(2026, 3, 29)
    assert local_date(datetime(2026, 3, 29, 22, 0, tzinfo=UTC)) == date(2026, 3, 30)


def test_local_date_on_the_autumn_dst_weekend() -> None:
    # 2026-10-25 03:00 CEST -> 02:00 CET (01:00 UTC)
    assert local_date(datetime(2026, 10, 24, 21, 59, tzinfo=UTC)) == date(2026, 10, 24)
    assert local_date(datetime(2026, 10, 24, 22, 0, tzinfo=UTC)) == date(2026, 10, 25)
    assert local_date(datetime(2026, 10, 25, 22, 59, tzinfo=UTC)) == date(2026, 10, 25)
    assert local_date(datetime(2026, 10, 25, 23, 0, tzinfo=UTC)) == date(2026, 10, 26)


def test_utc_bounds_follow_dst() -> None:
    start, end = utc_bounds(parse_period("2026-W13", TR))  # 23-29 March: spring forward
    assert start == datetime(2026, 3, 22, 23, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    assert end - start == timedelta(days=7, hours=-1)
    start, end = utc_bounds(parse_period("2026-W43", TR))  # 19-25 October: fall back
    assert end - start == timedelta(days=7, hours=1)
    start, end = utc_bounds(parse_period("2026-T1", TR))
    assert (start, end) == (datetime(2025, 12, 31, 23, 0, tzinfo=UTC),
                            datetime(2026, 4, 30, 22, 0, tzinfo=UTC))


def test_local_date_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        local_date(datetime(2026, 3, 29, 12, 0))

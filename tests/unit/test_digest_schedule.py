"""The digest's schedule and periods: RRULE in Oslo time across DST, ISO weeks, last full week."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from intake.reporting.digest import IsoWeek, parse_week, week_ended_before, week_of
from intake.reporting.digest_schedule import next_run, previous_run
from intake.settings import Settings

RULE = Settings().digest_rrule
OSLO = "Europe/Oslo"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_default_rule_is_monday_0800() -> None:
    assert RULE == "FREQ=WEEKLY;BYDAY=MO;BYHOUR=8;BYMINUTE=0;BYSECOND=0"


@pytest.mark.parametrize(("after", "expected"), [
    # spring forward on Sunday 2026-03-29: 08:00 CET is 07:00Z, 08:00 CEST is 06:00Z
    (utc(2026, 3, 20, 12, 0), utc(2026, 3, 23, 7, 0)),
    (utc(2026, 3, 23, 7, 0), utc(2026, 3, 30, 6, 0)),      # strictly after
    (utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 6, 0)),     # during the switch itself
    # fall back on Sunday 2026-10-25
    (utc(2026, 10, 16, 0, 0), utc(2026, 10, 19, 6, 0)),
    (utc(2026, 10, 19, 6, 0), utc(2026, 10, 26, 7, 0)),
    (utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 7, 0)),   # the repeated hour
    # Monday before 08:00 local -> the same day
    (utc(2026, 3, 9, 6, 59, 59), utc(2026, 3, 9, 7, 0)),
])
def test_next_run_keeps_0800_local_across_dst(after: datetime, expected: datetime) -> None:
    assert next_run(after, RULE, OSLO) == expected


def test_previous_run_is_the_last_occurrence_at_or_before() -> None:
    assert previous_run(utc(2026, 3, 30, 6, 0), RULE, OSLO) == utc(2026, 3, 30, 6, 0)
    assert previous_run(utc(2026, 3, 30, 5, 59), RULE, OSLO) == utc(2026, 3, 23, 7, 0)
    assert previous_run(utc(2026, 10, 28, 12, 0), RULE, OSLO) == utc(2026, 10, 26, 7, 0)


def test_other_rules_and_zones() -> None:
    friday_1530 = "FREQ=WEEKLY;BYDAY=FR;BYHOUR=15;BYMINUTE=30;BYSECOND=0"
    assert next_run(utc(2026, 3, 2, 12, 0), friday_1530, OSLO) == utc(2026, 3, 6, 14, 30)
    assert next_run(utc(2026, 3, 2, 12, 0), RULE, "UTC") == utc(2026, 3, 9, 8, 0)
    # an explicit DTSTART (naive, local time) anchors INTERVAL=2: every other Monday
    fortnightly = "DTSTART:20260105T080000\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"
    assert next_run(utc(2026, 3, 10, 0, 0), fortnightly, OSLO) == utc(2026, 3, 16, 7, 0)
    assert next_run(utc(2026, 3, 16, 7, 0), fortnightly, OSLO) == utc(2026, 3, 30, 6, 0)


def test_a_bad_rule_is_refused_at_start_up() -> None:
    with pytest.raises(ValidationError, match="digest_rrule"):
        Settings(digest_rrule="FREQ=SOMETIMES")


@pytest.mark.parametrize(("text", "year", "week", "start", "end"), [
    ("2026-W10", 2026, 10, date(2026, 3, 2), date(2026, 3, 8)),
    ("2026W1", 2026, 1, date(2025, 12, 29), date(2026, 1, 4)),
    (" 2026-w01 ", 2026, 1, date(2025, 12, 29), date(2026, 1, 4)),
    ("2026-W53", 2026, 53, date(2026, 12, 28), date(2027, 1, 3)),   # 2026 has 53 weeks
    ("2020-W53", 2020, 53, date(2020, 12, 28), date(2021, 1, 3)),
])
def test_parse_iso_weeks(text: str, year: int, week: int, start: date, end: date) -> None:
    parsed = parse_week(text)
    assert (parsed.year, parsed.week, parsed.start, parsed.end) == (year, week, start, end)
    assert parsed.key == f"{year}-W{week:02d}"
    assert parse_week(parsed.key) == parsed


@pytest.mark.parametrize("text", ["2025-W53", "2026-W54", "2026-W00", "2026-10", "W10",
                                  "2026-W1O", "", "26-W10"])
def test_parse_refuses_weeks_that_do_not_exist(text: str) -> None:
    with pytest.raises(ValueError):
        parse_week(text)


def test_week_bounds_are_local_midnights_in_utc() -> None:
    # W13 2026 ends with the spring switch: Monday 00:00 CET .. next Monday 00:00 CEST
    start, end = IsoWeek(2026, 13).bounds(OSLO)
    assert (start, end) == (utc(2026, 3, 22, 23, 0), utc(2026, 3, 29, 22, 0))
    start, end = IsoWeek(2026, 43).bounds(OSLO)  # ends with the autumn switch
    assert (start, end) == (utc(2026, 10, 18, 22, 0), utc(2026, 10, 25, 23, 0))
    assert IsoWeek(2026, 53).shifted(1) == IsoWeek(2027, 1)
    assert IsoWeek(2026, 1).shifted(-4) == IsoWeek(2025, 49)


@pytest.mark.parametrize(("moment", "expected"), [
    (utc(2026, 3, 9, 7, 0), "2026-W10"),            # Monday 08:00: the week that just ended
    (utc(2026, 3, 8, 22, 59), "2026-W09"),          # Sunday 23:59 local: W10 not over yet
    (utc(2026, 3, 8, 23, 0), "2026-W10"),           # Monday 00:00 local
    (utc(2026, 3, 4, 12, 0), "2026-W09"),           # midweek: the last full week
    (utc(2027, 1, 4, 7, 0), "2026-W53"),            # into a new year after a 53-week year
    (utc(2026, 1, 5, 7, 0), "2026-W01"),            # W01 started in December 2025
    (utc(2026, 3, 30, 6, 0), "2026-W13"),           # the Monday after spring forward
])
def test_week_that_just_ended(moment: datetime, expected: str) -> None:
    assert week_ended_before(moment, OSLO).key == expected


def test_week_of_uses_the_iso_year() -> None:
    assert week_of(date(2027, 1, 1)).key == "2026-W53"
    assert week_of(date(2024, 12, 30)).key == "2025-W01"

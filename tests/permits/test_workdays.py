"""Working-day arithmetic against DOMAIN.md §5.3's vectors (computed with chinesecalendar 1.11.0)."""

from __future__ import annotations

import datetime as dt

import pytest

from permits.workdays import (
    Deadline,
    NationalCalendar,
    RegionOverrides,
    YearSchedule,
    add_calendar_days,
    add_workdays,
    workdays_between,
)

NATIONAL = NationalCalendar()
D = dt.date


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (D(2025, 9, 26), 20, D(2025, 10, 30)),
        (D(2025, 9, 30), 3, D(2025, 10, 11)),  # a make-up Saturday is a working day
        (D(2025, 1, 24), 5, D(2025, 2, 7)),
        (D(2025, 4, 30), 3, D(2025, 5, 8)),
        (D(2025, 12, 30), 20, D(2026, 1, 28)),
        (D(2026, 2, 13), 5, D(2026, 2, 27)),
        (D(2026, 2, 13), 20, D(2026, 3, 19)),
        (D(2024, 9, 30), 5, D(2024, 10, 12)),
    ],
)
def test_working_days_count_from_the_day_after_as_the_law_does(start: dt.date, days: int, due: dt.date) -> None:
    assert add_workdays(NATIONAL, start, days) == Deadline(due, provisional=False)


def test_holidays_and_make_up_days_are_the_state_councils() -> None:
    assert not NATIONAL.is_workday(D(2025, 10, 6))  # Mid-Autumn, a Monday
    assert NATIONAL.is_workday(D(2025, 10, 11))  # make-up Saturday
    assert not NATIONAL.is_workday(D(2025, 10, 12))  # an ordinary Sunday


def test_a_year_without_a_published_schedule_gives_a_provisional_deadline() -> None:
    # chinesecalendar 1.11.0 has no 2027: the days are counted Monday to Friday and flagged.
    deadline = add_workdays(NATIONAL, D(2026, 12, 28), 20)
    assert deadline.provisional
    assert deadline.on == D(2027, 1, 25)
    assert not NATIONAL.knows(D(2027, 1, 4))
    assert add_workdays(NATIONAL, D(2026, 12, 1), 5) == Deadline(D(2026, 12, 8), provisional=False)


def test_a_loaded_year_makes_the_deadline_final_and_moves_it_by_its_holidays() -> None:
    new_year = YearSchedule(year=2027, holidays=frozenset({D(2027, 1, 1)}), workdays=frozenset({D(2027, 1, 9)}))
    calendar = NationalCalendar(loaded={2027: new_year})
    # 29, 30, 31 Dec; 1 Jan is a rest day; 4–8 Jan; the make-up Saturday 9 Jan counts.
    assert add_workdays(calendar, D(2026, 12, 28), 9) == Deadline(D(2027, 1, 9), provisional=False)
    assert add_workdays(NATIONAL, D(2026, 12, 28), 9).provisional


def test_a_provinces_extra_rest_day_moves_its_deadlines_only() -> None:
    # Guangxi's 三月三 (a made-up date for the test): a rest day there, a working day elsewhere.
    guangxi = NationalCalendar(regions={"45": RegionOverrides(rest_days=frozenset({D(2025, 3, 31)}))})
    assert add_workdays(guangxi, D(2025, 3, 28), 1, region="45") == Deadline(D(2025, 4, 1), provisional=False)
    assert add_workdays(guangxi, D(2025, 3, 28), 1, region="11") == Deadline(D(2025, 3, 31), provisional=False)


def test_a_pause_of_seven_working_days_extends_the_deadline_by_exactly_seven() -> None:
    due = add_workdays(NATIONAL, D(2025, 9, 26), 20).on
    assert add_workdays(NATIONAL, due, 7).on == add_workdays(NATIONAL, D(2025, 9, 26), 27).on
    assert workdays_between(NATIONAL, D(2025, 9, 26), due) == 20


def test_a_calendar_day_period_ending_on_a_rest_day_moves_to_the_next_working_day() -> None:
    # 15 days from 2025-09-20 is 2025-10-05, inside the National Day break: due on Thursday 9 October.
    assert add_calendar_days(NATIONAL, D(2025, 9, 20), 15) == Deadline(D(2025, 10, 9), provisional=False)
    assert add_calendar_days(NATIONAL, D(2025, 9, 1), 15) == Deadline(D(2025, 9, 16), provisional=False)
    assert add_calendar_days(NATIONAL, D(2026, 12, 20), 15).provisional


def test_bad_schedules_and_periods_are_refused() -> None:
    with pytest.raises(ValueError, match="outside 2027"):
        YearSchedule(year=2027, holidays=frozenset({D(2026, 12, 31)}), workdays=frozenset())
    with pytest.raises(ValueError, match="both"):
        YearSchedule(year=2027, holidays=frozenset({D(2027, 1, 9)}), workdays=frozenset({D(2027, 1, 9)}))
    with pytest.raises(ValueError, match="negative"):
        add_workdays(NATIONAL, D(2025, 1, 1), -1)

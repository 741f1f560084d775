"""Working days as the law counts them (行政许可法 Art. 82; DOMAIN.md §5). Pure: no I/O, no clock.

- A period of N working days from day D ends on the N-th working day *after* D: the start day is not counted
  (民法典 Art. 201, by analogy).
- A period in calendar days that ends on a rest day moves to the next working day (民法典 Art. 203).
- Make-up Saturdays and Sundays (调休) are working days; holidays on weekdays are not.

The national calendar is `chinesecalendar`, whose data stop at the last year the State Council has published
(2026 in 1.11.0: `is_workday` raises for 2027). A year the data lack is never guessed as law: days in it are
counted Monday to Friday and the result is marked `provisional`, to be recomputed once the year's schedule is
loaded (`NationalCalendar(loaded=…)`). Provinces add their own rest days (minority festivals, typhoon closures)
and make-up days as overrides per region code.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

import chinese_calendar

# A deadline search that walks further than this many days means a calendar with no working days.
_MAX_SEARCH_DAYS: Final = 3660
# Every statutory clock walks up to 60 working days day by day, and chinesecalendar validates each date it is
# asked about: uncached, those lookups were a tenth of the service's CPU under `make load`. The library's data
# are fixed for the process's life, so a day's answer is too; 20 years of days fit.
_LIBRARY_DAYS_CACHED: Final = 8192


@functools.lru_cache(maxsize=_LIBRARY_DAYS_CACHED)
def _library_workday(day: dt.date) -> bool | None:
    """chinesecalendar's answer for `day`, or None when its data do not reach `day`'s year."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


@dataclass(frozen=True, slots=True)
class Deadline:
    """A due day; `provisional` when a day it depends on lies in a year whose schedule is not yet known."""

    on: dt.date
    provisional: bool


@dataclass(frozen=True, slots=True)
class YearSchedule:
    """One year's published schedule: its rest days on weekdays and its make-up working days on weekends."""

    year: int
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]

    def __post_init__(self) -> None:
        strays = sorted(d for d in self.holidays | self.workdays if d.year != self.year)
        if strays:
            raise ValueError(f"days outside {self.year}: {', '.join(map(str, strays))}")
        if self.holidays & self.workdays:
            raise ValueError("a day cannot be both a holiday and a make-up working day")

    def is_workday(self, day: dt.date) -> bool:
        if day in self.workdays:
            return True
        return day.isoweekday() <= 5 and day not in self.holidays


@dataclass(frozen=True, slots=True)
class RegionOverrides:
    """A province's own changes to the national calendar (民族节日 under 放假办法 Art. 4; typhoon closures)."""

    rest_days: frozenset[dt.date] = frozenset()
    work_days: frozenset[dt.date] = frozenset()


class WorkCalendar(Protocol):
    def knows(self, day: dt.date) -> bool:
        """Whether `day`'s year has a published schedule."""
        ...

    def is_workday(self, day: dt.date, region: str | None = None) -> bool:
        """Whether government offices work on `day` (Monday–Friday for a year not yet known: see `knows`)."""
        ...


@dataclass(frozen=True, slots=True)
class NationalCalendar:
    """The State Council's schedule from chinesecalendar, years loaded later, and regional overrides.

    `loaded` holds years published after the library's data (a loaded year wins over the library's);
    `regions` maps a region code (a province's 2-digit division prefix, e.g. "45" for Guangxi) to its overrides.
    """

    loaded: Mapping[int, YearSchedule] = field(default_factory=dict)
    regions: Mapping[str, RegionOverrides] = field(default_factory=dict)

    def knows(self, day: dt.date) -> bool:
        return day.year in self.loaded or _library_workday(day) is not None

    def is_workday(self, day: dt.date, region: str | None = None) -> bool:
        overrides = self.regions.get(region) if region is not None else None
        if overrides is not None:
            if day in overrides.rest_days:
                return False
            if day in overrides.work_days:
                return True
        schedule = self.loaded.get(day.year)
        if schedule is not None:
            return schedule.is_workday(day)
        known = _library_workday(day)
        return day.isoweekday() <= 5 if known is None else known


def add_workdays(calendar: WorkCalendar, start: dt.date, days: int, *, region: str | None = None) -> Deadline:
    """The `days`-th working day after `start` (`start` itself not counted); 0 is `start` itself."""
    if days < 0:
        raise ValueError("a period cannot be negative")
    day, counted, provisional = start, 0, False
    for _ in range(_MAX_SEARCH_DAYS):
        if counted == days:
            return Deadline(day, provisional)
        day += dt.timedelta(days=1)
        provisional = provisional or not calendar.knows(day)
        if calendar.is_workday(day, region):
            counted += 1
    raise ValueError("no working day found within ten years")


def add_calendar_days(calendar: WorkCalendar, start: dt.date, days: int, *, region: str | None = None) -> Deadline:
    """`start` + `days` calendar days, moved to the next working day when that is a rest day (Art. 203)."""
    if days < 0:
        raise ValueError("a period cannot be negative")
    day = start + dt.timedelta(days=days)
    provisional = not calendar.knows(day)
    for _ in range(_MAX_SEARCH_DAYS):
        if calendar.is_workday(day, region):
            return Deadline(day, provisional)
        day += dt.timedelta(days=1)
        provisional = provisional or not calendar.knows(day)
    raise ValueError("no working day found within ten years")


def workdays_between(calendar: WorkCalendar, start: dt.date, end: dt.date, *, region: str | None = None) -> int:
    """How many working days lie after `start` up to and including `end` (0 when `end` is not after `start`)."""
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        if calendar.is_workday(day, region):
            count += 1
    return count

"""When a place is open: weekly windows in the city's time, closed dates, validity dates. Pure.

A window `{days, start, end}` opens on each listed ISO weekday (1 = Monday) at `start`; one whose `end` is
not after its `start` runs past midnight and closes at `end` the next day (a night market 18:00–02:00 opens
Saturday and closes early Sunday). A session belongs to the day it opens: a closed date, the validity dates
and the weekday are all judged by that day. Times are wall-clock times in the city's zone, so a session is
built from local dates and times and only then compared with instants.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated
from zoneinfo import ZoneInfo

import msgspec

from core.text import matching

MAX_WINDOWS = 28
ClockTime = Annotated[
    str,
    matching(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", "must be a time HH:MM from 00:00 to 23:59", description="HH:MM"),
]
IsoWeekday = Annotated[int, msgspec.Meta(ge=1, le=7, description="ISO weekday: 1 = Monday … 7 = Sunday")]


class Window(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Open on `days` from `start`; an `end` not after `start` means the next day (past midnight)."""

    days: Annotated[list[IsoWeekday], msgspec.Meta(min_length=1, max_length=7)]
    start: ClockTime
    end: ClockTime

    def __post_init__(self) -> None:
        if len(set(self.days)) != len(self.days):
            raise ValueError("days must not repeat a weekday")
        if self.start == self.end:
            raise ValueError("a window must not start and end at the same time")


Schedule = Annotated[list[Window], msgspec.Meta(min_length=1, max_length=MAX_WINDOWS)]


@dataclass(frozen=True, slots=True)
class Calendar:
    """A place's opening rules: windows, dates it does not open, the dates it is valid for."""

    windows: Sequence[Window]
    closed_dates: frozenset[dt.date]
    valid_from: dt.date
    valid_to: dt.date | None
    zone: ZoneInfo

    def opens_on(self, day: dt.date) -> bool:
        """Whether sessions may open on `day` (valid, not a closed date); the weekday is the window's business."""
        if day < self.valid_from or (self.valid_to is not None and day > self.valid_to):
            return False
        return day not in self.closed_dates

    def sessions_around(self, instant: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Every session (opening, closing instant) that opens on the local day of `instant` or the day before."""
        local_day = instant.astimezone(self.zone).date()
        for day in (local_day - dt.timedelta(days=1), local_day):
            if not self.opens_on(day):
                continue
            for window in self.windows:
                if day.isoweekday() in window.days:
                    yield self._session(day, window)

    def _session(self, day: dt.date, window: Window) -> tuple[dt.datetime, dt.datetime]:
        start = _local(day, window.start, self.zone)
        end_day = day if window.end > window.start else day + dt.timedelta(days=1)
        return start, _local(end_day, window.end, self.zone)

    def is_open_at(self, instant: dt.datetime) -> bool:
        """Whether a session is running at `instant` (opening time included, closing time excluded)."""
        return any(start <= instant < end for start, end in self.sessions_around(instant))

    def covers(self, start: dt.datetime, end: dt.datetime) -> bool:
        """Whether the whole period [start, end) lies inside one session."""
        return any(s <= start and end <= e for s, e in self.sessions_around(start))


def _local(day: dt.date, hhmm: str, zone: ZoneInfo) -> dt.datetime:
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(hours, minutes), tzinfo=zone)


def calendar(
    windows: Sequence[Window | dict[str, object]],
    *,
    closed_dates: Sequence[dt.date] = (),
    valid_from: dt.date,
    valid_to: dt.date | None,
    zone: ZoneInfo,
) -> Calendar:
    """A Calendar from windows as Structs or as stored JSON objects."""
    parsed = [w if isinstance(w, Window) else msgspec.convert(w, Window) for w in windows]
    return Calendar(parsed, frozenset(closed_dates), valid_from, valid_to, zone)

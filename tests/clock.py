"""The instant every test starts at: the `settings` fixture's FixedClock stands here until a test moves it.

A Monday in mid-June 2026 in the city's time zone: inside chinesecalendar's data, with room either side so that
"this year", "next year" and "yesterday" cases need no care. Move it with the `clock` fixture
(`clock.set(...)`, `clock.advance(...)`); it is put back here before every test.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

CITY = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 6, 15, 10, 0, tzinfo=CITY)
TODAY = START.date()  # the city's date at START; what Settings.today() says until a test moves the clock


def city_time(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    """An instant given on the city's wall clock, for `clock.set(...)`."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=CITY)

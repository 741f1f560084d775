"""Opening rules of a place: weekly windows in the city's time, past midnight, closed dates, validity."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import msgspec
import pytest

from venues.schedule import Calendar, Window, calendar

BEIJING = ZoneInfo("Asia/Shanghai")


def at(text: str) -> dt.datetime:
    """A Beijing wall-clock time, e.g. "2026-06-13 23:30" (a Saturday)."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=BEIJING)


def night_market(**overrides: object) -> Calendar:
    fields: dict[str, object] = {
        "closed_dates": (),
        "valid_from": dt.date(2026, 1, 1),
        "valid_to": dt.date(2026, 12, 31),
        "zone": BEIJING,
    }
    fields.update(overrides)
    # Friday and Saturday nights, 18:00 to 02:00 the next morning.
    return calendar([{"days": [5, 6], "start": "18:00", "end": "02:00"}], **fields)  # type: ignore[arg-type]


def test_a_window_that_ends_before_it_starts_runs_past_midnight() -> None:
    market = night_market()
    assert market.is_open_at(at("2026-06-13 18:00"))  # Saturday, opening time included
    assert market.is_open_at(at("2026-06-14 01:59"))  # early Sunday: Saturday's session
    assert not market.is_open_at(at("2026-06-14 02:00"))  # closing time excluded
    assert not market.is_open_at(at("2026-06-14 18:30"))  # Sunday evening: no window
    assert not market.is_open_at(at("2026-06-13 17:59"))


def test_a_session_belongs_to_the_day_it_opens() -> None:
    # Saturday is closed: its session, running into Sunday, does not happen; Friday's still does.
    market = night_market(closed_dates=[dt.date(2026, 6, 13)])
    assert not market.is_open_at(at("2026-06-14 01:00"))
    assert market.is_open_at(at("2026-06-13 01:00"))  # Friday's session, early Saturday


def test_validity_is_judged_by_the_opening_day() -> None:
    market = night_market(valid_to=dt.date(2026, 6, 13))
    assert market.is_open_at(at("2026-06-14 01:00"))  # opened on the last valid day
    assert not market.is_open_at(at("2026-06-19 19:00"))
    assert not night_market(valid_from=dt.date(2026, 6, 14)).is_open_at(at("2026-06-14 01:00"))


def test_instants_in_other_offsets_are_compared_as_instants() -> None:
    utc = dt.datetime(2026, 6, 13, 10, 30, tzinfo=dt.UTC)  # 18:30 in Beijing, Saturday
    assert night_market().is_open_at(utc)


def test_covers_needs_the_whole_period_inside_one_session() -> None:
    market = night_market()
    assert market.covers(at("2026-06-13 19:00"), at("2026-06-14 01:30"))
    assert not market.covers(at("2026-06-13 17:00"), at("2026-06-13 19:00"))
    assert not market.covers(at("2026-06-12 19:00"), at("2026-06-13 19:00"))  # spans two sessions


@pytest.mark.parametrize(
    ("window", "words"),
    [
        ({"days": [8], "start": "06:00", "end": "09:00"}, "<= 7"),
        ({"days": [0], "start": "06:00", "end": "09:00"}, ">= 1"),
        ({"days": [1], "start": "25:00", "end": "09:00"}, "start"),
        ({"days": [1], "start": "06:00", "end": "9:00"}, "end"),
        ({"days": [1, 1], "start": "06:00", "end": "09:00"}, "repeat"),
        ({"days": [1], "start": "06:00", "end": "06:00"}, "same time"),
        ({"days": [], "start": "06:00", "end": "09:00"}, "length"),
    ],
)
def test_bad_windows_are_refused(window: dict[str, object], words: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=words):
        msgspec.convert(window, Window)

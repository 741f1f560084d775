"""The working-day calendar as the database holds it: schedules loaded after chinesecalendar's data and
provincial overrides, read into a `NationalCalendar` cached per process.

The cache is trusted only while the change counter (`permits_calendar_version`, one row) still shows the value
it was built under: one indexed read per look, a reload when a schedule or override was written anywhere.

Loading a year calls every hook in `on_year_loaded` inside the load's transaction, with the new calendar: the
task rows whose provisional deadlines cross that year are recomputed in the same commit as the schedule.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Final

import msgspec
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from permits.calendar_models import (
    CALENDAR_VERSION_SEQUENCE,
    CalendarOverride,
    CalendarVersion,
    CalendarYear,
    OverrideKind,
)
from permits.workdays import NationalCalendar, RegionOverrides, YearSchedule

logger = logging.getLogger(__name__)

# 全国年节及纪念日放假办法 (rev. 2024-11-10) Art. 2: 13 days a year. With 调休 the weekday rest days less the
# make-up working days come to that number (2025 and 2026 do); another count is worth a second look, no more.
STATUTORY_HOLIDAYS: Final = 13

YearLoadedHook = Callable[[AsyncSession, NationalCalendar, int], Awaitable[None]]
OverridesAddedHook = Callable[[AsyncSession, NationalCalendar, Sequence["Override"]], Awaitable[None]]
# The lead registers the task-row recompute here (flexreg's app factory layer); called in the load's transaction.
on_year_loaded: list[YearLoadedHook] = []
on_overrides_added: list[OverridesAddedHook] = []


class CalendarFileError(ValueError):
    """A schedule or override file that cannot be loaded; the message names every problem found."""


@dataclass(frozen=True, slots=True)
class ScheduleFile:
    schedule: YearSchedule
    source: str
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Override:
    region: str
    day: dt.date
    kind: OverrideKind
    reason: str


class _ScheduleToml(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    year: Annotated[int, msgspec.Meta(ge=2000, le=2100)]
    source: Annotated[str, msgspec.Meta(min_length=1)]
    holidays: list[dt.date]
    makeup_workdays: list[dt.date] = []


class _OverrideToml(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    region: Annotated[str, msgspec.Meta(pattern=r"^[1-8][0-9]$")]
    date: dt.date
    kind: OverrideKind
    reason: Annotated[str, msgspec.Meta(min_length=1)]


class _OverridesToml(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    override: Annotated[list[_OverrideToml], msgspec.Meta(min_length=1)]


def parse_schedule(text: bytes | str) -> ScheduleFile:
    """A year's schedule from TOML (`year`, `source`, `holidays`, `makeup_workdays`), checked.

    Refused: a date outside the year, a date listed twice, a day both a holiday and a make-up working day.
    Warned: a count other than the 13 statutory days, a make-up "working day" that is a weekday anyway.
    """
    try:
        data = msgspec.toml.decode(text, type=_ScheduleToml)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise CalendarFileError(f"schedule file: {exc}") from None
    problems: list[str] = []
    for name, days in (("holidays", data.holidays), ("makeup_workdays", data.makeup_workdays)):
        strays = sorted({d for d in days if d.year != data.year})
        if strays:
            problems.append(f"{name}: {', '.join(map(str, strays))} not in {data.year}")
        twice = sorted({d for d in days if days.count(d) > 1})
        if twice:
            problems.append(f"{name}: {', '.join(map(str, twice))} listed twice")
    both = sorted(set(data.holidays) & set(data.makeup_workdays))
    if both:
        problems.append(f"{', '.join(map(str, both))} both in holidays and in makeup_workdays")
    if not data.source.strip():
        problems.append("source: name the State Council notice the schedule comes from")
    if problems:
        raise CalendarFileError("schedule file: " + "; ".join(problems))
    schedule = YearSchedule(data.year, frozenset(data.holidays), frozenset(data.makeup_workdays))
    warnings: list[str] = []
    weekday_rest = sum(1 for d in schedule.holidays if d.isoweekday() <= 5)
    net = weekday_rest - sum(1 for d in schedule.workdays if d.isoweekday() > 5)
    if net != STATUTORY_HOLIDAYS:
        warnings.append(
            f"{weekday_rest} weekday rest days less the weekend make-up days is {net}, not the "
            f"{STATUTORY_HOLIDAYS} statutory days (全国年节及纪念日放假办法 Art. 2): check the file against the notice"
        )
    weekdays = sorted(d for d in schedule.workdays if d.isoweekday() <= 5)
    if weekdays:
        warnings.append(f"makeup_workdays on weekdays, working days anyway: {', '.join(map(str, weekdays))}")
    return ScheduleFile(schedule, data.source.strip(), tuple(warnings))


def parse_overrides(text: bytes | str) -> list[Override]:
    """Overrides from TOML: `[[override]]` tables of `region` (2 digits), `date`, `kind` (rest|work), `reason`."""
    try:
        data = msgspec.toml.decode(text, type=_OverridesToml)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise CalendarFileError(f"override file: {exc}") from None
    overrides = [make_override(o.region, o.date, o.kind, o.reason) for o in data.override]
    keys = [(o.region, o.day) for o in overrides]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise CalendarFileError(
            "override file: listed twice: " + ", ".join(f"region {region} on {day}" for region, day in twice)
        )
    return overrides


def make_override(region: str, day: dt.date, kind: str, reason: str) -> Override:
    if not (len(region) == 2 and region.isascii() and region.isdigit() and region[0] in "12345678"):
        raise CalendarFileError(f"region {region!r}: a province's 2-digit division code (11 to 82)")
    if kind not in ("rest", "work"):
        raise CalendarFileError(f"kind {kind!r}: rest or work")
    if not 2000 <= day.year <= 2100:
        raise CalendarFileError(f"date {day}: between 2000 and 2100")
    if not reason.strip():
        raise CalendarFileError("reason: say why (a typhoon closure, an ethnic-minority holiday and its basis)")
    return Override(region, day, kind, reason.strip())  # type: ignore[arg-type]


async def load_year(session: AsyncSession, loaded: ScheduleFile, *, now: dt.datetime) -> NationalCalendar:
    """Store (or replace) a year's schedule, bump the counter and run the `on_year_loaded` hooks, all in the
    session's transaction; returns the calendar with the year in it."""
    schedule = loaded.schedule
    values = {
        "year": schedule.year,
        "holidays": sorted(schedule.holidays),
        "makeup_workdays": sorted(schedule.workdays),
        "source": loaded.source,
        "loaded_at": now,
    }
    statement = insert(CalendarYear).values(values)
    await session.execute(statement.on_conflict_do_update(index_elements=[CalendarYear.year], set_=statement.excluded))
    calendar = await _bump_and_read(session)
    for hook in on_year_loaded:
        await hook(session, calendar, schedule.year)
    return calendar


async def add_overrides(session: AsyncSession, overrides: Sequence[Override]) -> NationalCalendar:
    """Store provincial overrides (one per region and day: a later one replaces the earlier), bump the counter
    and run the `on_overrides_added` hooks in the session's transaction."""
    for override in overrides:
        statement = insert(CalendarOverride).values(
            region=override.region, day=override.day, kind=override.kind, reason=override.reason
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[CalendarOverride.region, CalendarOverride.day],
                set_={"kind": statement.excluded.kind, "reason": statement.excluded.reason},
            )
        )
    calendar = await _bump_and_read(session)
    for hook in on_overrides_added:
        await hook(session, calendar, overrides)
    return calendar


@dataclass(slots=True)
class _Cache:
    version: int | None = None
    calendar: NationalCalendar | None = None


_cache = _Cache()


async def current_calendar(session: AsyncSession) -> NationalCalendar:
    """The calendar as stored, from this process's cache unless the counter moved since it was built."""
    version = await session.scalar(select(CalendarVersion.version).where(CalendarVersion.id == 1))
    if _cache.calendar is not None and _cache.version == version:
        return _cache.calendar
    calendar = await _read(session)
    _cache.version, _cache.calendar = version, calendar
    return calendar


async def _bump_and_read(session: AsyncSession) -> NationalCalendar:
    version = await session.scalar(
        update(CalendarVersion)
        .where(CalendarVersion.id == 1)
        .values(version=CALENDAR_VERSION_SEQUENCE.next_value())
        .returning(CalendarVersion.version)
    )
    calendar = await _read(session)
    _cache.version, _cache.calendar = version, calendar
    return calendar


async def _read(session: AsyncSession) -> NationalCalendar:
    years = (await session.scalars(select(CalendarYear))).all()
    loaded = {
        row.year: YearSchedule(row.year, frozenset(row.holidays), frozenset(row.makeup_workdays)) for row in years
    }
    rest: dict[str, set[dt.date]] = {}
    work: dict[str, set[dt.date]] = {}
    for row in (await session.scalars(select(CalendarOverride))).all():
        (rest if row.kind == "rest" else work).setdefault(row.region, set()).add(row.day)
    regions = {
        region: RegionOverrides(frozenset(rest.get(region, ())), frozenset(work.get(region, ())))
        for region in rest.keys() | work.keys()
    }
    return NationalCalendar(loaded=loaded, regions=regions)

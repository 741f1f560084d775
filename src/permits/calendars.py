"""The working-day calendar limits are counted with: the national data, loaded years and provincial overrides."""

from __future__ import annotations

from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from permits import calendar_store, workdays


class CalendarSource:
    """Hands out the calendar as it stands in the database (cached per process; reloaded when it changes)."""

    async def current(self, session: AsyncSession) -> workdays.WorkCalendar:
        return await calendar_store.current_calendar(session)


async def calendar_of(state: State, session: AsyncSession) -> workdays.WorkCalendar:
    """The calendar of this process (the app factory puts its source in `state.calendars`)."""
    source: CalendarSource = state.calendars
    return await source.current(session)

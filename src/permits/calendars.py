"""The working-day calendar limits are counted with: one source per process, shared by every request."""

from __future__ import annotations

from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from permits import workdays


class CalendarSource:
    """Hands out the calendar as it stands: chinesecalendar's national data."""

    def __init__(self) -> None:
        self._calendar = workdays.NationalCalendar()

    async def current(self, session: AsyncSession) -> workdays.WorkCalendar:
        return self._calendar


async def calendar_of(state: State, session: AsyncSession) -> workdays.WorkCalendar:
    """The calendar of this process (the app factory puts its source in `state.calendars`)."""
    source: CalendarSource = state.calendars
    return await source.current(session)

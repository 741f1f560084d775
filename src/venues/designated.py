"""Which designated places cover a point, open at an instant: the lookup permits makes for every exemption
decision, and what GET /designated-places answers.

Only a `designated_zone` with its designation counts (无证无照经营查处办法 Art. 3: places and times designated
by a county-level or higher government); without one the zone is `proposed` and never answers. A zone answers
at an instant when, there and then:

- its standing lets it: not closed and not suspended at that instant (`status_from` ≤ instant < `status_until`,
  either end open when null);
- its designation is dated on or before the day the session opens;
- a session of its weekly schedule is running (schedule.Calendar: closed dates and validity are judged by the
  day the session opens, so a night market open past midnight still counts at 01:00);
- the point lies inside it or on its boundary.

The index is an STRtree over every designated zone's WGS84 shape, built per process and kept in the app's state
(`index_of(app.state)`; never a module global, so two apps in one test run never share one). On every call it
reads `venues_change_counter`, which every venue write bumps in the same transaction, and rebuilds when the
value moved: an answer is right the moment a venue change commits, however many app processes serve. The
rebuild reads the counter before the venues, so an index is never labelled newer than its data (at worst it is
rebuilt once more); an asyncio.Lock keeps concurrent callers from rebuilding it N times.

A caller whose own transaction has written (the counter row may then carry its uncommitted bump) and finds the
counter moved gets an index built for that call alone from its own session, never stored: an index built from
uncommitted rows must not be shared, as they may yet roll back.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

import msgspec
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from core.db import driver_connection
from registry.catalogue import Category
from venues import geo
from venues.schedule import Calendar, Window
from venues.venues import Designation

__all__ = ["DesignatedIndex", "DesignatedPlace", "Designation", "find_designated_places", "index_of"]

STATE_KEY = "designated_index"

# One statement: the counter, and whether the caller's transaction has written anything (an xid is assigned
# only on a first write; PostgreSQL ≥ 10).
_COUNTER_SQL = "SELECT counter, txid_current_if_assigned() IS NOT NULL FROM venues_change_counter WHERE id = 1"
_COUNTER_ONLY_SQL = "SELECT counter FROM venues_change_counter WHERE id = 1"
# Every designated zone, whatever its standing: standing, validity and schedule are judged per instant, and
# a lookup may ask about the past. Texts, decoded here in bulk (a JSONB codec per row would cost more).
_ZONES_SQL = """
SELECT id, version, name, jurisdiction_code, geometry::text, schedule::text, closed_dates, valid_from, valid_to,
       allowed_categories, designation_authority, designation_document_number, designated_on,
       status, status_from, status_until
  FROM venues_venue
 WHERE kind = 'designated_zone' AND designation_authority IS NOT NULL
 ORDER BY id
"""

_WINDOWS = msgspec.json.Decoder(list[Window])
_MAX_CACHED = 100_000


class DesignatedPlace(msgspec.Struct, frozen=True, kw_only=True):
    """A designated place covering the point, open at the instant; `venue_revision` is the revision an
    exemption decision stores, and `opens_at`/`closes_at` bound the session running then (city time)."""

    venue_id: uuid.UUID
    venue_revision: int
    name: str
    jurisdiction_code: str
    designation: Designation
    allowed_categories: list[Category]
    opens_at: dt.datetime
    closes_at: dt.datetime


@dataclass(frozen=True, slots=True)
class _Zone:
    venue_id: uuid.UUID
    revision: int
    name: str
    jurisdiction_code: str
    designation: Designation
    allowed_categories: tuple[Category, ...]
    calendar: Calendar
    status: str
    status_from: dt.datetime | None
    status_until: dt.datetime | None

    def standing_allows(self, at: dt.datetime) -> bool:
        """Open, or closed/suspended only for a period that does not hold `at`."""
        if self.status == "open":
            return True
        started = self.status_from is None or self.status_from <= at
        ended = self.status_until is not None and self.status_until <= at
        return not started or ended

    def session_at(
        self, at: dt.datetime, sessions: Sequence[tuple[dt.datetime, dt.datetime]]
    ) -> tuple[dt.datetime, dt.datetime] | None:
        """Of the sessions around `at`, the one running then whose day is on or after the designation's date."""
        for start, end in sessions:
            if start <= at < end and start.date() >= self.designation.designated_on:
                return start, end
        return None


@dataclass(frozen=True, slots=True, eq=False)
class _Snapshot:
    """The index at one counter value. `ticket` orders snapshots against counter reads (see DesignatedIndex)."""

    counter: int
    ticket: int
    zones: Sequence[_Zone]
    tree: geo.Index | None
    # A zone's sessions around an instant depend only on the instant's local day: computed once per zone and
    # day (a third of a lookup otherwise), dropped wholesale when the cache grows past _MAX_CACHED.
    _sessions: dict[tuple[int, dt.date], list[tuple[dt.datetime, dt.datetime]]] = field(default_factory=dict)

    def _sessions_of(self, position: int, at: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
        key = (position, at.date())
        sessions = self._sessions.get(key)
        if sessions is None:
            if len(self._sessions) >= _MAX_CACHED:
                self._sessions.clear()
            sessions = self._sessions[key] = list(self.zones[position].calendar.sessions_around(at))
        return sessions

    def places(self, point: geo.Shape, at: dt.datetime) -> list[DesignatedPlace]:
        """`at` is in the city's zone (its date is the local date)."""
        if self.tree is None:
            return []
        found: list[DesignatedPlace] = []
        for position in self.tree.intersecting(point):
            zone = self.zones[position]
            if not zone.standing_allows(at):
                continue
            session = zone.session_at(at, self._sessions_of(position, at))
            if session is None:
                continue
            found.append(
                DesignatedPlace(
                    venue_id=zone.venue_id,
                    venue_revision=zone.revision,
                    name=zone.name,
                    jurisdiction_code=zone.jurisdiction_code,
                    designation=zone.designation,
                    allowed_categories=list(zone.allowed_categories),
                    opens_at=session[0],
                    closes_at=session[1],
                )
            )
        return found


T = TypeVar("T")


class _SharedRun(Generic[T]):
    """Concurrent callers share one run of `run`, each getting a run that STARTED after it called.

    A caller arriving while a run is going waits for the next one (started when the current ends), so what it
    gets reflects every commit made before it called: sharing saves database round trips without ever answering
    from a read older than the question. Used by the HTTP route, which has no transaction of its own to read in.
    """

    def __init__(self, run: Callable[[], Awaitable[T]]) -> None:
        self._run = run
        self._running: asyncio.Task[T] | None = None
        self._next: asyncio.Future[T] | None = None

    async def __call__(self) -> T:
        if self._running is None:
            return await asyncio.shield(self._start())
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        return await asyncio.shield(self._next)

    def _start(self) -> asyncio.Task[T]:
        task = asyncio.ensure_future(self._run())
        self._running = task
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[T]) -> None:
        self._running = None
        if not task.cancelled():
            task.exception()  # retrieved here: its callers may all have been cancelled meanwhile
        waiting, self._next = self._next, None
        if waiting is not None:
            self._start().add_done_callback(lambda done: _settle(waiting, done))


def _settle(future: asyncio.Future[T], task: asyncio.Task[T]) -> None:
    if future.done():
        return
    if task.cancelled():
        future.cancel()
    elif (error := task.exception()) is not None:
        future.set_exception(error)
    else:
        future.set_result(task.result())


class DesignatedIndex:
    """The per-process index of designated zones (one per app: `index_of(app.state)`).

    `rebuilds` counts the shared rebuilds (what tests and the bench look at).
    """

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.rebuilds = 0
        self._snapshot: _Snapshot | None = None
        self._lock = asyncio.Lock()
        # Counter reads are numbered as they complete; a snapshot carries the number its own read got, so a
        # caller that waited on the lock may use any snapshot whose read came after its own (newer data).
        self._tickets = 0
        self._shared: tuple[async_sessionmaker[AsyncSession], _SharedRun[_Snapshot]] | None = None
        self._held: list[AsyncConnection] = []  # at most one: the public route's reading connection

    async def find(self, session: AsyncSession, *, point: geo.Shape, at: dt.datetime) -> list[DesignatedPlace]:
        """The designated places covering `point` (WGS84) and open at `at`, checked against the counter now."""
        snapshot = await self._current(await _driver_of(session))
        return snapshot.places(point, at.astimezone(self.zone))

    async def find_now(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, point: geo.Shape, at: dt.datetime
    ) -> list[DesignatedPlace]:
        """`find` for a caller with no transaction of its own (the public route): its counter read is shared
        with concurrent callers, each served by a read that started after it called (_SharedRun).

        Served by an engine, the reads go over one connection the index keeps checked out, in autocommit (a
        session per read would cost a pool checkout, BEGIN and ROLLBACK: several times the read itself). Bound
        to a connection (the tests' rolled-back one), they go through a session of `sessionmaker`.
        """
        if self._shared is None or self._shared[0] is not sessionmaker:
            bind = sessionmaker.kw.get("bind")
            run = self._reader(bind) if isinstance(bind, AsyncEngine) else self._session_reader(sessionmaker)
            self._shared = (sessionmaker, _SharedRun(run))
        snapshot = await self._shared[1]()
        return snapshot.places(point, at.astimezone(self.zone))

    def _session_reader(self, sessionmaker: async_sessionmaker[AsyncSession]) -> Callable[[], Awaitable[_Snapshot]]:
        async def run() -> _Snapshot:
            async with sessionmaker() as session:
                return await self._current(await driver_connection(session))

        return run

    async def close(self) -> None:
        """Return the connection the public route's reads keep (the app's shutdown calls this)."""
        held, self._held = self._held, []
        for connection in held:
            await connection.close()

    def _reader(self, engine: AsyncEngine) -> Callable[[], Awaitable[_Snapshot]]:
        held = self._held

        async def run() -> _Snapshot:
            if not held:
                held.append(await engine.connect())
            try:
                raw = await held[0].get_raw_connection()
                return await self._current(raw.driver_connection)
            except BaseException:
                # A connection that failed mid-read may be broken: the next read takes a fresh one.
                connection = held.pop()
                with contextlib.suppress(Exception):
                    await connection.invalidate()
                raise

        return run

    async def _current(self, driver: Any) -> _Snapshot:
        row = await driver.fetchrow(_COUNTER_SQL)
        counter, dirty = int(row[0]), bool(row[1])
        snapshot = self._snapshot
        if snapshot is not None and snapshot.counter == counter:
            return snapshot
        ticket = self._next_ticket()
        if dirty:
            return await self._build(driver, ticket)
        async with self._lock:
            snapshot = self._snapshot
            if snapshot is not None and (snapshot.counter == counter or snapshot.ticket > ticket):
                return snapshot
            snapshot = await self._build(driver, self._next_ticket())
            self._snapshot = snapshot
            self.rebuilds += 1
            return snapshot

    def _next_ticket(self) -> int:
        self._tickets += 1
        return self._tickets

    async def _build(self, driver: Any, ticket: int) -> _Snapshot:
        # The counter first: the zones read after it are at least as new, so the label never runs ahead.
        counter = int(await driver.fetchval(_COUNTER_ONLY_SQL))
        rows = await driver.fetch(_ZONES_SQL)
        zones = [self._zone_of(row) for row in rows]
        shapes = geo.from_stored([row[4] for row in rows])
        return _Snapshot(counter=counter, ticket=ticket, zones=zones, tree=geo.Index(shapes) if shapes else None)

    def _zone_of(self, row: Any) -> _Zone:
        return _Zone(
            venue_id=row[0],
            revision=row[1],
            name=row[2],
            jurisdiction_code=row[3],
            designation=Designation(authority=row[10], document_number=row[11], designated_on=row[12]),
            allowed_categories=tuple(row[9]),
            calendar=Calendar(_WINDOWS.decode(row[5]), frozenset(row[6] or ()), row[7], row[8], self.zone),
            status=row[13],
            status_from=row[14],
            status_until=row[15],
        )


async def _driver_of(session: AsyncSession) -> Any:
    """The asyncpg connection under `session`'s transaction, remembered for that transaction.

    core.db.driver_connection costs about a third of a lookup (a greenlet round trip into SQLAlchemy); a session
    keeps its connection for as long as its root transaction lasts, so the driver found for one transaction
    serves every lookup in it, and a new transaction (after a commit or rollback) looks it up again.
    """
    transaction = session.sync_session.get_transaction()
    cached = session.info.get(_DRIVER_KEY)
    if transaction is not None and cached is not None and cached[0] is transaction:
        return cached[1]
    driver = await driver_connection(session)
    session.info[_DRIVER_KEY] = (session.sync_session.get_transaction(), driver)
    return driver


_DRIVER_KEY = "venues.designated.driver"


async def close_index(state: State) -> None:
    """Close the app's index if it was made (the app factory's lifespan, before the engine is disposed)."""
    index: DesignatedIndex | None = state.get(STATE_KEY)
    if index is not None:
        await index.close()


def index_of(state: State, zone: ZoneInfo | None = None) -> DesignatedIndex:
    """The app's index, made on first use (in the app's state, so it lives and dies with the app).

    `zone` defaults to the settings' city time zone (`state.settings.timezone`).
    """
    index: DesignatedIndex | None = state.get(STATE_KEY)
    if index is None:
        index = DesignatedIndex(zone or ZoneInfo(state.settings.timezone))
        state[STATE_KEY] = index
    return index


async def find_designated_places(
    session: AsyncSession, index: DesignatedIndex, *, point: geo.Shape, at: dt.datetime
) -> list[DesignatedPlace]:
    """The designated places covering `point` (a WGS84 shapely Point) open at `at` (aware), read in `session`'s
    transaction: what permits calls for every exemption decision (store each place's `venue_revision`)."""
    if at.tzinfo is None:
        raise ValueError("`at` must be timezone-aware")
    return await index.find(session, point=point, at=at)

"""The deadline sweep under each timeout policy, and the recompute of provisional deadlines when a year loads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import FixedClock
from core.crypto import FieldCipher
from core.settings import Settings
from flexreg import jobs
from permits import calendar_store, sweep, time_limits
from permits.calendar_store import load_year, parse_schedule
from permits.history_models import HistoryEntry
from permits.models import Application, Task
from permits.permit_issue import Issuer
from tests.clock import city_time
from tests.permits.builders import PermitCity, decide, make_permit_city, road_application, task_of
from tests.venues.road_builders import make_road_zone

FICTIONAL_2027 = Path(__file__).parent / "data" / "fictional-2027.toml"


@pytest.fixture
async def city(session: AsyncSession, settings: Settings) -> PermitCity:
    return await make_permit_city(session, settings)


@pytest.fixture
def issuer(settings: Settings) -> Issuer:
    return Issuer(FieldCipher(settings.data.data_key), settings.http.public_url, settings.timezone)


async def _task(session: AsyncSession, task_id: str) -> Task:
    fresh = select(Task).where(Task.id == task_id).execution_options(populate_existing=True)
    return (await session.execute(fresh)).scalar_one()


async def _events(session: AsyncSession, application_id: str) -> list[str]:
    rows = await session.scalars(
        select(HistoryEntry.event).where(HistoryEntry.application_id == application_id).order_by(HistoryEntry.seq)
    )
    return list(rows)


async def test_an_overdue_task_is_escalated_once(
    client: httpx.AsyncClient,
    city: PermitCity,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    issuer: Issuer,
) -> None:
    """On a carriageway both opinions are never deemed (the road authority leads; the police's is safety-critical)."""
    application = await road_application(client, city)
    police = task_of(application, "traffic_police")
    before_due = city_time(2026, 6, 18)  # the demo district promises 7 calendar days for road occupation
    assert await sweep.sweep_deadlines(sessionmaker, before_due, issuer=issuer) == []
    late = city_time(2026, 9, 1)
    done = await sweep.sweep_deadlines(sessionmaker, late, issuer=issuer)
    # Both tasks past their own limits, and the joint application past its 45 working days as a whole.
    assert sorted(action for _, action in done) == ["escalated", "escalated", "joint_escalated"]
    stored = await _task(session, police["id"])
    assert (stored.status, stored.overdue_action) == ("in_review", "escalated")
    assert await sweep.sweep_deadlines(sessionmaker, late + dt.timedelta(days=1), issuer=issuer) == []
    assert (await _events(session, application["id"])).count("task_overdue_escalated") == 2
    assert (await _events(session, application["id"])).count("application_overdue_escalated") == 1
    # The department can still decide, and must say why it is late.
    read = await client.get(f"/api/v1/tasks/{police['id']}", headers=city.as_(city.police))
    assert read.json()["status"] == "in_review"


async def test_a_co_departments_silence_past_its_limit_counts_as_consent_under_the_local_instrument(
    client: httpx.AsyncClient,
    city: PermitCity,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    issuer: Issuer,
    clock: FixedClock,
) -> None:
    """A sidewalk without a joint approval: the police's opinion is a co-department's and not safety-critical;
    the demo district (110101, every test jurisdiction) deems consent under its (fictional) instrument."""
    sidewalk = await make_road_zone(
        session,
        jurisdiction_code=city.jurisdiction.code,
        created_by=city.staff,
        joint_approval_road_document=None,
        joint_approval_police_document=None,
        joint_approval_valid_to=None,
    )
    await session.commit()
    city.carriageway = sidewalk
    application = await road_application(client, city)
    police = task_of(application, "traffic_police")
    await decide(client, city, city.road_authority, task_of(application, "urban_management"))
    stored = await _task(session, police["id"])
    # Past the promised limit but not the statutory one: escalated only.
    between = dt.datetime.combine(
        stored.due_on + dt.timedelta(days=1), dt.time(12), tzinfo=city_time(2026, 1, 1).tzinfo
    )
    assert between.date() <= stored.statutory_due_on
    done = await sweep.sweep_deadlines(sessionmaker, between, issuer=issuer)
    assert [a for t, a in done if str(t) == police["id"]] == ["escalated"]
    after = dt.datetime.combine(stored.statutory_due_on + dt.timedelta(days=1), dt.time(12), tzinfo=between.tzinfo)
    done = await sweep.sweep_deadlines(sessionmaker, after, issuer=issuer)
    assert [a for t, a in done if str(t) == police["id"]] == ["deemed_consent"]
    stored = await _task(session, police["id"])
    assert stored.status == "approved"
    assert stored.decided_by is None
    assert stored.decision_number is not None
    assert "视为同意" in (stored.note or "")
    fresh = select(Application).where(Application.id == application["id"]).execution_options(populate_existing=True)
    app = (await session.execute(fresh)).scalar_one()
    assert app.status == "approved"
    assert app.permit_number is not None
    events = await _events(session, application["id"])
    assert events[-3:] == ["task_deemed_consented", "application_approved", "permit_issued"]


async def test_block_flags_without_deciding(
    client: httpx.AsyncClient,
    city: PermitCity,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    issuer: Issuer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = (Path(time_limits.__file__).parent / "data" / "time-limits.toml").read_text()
    blocking = text.replace('action = "deem_consent"', 'action = "block"')
    monkeypatch.setattr(time_limits, "load_time_limits", lambda: time_limits.parse_time_limits(blocking))
    application = await road_application(client, city)
    done = await sweep.sweep_deadlines(sessionmaker, city_time(2026, 9, 1), issuer=issuer)
    assert sorted(a for _, a in done if a != "joint_escalated") == ["blocked", "blocked"]
    assert {
        t.status for t in (await session.scalars(select(Task).where(Task.application_id == application["id"])))
    } == {"in_review"}


async def test_a_provisional_deadline_is_never_deemed_and_is_recomputed_when_the_year_loads(
    client: httpx.AsyncClient,
    city: PermitCity,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    issuer: Issuer,
    clock: FixedClock,
) -> None:
    clock.set(city_time(2026, 12, 21, 10))
    sidewalk = await make_road_zone(
        session,
        jurisdiction_code=city.jurisdiction.code,
        created_by=city.staff,
        joint_approval_road_document=None,
        joint_approval_police_document=None,
        joint_approval_valid_to=None,
    )
    await session.commit()
    city.carriageway = sidewalk
    tomorrow = (city_time(2026, 12, 22, 10), city_time(2026, 12, 22, 12))
    application = await road_application(client, city, periods=[tomorrow])
    police = task_of(application, "traffic_police")
    await decide(client, city, city.road_authority, task_of(application, "urban_management"))
    stored = await _task(session, police["id"])
    # The promised 7 calendar days end in 2026; the statutory 20 working days in 2027, which has no data.
    assert police["due_provisional"] is False
    assert stored.statutory_due_on.year == 2027
    far = dt.datetime.combine(stored.statutory_due_on + dt.timedelta(days=10), dt.time(12), tzinfo=tomorrow[0].tzinfo)
    done = await sweep.sweep_deadlines(sessionmaker, far, issuer=issuer)
    assert [a for t, a in done if str(t) == police["id"]] == ["escalated"]
    assert (await _task(session, police["id"])).status == "in_review"

    estimated = stored.statutory_due_on
    assert sweep.recompute_provisional in calendar_store.on_year_loaded  # registered by flexreg.jobs
    assert jobs.PERIODIC_JOBS
    await load_year(session, parse_schedule(FICTIONAL_2027.read_bytes()), now=clock.now())
    await session.commit()
    recomputed = await _task(session, police["id"])
    # The fictional schedule rests on 1–3 January 2027: the statutory day, counted Mon–Fri before, moves later.
    assert recomputed.statutory_due_on > estimated

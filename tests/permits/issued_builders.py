"""Issued permits for tests: a vendor and a permit issued as the lead's approval will issue one."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import FieldCipher
from core.geojson import Polygon
from core.settings import Settings
from permits.issuance import IssuedComponent, IssuedPermit, PermitHours, PermitPeriod, PermitPlace, issue_permit
from registry.models import Vendor
from tests.clock import CITY, START
from tests.registry.builders import make_jurisdiction, make_vendor
from venues.schedule import Window

ID_NUMBER = "11010119900307002X"  # last four: 002X
FOOTPRINT = Polygon(
    coordinates=[
        [[116.4045, 39.9146], [116.4046, 39.9146], [116.4046, 39.9147], [116.4045, 39.9147], [116.4045, 39.9146]]
    ]
)
MORNINGS = PermitHours(schedule=[Window(days=[1, 2, 3, 4, 5, 6, 7], start="06:00", end="09:00")])
EVENING = PermitHours(
    periods=[
        PermitPeriod(start=dt.datetime(2026, 6, 20, 18, tzinfo=CITY), end=dt.datetime(2026, 6, 20, 22, tzinfo=CITY))
    ]
)
MARKET = PermitPlace(
    name="东华门早市 A-07", venue_id=uuid.UUID("3f6b1c2e-8d4a-4c1e-9b7a-2e5d8f0a1c34"), pitch_label="A-07"
)
ROAD = PermitPlace(name="东华门大街南侧人行道", geometry=FOOTPRINT)


def component(
    department: str = "market_regulation",
    permit_type: str = "food_stall_filing",
    *,
    valid_from: dt.date = dt.date(2026, 6, 16),
    valid_to: dt.date = dt.date(2026, 12, 31),
) -> IssuedComponent:
    return IssuedComponent(
        task_id=uuid.uuid4(),
        department=department,
        permit_type=permit_type,
        decision_number=f"东{department[:2]}〔2026〕{uuid.uuid4().int % 10000:04d}号",
        valid_from=valid_from,
        valid_to=valid_to,
    )


@dataclass
class Issued:
    vendor: Vendor
    permit: IssuedPermit


async def make_holder(session: AsyncSession, settings: Settings, **overrides: Any) -> Vendor:
    """A vendor named 王秀英 with the ID number ID_NUMBER (so the permit shows 王** and 002X)."""
    place = await make_jurisdiction(session)
    fields: dict[str, Any] = {"name": "王秀英", "id_number": ID_NUMBER}
    fields.update(overrides)
    return await make_vendor(session, settings, residence_jurisdiction_code=place.code, **fields)


async def make_permit(
    session: AsyncSession,
    settings: Settings,
    *,
    vendor: Vendor | None = None,
    components: Sequence[IssuedComponent] | None = None,
    place: PermitPlace = MARKET,
    hours: PermitHours = MORNINGS,
    valid_from: dt.date = dt.date(2026, 6, 16),
    valid_to: dt.date = dt.date(2026, 12, 31),
    now: dt.datetime = START,
) -> Issued:
    """A permit for cooked snacks, issued now (START unless given); the caller commits when the app must see it."""
    holder = vendor or await make_holder(session, settings)
    issued = await issue_permit(
        session,
        FieldCipher(settings.data.data_key),
        application_id=uuid.uuid4(),
        vendor_id=holder.id,
        activity_code="cooked_snacks",
        place=place,
        hours=hours,
        valid_from=valid_from,
        valid_to=valid_to,
        conditions=["经营时段结束后30分钟内清理摊位"],
        components=list(components) if components is not None else [component()],
        now=now,
        public_base_url=settings.http.public_url,
        timezone=settings.timezone,
    )
    return Issued(vendor=holder, permit=issued)

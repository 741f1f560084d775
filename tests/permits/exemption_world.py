"""The places exemption tests share: a designated morning market, a proposed zone beside it, a vendor.

Drawn in metres around DONGCHENG_CENTRE (tests.venues.builders). The jurisdiction's code is one of a province
the rules data leave to the national default (Hebei, 13…) unless a test asks for another, so outcomes follow
DOMAIN §1.5 with no local variation; tests of local configuration pick Beijing, Shanghai, Hefei codes.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from registry.models import Account, Jurisdiction, Vendor
from tests.clock import CITY
from tests.registry.builders import make_account, make_jurisdiction, make_vendor, vendor_headers
from tests.venues.builders import box, make_venue, point
from venues.models import Venue

CHECKS = "/api/v1/exemption-checks"
ALL_CATEGORIES = [
    "agricultural_products",
    "daily_necessities",
    "convenience_services",
    "prepared_food",
    "prepackaged_food",
    "restricted",
]
MORNING = [{"days": [1, 2, 3, 4, 5, 6, 7], "start": "06:00", "end": "09:00"}]
DESIGNATION: dict[str, Any] = {
    "designation_authority": "东城区人民政府",
    "designation_document_number": "东政发〔2026〕12号",
    "designated_on": dt.date(2026, 3, 1),
}
INSIDE = point(0, 0)
IN_PROPOSED = point(320, 0)
OUTSIDE = point(-500, 0)  # 480 m west of the market's west edge


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 6, day, hour, minute, tzinfo=CITY)


IN_HOURS = (at(16, 7), at(16, 8))
OUT_OF_HOURS = (at(16, 10), at(16, 11))


def period(start: dt.datetime, end: dt.datetime) -> dict[str, str]:
    return {"start": start.isoformat(), "end": end.isoformat()}


def code_under(prefix: str) -> str:
    """A random 12-digit street code under `prefix`."""
    return prefix + "".join(random.choice("0123456789") for _ in range(12 - len(prefix)))


@dataclass
class Places:
    settings: Settings
    jurisdiction: Jurisdiction
    office: Account
    market: Venue  # designated, 40 × 40 m around the centre, every day 06:00–09:00
    proposed: Venue  # 40 × 40 m, 300–340 m east, no designation
    vendor: Vendor
    other_vendor: Vendor

    def as_vendor(self, vendor: Vendor | None = None) -> dict[str, str]:
        return vendor_headers(self.settings, vendor or self.vendor)


async def make_places(session: AsyncSession, settings: Settings, prefix: str = "13") -> Places:
    jurisdiction = await make_jurisdiction(session, code=code_under(prefix))
    office = await make_account(session, "street_office", jurisdiction_code=jurisdiction.code)
    common = {"jurisdiction_code": jurisdiction.code, "created_by": office, "allowed_categories": ALL_CATEGORIES}
    market = await make_venue(
        session,
        kind="designated_zone",
        name="东华门早市",
        schedule=MORNING,
        geometry=box(-20, -20, 20, 20),
        **common,
        **DESIGNATION,
    )
    proposed = await make_venue(
        session,
        kind="designated_zone",
        name="王府井夜市（拟设）",
        schedule=MORNING,
        geometry=box(300, -20, 340, 20),
        **common,
    )
    places = Places(
        settings=settings,
        jurisdiction=jurisdiction,
        office=office,
        market=market,
        proposed=proposed,
        vendor=await make_vendor(session, settings, residence_jurisdiction_code=jurisdiction.code),
        other_vendor=await make_vendor(session, settings, residence_jurisdiction_code=jurisdiction.code, name="李四"),
    )
    await session.commit()
    return places


def body(
    activity: str, location: dict[str, Any] | None = INSIDE, periods: Any = (IN_HOURS,), **extra: Any
) -> dict[str, Any]:
    found: dict[str, Any] = {"activity_code": activity, "periods": [period(*p) for p in periods], **extra}
    if location is not None:
        found["location"] = location
    return found


async def check(
    client: httpx.AsyncClient, payload: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response = await client.post(CHECKS, json=payload, headers=headers or {})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def permits_of(decision: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["permit_type"], p["department"]) for p in decision["required_permits"]]


def reason(decision: dict[str, Any], rule: str) -> dict[str, Any]:
    [found] = [r for r in decision["reasons"] if r["rule"] == rule]
    return found

"""A small city for permits tests: a street office, vendors, department reviewers and a carriageway road zone.

A road-occupancy request on the carriageway zone needs the permit flow: it opens a one-stop application with the
road authority's and the traffic police's tasks, the quickest way to an application with two departments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from registry.models import Account, Jurisdiction, Vendor
from tests.builders import auth_headers
from tests.registry.builders import make_account, make_jurisdiction, make_vendor, vendor_headers
from tests.venues.road_builders import body, make_road_zone
from venues.models import Venue

ROAD_URL = "/api/v1/road-occupancy-requests"
APPLICATIONS = "/api/v1/applications"
TASKS = "/api/v1/tasks"


@dataclass
class PermitCity:
    settings: Settings
    jurisdiction: Jurisdiction
    staff: Account
    vendor: Vendor
    other_vendor: Vendor
    road_authority: Account
    police: Account
    market: Account
    admin: Account
    carriageway: Venue

    def as_vendor(self, vendor: Vendor | None = None) -> dict[str, str]:
        return vendor_headers(self.settings, vendor or self.vendor)

    def as_(self, account: Account) -> dict[str, str]:
        return auth_headers(self.settings, account)


async def make_permit_city(session: AsyncSession, settings: Settings) -> PermitCity:
    place = await make_jurisdiction(session)
    staff = await make_account(session, "street_office", jurisdiction_code=place.code)
    vendor = await make_vendor(session, settings, residence_jurisdiction_code=place.code, name="王秀英")
    other = await make_vendor(session, settings, residence_jurisdiction_code=place.code)
    road_authority = await make_account(session, "department", department_code="urban_management")
    police = await make_account(session, "department", department_code="traffic_police")
    market = await make_account(session, "department", department_code="market_regulation")
    admin = await make_account(session, "admin")
    carriageway = await make_road_zone(
        session,
        jurisdiction_code=place.code,
        created_by=staff,
        is_carriageway=True,
        joint_approval_road_document=None,
        joint_approval_police_document=None,
        joint_approval_valid_to=None,
    )
    await session.commit()
    return PermitCity(settings, place, staff, vendor, other, road_authority, police, market, admin, carriageway)


async def road_application(client: httpx.AsyncClient, city: PermitCity, **extra: Any) -> dict[str, Any]:
    """A pending road occupancy on the carriageway zone and the application it opened (as its vendor reads it)."""
    response = await client.post(ROAD_URL, json=body(city.carriageway, **extra), headers=city.as_vendor())
    assert response.status_code == 201, response.text
    occupancy = response.json()
    assert occupancy["status"] == "pending_permit"
    read = await client.get(f"{APPLICATIONS}/{occupancy['application_id']}", headers=city.as_vendor())
    assert read.status_code == 200, read.text
    application: dict[str, Any] = read.json()
    return application


def task_of(application: dict[str, Any], department: str) -> dict[str, Any]:
    found = [t for t in application["tasks"] if t["department"] == department]
    assert len(found) == 1, application["tasks"]
    return found[0]


async def decide(
    client: httpx.AsyncClient,
    city: PermitCity,
    reviewer: Account,
    task: dict[str, Any],
    decision: str = "approve",
    *,
    etag: str | None = None,
    **extra: Any,
) -> httpx.Response:
    headers = {**city.as_(reviewer), "If-Match": etag or task["etag"]}
    return await client.post(f"{TASKS}/{task['id']}/decision", json={"decision": decision, **extra}, headers=headers)

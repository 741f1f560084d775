"""The canary city the authorization matrix runs in (RELIABILITY.md §5, T-A2).

Two vendors, A in street office J1 and B in the neighbouring J2 (both under Dongcheng, 110101), each with
records of their own that carry unique canary strings: a name, a phone number and an ID number nobody else
has. The matrix always calls a route on A's object (or, for a list, with no object); the principals differ:
`vendor_own` is A, `vendor_other` is B, `street_office_in` is J1's office, `street_office_out` is J2's,
`department_in` is the department A's application and permit are routed to (urban management),
`department_out` one they are not (market regulation), plus `anon` and `admin`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from core.settings import Settings
from registry.accounts import principal_for
from registry.models import Account, Jurisdiction, KeyGroupClaim, Vendor
from tests.builders import NEIGHBOUR_SQUARE, auth_headers
from tests.builders import id_number as random_id_number
from tests.permits.issued_builders import component, make_permit
from tests.registry.builders import make_account, make_claim, make_jurisdiction, make_vendor
from tests.venues.builders import box, make_feature, make_pitch, make_venue, point
from tests.venues.road_builders import TOMORROW_MORNING, make_occupancy, make_road_zone, period
from tests.venues.road_builders import body as road_body
from tests.venues.round_builders import make_allocation, make_application, make_round
from venues.models import Allocation, AllocationRound, Pitch, RoadOccupancy, Venue

PRINCIPALS = (
    "anon",
    "vendor_own",
    "vendor_other",
    "street_office_in",
    "street_office_out",
    "department_in",
    "department_out",
    "admin",
)
DEPARTMENT_IN = "urban_management"  # the road authority: a task on A's application, a component of A's permit
DEPARTMENT_OUT = "market_regulation"
J2_EAST_M = 1706.0  # J2 (NEIGHBOUR_SQUARE) is 0.02° east of J1: its centre, in metres east of J1's
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))


@dataclass
class Side:
    """One vendor, the office of their jurisdiction, and the records of theirs the routes act on."""

    jurisdiction: Jurisdiction
    office: Account
    account: Account
    vendor: Vendor
    name: str
    phone: str
    id_number: str
    claim: KeyGroupClaim
    document_id: str
    venue: Venue
    pitch: Pitch
    round: AllocationRound
    allocation: Allocation
    occupancy: RoadOccupancy

    def canaries(self) -> dict[str, str]:
        """What must never reach a caller this side is hidden from: its person, and its records' ids."""
        return {
            "name": self.name,
            "phone": self.phone,
            "id_number": self.id_number,
            "vendor_id": str(self.vendor.id),
            "account_id": str(self.account.id),
            "claim_id": str(self.claim.id),
            "document_id": self.document_id,
            "allocation_id": str(self.allocation.id),
            "occupancy_id": str(self.occupancy.id),
        }


@dataclass
class World:
    settings: Settings
    a: Side
    b: Side
    department_in: Account
    department_out: Account
    admin: Account
    # A's records made through the API (their shapes are the service's own): an application and its tasks,
    # an exemption check; and A's issued permit.
    application: dict[str, Any] = field(default_factory=dict)
    task: dict[str, Any] = field(default_factory=dict)
    exemption_check_id: str = ""
    feature_id: str = ""
    # A second round in J1, for a term nobody holds a pitch in yet (applying to it can succeed), and its pitch.
    open_round_id: str = ""
    open_round_pitch_id: str = ""
    permit_number: str = ""

    def principal(self, name: str) -> Principal | None:
        return {
            "anon": None,
            "vendor_own": principal_for(self.a.account, self.a.vendor.id),
            "vendor_other": principal_for(self.b.account, self.b.vendor.id),
            "street_office_in": principal_for(self.a.office),
            "street_office_out": principal_for(self.b.office),
            "department_in": principal_for(self.department_in),
            "department_out": principal_for(self.department_out),
            "admin": principal_for(self.admin),
        }[name]

    def account_of(self, name: str) -> Account:
        return {
            "vendor_own": self.a.account,
            "vendor_other": self.b.account,
            "street_office_in": self.a.office,
            "street_office_out": self.b.office,
            "department_in": self.department_in,
            "department_out": self.department_out,
            "admin": self.admin,
        }[name]

    def hidden_from(self, name: str) -> list[Side]:
        """The sides whose canaries `name` must never see (a caller sees its own side, staff their scope's)."""
        return {
            "anon": [self.a, self.b],
            "vendor_own": [self.b],
            "vendor_other": [self.a],
            "street_office_in": [self.b],
            "street_office_out": [self.a],
            "department_in": [self.b],
            "department_out": [self.a],
            "admin": [],
        }[name]

    def values(self) -> dict[str, str]:
        """What a row's path parameters and placeholders name (`{vendor_id}` and the like)."""
        a, b = self.a, self.b
        return {
            "account_id": str(a.account.id),
            "code": a.jurisdiction.code,
            "j1": a.jurisdiction.code,
            "j2": b.jurisdiction.code,
            "vendor_id": str(a.vendor.id),
            "vendor_b": str(b.vendor.id),
            "zone_b": str(b.occupancy.zone_id),
            "document_id": a.document_id,
            "claim_id": str(a.claim.id),
            "venue_id": str(a.venue.id),
            "pitch_id": str(a.pitch.id),
            "pitch_b": str(b.pitch.id),
            "feature_id": self.feature_id,
            "round_id": str(a.round.id),
            "open_round_id": self.open_round_id,
            "allocation_id": str(a.allocation.id),
            "occupancy_id": str(a.occupancy.id),
            "check_id": self.exemption_check_id,
            "application_id": str(self.application.get("id", "")),
            "task_id": str(self.task.get("id", "")),
            "task_etag": str(self.task.get("etag", "")),
            "number": self.permit_number,
            "department_in": DEPARTMENT_IN,
            "department_out": DEPARTMENT_OUT,
        }


def _canary_phone() -> str:
    return f"139{secrets.randbelow(10**8):08d}"


async def _side(session: AsyncSession, settings: Settings, *, letter: str, east_m: float, **where: Any) -> Side:
    jurisdiction = await make_jurisdiction(session, name=f"金丝雀街道{letter}", **where)
    office = await make_account(session, "street_office", jurisdiction_code=jurisdiction.code)
    account = await make_account(session, "vendor")
    # Unique per run, so a hit in a body can only be this record leaking (no other test data shares it).
    name = f"雀{letter}{secrets.token_hex(3)}"
    phone = _canary_phone()
    number = random_id_number()
    vendor = await make_vendor(
        session,
        settings,
        residence_jurisdiction_code=jurisdiction.code,
        account=account,
        name=name,
        phone=phone,
        id_number=number,
    )
    claim = await make_claim(session, vendor)
    venue = await make_venue(
        session, jurisdiction_code=jurisdiction.code, created_by=office, geometry=box(east_m - 20, -20, east_m + 20, 20)
    )
    pitch = await make_pitch(
        session, venue=venue, created_by=office, geometry=box(east_m - 0.5, -0.75, east_m + 0.5, 0.75)
    )
    round_ = await make_round(session, jurisdiction_code=jurisdiction.code, created_by=office, pitches=[pitch])
    application = await make_application(session, round_=round_, vendor=vendor, choices=[pitch])
    allocation = await make_allocation(session, application=application, pitch=pitch)
    zone = await make_road_zone(
        session,
        jurisdiction_code=jurisdiction.code,
        created_by=office,
        geometry=box(east_m - 20, 30, east_m + 20, 33.6),
    )
    occupancy = await make_occupancy(
        session,
        zone=zone,
        vendor=vendor,
        footprint=box(east_m - 18, 30, east_m - 16.8, 31.2),
        periods=[TOMORROW_MORNING],
    )
    return Side(
        jurisdiction=jurisdiction,
        office=office,
        account=account,
        vendor=vendor,
        name=name,
        phone=phone,
        id_number=number,
        claim=claim,
        document_id="",
        venue=venue,
        pitch=pitch,
        round=round_,
        allocation=allocation,
        occupancy=occupancy,
    )


async def _upload(client: httpx.AsyncClient, settings: Settings, side: Side) -> str:
    headers = auth_headers(settings, side.account, side.vendor.id)
    response = await client.post("/api/v1/documents", files={"file": ("proof.png", PNG, "image/png")}, headers=headers)
    assert response.status_code == 201, response.text
    document_id: str = response.json()["id"]
    return document_id


async def make_world(session: AsyncSession, settings: Settings, client: httpx.AsyncClient) -> World:
    """The canary city, committed (to the test's rolled-back transaction) so the app sees it."""
    a = await _side(session, settings, letter="甲", east_m=0.0)
    b = await _side(
        session, settings, letter="乙", east_m=J2_EAST_M, boundary=NEIGHBOUR_SQUARE, min_lon=116.42, max_lon=116.44
    )
    world = World(
        settings=settings,
        a=a,
        b=b,
        department_in=await make_account(session, "department", department_code=DEPARTMENT_IN),
        department_out=await make_account(session, "department", department_code=DEPARTMENT_OUT),
        admin=await make_account(session, "admin"),
    )
    feature = await make_feature(session, jurisdiction_code=a.jurisdiction.code, created_by=a.office)
    world.feature_id = str(feature.id)
    spare = await make_pitch(session, venue=a.venue, created_by=a.office, geometry=box(5, 5, 6, 6.5))
    later = await make_round(
        session,
        jurisdiction_code=a.jurisdiction.code,
        created_by=a.office,
        pitches=[spare],
        term_start=dt.date(2027, 1, 1),
        term_end=dt.date(2027, 3, 31),
    )
    world.open_round_id, world.open_round_pitch_id = str(later.id), str(spare.id)
    carriageway = await make_road_zone(
        session,
        jurisdiction_code=a.jurisdiction.code,
        created_by=a.office,
        geometry=box(-20, -60, 20, -50),
        is_carriageway=True,
        joint_approval_road_document=None,
        joint_approval_police_document=None,
        joint_approval_valid_to=None,
    )
    issued = await make_permit(
        session,
        settings,
        vendor=a.vendor,
        components=[component(DEPARTMENT_IN, "road_occupancy")],
    )
    world.permit_number = issued.permit.number
    await session.commit()

    a.document_id = await _upload(client, settings, a)
    b.document_id = await _upload(client, settings, b)
    as_a = auth_headers(settings, a.account, a.vendor.id)
    road = await client.post(
        "/api/v1/road-occupancy-requests",
        json=road_body(carriageway, footprint=box(-18, -60, -16.8, -58.8)),
        headers=as_a,
    )
    assert road.status_code == 201, road.text
    application_id = road.json()["application_id"]
    read = await client.get(f"/api/v1/applications/{application_id}", headers=as_a)
    assert read.status_code == 200, read.text
    world.application = read.json()
    world.task = next(t for t in world.application["tasks"] if t["department"] == DEPARTMENT_IN)
    check = await client.post(
        "/api/v1/exemption-checks",
        json={
            "activity_code": "shoe_repair",
            "location": point(0, 0),
            "periods": [period(*TOMORROW_MORNING)],
            "vendor_id": str(a.vendor.id),
        },
        headers=as_a,
    )
    assert check.status_code == 200, check.text
    world.exemption_check_id = check.json()["id"]
    return world

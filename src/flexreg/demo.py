"""The demo city: Dongcheng district (Beijing), two street offices, one account per role, a few vendors, and
the places where they may trade: a designated morning market, a community courtyard with pitches and an open
allocation round, a night-market sidewalk with its joint approval, a carriageway market, and the hydrants, the
school gate and the intersection they keep clear of; a reviewer account per department, and applications in every
state with one approved permit (flexreg.demo_permits).

Idempotent: every piece is looked up first (a venue by name within its jurisdiction, a pitch by label within
its venue, a feature, a round by name) and only created when missing, so `flexreg demo` can run before every
`flexreg serve`, on any later day: a round whose applications have closed is left as it is, and no one applies
to it. Everything is built through the services, as the API would (so every siting check runs), on the
service's clock (`Settings.now()`). Boundaries and places are simplified outlines at real coordinates (WGS84),
not survey data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote
from zoneinfo import ZoneInfo

import shapely
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.auth import Principal
from core.conditional import Precondition
from core.crypto import FieldCipher
from core.db import transaction
from core.geojson import Point, Polygon, check_area, to_builtins
from core.settings import Settings
from flexreg import demo_evidence, demo_permits
from flexreg.demo_permits import DemoPermits, Sites, demo_principal
from registry import accounts, claims, jurisdictions, vendors
from registry.accounts import principal_for
from registry.catalogue import load_catalogue
from registry.models import Account, Jurisdiction, Vendor
from venues import features, geo, pitches, road, rounds
from venues import venues as places
from venues.models import (
    AllocationRound,
    Pitch,
    RestrictedFeature,
    RoadOccupancy,
    RoundApplication,
    RoundPitch,
    Venue,
)
from venues.schedule import Window
from venues.siting import FeatureKind

logger = logging.getLogger(__name__)

DISTRICT = (
    "110101000000",
    "东城区 Dongcheng District",
    None,
    [[116.379, 39.857], [116.449, 39.857], [116.449, 39.973], [116.379, 39.973], [116.379, 39.857]],
)
DONGHUAMEN = (
    "110101001000",
    "东华门街道 Donghuamen Subdistrict",
    "110101000000",
    [[116.385, 39.899], [116.418, 39.899], [116.418, 39.925], [116.385, 39.925], [116.385, 39.899]],
)
JINGSHAN = (
    "110101002000",
    "景山街道 Jingshan Subdistrict",
    "110101000000",
    [[116.388, 39.925], [116.412, 39.925], [116.412, 39.941], [116.388, 39.941], [116.388, 39.925]],
)

# (username, password, role, jurisdiction, department)
STAFF = [
    ("demo_admin", "demo-admin-pass", "admin", None, None),
    ("demo_donghuamen", "demo-staff-pass", "street_office", DONGHUAMEN[0], None),
    ("demo_jingshan", "demo-staff-pass", "street_office", JINGSHAN[0], None),
    ("demo_market", "demo-review-pass", "department", None, "market_regulation"),
    ("demo_urban", "demo-review-pass", "department", None, "urban_management"),
]

# (username, name, synthetic ID number with a valid check digit, phone, residence, claim)
VENDORS: list[tuple[str, str, str, str, str, dict[str, Any] | None]] = [
    (
        "demo_vendor",
        "王小明",
        "110101199503010031",
        "13800138000",
        DONGHUAMEN[0],
        {"group": "college_graduate", "details": {"graduation_on": "2026-07-01"}, "verify": True},
    ),
    (
        "demo_vendor_li",
        "李秀英",
        "110101197503150027",
        "13900139000",
        DONGHUAMEN[0],
        {"group": "laid_off_unemployed", "details": {"registered_unemployed_since": "2026-01-10"}, "verify": False},
    ),
    (
        "demo_vendor_zhao",
        "赵建国",
        "110101196808080010",
        "13700137000",
        JINGSHAN[0],
        {
            "group": "employment_difficulty",
            "details": {"category": "over_40_female_over_50_male", "since": "2025-06-01"},
            "verify": True,
        },
    ),
]
VENDOR_PASSWORD = "demo-vendor-pass"  # noqa: S105 (printed on purpose: demo data)


async def _jurisdiction(
    session: AsyncSession, code: str, name: str, parent: str | None, ring: list[list[float]]
) -> None:
    if await session.get(Jurisdiction, code) is not None:
        return
    boundary = Polygon(coordinates=[ring])
    await jurisdictions.establish_jurisdiction(
        session,
        code=code,
        name=name,
        boundary=to_builtins(boundary),
        shape=check_area(boundary, "boundary"),
        parent_code=parent,
    )


async def build_demo_city(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> DemoCity:
    """Create whatever part of the demo city is missing; what it holds, for the ready block."""
    await _build_people(sessionmaker, settings)
    async with transaction(sessionmaker) as session:
        city = await _build_places(session, settings)
    sites = Sites(
        night_market=NIGHT_MARKET_AT.point(*STALL_SPOTS[NIGHT_MARKET]),
        courtyard=COURTYARD_AT.point(*STALL_SPOTS[COURTYARD]),
        carriageway_id=next(place.id for place in city.places if place.name == CARRIAGEWAY_MARKET),
        carriageway_stall=CARRIAGEWAY_STALL,
    )
    permits = await demo_permits.build_permits(sessionmaker, settings, sites)
    return dataclasses.replace(city, permits=permits)


async def _build_people(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    cipher = FieldCipher(settings.data.data_key)
    today = settings.today()
    async with transaction(sessionmaker) as session:
        for code, name, parent, ring in (DISTRICT, DONGHUAMEN, JINGSHAN):
            await _jurisdiction(session, code, name, parent, ring)
        for username, password, role, jurisdiction_code, department_code in STAFF:
            if await accounts.find_account(session, username) is None:
                await accounts.open_account(
                    session,
                    username=username,
                    password=password,
                    role=role,  # type: ignore[arg-type]
                    jurisdiction_code=jurisdiction_code,
                    department_code=department_code,
                    known_departments=load_catalogue().department_codes,
                )
        await demo_permits.open_department_accounts(session)
        for username, name, id_number, phone, residence, claim in VENDORS:
            if await accounts.find_account(session, username) is not None:
                continue
            vendor = await vendors.register_vendor(
                session,
                cipher,
                username=username,
                password=VENDOR_PASSWORD,
                name=name,
                id_number=id_number,
                phone=phone,
                residence_jurisdiction=residence,
                today=today,
            )
            if claim is not None:
                await _claim(session, settings, vendor, claim, residence)


async def _claim(
    session: AsyncSession, settings: Settings, vendor: Vendor, claim: dict[str, Any], residence: str
) -> None:
    """File the vendor's claim as they would, and (for some) verify it as their street office would.

    A claim left pending for the console's verification queue carries evidence (an image and a PDF), uploaded
    by the vendor first, as the phone app would. It is filed with the vendor's account, only once.
    """
    account = await session.get(Account, vendor.account_id)
    staff = (await session.scalars(select(Account).where(Account.jurisdiction_code == residence))).first()
    if account is None or staff is None:
        raise RuntimeError("the demo vendor's account and street office must exist before its claim")
    claimant = principal_for(account, vendor.id)
    evidence: list[uuid.UUID] = []
    if not claim["verify"]:
        evidence = await demo_evidence.upload_evidence(
            session, claimant, group=claim["group"], max_bytes=settings.http.max_document_bytes
        )
    record = await claims.submit_claim(
        session,
        claimant,
        vendor_id=vendor.id,
        group=claim["group"],
        details=claim["details"],
        evidence_document_ids=evidence,
        today=settings.today(),
        now=settings.now(),
    )
    if claim["verify"]:
        await claims.decide_claim(
            session,
            principal_for(staff),
            record.id,
            decision="verified",
            valid_until=None,
            reason=None,
            today=settings.today(),
            now=settings.now(),
            precondition=Precondition(f'"{record.version}"'),
            request_path="flexreg demo",
        )


def account_lines() -> list[str]:
    """The demo accounts as `flexreg demo` and `flexreg serve --demo` list them."""
    lines = ["Demo accounts (username / password / role / scope):"]
    for username, password, role, jurisdiction_code, department_code in STAFF:
        lines.append(f"  {username:20} {password:18} {role:14} {jurisdiction_code or department_code or ''}".rstrip())
    for username, _name, _id, _phone, residence, _claim in VENDORS:
        lines.append(f"  {username:20} {VENDOR_PASSWORD:18} {'vendor':14} lives in {residence}")
    return [*lines, *demo_permits.department_lines()]


# --- places -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    """Metres east (x) and north (y) of an origin, in the city's Gauss-Krüger zone: places drawn to measure,
    so that the siting rules' buffers (30 m from a hydrant, 50 m from a school gate…) are met with room."""

    lon: float
    lat: float

    def position(self, x: float, y: float) -> list[float]:
        projection = geo.projection_for(self.lon)
        origin = projection.to_metres(shapely.Point(self.lon, self.lat))
        there = projection.to_wgs84(shapely.Point(origin.x + x, origin.y + y))
        return [round(there.x, 7), round(there.y, 7)]  # ~1 cm, as coordinates are kept

    def box(self, x0: float, y0: float, x1: float, y1: float) -> Polygon:
        corners = ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))
        return Polygon(coordinates=[[self.position(x, y) for x, y in corners]])

    def point(self, x: float, y: float) -> Point:
        return Point(coordinates=self.position(x, y))


# The origins (south-west corners) of the demo's places, at their real streets in 东华门 and 景山.
MORNING_MARKET_AT: Final = Frame(116.4030, 39.9195)  # the west side of 北河沿大街
COURTYARD_AT: Final = Frame(116.4092, 39.9185)  # off 多福巷, north of 灯市口西街
NIGHT_MARKET_AT: Final = Frame(116.4040, 39.91405)  # the north sidewalk of 东安门大街, east of 南河沿大街
CARRIAGEWAY_AT: Final = Frame(116.4003, 39.9265)  # 沙滩北街, in 景山

MORNING_MARKET = "北河沿大街便民早市"
COURTYARD = "多福巷社区服务中心院落"
NIGHT_MARKET = "东安门大街夜市（北侧人行道）"
CARRIAGEWAY_MARKET = "沙滩北街周末市集（机动车道）"
ROUND_NAME = "多福巷社区服务中心院落免费摊位 第一轮"

DISTRICT_GOVERNMENT = "北京市东城区人民政府"
# When the district designated the morning market (or the service's today, on a clock set before it).
DESIGNATED_ON: Final = dt.date(2026, 3, 2)
EVERY_DAY: Final = [1, 2, 3, 4, 5, 6, 7]

# (name, kind, frame, x, y): the morning market's hydrant stands at its south end; the courtyard's inside it,
# at its west end (its pitches keep 30 m off along the north wall); the primary school's gate lies south-east
# of the courtyard, its 50 m buffer clipping the courtyard's corner but not a pitch; the night market's
# hydrant halfway along the sidewalk and the intersection at its west end leave its east end free.
FEATURES: Final[list[tuple[str, FeatureKind, Frame, float, float]]] = [
    ("北河沿大街早市南口消火栓", "fire_hydrant", MORNING_MARKET_AT, -3.0, -5.0),
    ("多福巷社区服务中心院内消火栓", "fire_hydrant", COURTYARD_AT, 5.0, 15.0),
    ("北京市东城区灯市口小学正门", "school_gate", COURTYARD_AT, 95.0, -25.0),
    ("东安门大街夜市中段消火栓", "fire_hydrant", NIGHT_MARKET_AT, 80.0, 0.5),
    ("东安门大街—南河沿大街路口", "intersection", NIGHT_MARKET_AT, -20.0, -8.0),
]
# Five stalls of 1.5 m × 1.2 m (1.8 m², under the 2 m² cap) along the courtyard's north wall, 1.5 m apart.
PITCHES: Final = [(f"A{n}", COURTYARD_AT.box(37.0 + 3 * n, 26.0, 38.5 + 3 * n, 27.2)) for n in range(1, 6)]
# (vendor, ranked pitch labels, activity): who applies to the courtyard's round.
APPLICANTS: Final = [
    ("demo_vendor", ["A1", "A2", "A3"], "phone_film"),
    ("demo_vendor_li", ["A1", "A3"], "clothing_small_goods"),
    ("demo_vendor_zhao", ["A2", "A1"], "key_cutting"),
]
# demo_vendor's stall on the night market's free east end, tomorrow evening.
OCCUPANT = "demo_vendor"
OCCUPANCY_FOOTPRINT: Final = NIGHT_MARKET_AT.box(130.0, 3.6, 131.5, 4.8)
OCCUPANCY_HOURS: Final = (dt.time(18, 30), dt.time(21, 30))
OCCUPANCY_ACTIVITY = "phone_film"
# Where the demo's permit applications are made (flexreg.demo_permits): a stall spot on the night market's free
# east end, one in the courtyard between its pitches and its hydrant, and a stall on the carriageway's kerb lane.
STALL_SPOTS: Final = {NIGHT_MARKET: (130.0, 2.5), COURTYARD: (40.0, 20.0)}
CARRIAGEWAY_STALL: Final = CARRIAGEWAY_AT.box(1.0, 40.0, 2.5, 41.2)
# The sample lookup: the middle of the morning market at seven, when it is open.
LOOKUP_POINT: Final = MORNING_MARKET_AT.position(10.0, 60.0)
LOOKUP_TIME: Final = dt.time(7, 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoPlace:
    id: uuid.UUID
    name: str
    kind: str
    jurisdiction_code: str
    note: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoCity:
    """What the demo's places are, as the ready block lists them."""

    places: list[DemoPlace]
    round_id: uuid.UUID
    round_status: str
    round_closes_at: dt.datetime
    applications: int
    lookup_lon: float
    lookup_lat: float
    lookup_at: dt.datetime
    permits: DemoPermits | None = None  # the applications and permit, made once the places are


def _plans(today: dt.date) -> list[tuple[str, places.VenuePlan, Polygon]]:
    """(street office, plan, geometry) of each demo venue, as first established."""
    since = min(DESIGNATED_ON, today)
    designation = places.Designation(
        authority=DISTRICT_GOVERNMENT, document_number=f"东政发〔{since.year}〕12号", designated_on=since
    )
    approval = places.JointApproval(
        road_authority_document=f"东城区城市管理委员会 东城管路〔{since.year}〕31号",
        traffic_police_document=f"北京市公安局公安交通管理局东城交通支队 京公交东占〔{since.year}〕7号",
        valid_to=dt.date(today.year + 1, 12, 31),
    )
    common: dict[str, Any] = {"closed_dates": [], "valid_from": since, "valid_to": None}
    return [
        (
            "demo_donghuamen",
            places.VenuePlan(
                name=MORNING_MARKET,
                kind="designated_zone",
                jurisdiction_code=DONGHUAMEN[0],
                shape=None,
                schedule=[Window(days=EVERY_DAY, start="05:30", end="09:00")],
                allowed_categories=["agricultural_products", "daily_necessities"],
                designation=designation,
                **common,
            ),
            MORNING_MARKET_AT.box(0.0, 0.0, 20.0, 120.0),
        ),
        (
            "demo_donghuamen",
            places.VenuePlan(
                name=COURTYARD,
                kind="community_space",
                jurisdiction_code=DONGHUAMEN[0],
                shape=None,
                schedule=[Window(days=EVERY_DAY, start="08:00", end="20:00")],
                allowed_categories=["convenience_services", "daily_necessities"],
                **common,
            ),
            COURTYARD_AT.box(0.0, 0.0, 70.0, 30.0),
        ),
        (
            "demo_donghuamen",
            places.VenuePlan(
                name=NIGHT_MARKET,
                kind="road_zone",
                jurisdiction_code=DONGHUAMEN[0],
                shape=None,
                schedule=[
                    Window(days=[1, 2, 3, 4, 7], start="18:00", end="22:30"),
                    Window(days=[5, 6], start="18:00", end="00:30"),  # past midnight on Friday and Saturday
                ],
                allowed_categories=["convenience_services", "daily_necessities", "prepackaged_food"],
                sidewalk_width_m=5.0,
                capacity=24,
                joint_approval=approval,
                **common,
            ),
            NIGHT_MARKET_AT.box(0.0, 0.0, 160.0, 5.0),
        ),
        (
            "demo_jingshan",
            places.VenuePlan(
                name=CARRIAGEWAY_MARKET,
                kind="road_zone",
                jurisdiction_code=JINGSHAN[0],
                shape=None,
                schedule=[Window(days=[6, 7], start="09:00", end="17:00")],
                allowed_categories=["convenience_services", "daily_necessities"],
                carriageway=True,
                capacity=20,
                **common,
            ),
            CARRIAGEWAY_AT.box(0.0, 0.0, 8.0, 100.0),
        ),
    ]


def _note(venue: Venue, today: dt.date) -> str:
    """A line on the venue as it stands (an earlier run established it; staff may have edited it since)."""
    hours = ", ".join(f"{window['start']}-{window['end']}" for window in venue.schedule)
    if venue.kind == "designated_zone":
        if venue.designation_authority is None:
            return f"proposed (no designation), {hours}"
        return f"designated by {venue.designation_authority} {venue.designation_document_number}, {hours}"
    if venue.kind == "road_zone":
        route = places.road_requests(venue, today)
        if venue.is_carriageway:
            return f"carriageway ({route}), {hours}"
        return f"sidewalk, joint approval until {venue.joint_approval_valid_to} ({route}, fee 0), {hours}"
    return f"{len(PITCHES)} pitches, {hours}"


async def _build_places(session: AsyncSession, settings: Settings) -> DemoCity:
    now, today, zone = settings.now(), settings.today(), ZoneInfo(settings.timezone)
    office = await demo_principal(session, "demo_donghuamen")
    # Features first: every pitch below is checked against them.
    for name, kind, frame, x, y in FEATURES:
        found = await session.scalar(select(RestrictedFeature.id).where(RestrictedFeature.name == name))
        if found is None:
            await features.record_feature(
                session,
                office,
                kind=kind,
                geometry=frame.point(x, y),
                buffer_m=None,
                name=name,
                jurisdiction_code=None,
                now=now,
            )
    built: list[DemoPlace] = []
    venues: dict[str, Venue] = {}
    for staff, plan, geometry in _plans(today):
        venue = await session.scalar(
            select(Venue).where(Venue.jurisdiction_code == plan.jurisdiction_code, Venue.name == plan.name)
        )
        if venue is None:
            venue = await places.establish_venue(
                session, await demo_principal(session, staff), plan, geometry=geometry, now=now, today=today
            )
        venues[plan.name] = venue
        built.append(
            DemoPlace(
                id=venue.id,
                name=venue.name,
                kind=venue.kind,
                jurisdiction_code=venue.jurisdiction_code,
                note=_note(venue, today),
            )
        )
    courtyard = venues[COURTYARD]
    labelled: dict[str, Pitch] = {}
    for label, area in PITCHES:
        pitch = await session.scalar(select(Pitch).where(Pitch.venue_id == courtyard.id, Pitch.label == label))
        if pitch is None:
            pitch = await pitches.mark_pitch(session, office, courtyard.id, label=label, geometry=area, now=now)
        labelled[label] = pitch
    round_ = await _round(session, office, labelled, now=now, today=today, zone=zone)
    if rounds.round_status(round_, now) == "open" and courtyard.status == "open":
        await _apply(session, round_, labelled, now=now)
    await _occupancy(session, venues[NIGHT_MARKET], now=now, today=today, zone=zone)
    lookup_day = today if now.astimezone(zone).time() < LOOKUP_TIME else today + dt.timedelta(days=1)
    applications = await session.scalar(
        select(func.count()).select_from(RoundApplication).where(RoundApplication.round_id == round_.id)
    )
    return DemoCity(
        places=built,
        round_id=round_.id,
        round_status=rounds.round_status(round_, now),
        round_closes_at=round_.applications_close_at,
        applications=applications or 0,
        lookup_lon=LOOKUP_POINT[0],
        lookup_lat=LOOKUP_POINT[1],
        lookup_at=dt.datetime.combine(lookup_day, LOOKUP_TIME, tzinfo=zone),
    )


async def _round(
    session: AsyncSession,
    office: Principal,
    labelled: dict[str, Pitch],
    *,
    now: dt.datetime,
    today: dt.date,
    zone: ZoneInfo,
) -> AllocationRound:
    """The courtyard's round, opened once: applications close in two weeks, the quarter's term starts after."""
    found = await session.scalar(
        select(AllocationRound).where(
            AllocationRound.jurisdiction_code == DONGHUAMEN[0], AllocationRound.name == ROUND_NAME
        )
    )
    if found is not None:
        return found
    term_start = today + dt.timedelta(days=15)
    opened = await rounds.open_round(
        session,
        office,
        name=ROUND_NAME,
        pitch_ids=[pitch.id for pitch in labelled.values() if pitch.status == "open"],
        term_start=term_start,
        term_end=term_start + dt.timedelta(days=90),
        applications_close_at=dt.datetime.combine(today + dt.timedelta(days=14), dt.time(20, 0), tzinfo=zone),
        priority_tiers=None,
        beacon=None,
        now=now,
        zone=zone,
    )
    round_ = await session.get(AllocationRound, opened.id)
    if round_ is None:
        raise RuntimeError("the round just opened must be readable")
    return round_


async def _apply(
    session: AsyncSession, round_: AllocationRound, labelled: dict[str, Pitch], *, now: dt.datetime
) -> None:
    """Each demo applicant's application, while the round is open, to the pitches of it still open (staff may
    have closed one since the last run)."""
    offered = set((await session.scalars(select(RoundPitch.pitch_id).where(RoundPitch.round_id == round_.id))).all())
    for username, labels, activity in APPLICANTS:
        vendor = await demo_principal(session, username)
        applied = await session.scalar(
            select(RoundApplication.id).where(
                RoundApplication.round_id == round_.id, RoundApplication.vendor_id == vendor.vendor_id
            )
        )
        choices = [
            labelled[label].id for label in labels if labelled[label].status == "open" and labelled[label].id in offered
        ]
        if applied is None and choices:
            await rounds.apply_to_round(session, vendor, round_.id, choices=choices, activity_code=activity, now=now)


async def _occupancy(
    session: AsyncSession, zone_venue: Venue, *, now: dt.datetime, today: dt.date, zone: ZoneInfo
) -> None:
    """demo_vendor's approved stall on the night market tomorrow evening, asked for once (never again: a
    later run, after that evening, leaves the record as it stands)."""
    occupant = await demo_principal(session, OCCUPANT)
    asked = await session.scalar(
        select(RoadOccupancy.id).where(
            RoadOccupancy.zone_id == zone_venue.id, RoadOccupancy.vendor_id == occupant.vendor_id
        )
    )
    tomorrow = today + dt.timedelta(days=1)
    approval_to = zone_venue.joint_approval_valid_to
    # Without a joint approval covering the evening the request would need the permit flow: nothing to show.
    if asked is not None or approval_to is None or approval_to < tomorrow:
        return
    start, end = (dt.datetime.combine(tomorrow, hour, tzinfo=zone) for hour in OCCUPANCY_HOURS)
    await road.request_road_occupancy(
        session,
        occupant,
        zone_id=zone_venue.id,
        footprint=OCCUPANCY_FOOTPRINT,
        periods=[(start, end)],
        activity_code=OCCUPANCY_ACTIVITY,
        permit_flow=road.NoPermitFlow(),
        now=now,
        city=zone,
    )


def city_lines(city: DemoCity, url: str = "") -> list[str]:
    """The demo's places as `flexreg demo` and `flexreg serve --demo` list them, with links to try."""
    lines = ["Demo places (venue id / kind / name):"]
    for place in city.places:
        lines.append(f"  {place.id}  {place.kind:15} {place.name} [{place.jurisdiction_code}]")
        lines.append(f"  {'':36}  {'':15} {place.note}")
    closes = city.round_closes_at.astimezone(city.lookup_at.tzinfo).strftime("%Y-%m-%d %H:%M")
    lines.append(
        f"  Round {city.round_id} ({ROUND_NAME}): {city.round_status}, "
        f"applications close {closes}, {city.applications} applications"
    )
    at = quote(city.lookup_at.isoformat(), safe=":")
    lines.append(
        f"  Morning market lookup: {url}/api/v1/designated-places?lon={city.lookup_lon}&lat={city.lookup_lat}&at={at}"
    )
    courtyard = next(place for place in city.places if place.name == COURTYARD)
    lines.append(f"  Courtyard map:         {url}/api/v1/venues/{courtyard.id}/map")
    return lines if city.permits is None else [*lines, "", *demo_permits.permit_lines(city.permits, url)]

"""The demo city builds, can be built again without change (also on a later day), and its accounts and places
work: the morning market answers the designated-place lookup while open, the courtyard's map shows its pitches
near their hydrant and school gate, and a pitch drawn on that hydrant is refused."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import FixedClock
from core.settings import Settings
from flexreg.cli import ready_block
from flexreg.demo import (
    APPLICANTS,
    COURTYARD,
    FEATURES,
    MORNING_MARKET,
    NIGHT_MARKET,
    PITCHES,
    ROUND_NAME,
    STAFF,
    VENDOR_PASSWORD,
    VENDORS,
    DemoCity,
    account_lines,
    build_demo_city,
    city_lines,
)
from registry.models import Account, Jurisdiction, KeyGroupClaim, Vendor
from tests.clock import START, city_time
from tests.problems import assert_problem
from venues.models import (
    AllocationRound,
    Pitch,
    PitchRevision,
    RestrictedFeature,
    RoadOccupancy,
    RoundApplication,
    Venue,
    VenueRevision,
)

MODELS = (
    Jurisdiction,
    Account,
    Vendor,
    KeyGroupClaim,
    Venue,
    VenueRevision,
    Pitch,
    PitchRevision,
    RestrictedFeature,
    AllocationRound,
    RoundApplication,
    RoadOccupancy,
)


async def _counts(session: AsyncSession) -> dict[str, int]:
    return {model.__name__: await session.scalar(select(func.count()).select_from(model)) or 0 for model in MODELS}


async def _token(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    token = await client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert token.status_code == 200
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def _venue(city: DemoCity, name: str) -> str:
    return str(next(place.id for place in city.places if place.name == name))


async def test_demo_city_is_idempotent_and_usable(
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    settings: Settings,
    client: httpx.AsyncClient,
) -> None:
    city = await build_demo_city(sessionmaker, settings)
    first = await _counts(session)
    assert first == {
        "Jurisdiction": 3,
        "Account": len(STAFF) + len(VENDORS),
        "Vendor": len(VENDORS),
        "KeyGroupClaim": len(VENDORS),
        "Venue": 4,
        "VenueRevision": 4,
        "Pitch": len(PITCHES),
        "PitchRevision": len(PITCHES),
        "RestrictedFeature": len(FEATURES),
        "AllocationRound": 1,
        "RoundApplication": len(APPLICANTS),
        "RoadOccupancy": 1,
    }
    again = await build_demo_city(sessionmaker, settings)
    assert await _counts(session) == first
    assert again == city
    listed = "\n".join(account_lines())
    for username, password, *_ in STAFF:
        assert f"{username:20} {password}" in listed
    assert all(f"{username:20} {VENDOR_PASSWORD}" in listed for username, *_ in VENDORS)
    places = "\n".join(city_lines(city, "http://127.0.0.1:8000"))
    assert all(str(place.id) in places for place in city.places)
    assert f"http://127.0.0.1:8000/api/v1/venues/{_venue(city, COURTYARD)}/map" in places
    assert "\n".join(city_lines(city, "http://127.0.0.1:8000")) in ready_block(
        "http://127.0.0.1:8000", demo=True, city=city
    )

    headers = await _token(client, "demo_vendor", VENDOR_PASSWORD)
    me = await client.get("/api/v1/vendors/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["key_groups"] == ["college_graduate"]
    entitlements = await client.get(f"/api/v1/vendors/{me.json()['id']}/entitlements", headers=headers)
    assert entitlements.status_code == 200


async def test_demo_places_are_what_the_issue_asks(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, client: httpx.AsyncClient
) -> None:
    city = await build_demo_city(sessionmaker, settings)
    venues = {}
    for place in city.places:
        answer = await client.get(f"/api/v1/venues/{place.id}")
        assert answer.status_code == 200
        venues[place.name] = answer.json()
    assert sorted(venue["kind"] for venue in venues.values()) == [
        "community_space",
        "designated_zone",
        "road_zone",
        "road_zone",
    ]
    market = venues[MORNING_MARKET]
    assert market["designation_status"] == "designated"
    assert market["designation"]["authority"] == "北京市东城区人民政府"
    assert market["designation"]["document_number"].startswith("东政发〔")
    assert market["schedule"] == [{"days": [1, 2, 3, 4, 5, 6, 7], "start": "05:30", "end": "09:00"}]
    assert market["allowed_categories"] == ["agricultural_products", "daily_necessities"]
    night = venues[NIGHT_MARKET]
    assert night["carriageway"] is False
    assert night["road_requests"] == "approved_at_once"
    assert set(night["joint_approval"]) == {"road_authority_document", "traffic_police_document", "valid_to"}
    assert dt.date.fromisoformat(night["joint_approval"]["valid_to"]) > START.date()
    assert any(window["end"] < window["start"] for window in night["schedule"])  # past midnight at weekends
    carriageway = next(v for v in venues.values() if v["kind"] == "road_zone" and v["carriageway"])
    assert carriageway["road_requests"] == "permit_flow"
    assert carriageway["jurisdiction_code"] == "110101002000"

    pitches = await client.get(f"/api/v1/venues/{_venue(city, COURTYARD)}/pitches")
    assert pitches.status_code == 200
    items = pitches.json()["items"]
    assert [pitch["label"] for pitch in items] == [label for label, _ in PITCHES]
    assert all(pitch["area_m2"] <= 2.0 and all(check["passed"] for check in pitch["checks"]) for pitch in items)

    round_ = await client.get(f"/api/v1/allocation-rounds/{city.round_id}")
    assert round_.status_code == 200
    assert round_.json()["name"] == ROUND_NAME
    assert round_.json()["status"] == "open"
    assert round_.json()["application_count"] == len(APPLICANTS) == city.applications
    assert dt.datetime.fromisoformat(round_.json()["applications_close_at"]) > START
    assert dt.date.fromisoformat(round_.json()["term_start"]) > START.date()
    assert sorted(round_.json()["pitch_ids"]) == sorted(pitch["id"] for pitch in items)
    for username, *_ in APPLICANTS:
        mine = await client.get(
            f"/api/v1/allocation-rounds/{city.round_id}/my-result",
            headers=await _token(client, username, VENDOR_PASSWORD),
        )
        assert mine.status_code == 200, mine.text

    headers = await _token(client, "demo_vendor", VENDOR_PASSWORD)
    occupancies = await client.get("/api/v1/road-occupancy-requests", headers=headers)
    assert occupancies.status_code == 200
    [occupancy] = occupancies.json()["items"]
    assert (occupancy["zone_id"], occupancy["status"], occupancy["fee_cny"]) == (
        _venue(city, NIGHT_MARKET),
        "approved",
        0,
    )
    assert dt.datetime.fromisoformat(occupancy["periods"][0]["start"]) > START


async def test_the_morning_market_answers_the_lookup_while_open(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, client: httpx.AsyncClient
) -> None:
    city = await build_demo_city(sessionmaker, settings)
    assert city.lookup_at == city_time(2026, 6, 16, 7, 0)  # the clock stands at 10:00, after the market
    url = f"/api/v1/designated-places?lon={city.lookup_lon}&lat={city.lookup_lat}"

    def at(instant: dt.datetime) -> str:
        return f"{url}&at={quote(instant.isoformat(), safe=':')}"

    open_ = await client.get(at(city.lookup_at))
    assert open_.status_code == 200
    [place] = open_.json()["items"]
    assert (place["venue_id"], place["name"]) == (_venue(city, MORNING_MARKET), MORNING_MARKET)
    assert place["designation"]["authority"] == "北京市东城区人民政府"
    assert dt.datetime.fromisoformat(place["opens_at"]) == city_time(2026, 6, 16, 5, 30)
    closed = await client.get(at(START))  # 10:00: the market closed at 09:00
    assert closed.status_code == 200
    assert closed.json()["items"] == []
    # The sample link the ready block prints answers the same.
    [link] = [line.split(": ", 1)[1].strip() for line in city_lines(city) if "designated-places" in line]
    assert (await client.get(link)).json() == open_.json()


async def test_the_courtyard_map_shows_its_pitches_and_what_they_keep_clear_of(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, client: httpx.AsyncClient
) -> None:
    city = await build_demo_city(sessionmaker, settings)
    answer = await client.get(f"/api/v1/venues/{_venue(city, COURTYARD)}/map")
    assert answer.status_code == 200
    layers: dict[str, list[dict[str, object]]] = {}
    for feature in answer.json()["features"]:
        layers.setdefault(feature["properties"]["layer"], []).append(feature["properties"])
    assert [pitch["label"] for pitch in layers["pitch"]] == [label for label, _ in PITCHES]
    assert all(pitch["status"] == "open" for pitch in layers["pitch"])
    assert {(feature["kind"], feature["name"]) for feature in layers["restricted_feature"]} >= {
        ("fire_hydrant", "多福巷社区服务中心院内消火栓"),
        ("school_gate", "北京市东城区灯市口小学正门"),
    }
    assert {buffer["kind"] for buffer in layers["buffer"]} >= {"fire_hydrant", "school_gate"}


async def test_a_pitch_on_the_courtyard_hydrant_is_refused(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, client: httpx.AsyncClient
) -> None:
    city = await build_demo_city(sessionmaker, settings)
    features = await client.get("/api/v1/restricted-features", params={"kind": "fire_hydrant"})
    assert features.status_code == 200
    [hydrant] = [item for item in features.json()["items"] if item["name"] == "多福巷社区服务中心院内消火栓"]
    lon, lat = hydrant["geometry"]["coordinates"]
    d = 0.000005  # about half a metre each way
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]]
    answer = await client.post(
        f"/api/v1/venues/{_venue(city, COURTYARD)}/pitches",
        json={"label": "on-the-hydrant", "geometry": {"type": "Polygon", "coordinates": [ring]}},
        headers=await _token(client, "demo_donghuamen", "demo-staff-pass"),
    )
    assert_problem(answer, 422, "pitch_rejected")
    failed = [check for check in answer.json()["checks"] if not check["passed"]]
    assert [check["check"] for check in failed] == ["clear_of_restricted"]
    assert "多福巷社区服务中心院内消火栓" in str(failed) or hydrant["id"] in str(failed)


async def test_the_demo_builds_again_on_later_days_without_change(
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    settings: Settings,
    clock: FixedClock,
) -> None:
    """After the round's close, and a year on (the joint approval long expired for new requests' evenings),
    a rerun neither fails nor adds a round, an application or an occupancy."""
    await build_demo_city(sessionmaker, settings)
    first = await _counts(session)
    clock.advance(dt.timedelta(days=20))
    later = await build_demo_city(sessionmaker, settings)
    assert later.round_status == "closed"
    assert await _counts(session) == first
    clock.set(city_time(2028, 3, 1, 6, 0))
    much_later = await build_demo_city(sessionmaker, settings)
    assert await _counts(session) == first
    assert much_later.lookup_at == city_time(2028, 3, 1, 7, 0)


async def test_a_demo_built_on_a_later_day_opens_its_round_then(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: FixedClock,
    client: httpx.AsyncClient,
) -> None:
    """A fresh demo on another day (as every CI run is) still opens its round in the future and applies."""
    clock.set(city_time(2027, 12, 31, 23, 50))
    city = await build_demo_city(sessionmaker, settings)
    assert (city.round_status, city.applications) == ("open", len(APPLICANTS))
    occupancies = await client.get(
        "/api/v1/road-occupancy-requests", headers=await _token(client, "demo_vendor", VENDOR_PASSWORD)
    )
    [occupancy] = occupancies.json()["items"]
    assert occupancy["status"] == "approved"

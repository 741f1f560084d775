"""The demo city builds, can be built again without change (also on a later day), and its accounts and places
work: the morning market answers the designated-place lookup while open, the courtyard's map shows its pitches
near their hydrant and school gate, and a pitch drawn on that hydrant is refused. Its permits part: every
department's account signs in and sees its queue, an application stands in every state, made through the
services (history, decision numbers), and its permit verifies, with the QR code of the link the block prints."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import quote

import httpx
import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import FixedClock
from core.settings import Settings
from flexreg.demo import (
    APPLICANTS,
    CARRIAGEWAY_MARKET,
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
from flexreg.demo_permits import DemoApplication, department_accounts, department_lines
from flexreg.serving import ready_block
from permits import qr
from permits.history_models import HistoryEntry
from permits.issuance import PERMIT_AUDIENCE
from permits.issued_models import Permit
from permits.models import APPLICATION_STATUSES, Application, SupplementNotice, Task
from registry.catalogue import load_catalogue
from registry.models import Account, Document, Jurisdiction, KeyGroupClaim, KeyGroupClaimEvidence, Vendor
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
    Document,
    KeyGroupClaimEvidence,
    Venue,
    VenueRevision,
    Pitch,
    PitchRevision,
    RestrictedFeature,
    AllocationRound,
    RoundApplication,
    RoadOccupancy,
    Application,
    Task,
    SupplementNotice,
    Permit,
    HistoryEntry,
)
PENDING_CLAIMS = sum(1 for *_, claim in VENDORS if claim is not None and not claim["verify"])
# The demo's applications: in review, needing a supplement, rejected, withdrawn, and the approved road one.
APPLICATIONS = 5


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
        "Account": len(STAFF) + len(VENDORS) + len(department_accounts()),
        "Vendor": len(VENDORS),
        "KeyGroupClaim": len(VENDORS),
        # the pending claims' evidence: an image and a PDF each (flexreg.demo_evidence); and the in-review
        # application's answer to its supplement notice: a picture of the certificate
        "Document": 2 * PENDING_CLAIMS + 1,
        "KeyGroupClaimEvidence": 2 * PENDING_CLAIMS,
        "Venue": 4,
        "VenueRevision": 4,
        "Pitch": len(PITCHES),
        "PitchRevision": len(PITCHES),
        "RestrictedFeature": len(FEATURES),
        "AllocationRound": 1,
        "RoundApplication": len(APPLICANTS),
        "RoadOccupancy": 2,
        "Application": APPLICATIONS,
        "Task": 3 + 2 + 3 + 1 + 2,  # in the order of APPLICATIONS' comment
        "SupplementNotice": 2,
        "Permit": 1,
        # submitted, asked, answered; submitted, asked; submitted, refused, rejected; submitted, withdrawn;
        # submitted, approved twice, approved, permit issued
        "HistoryEntry": 3 + 2 + 3 + 2 + 5,
    }
    again = await build_demo_city(sessionmaker, settings)
    assert await _counts(session) == first
    assert again == city
    listed = "\n".join(account_lines())
    for username, password, *_ in STAFF:
        assert f"{username:20} {password}" in listed
    assert all(f"{username:20} {VENDOR_PASSWORD}" in listed for username, *_ in VENDORS)
    assert all(f"{account.username:26} {account.password}" in listed for account in department_accounts())
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


async def test_the_pending_demo_claim_cites_an_image_and_a_pdf_its_street_office_can_read(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, client: httpx.AsyncClient
) -> None:
    await build_demo_city(sessionmaker, settings)
    headers = await _token(client, "demo_donghuamen", "demo-staff-pass")
    listed = await client.get("/api/v1/key-group-claims?status=pending", headers=headers)
    assert listed.status_code == 200
    [claim] = listed.json()["items"]
    contents = [
        await client.get(f"/api/v1/documents/{document_id}/content", headers=headers)
        for document_id in claim["evidence_document_ids"]
    ]
    assert [(answer.status_code, answer.headers["content-type"]) for answer in contents] == [
        (200, "image/png"),
        (200, "application/pdf"),
    ]


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
    [occupancy] = [item for item in occupancies.json()["items"] if item["zone_id"] == _venue(city, NIGHT_MARKET)]
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
    assert [occupancy["status"] for occupancy in occupancies.json()["items"]] == ["approved", "approved"]
    assert sorted(_applications(city)) == sorted(APPLICATION_STATUSES)
    assert city.permits is not None
    assert city.permits.permit is not None
    assert city.permits.permit.number.startswith("XK-2027-")


def _applications(city: DemoCity) -> dict[str, DemoApplication]:
    assert city.permits is not None
    return {application.status: application for application in city.permits.applications}


async def test_every_department_has_an_account_that_signs_in_and_sees_its_queue(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, client: httpx.AsyncClient
) -> None:
    city = await build_demo_city(sessionmaker, settings)
    assert sorted(account.department for account in department_accounts()) == sorted(load_catalogue().departments)
    block = ready_block("http://127.0.0.1:8000", demo=True, city=city)
    queues = {}
    for account in department_accounts():
        assert f"  {account.username:26} {account.password:26} {account.name}" in block
        headers = await _token(client, account.username, account.password)
        queue = await client.get("/api/v1/tasks", headers=headers)
        assert queue.status_code == 200, queue.text
        queues[account.department] = {(task["application_id"], task["status"]) for task in queue.json()["items"]}
    assert department_lines()[1:] == [line for line in account_lines() if line.startswith("  dept.")]
    in_review = str(_applications(city)["in_review"].id)
    # The one in review waits on market regulation (licence and food-stall filing) and on health (answered).
    assert (in_review, "in_review") in queues["market_regulation"]
    assert (in_review, "in_review") in queues["health"]
    assert (str(_applications(city)["needs_supplement"].id), "needs_supplement") in queues["press_publication"]
    assert queues["tobacco"] == set()
    for username, password, role, *_ in STAFF:
        if role == "department":
            await _token(client, username, password)  # the accounts the demo had are unchanged


async def test_the_demo_applications_stand_in_every_state(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, client: httpx.AsyncClient
) -> None:
    city = await build_demo_city(sessionmaker, settings)
    listed = _applications(city)
    assert sorted(listed) == sorted(APPLICATION_STATUSES)
    block = ready_block("http://127.0.0.1:8000", demo=True, city=city)
    admin = await _token(client, "demo_admin", "demo-admin-pass")
    read = {}
    for status, application in listed.items():
        assert re.search(rf"^  {application.id}  {status} ", block, re.MULTILINE), status
        answer = await client.get(f"/api/v1/applications/{application.id}", headers=admin)
        assert answer.status_code == 200, answer.text
        read[status] = answer.json()
        assert read[status]["status"] == status
        assert all(dt.datetime.fromisoformat(p["start"]) > START for p in read[status]["periods"])
        history = await client.get(f"/api/v1/applications/{application.id}/history", headers=admin)
        assert history.status_code == 200
        assert history.json()["items"][0]["event"] == "application_submitted"
        assert read[status]["exemption_check_id"] is not None or read[status]["road_occupancy_id"] is not None

    [answered] = read["in_review"]["notices"]
    assert answered["answered_at"] is not None
    assert answered["items"][0]["department"] == "health"
    [waiting] = read["needs_supplement"]["notices"]
    assert waiting["answered_at"] is None
    assert waiting["items"][0]["item"] == "出版物进货渠道证明"
    assert read["withdrawn"]["withdrawn_at"] is not None
    assert {task["status"] for task in read["withdrawn"]["tasks"]} == {"closed"}

    market = await _token(client, "dept.market_regulation", "market-regulation-pass")
    [refused] = [task for task in read["rejected"]["tasks"] if task["status"] == "rejected"]
    task = await client.get(f"/api/v1/tasks/{refused['id']}", headers=market)
    assert task.status_code == 200
    decision = task.json()["decision"]
    assert re.fullmatch(r"MR-\d{4}-\d{6}", decision["number"])
    assert decision["note"].count("\n") >= 2  # the reasons, one a line
    assert len(decision["challenge_routes"]) == 2

    approved = read["approved"]
    assert approved["permit_number"] is not None
    assert approved["road_occupancy_id"] is not None
    assert {(task["department"], task["status"]) for task in approved["tasks"]} == {
        ("traffic_police", "approved"),
        ("urban_management", "approved"),
    }
    occupancies = await client.get(
        "/api/v1/road-occupancy-requests", headers=await _token(client, "demo_vendor", VENDOR_PASSWORD)
    )
    road = {item["id"]: item for item in occupancies.json()["items"]}[approved["road_occupancy_id"]]
    assert (road["zone_id"], road["status"]) == (_venue(city, CARRIAGEWAY_MARKET), "approved")


# joserfc prefers the fully specified "Ed25519" to "EdDSA" (RFC 9864), which the service signs with (RFC 8037).
@pytest.mark.filterwarnings("ignore:EdDSA is deprecated:joserfc.errors.SecurityWarning")
async def test_the_demo_permit_verifies_and_its_qr_code_is_the_printed_link(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, client: httpx.AsyncClient
) -> None:
    city = await build_demo_city(sessionmaker, settings)
    assert city.permits is not None
    assert city.permits.permit is not None
    permit = city.permits.permit
    assert permit.application_id == _applications(city)["approved"].id
    url = "http://127.0.0.1:8000"
    lines = city_lines(city, url)
    link = next(line.split(": ", 1)[1].strip() for line in lines if line.startswith("  Verify:"))
    assert link == permit.verification_url
    assert link.startswith(f"{settings.http.public_url}/verify/{permit.number}#")
    assert f"  Permit:  {url}/api/v1/permits/{permit.number}" in lines
    assert f"  QR code: {url}/api/v1/permits/{permit.number}/qr.png" in lines

    answer = await client.get(f"/api/v1/permits/{permit.number}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "valid"
    assert body["verification_url"] == link
    assert link.endswith("#" + body["token"])
    assert dt.date.fromisoformat(body["valid_from"]) > START.date()
    assert sorted(component["department"] for component in body["components"]) == [
        "traffic_police",
        "urban_management",
    ]
    assert all(component["decision_number"] for component in body["components"])
    assert body["conditions"]
    png = await client.get(f"/api/v1/permits/{permit.number}/qr.png")
    assert png.status_code == 200
    assert png.content == qr.png(link)

    # What an inspector's scanner does offline, on the stall's first day: the token in the link's fragment,
    # checked against the published keys with a JOSE library the service does not use.
    keys = KeySet.import_key_set((await client.get("/api/v1/permit-signing-keys")).json())
    decoded = jose_jwt.decode(link.split("#", 1)[1], keys, algorithms=["EdDSA"])
    on_the_day = dt.datetime.combine(dt.date.fromisoformat(body["valid_from"]), dt.time(12, 0), tzinfo=START.tzinfo)
    jose_jwt.JWTClaimsRegistry(
        now=int(on_the_day.timestamp()),
        iss={"essential": True, "value": settings.http.public_url},
        aud={"essential": True, "value": PERMIT_AUDIENCE},
        sub={"essential": True, "value": permit.number},
    ).validate(decoded.claims)
    assert (decoded.claims["holder"], decoded.claims["activity"]) == ("王**", "phone_film")

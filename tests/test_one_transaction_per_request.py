"""One transaction per request: a request that fails after its service wrote leaves no row behind.

These tests use a real, committing sessionmaker on a database of their own: the rollback fixture of the rest
of the suite would hide exactly the fault looked for (a write that commits on a connection of its own). For
every write path, including reads that write the personal-data access log, the service is made to fail
right after it wrote: the answer is a 500 and the row is absent. Then the same request, unhindered, succeeds
and its row is there, which shows the count would have seen a leftover.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from core.db import create_sessionmaker, drop_database, sqlalchemy_url, transaction
from core.settings import Settings
from flexreg.app import create_app
from permits import clock_steps, decisions, exemption, revocations, submission
from permits.exemption_models import ExemptionCheck
from permits.issued_models import PermitStatusChange
from permits.models import Application as PermitApplication
from permits.models import ClockPause, SupplementNotice
from permits.models import Task as PermitTask
from registry import accounts, claims, documents, jurisdictions, reveals, sessions, vendors
from registry.models import (
    Account,
    AccountEvent,
    AuthSession,
    Document,
    Jurisdiction,
    KeyGroupClaim,
    KeyGroupDecision,
    LoginFailure,
    PersonalDataAccess,
    RefreshToken,
    Vendor,
)
from tests.builders import DONGCHENG_SQUARE, auth_headers, id_number, phone_number
from tests.clock import START
from tests.conftest import migrated_database
from tests.permits.builders import PermitCity, decide, make_permit_city, road_application, task_of
from tests.permits.issued_builders import make_permit
from tests.problems import assert_problem
from tests.registry.builders import (
    PASSWORD,
    make_account,
    make_claim,
    make_document,
    make_jurisdiction,
    make_vendor,
)
from tests.venues import road_builders, round_builders
from tests.venues.builders import EVERY_DAY, box, point
from venues import allocations, road, round_results, rounds
from venues import features as venue_features
from venues import pitches as venue_pitches
from venues import venues as venue_venues
from venues.models import (
    Allocation,
    AllocationRound,
    Pitch,
    PitchRevision,
    RestrictedFeature,
    RoadOccupancy,
    RoundApplication,
    Venue,
    VenueRevision,
)

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(scope="module")
async def committing_url(server_url: str) -> AsyncIterator[str]:
    name = f"flexreg_write_paths_{os.getpid()}"
    yield await migrated_database(server_url, name)
    await drop_database(server_url, name)


@pytest.fixture
async def committing(committing_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(sqlalchemy_url(committing_url), poolclass=NullPool)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@dataclass
class World:
    settings: Settings
    jurisdiction: Jurisdiction
    vendor: Vendor
    vendor_account: Account
    staff: Account
    admin: Account
    document: Document
    claim: KeyGroupClaim
    road_zone: Venue
    occupancy: RoadOccupancy
    permit_number: str
    department: Account

    def as_vendor(self) -> dict[str, str]:
        return auth_headers(self.settings, self.vendor_account, self.vendor.id)

    def as_staff(self) -> dict[str, str]:
        return auth_headers(self.settings, self.staff)


@pytest.fixture
async def world(committing: async_sessionmaker[AsyncSession], settings: Settings) -> World:
    async with transaction(committing) as session:
        place = await make_jurisdiction(session)
        vendor = await make_vendor(session, settings, residence_jurisdiction_code=place.code)
        vendor_account = await session.get(Account, vendor.account_id)
        assert vendor_account is not None
        document = await make_document(session, owner_account_id=vendor.account_id)
        session.add(documents.DocumentContent(document_id=document.id, content=PNG))
        office = await make_account(session, "street_office", jurisdiction_code=place.code)
        zone = await road_builders.make_road_zone(session, jurisdiction_code=place.code, created_by=office)
        world = World(
            settings=settings,
            jurisdiction=place,
            vendor=vendor,
            vendor_account=vendor_account,
            staff=await make_account(session, "street_office", jurisdiction_code=place.code),
            admin=await make_account(session, "admin"),
            document=document,
            claim=await make_claim(session, vendor, group="migrant_worker"),
            road_zone=zone,
            occupancy=await road_builders.make_occupancy(
                session,
                zone=zone,
                vendor=vendor,
                footprint=box(10, 0, 11, 1),
                periods=[road_builders.TOMORROW_MORNING],
            ),
            permit_number=(await make_permit(session, settings, vendor=vendor)).permit.number,
            department=await make_account(session, "department", department_code="market_regulation"),
        )
    return world


Send = Callable[[httpx.AsyncClient, World], Awaitable[httpx.Response]]
Count = Callable[[World], Select[Any]]


@dataclass(frozen=True)
class WritePath:
    name: str
    module: ModuleType
    verb: str  # the service function that writes
    send: Send
    count: Count
    succeeds_with: int = 200


def _unique(world: World) -> str:
    return f"u{world.vendor.id.hex[:12]}"


async def _register(client: httpx.AsyncClient, world: World) -> httpx.Response:
    body = {
        "username": _unique(world),
        "password": PASSWORD,
        "name": "刘洋",
        "id_number": id_number(),
        "phone": phone_number(),
        "residence_jurisdiction": world.jurisdiction.code,
    }
    return await client.post("/api/v1/vendors", json=body)


async def _open_account(client: httpx.AsyncClient, world: World) -> httpx.Response:
    body = {"username": _unique(world), "password": PASSWORD, "role": "admin"}
    return await client.post("/api/v1/accounts", json=body, headers=auth_headers(world.settings, world.admin))


def _established_code(world: World) -> str:
    """A street-level code of Dongcheng (110101, streets 100-999) no other test of this module uses."""
    digits = int(world.vendor.id.hex[:12], 16)
    return f"110101{digits % 900 + 100:03d}{digits // 900 % 1000:03d}"


async def _establish(client: httpx.AsyncClient, world: World) -> httpx.Response:
    body = {"code": _established_code(world), "name": "东华门街道", "boundary": DONGCHENG_SQUARE}
    return await client.post("/api/v1/jurisdictions", json=body, headers=auth_headers(world.settings, world.admin))


async def _upload(client: httpx.AsyncClient, world: World) -> httpx.Response:
    files = {"file": ("certificate.png", PNG, "image/png")}
    return await client.post("/api/v1/documents", files=files, headers=world.as_vendor())


async def _submit(client: httpx.AsyncClient, world: World) -> httpx.Response:
    body = {"group": "college_graduate", "details": {"graduation_on": "2024-06-30"}}
    return await client.post(
        f"/api/v1/vendors/{world.vendor.id}/key-group-claims", json=body, headers=world.as_vendor()
    )


async def _decide(client: httpx.AsyncClient, world: World) -> httpx.Response:
    return await client.post(
        f"/api/v1/key-group-claims/{world.claim.id}/decision",
        json={"decision": "verified"},
        headers={**world.as_staff(), "If-Match": '"1"'},
    )


async def _reveal(client: httpx.AsyncClient, world: World) -> httpx.Response:
    return await client.post(
        f"/api/v1/vendors/{world.vendor.id}/id-number-reveals",
        json={"purpose": "核对身份"},
        headers=world.as_staff(),
    )


async def _wrong_password(client: httpx.AsyncClient, world: World) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/token", json={"username": world.staff.username, "password": "not the password"}
    )


async def _sign_in(client: httpx.AsyncClient, world: World) -> httpx.Response:
    return await client.post("/api/v1/auth/token", json={"username": world.admin.username, "password": PASSWORD})


async def _refresh(client: httpx.AsyncClient, world: World) -> httpx.Response:
    signed_in = await _sign_in(client, world)
    return await client.post("/api/v1/auth/refresh", json={"refresh_token": signed_in.json()["refresh_token"]})


async def _sign_out(client: httpx.AsyncClient, world: World) -> httpx.Response:
    signed_in = await _sign_in(client, world)
    bearer = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    return await client.post("/api/v1/auth/sign-out", headers=bearer)


async def _change_password(client: httpx.AsyncClient, world: World) -> httpx.Response:
    body = {"current_password": PASSWORD, "new_password": "another long password"}
    return await client.post("/api/v1/auth/password", json=body, headers=world.as_staff())


async def _deactivate(client: httpx.AsyncClient, world: World) -> httpx.Response:
    return await client.patch(
        f"/api/v1/accounts/{world.department.id}",
        json={"is_active": False},
        headers=auth_headers(world.settings, world.admin),
    )


def _sessions_of(world: World) -> Select[Any]:
    return select(AuthSession.id).where(AuthSession.account_id == world.admin.id)


def _account_events(world: World, event: str) -> Select[Any]:
    return (
        select(func.count())
        .select_from(AccountEvent)
        .where(AccountEvent.event == event)
        .where(AccountEvent.account_id.in_([world.staff.id, world.department.id]))
    )


async def _request_road(client: httpx.AsyncClient, world: World) -> httpx.Response:
    return await client.post(
        "/api/v1/road-occupancy-requests", json=road_builders.body(world.road_zone), headers=world.as_vendor()
    )


async def _withdraw_road(client: httpx.AsyncClient, world: World) -> httpx.Response:
    return await client.post(
        f"/api/v1/road-occupancy-requests/{world.occupancy.id}/withdraw", headers=world.as_vendor()
    )


async def _check_exemption(client: httpx.AsyncClient, world: World) -> httpx.Response:
    body = {
        "activity_code": "shoe_repair",
        "location": point(0, 0),
        "periods": [road_builders.period(*road_builders.TOMORROW_MORNING)],
        "vendor_id": str(world.vendor.id),
    }
    return await client.post("/api/v1/exemption-checks", json=body, headers=world.as_vendor())


def _reads(path: Callable[[World], str]) -> Send:
    async def send(client: httpx.AsyncClient, world: World) -> httpx.Response:
        return await client.get(path(world), headers=world.as_staff())

    return send


def _access_rows(world: World) -> Select[Any]:
    return select(func.count()).where(
        PersonalDataAccess.vendor_id == world.vendor.id, PersonalDataAccess.account_id == world.staff.id
    )


async def _permit_status(client: httpx.AsyncClient, world: World) -> httpx.Response:
    """Suspend the world's permit (or reinstate it, if the failed attempt is what is being retried)."""
    permit = (await client.get(f"/api/v1/permits/{world.permit_number}")).json()
    body: dict[str, Any] = {"status": "suspended", "ground": "penalty", "reason": "超出许可范围经营"}
    if permit["status"] == "suspended":
        body = {"status": "valid", "reason": "已改正"}
    headers = {**auth_headers(world.settings, world.department), "If-Match": f'"{permit["version"]}"'}
    return await client.post(f"/api/v1/permits/{world.permit_number}/status", json=body, headers=headers)


# --- places (venues, pitches, restricted features) --------------------------------------------------------------
# Each finds or makes, through the API, what it edits: a venue named after the world, one pitch, one feature.


def _venue_name(world: World) -> str:
    return f"便民市集 {_unique(world)}"


async def _establish_venue(client: httpx.AsyncClient, world: World) -> httpx.Response:
    body = {
        "name": _venue_name(world),
        "kind": "community_space",
        "jurisdiction_code": world.jurisdiction.code,
        "geometry": box(-20, -20, 20, 20),
        "schedule": EVERY_DAY,
        "valid_from": "2026-01-01",
        "allowed_categories": ["daily_necessities"],
    }
    return await client.post("/api/v1/venues", json=body, headers=world.as_staff())


async def _the_venue(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    listed = await client.get("/api/v1/venues", params={"jurisdiction_code": world.jurisdiction.code})
    for venue in listed.json()["items"]:
        if venue["name"] == _venue_name(world):
            found: dict[str, Any] = venue
            return found
    made = await _establish_venue(client, world)
    assert made.status_code == 201, made.text
    created: dict[str, Any] = made.json()
    return created


async def _the_pitch(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    venue = await _the_venue(client, world)
    listed = await client.get(f"/api/v1/venues/{venue['id']}/pitches")
    for pitch in listed.json()["items"]:
        if pitch["label"] == "A-01":
            found: dict[str, Any] = pitch
            return found
    made = await client.post(
        f"/api/v1/venues/{venue['id']}/pitches",
        json={"label": "A-01", "geometry": box(-0.5, -0.5, 0.5, 0.5)},
        headers=world.as_staff(),
    )
    assert made.status_code == 201, made.text
    created: dict[str, Any] = made.json()
    return created


async def _the_feature(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    listed = await client.get("/api/v1/restricted-features", params={"jurisdiction_code": world.jurisdiction.code})
    items: list[dict[str, Any]] = listed.json()["items"]
    if items:
        return items[0]
    made = await client.post(
        "/api/v1/restricted-features",
        json={"kind": "fire_hydrant", "geometry": point(300, 0)},
        headers=world.as_staff(),
    )
    assert made.status_code == 201, made.text
    created: dict[str, Any] = made.json()
    return created


def _if_match(world: World, version: int) -> dict[str, str]:
    return {**world.as_staff(), "If-Match": f'"{version}"'}


async def _amend_venue(client: httpx.AsyncClient, world: World) -> httpx.Response:
    venue = await _the_venue(client, world)
    return await client.patch(
        f"/api/v1/venues/{venue['id']}",
        json={"closed_dates": ["2026-10-01"]},
        headers=_if_match(world, venue["version"]),
    )


async def _venue_status(client: httpx.AsyncClient, world: World) -> httpx.Response:
    venue = await _the_venue(client, world)
    body = {"status": "suspended", "reason": "管线施工"}
    return await client.post(
        f"/api/v1/venues/{venue['id']}/status", json=body, headers=_if_match(world, venue["version"])
    )


async def _mark_pitch(client: httpx.AsyncClient, world: World) -> httpx.Response:
    venue = await _the_venue(client, world)
    body = {"label": "B-01", "geometry": box(5, 5, 6, 6)}
    return await client.post(f"/api/v1/venues/{venue['id']}/pitches", json=body, headers=world.as_staff())


async def _amend_pitch(client: httpx.AsyncClient, world: World) -> httpx.Response:
    pitch = await _the_pitch(client, world)
    # A real change (a PATCH that changes nothing writes nothing): 10 cm taller, the label kept for _the_pitch.
    body = {"label": "A-01", "geometry": box(-0.5, -0.5, 0.5, 0.6)}
    return await client.patch(f"/api/v1/pitches/{pitch['id']}", json=body, headers=_if_match(world, pitch["version"]))


async def _pitch_status(client: httpx.AsyncClient, world: World) -> httpx.Response:
    pitch = await _the_pitch(client, world)
    body = {"status": "suspended", "reason": "井盖维修"}
    return await client.post(
        f"/api/v1/pitches/{pitch['id']}/status", json=body, headers=_if_match(world, pitch["version"])
    )


async def _record_feature(client: httpx.AsyncClient, world: World) -> httpx.Response:
    body = {"kind": "school_gate", "geometry": point(-300, 0), "name": _unique(world)}
    return await client.post("/api/v1/restricted-features", json=body, headers=world.as_staff())


async def _amend_feature(client: httpx.AsyncClient, world: World) -> httpx.Response:
    feature = await _the_feature(client, world)
    return await client.patch(
        f"/api/v1/restricted-features/{feature['id']}",
        json={"buffer_m": 35.0},
        headers=_if_match(world, feature["version"]),
    )


def _venue_revisions(world: World, change: str) -> Select[Any]:
    return (
        select(func.count())
        .select_from(VenueRevision)
        .join(Venue, Venue.id == VenueRevision.venue_id)
        .where(Venue.name == _venue_name(world), VenueRevision.change == change)
    )


def _pitch_revisions(world: World, change: str) -> Select[Any]:
    return (
        select(func.count())
        .select_from(PitchRevision)
        .join(Pitch, Pitch.id == PitchRevision.pitch_id)
        .join(Venue, Venue.id == Pitch.venue_id)
        .where(Venue.name == _venue_name(world), PitchRevision.change == change)
    )


def _feature_versions(world: World) -> Select[Any]:
    # Each amendment raises the feature's version by one (features keep no revision rows): amendments so far.
    return select(func.coalesce(func.sum(RestrictedFeature.version - 1), 0)).where(
        RestrictedFeature.jurisdiction_code == world.jurisdiction.code
    )


WRITE_PATHS = [
    WritePath(
        "register vendor",
        vendors,
        "register_vendor",
        _register,
        lambda w: select(func.count()).select_from(Account).where(Account.username == _unique(w)),
        201,
    ),
    WritePath(
        "open account",
        accounts,
        "open_account",
        _open_account,
        lambda w: select(func.count()).select_from(Account).where(Account.username == _unique(w)),
        201,
    ),
    WritePath(
        "establish jurisdiction",
        jurisdictions,
        "establish_jurisdiction",
        _establish,
        lambda w: select(func.count()).select_from(Jurisdiction).where(Jurisdiction.code == _established_code(w)),
        201,
    ),
    WritePath(
        "upload document",
        documents,
        "store_document",
        _upload,
        lambda w: (
            select(func.count())
            .select_from(Document)
            .where(Document.owner_account_id == w.vendor.account_id, Document.id != w.document.id)
        ),
        201,
    ),
    WritePath(
        "submit claim",
        claims,
        "submit_claim",
        _submit,
        lambda w: (
            select(func.count())
            .select_from(KeyGroupClaim)
            .where(KeyGroupClaim.vendor_id == w.vendor.id, KeyGroupClaim.key_group == "college_graduate")
        ),
        201,
    ),
    WritePath(
        "decide claim",
        claims,
        "decide_claim",
        _decide,
        lambda w: select(func.count()).select_from(KeyGroupDecision).where(KeyGroupDecision.claim_id == w.claim.id),
    ),
    WritePath(
        "count a failed sign-in",
        accounts,
        "sign_in",
        _wrong_password,
        lambda w: select(func.coalesce(func.sum(LoginFailure.failures), 0)).where(
            LoginFailure.username_key == w.staff.username.lower()
        ),
        401,
    ),
    WritePath(
        "sign in (a session)",
        sessions,
        "open_api_session",
        _sign_in,
        lambda w: select(func.count()).select_from(_sessions_of(w).subquery()),
    ),
    WritePath(
        "refresh (spend and rotate)",
        sessions,
        "rotate",
        _refresh,
        lambda w: (
            select(func.count())
            .select_from(RefreshToken)
            .where(RefreshToken.session_id.in_(_sessions_of(w)), RefreshToken.used_at.is_not(None))
        ),
    ),
    WritePath(
        "sign out",
        sessions,
        "sign_out",
        _sign_out,
        lambda w: (
            select(func.count())
            .select_from(AuthSession)
            .where(AuthSession.account_id == w.admin.id, AuthSession.revoked_at.is_not(None))
        ),
        204,
    ),
    WritePath(
        "change password",
        accounts,
        "change_password",
        _change_password,
        lambda w: _account_events(w, "password_changed"),
        204,
    ),
    WritePath("deactivate account", accounts, "set_active", _deactivate, lambda w: _account_events(w, "deactivated")),
    WritePath(
        "read a vendor (access log)",
        vendors,
        "read_vendor",
        _reads(lambda w: f"/api/v1/vendors/{w.vendor.id}"),
        _access_rows,
    ),
    WritePath("list vendors (access log)", vendors, "list_vendors", _reads(lambda w: "/api/v1/vendors"), _access_rows),
    WritePath(
        "list claims (access log)", claims, "list_claims", _reads(lambda w: "/api/v1/key-group-claims"), _access_rows
    ),
    WritePath(
        "read a claim (access log)",
        claims,
        "get_claim",
        _reads(lambda w: f"/api/v1/key-group-claims/{w.claim.id}"),
        _access_rows,
    ),
    WritePath(
        "entitlements (access log)",
        claims,
        "vendor_entitlements",
        _reads(lambda w: f"/api/v1/vendors/{w.vendor.id}/entitlements"),
        _access_rows,
    ),
    WritePath("reveal an ID number (access log)", reveals, "reveal_id_number", _reveal, _access_rows),
    WritePath(
        "download a document (access log)",
        documents,
        "read_document_content",
        _reads(lambda w: f"/api/v1/documents/{w.document.id}/content"),
        _access_rows,
    ),
    WritePath(
        "request road occupancy",
        road,
        "request_road_occupancy",
        _request_road,
        lambda w: select(func.count()).select_from(RoadOccupancy).where(RoadOccupancy.zone_id == w.road_zone.id),
        201,
    ),
    WritePath(
        "withdraw road occupancy",
        road,
        "withdraw_road_occupancy",
        _withdraw_road,
        lambda w: (
            select(func.count())
            .select_from(RoadOccupancy)
            .where(RoadOccupancy.id == w.occupancy.id, RoadOccupancy.status == "withdrawn")
        ),
    ),
    WritePath(
        "establish venue",
        venue_venues,
        "establish_venue",
        _establish_venue,
        lambda w: _venue_revisions(w, "established"),
        201,
    ),
    WritePath("amend venue", venue_venues, "amend_venue", _amend_venue, lambda w: _venue_revisions(w, "amended")),
    WritePath(
        "change venue status",
        venue_venues,
        "change_venue_status",
        _venue_status,
        lambda w: _venue_revisions(w, "status suspended"),
    ),
    WritePath("mark pitch", venue_pitches, "mark_pitch", _mark_pitch, lambda w: _pitch_revisions(w, "marked"), 201),
    WritePath("amend pitch", venue_pitches, "amend_pitch", _amend_pitch, lambda w: _pitch_revisions(w, "amended")),
    WritePath(
        "change pitch status",
        venue_pitches,
        "change_pitch_status",
        _pitch_status,
        lambda w: _pitch_revisions(w, "status suspended"),
    ),
    WritePath(
        "record restricted feature",
        venue_features,
        "record_feature",
        _record_feature,
        lambda w: select(func.count()).select_from(RestrictedFeature).where(RestrictedFeature.name == _unique(w)),
        201,
    ),
    WritePath("amend restricted feature", venue_features, "amend_feature", _amend_feature, _feature_versions),
    WritePath(
        "change permit status",
        revocations,
        "change_permit_status",
        _permit_status,
        lambda w: select(func.count()).where(PermitStatusChange.permit_number == w.permit_number),
    ),
    WritePath(
        "check exemption",
        exemption,
        "record_exemption_check",
        _check_exemption,
        lambda w: select(func.count()).select_from(ExemptionCheck).where(ExemptionCheck.vendor_id == w.vendor.id),
    ),
]


class InjectedFailure(RuntimeError):
    """Raised right after a service wrote: what an unexpected fault later in the request looks like."""


def fail_after_writing(monkeypatch: pytest.MonkeyPatch, module: ModuleType, verb: str) -> None:
    real = getattr(module, verb)

    async def wrote_then_failed(*args: Any, **kwargs: Any) -> Any:
        await real(*args, **kwargs)
        raise InjectedFailure(verb)

    monkeypatch.setattr(module, verb, wrote_then_failed)


async def _rows(sessionmaker: async_sessionmaker[AsyncSession], query: Select[Any]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(query) or 0)


@pytest.mark.parametrize("path", WRITE_PATHS, ids=[path.name for path in WRITE_PATHS])
async def test_a_request_that_fails_after_writing_leaves_nothing_behind(
    committing: async_sessionmaker[AsyncSession],
    settings: Settings,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    path: WritePath,
) -> None:
    app = create_app(settings, sessionmaker=committing)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        before = await _rows(committing, path.count(world))
        with monkeypatch.context() as patch:
            fail_after_writing(patch, path.module, path.verb)
            failed = await path.send(client, world)
        assert_problem(failed, 500, "internal_error")
        assert await _rows(committing, path.count(world)) == before
        succeeded = await path.send(client, world)
        assert succeeded.status_code == path.succeeds_with, succeeded.text
        assert await _rows(committing, path.count(world)) == before + 1


async def test_a_refused_sign_in_is_counted_although_the_request_is_refused(
    committing: async_sessionmaker[AsyncSession], settings: Settings, world: World
) -> None:
    """The refusal is answered, not raised, so its transaction commits the count (no commit in a handler)."""
    app = create_app(settings, sessionmaker=committing)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for attempt in range(1, 4):
            response = await _wrong_password(client, world)
            assert_problem(response, 401, "invalid_credentials")
            counted = select(func.sum(LoginFailure.failures)).where(
                LoginFailure.username_key == world.staff.username.lower()
            )
            assert await _rows(committing, counted) == attempt


def test_every_write_path_of_the_registry_is_covered(settings: Settings) -> None:
    """A new POST route must join WRITE_PATHS (sign-in counts as one: it writes the failure count)."""
    app = create_app(settings, sessionmaker=async_sessionmaker())
    posts = sorted(
        route.path
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        if "POST" in handler.http_methods and route.path.startswith("/api/")
    )
    assert posts == [
        "/api/v1/accounts",
        "/api/v1/allocation-rounds",
        "/api/v1/allocation-rounds/{round_id:uuid}/applications",
        "/api/v1/allocation-rounds/{round_id:uuid}/draw",
        "/api/v1/allocations/{allocation_id:uuid}/release",
        "/api/v1/applications",
        "/api/v1/applications/{application_id:uuid}/supplements",
        "/api/v1/applications/{application_id:uuid}/withdraw",
        "/api/v1/auth/password",
        "/api/v1/auth/refresh",
        "/api/v1/auth/sign-out",
        "/api/v1/auth/token",
        "/api/v1/documents",
        "/api/v1/exemption-checks",
        "/api/v1/jurisdictions",
        "/api/v1/key-group-claims/{claim_id:uuid}/decision",
        "/api/v1/permits/{number:str}/status",
        "/api/v1/pitches/{pitch_id:uuid}/status",
        "/api/v1/restricted-features",
        "/api/v1/road-occupancy-requests",
        "/api/v1/road-occupancy-requests/{occupancy_id:uuid}/withdraw",
        "/api/v1/tasks/{task_id:uuid}/decision",
        "/api/v1/tasks/{task_id:uuid}/extension",
        "/api/v1/tasks/{task_id:uuid}/pauses",
        "/api/v1/vendors",
        "/api/v1/vendors/{vendor_id:uuid}/id-number-reveals",
        "/api/v1/vendors/{vendor_id:uuid}/key-group-claims",
        "/api/v1/venues",
        "/api/v1/venues/{venue_id:uuid}/pitches",
        "/api/v1/venues/{venue_id:uuid}/status",
    ], "a new POST route: add it to WRITE_PATHS above (or ROUND_WRITE_PATHS or PERMIT_WRITE_PATHS below)"


def test_every_patch_route_is_covered(settings: Settings) -> None:
    """A PATCH route writes too: it must join WRITE_PATHS."""
    app = create_app(settings, sessionmaker=async_sessionmaker())
    patches = sorted(
        route.path
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        if "PATCH" in handler.http_methods and route.path.startswith("/api/")
    )
    assert patches == [
        "/api/v1/accounts/{account_id:uuid}",
        "/api/v1/pitches/{pitch_id:uuid}",
        "/api/v1/restricted-features/{feature_id:uuid}",
        "/api/v1/venues/{venue_id:uuid}",
    ], "a new PATCH route: add it to WRITE_PATHS above"


# --- allocation rounds (venues) -------------------------------------------------------------------------------


@dataclass
class RoundsWorld:
    """A place with an open round, a closed one with an application, and a drawn one with a held allocation."""

    settings: Settings
    place: round_builders.Place
    open_round: AllocationRound
    closed_round: AllocationRound
    allocation: Allocation


@pytest.fixture
async def rounds_world(committing: async_sessionmaker[AsyncSession], settings: Settings) -> RoundsWorld:
    async with transaction(committing) as session:
        place = await round_builders.make_place(session, settings, pitches=6, vendors=3)
        pitches = place.pitches
        code, office = place.jurisdiction.code, place.office
        open_round = await round_builders.make_round(
            session, jurisdiction_code=code, created_by=office, pitches=pitches[0:2]
        )
        past = START - dt.timedelta(hours=1)
        closed = await round_builders.make_round(
            session, jurisdiction_code=code, created_by=office, pitches=pitches[2:4], applications_close_at=past
        )
        await round_builders.make_application(session, round_=closed, vendor=place.vendors[1], choices=[pitches[2]])
        drawn = await round_builders.make_round(
            session,
            jurisdiction_code=code,
            created_by=office,
            pitches=pitches[4:6],
            applications_close_at=past,
            term_start=dt.date(2027, 1, 1),
            term_end=dt.date(2027, 3, 31),
            drawn_at=past,
            result={"waiting_list": []},
        )
        held = await round_builders.make_application(
            session, round_=drawn, vendor=place.vendors[2], choices=[pitches[4]]
        )
        allocation = await round_builders.make_allocation(session, application=held, pitch=pitches[4])
    return RoundsWorld(settings, place, open_round, closed, allocation)


RoundSend = Callable[[httpx.AsyncClient, RoundsWorld], Awaitable[httpx.Response]]


@dataclass(frozen=True)
class RoundWritePath:
    name: str
    module: ModuleType
    verb: str
    send: RoundSend
    count: Callable[[RoundsWorld], Select[Any]]
    succeeds_with: int = 200


async def _open_round(client: httpx.AsyncClient, w: RoundsWorld) -> httpx.Response:
    body = {
        "name": "东华门社区2027年第一季度便民摊位",
        "pitch_ids": [str(pitch.id) for pitch in w.place.pitches[0:2]],
        "term_start": "2027-01-01",
        "term_end": "2027-03-31",
        "applications_close_at": "2026-12-20T18:00:00+08:00",
    }
    return await client.post("/api/v1/allocation-rounds", json=body, headers=w.place.as_office())


async def _apply(client: httpx.AsyncClient, w: RoundsWorld) -> httpx.Response:
    body = {"choices": [str(w.place.pitches[1].id)]}
    return await client.post(
        f"/api/v1/allocation-rounds/{w.open_round.id}/applications", json=body, headers=w.place.as_vendor(0)
    )


async def _draw(client: httpx.AsyncClient, w: RoundsWorld) -> httpx.Response:
    return await client.post(
        f"/api/v1/allocation-rounds/{w.closed_round.id}/draw", json={}, headers=w.place.as_office()
    )


async def _release(client: httpx.AsyncClient, w: RoundsWorld) -> httpx.Response:
    return await client.post(f"/api/v1/allocations/{w.allocation.id}/release", headers=w.place.as_vendor(2))


ROUND_WRITE_PATHS = [
    RoundWritePath(
        "open round",
        rounds,
        "open_round",
        _open_round,
        lambda w: select(func.count()).where(
            AllocationRound.jurisdiction_code == w.place.jurisdiction.code,
            AllocationRound.term_start == dt.date(2027, 1, 1),
            AllocationRound.drawn_at.is_(None),
        ),
        201,
    ),
    RoundWritePath(
        "apply to round",
        rounds,
        "apply_to_round",
        _apply,
        lambda w: select(func.count()).where(RoundApplication.round_id == w.open_round.id),
        201,
    ),
    RoundWritePath(
        "draw round",
        round_results,
        "draw_round",
        _draw,
        lambda w: select(func.count()).where(Allocation.round_id == w.closed_round.id),
    ),
    RoundWritePath(
        "release allocation",
        allocations,
        "release_allocation",
        _release,
        lambda w: select(func.count()).where(Allocation.id == w.allocation.id, Allocation.status == "released"),
    ),
]


@pytest.mark.parametrize("path", ROUND_WRITE_PATHS, ids=[path.name for path in ROUND_WRITE_PATHS])
async def test_a_round_request_that_fails_after_writing_leaves_nothing_behind(
    committing: async_sessionmaker[AsyncSession],
    settings: Settings,
    rounds_world: RoundsWorld,
    monkeypatch: pytest.MonkeyPatch,
    path: RoundWritePath,
) -> None:
    app = create_app(settings, sessionmaker=committing)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        before = await _rows(committing, path.count(rounds_world))
        with monkeypatch.context() as patch:
            fail_after_writing(patch, path.module, path.verb)
            failed = await path.send(client, rounds_world)
        assert_problem(failed, 500, "internal_error")
        assert await _rows(committing, path.count(rounds_world)) == before
        succeeded = await path.send(client, rounds_world)
        assert succeeded.status_code == path.succeeds_with, succeeded.text
        assert await _rows(committing, path.count(rounds_world)) == before + 1


# --- one-stop applications (permits) ----------------------------------------------------------------------------


@dataclass
class PermitsWorld:
    """A road-occupancy application in review and one waiting on its supplement notice."""

    city: PermitCity
    in_review: dict[str, Any]
    waiting: dict[str, Any]


@pytest.fixture
async def permits_world(committing: async_sessionmaker[AsyncSession], settings: Settings) -> PermitsWorld:
    async with committing() as session:
        city = await make_permit_city(session, settings)
    app = create_app(settings, sessionmaker=committing)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        in_review = await road_application(client, city)
        later = road_builders.at(17, 10), road_builders.at(17, 12)
        waiting = await road_application(client, city, periods=[later])
        asked = await decide(
            client,
            city,
            city.police,
            task_of(waiting, "traffic_police"),
            "request_supplement",
            note="请补正",
            missing=[{"item": "占道平面图", "reason": "需标明尺寸"}],
        )
        assert asked.status_code == 200, asked.text
    return PermitsWorld(city, in_review, waiting)


@dataclass(frozen=True)
class PermitWritePath:
    name: str
    module: ModuleType
    verb: str
    send: Callable[[httpx.AsyncClient, PermitsWorld], Awaitable[httpx.Response]]
    count: Callable[[PermitsWorld], Select[Any]]
    succeeds_with: int = 200


async def _decide_task(client: httpx.AsyncClient, w: PermitsWorld) -> httpx.Response:
    return await decide(client, w.city, w.city.road_authority, task_of(w.in_review, "urban_management"))


async def _submit_application(client: httpx.AsyncClient, w: PermitsWorld) -> httpx.Response:
    body = {
        "activity_code": "shoe_repair",
        "location": point(500, 500),
        "periods": [road_builders.period(road_builders.at(18, 10), road_builders.at(18, 12))],
    }
    return await client.post("/api/v1/applications", json=body, headers=w.city.as_vendor())


async def _extend_task(client: httpx.AsyncClient, w: PermitsWorld) -> httpx.Response:
    task = task_of(w.in_review, "traffic_police")
    body = {"days": 10, "approved_by": "支队长", "reason": "需现场勘验"}
    headers = {**w.city.as_(w.city.police), "If-Match": task["etag"]}
    return await client.post(f"/api/v1/tasks/{task['id']}/extension", json=body, headers=headers)


async def _pause_task(client: httpx.AsyncClient, w: PermitsWorld) -> httpx.Response:
    task = task_of(w.in_review, "urban_management")
    body = {"kind": "inspection", "starts_on": "2026-06-16", "ends_on": "2026-06-17", "notice": "现场勘验"}
    headers = {**w.city.as_(w.city.road_authority), "If-Match": task["etag"]}
    return await client.post(f"/api/v1/tasks/{task['id']}/pauses", json=body, headers=headers)


async def _answer_supplement(client: httpx.AsyncClient, w: PermitsWorld) -> httpx.Response:
    url = f"/api/v1/applications/{w.waiting['id']}/supplements"
    return await client.post(url, json={"note": "已补平面图"}, headers=w.city.as_vendor())


async def _withdraw_application(client: httpx.AsyncClient, w: PermitsWorld) -> httpx.Response:
    return await client.post(f"/api/v1/applications/{w.in_review['id']}/withdraw", headers=w.city.as_vendor())


PERMIT_WRITE_PATHS = [
    PermitWritePath(
        "submit application",
        submission,
        "submit_application",
        _submit_application,
        lambda w: select(func.count()).where(
            PermitApplication.vendor_id == w.city.vendor.id, PermitApplication.activity_code == "shoe_repair"
        ),
        201,
    ),
    PermitWritePath(
        "decide task",
        decisions,
        "decide_task",
        _decide_task,
        lambda w: select(func.count()).where(
            PermitTask.id == task_of(w.in_review, "urban_management")["id"], PermitTask.status == "approved"
        ),
    ),
    PermitWritePath(
        "extend task",
        clock_steps,
        "extend_task",
        _extend_task,
        lambda w: select(func.count()).where(
            PermitTask.id == task_of(w.in_review, "traffic_police")["id"], PermitTask.extension_days > 0
        ),
    ),
    PermitWritePath(
        "pause task",
        clock_steps,
        "pause_task",
        _pause_task,
        lambda w: select(func.count()).where(ClockPause.task_id == task_of(w.in_review, "urban_management")["id"]),
    ),
    PermitWritePath(
        "answer supplement",
        decisions,
        "answer_supplement",
        _answer_supplement,
        lambda w: select(func.count()).where(
            SupplementNotice.application_id == w.waiting["id"], SupplementNotice.answered_at.is_not(None)
        ),
    ),
    PermitWritePath(
        "withdraw application",
        decisions,
        "withdraw_application",
        _withdraw_application,
        lambda w: select(func.count()).where(
            PermitApplication.id == w.in_review["id"], PermitApplication.status == "withdrawn"
        ),
    ),
]


@pytest.mark.parametrize("path", PERMIT_WRITE_PATHS, ids=[path.name for path in PERMIT_WRITE_PATHS])
async def test_a_permits_request_that_fails_after_writing_leaves_nothing_behind(
    committing: async_sessionmaker[AsyncSession],
    settings: Settings,
    permits_world: PermitsWorld,
    monkeypatch: pytest.MonkeyPatch,
    path: PermitWritePath,
) -> None:
    app = create_app(settings, sessionmaker=committing)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        before = await _rows(committing, path.count(permits_world))
        with monkeypatch.context() as patch:
            fail_after_writing(patch, path.module, path.verb)
            failed = await path.send(client, permits_world)
        assert_problem(failed, 500, "internal_error")
        assert await _rows(committing, path.count(permits_world)) == before
        succeeded = await path.send(client, permits_world)
        assert succeeded.status_code == path.succeeds_with, succeeded.text
        assert await _rows(committing, path.count(permits_world)) == before + 1

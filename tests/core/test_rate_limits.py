"""Rate limits counted in PostgreSQL (RELIABILITY.md T-R1…T-R4): exactly the limit passes, across processes too."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.auth import Principal
from core.client_address import parse_trusted_proxies
from core.db import create_engine, create_sessionmaker
from core.rate_limit_rules import DEFAULT_RATE_LIMITS, RateLimit, parse_rate_limits
from core.rate_limits import RateLimitCounter, prune_rate_limits, window_of
from core.settings import Settings
from flexreg.app import application_state, create_app
from flexreg.jobs import PERIODIC_JOBS
from flexreg.limits import RATE_LIMITED
from tests.builders import auth_headers
from tests.clock import START
from tests.problems import assert_problem
from tests.registry.builders import make_account, make_jurisdiction, make_vendor, vendor_headers

UNKNOWN_PERMIT = "/api/v1/permits/BJ-NO-SUCH-PERMIT"


def limited(settings: Settings, limits: str, **http: Any) -> Settings:
    """The suite's settings with these limits on (the suite runs with them off)."""
    changed = msgspec.structs.replace(settings, rate_limits=parse_rate_limits(limits))
    if http:
        changed = msgspec.structs.replace(changed, http=msgspec.structs.replace(settings.http, **http))
    return changed


def client_for(app: Litestar, peer: str = "203.0.113.9") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
def limited_app(app: Litestar, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> Any:
    """The shared app with a state of this test's settings: `limited_app("verify=3/60")` → the app."""

    def configure(limits: str, **http: Any) -> Litestar:
        app.state = application_state(limited(settings, limits, **http), sessionmaker=sessionmaker)
        return app

    return configure


def staff(role: str = "street_office") -> Principal:
    return Principal(account_id=uuid.uuid4(), role=role, jurisdiction_code="110101")  # type: ignore[arg-type]


async def test_exactly_the_limit_passes_then_429_with_retry_after_to_the_windows_end(
    limited_app: Any, settings: Settings, clock: Any
) -> None:
    app = limited_app("verify=3/60")
    async with client_for(app) as client:
        for _ in range(3):
            assert_problem(await client.get(UNKNOWN_PERMIT), 404, "permit_not_found")
        refused = await client.get(UNKNOWN_PERMIT)
        body = assert_problem(refused, 429, "rate_limited")
        assert body["limit"] == "verify"
        assert (body["limit_requests"], body["window_seconds"]) == (3, 60)
        window = window_of(START, 60)
        assert refused.headers["retry-after"] == str(int((window.end - START).total_seconds()))
        clock.advance(dt.timedelta(seconds=45.5))
        # Whole seconds, rounded up: never "come back" before the window has ended.
        expected = int((window.end - START).total_seconds() - 45)
        assert (await client.get(UNKNOWN_PERMIT)).headers["retry-after"] == str(expected)
        clock.set(window.end)
        assert_problem(await client.get(UNKNOWN_PERMIT), 404, "permit_not_found")


async def test_refused_requests_count_and_the_count_outlives_their_rollback(limited_app: Any) -> None:
    app = limited_app("sign_up=2/3600")
    async with client_for(app) as client:
        for _ in range(2):
            # Refused by validation: the request's transaction rolls back, its place in the window stays taken.
            assert_problem(await client.post("/api/v1/vendors", json={"username": "x"}), 422, "validation_failed")
        assert_problem(await client.post("/api/v1/vendors", json={"username": "x"}), 429, "rate_limited")


async def test_sign_in_counts_per_address_whoever_the_token_names(limited_app: Any, settings: Settings) -> None:
    app = limited_app("sign_in=2/60")
    attempt = {"username": "nobody-here", "password": "wrong password 1"}
    async with client_for(app) as client:
        for _ in range(2):
            answer = await client.post("/api/v1/auth/token", json=attempt, headers=auth_headers(settings, staff()))
            assert_problem(answer, 401, "invalid_credentials")
        answer = await client.post("/api/v1/auth/token", json=attempt, headers=auth_headers(settings, staff()))
        assert_problem(answer, 429, "rate_limited")
        # Another address has its own count.
    async with client_for(app, peer="198.51.100.20") as other:
        assert_problem(await other.post("/api/v1/auth/token", json=attempt), 401, "invalid_credentials")


async def test_staff_behind_one_address_count_per_account(limited_app: Any, settings: Settings) -> None:
    """T-R4: a street office's NAT is one address; its people are authenticated, each with a count of its own."""
    app = limited_app("verify=2/60")
    people = [auth_headers(settings, staff()) for _ in range(5)]
    async with client_for(app, peer="192.0.2.1") as client:
        for _ in range(2):
            for headers in people:
                assert_problem(await client.get(UNKNOWN_PERMIT, headers=headers), 404, "permit_not_found")
        # Anonymous callers from that address have theirs, and the accounts' own are spent.
        assert_problem(await client.get(UNKNOWN_PERMIT), 404, "permit_not_found")
        assert_problem(await client.get(UNKNOWN_PERMIT, headers=people[0]), 429, "rate_limited")


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))


async def test_vendor_accounts_from_one_address_share_its_bucket_of_uploads(
    limited_app: Any, settings: Settings, session: AsyncSession
) -> None:
    """Anyone may open vendor accounts: opening another buys no more uploads from the same address."""
    app = limited_app("upload=3/3600,upload_per_address=4/3600")
    place = await make_jurisdiction(session)
    first, second, elsewhere = [
        await make_vendor(session, settings, residence_jurisdiction_code=place.code) for _ in range(3)
    ]
    await session.commit()

    async def upload(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
        return await client.post("/api/v1/documents", files={"file": ("a.png", PNG, "image/png")}, headers=headers)

    async with client_for(app, peer="198.51.100.30") as client:
        for _ in range(3):
            assert (await upload(client, vendor_headers(settings, first))).status_code == 201
        # The second account's own count is fresh, the address's is not: one more, then the address is spent.
        assert (await upload(client, vendor_headers(settings, second))).status_code == 201
        refused = await upload(client, vendor_headers(settings, second))
        body = assert_problem(refused, 429, "rate_limited")
        assert (body["limit"], body["limit_requests"], body["window_seconds"]) == ("upload_per_address", 4, 3600)
        assert "this address" in body["detail"]
        # Staff behind the same address count per account only (T-R4).
        office = await make_account(session, "street_office", jurisdiction_code=place.code)
        await session.commit()
        assert (await upload(client, auth_headers(settings, office))).status_code == 201
    async with client_for(app, peer="198.51.100.31") as other:
        assert (await upload(other, vendor_headers(settings, elsewhere))).status_code == 201


async def test_a_vendor_refused_by_its_own_limit_does_not_spend_its_addresss(
    limited_app: Any, settings: Settings, session: AsyncSession
) -> None:
    """A phone retrying after its own 429 must not use up the bucket everyone at its hotspot shares."""
    app = limited_app("upload=1/3600,upload_per_address=3/3600")
    place = await make_jurisdiction(session)
    eager, other = [await make_vendor(session, settings, residence_jurisdiction_code=place.code) for _ in range(2)]
    await session.commit()
    files = {"file": ("a.png", PNG, "image/png")}
    async with client_for(app, peer="198.51.100.40") as client:
        assert (
            await client.post("/api/v1/documents", files=files, headers=vendor_headers(settings, eager))
        ).status_code == 201
        for _ in range(5):
            refused = await client.post("/api/v1/documents", files=files, headers=vendor_headers(settings, eager))
            assert assert_problem(refused, 429, "rate_limited")["limit"] == "upload"
        # Its address has counted one upload of three, not six.
        assert (
            await client.post("/api/v1/documents", files=files, headers=vendor_headers(settings, other))
        ).status_code == 201


def test_every_vendor_limit_counted_per_account_has_an_address_twin() -> None:
    per_account = {limited.name: limited for limited in RATE_LIMITED.values() if limited.per_account}
    assert {name: limited.vendors_per_address for name, limited in per_account.items()} == {
        # Vendors are refused sign-up with a token (409 already_registered): their account's count buys nothing.
        "sign_up": None,
        "upload": "upload_per_address",
        "exemption_check": "exemption_check_per_address",
        "verify": "verify_per_address",
    }
    for name in ("upload", "exemption_check", "verify"):
        own, twin = DEFAULT_RATE_LIMITS[name], DEFAULT_RATE_LIMITS[f"{name}_per_address"]
        assert (twin.requests, twin.window_seconds) == (5 * own.requests, own.window_seconds)


async def test_a_rotated_forwarded_for_does_not_reset_the_bucket(limited_app: Any) -> None:
    """T-R3: without trusted proxies the header is ignored; behind one, only the address it appended counts."""
    app = limited_app("verify=2/60")
    async with client_for(app, peer="203.0.113.50") as client:
        answers = [
            (await client.get(UNKNOWN_PERMIT, headers={"X-Forwarded-For": f"198.51.100.{n}"})).status_code
            for n in range(1, 5)
        ]
    assert answers == [404, 404, 429, 429]

    app = limited_app("verify=2/60", trusted_proxies=parse_trusted_proxies("10.0.0.0/8"))
    async with client_for(app, peer="10.0.0.2") as proxy:
        spoofed = [
            (await proxy.get(UNKNOWN_PERMIT, headers={"X-Forwarded-For": f"1.1.1.{n}, 203.0.113.77"})).status_code
            for n in range(1, 5)
        ]
        assert spoofed == [404, 404, 429, 429]
        # The proxy forwarding another caller: that caller's own count.
        other = await proxy.get(UNKNOWN_PERMIT, headers={"X-Forwarded-For": "203.0.113.78"})
        assert_problem(other, 404, "permit_not_found")


async def test_off_counts_nothing(app: Litestar, session: AsyncSession) -> None:
    """The suite's settings (FLEXREG_RATE_LIMITS=off): limited routes claim no counter at all."""
    assert app.state.settings.rate_limits == {}
    async with client_for(app) as client:
        for _ in range(3):
            assert_problem(await client.get(UNKNOWN_PERMIT), 404, "permit_not_found")
    assert (await session.execute(text("SELECT count(*) FROM core_rate_limit_counter"))).scalar_one() == 0


@pytest.fixture
async def committing_apps(settings: Settings, engine: AsyncEngine) -> AsyncIterator[list[Litestar]]:
    """Two apps as two processes would be: each its own engine and pool, committing for real."""
    on = limited(settings, "verify=7/60")
    engines = [create_engine(on) for _ in range(2)]
    apps = [create_app(on, sessionmaker=create_sessionmaker(each)) for each in engines]
    try:
        yield apps
    finally:
        for each in engines:
            await each.dispose()
        async with engine.begin() as connection:
            await connection.execute(text("DELETE FROM core_rate_limit_counter WHERE bucket LIKE 'verify:%'"))


async def test_two_processes_let_through_exactly_the_limit_between_them(committing_apps: list[Litestar]) -> None:
    """T-R1: the count is in PostgreSQL, so two apps with their own pools share it: 7 pass, not 2 × 7."""
    clients = [client_for(app, peer="198.51.100.99") for app in committing_apps]
    try:
        answers = await asyncio.gather(*(clients[n % 2].get(UNKNOWN_PERMIT) for n in range(30)))
    finally:
        for client in clients:
            await client.aclose()
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [404] * 7 + [429] * 23


async def test_the_prune_job_deletes_ended_windows_only(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ended, current = window_of(START - dt.timedelta(minutes=5), 60), window_of(START, 60)
    session.add_all(
        [
            RateLimitCounter(bucket="verify:ended", window_start=ended.start, window_end=ended.end, count=9),
            RateLimitCounter(bucket="verify:current", window_start=current.start, window_end=current.end, count=1),
        ]
    )
    await session.commit()
    await prune_rate_limits(sessionmaker, START)
    left = (await session.execute(text("SELECT bucket FROM core_rate_limit_counter"))).scalars().all()
    assert left == ["verify:current"]
    assert "prune_rate_limits" in {job.name for job in PERIODIC_JOBS}


def test_settings_parse_off_overrides_and_refuse_typos() -> None:
    assert parse_rate_limits("off") == {}
    assert parse_rate_limits(" OFF ") == {}
    assert parse_rate_limits("") == DEFAULT_RATE_LIMITS
    overridden: Mapping[str, RateLimit] = parse_rate_limits("sign_up=5/60, verify=off")
    assert overridden["sign_up"] == RateLimit(5, 60)
    assert "verify" not in overridden
    assert overridden["sign_in"] == DEFAULT_RATE_LIMITS["sign_in"]
    for bad in ("sign_upp=5/60", "sign_up=5", "sign_up=0/60", "sign_up=5/0"):
        with pytest.raises(ValueError, match="FLEXREG_RATE_LIMITS"):
            parse_rate_limits(bad)
    keys = {"FLEXREG_SECRET_KEY": "k" * 32, "FLEXREG_DATA_KEY": "d" * 32}
    assert Settings.from_env({**keys, "FLEXREG_RATE_LIMITS": "sign_in=3/60"}).rate_limits["sign_in"] == RateLimit(3, 60)
    assert Settings.from_env(keys).rate_limits == DEFAULT_RATE_LIMITS  # on unless turned off


def test_every_limited_operation_documents_its_429(app: Litestar) -> None:
    schema = app.openapi_schema.to_schema()
    limited_operations = {
        operation["operationId"]
        for item in schema["paths"].values()
        for operation in item.values()
        if "rate_limited"
        in operation.get("responses", {})
        .get("429", {})
        .get("content", {})
        .get("application/problem+json", {})
        .get("examples", {})
    }
    assert limited_operations == {
        "registerVendor",
        "requestToken",
        "uploadDocument",
        "checkExemption",
        "getPermit",
        "getExemptionReference",
    }
    # Every limit named in the table has a default value, and every default is used.
    named = {limit.name for limit in RATE_LIMITED.values()}
    twins = {limit.vendors_per_address for limit in RATE_LIMITED.values() if limit.vendors_per_address}
    assert named | twins == set(DEFAULT_RATE_LIMITS)


async def test_with_the_defaults_the_61st_verification_in_a_minute_is_429(limited_app: Any) -> None:
    """T-R2, with the shipped defaults (FLEXREG_RATE_LIMITS unset)."""
    app = limited_app("")
    async with client_for(app) as client:
        statuses = [(await client.get(UNKNOWN_PERMIT)).status_code for _ in range(61)]
    assert statuses == [404] * 60 + [429]


async def test_counters_hold_no_address_nor_account(
    limited_app: Any, session: AsyncSession, settings: Settings
) -> None:
    app = limited_app("verify=5/60")
    person = staff()
    async with client_for(app, peer="203.0.113.201") as client:
        await client.get(UNKNOWN_PERMIT)
        await client.get(UNKNOWN_PERMIT, headers=auth_headers(settings, person))
    buckets = (await session.execute(text("SELECT bucket FROM core_rate_limit_counter"))).scalars().all()
    assert len(buckets) == 2
    assert all(bucket.startswith("verify:") for bucket in buckets)
    assert not any("203.0.113.201" in bucket or str(person.account_id) in bucket for bucket in buckets)

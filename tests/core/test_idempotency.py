"""Idempotency-Key: a retried creating POST returns the first result (RELIABILITY.md A12, A13, T-I1…T-I9)."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import uuid
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar, Response, post
from litestar.datastructures import State
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.auth import Principal
from core.db import transaction
from core.errors import EXCEPTION_HANDLERS
from core.idempotency import IdempotencyMiddleware
from core.idempotency_keys import KEY_TTL, IdempotencyKey, canonical_body, fingerprint
from core.settings import Settings
from flexreg.app import create_app
from registry.models import Account, Jurisdiction
from tests.builders import DONGCHENG_SQUARE, auth_headers
from tests.problems import assert_problem
from tests.registry.builders import jurisdiction_code, make_account, make_jurisdiction

URL = "/api/v1/jurisdictions"


def establish(code: str, name: str = "Idempotent street") -> bytes:
    """The exact bytes of a request body, so a test can fingerprint it as the middleware does."""
    return msgspec.json.encode({"code": code, "name": name, "boundary": DONGCHENG_SQUARE})


def headers_for(settings: Settings, account: Account, key: str) -> dict[str, str]:
    return {**auth_headers(settings, account), "Idempotency-Key": key, "content-type": "application/json"}


async def jurisdictions(session: AsyncSession, *codes: str) -> int:
    count = await session.scalar(select(func.count()).select_from(Jurisdiction).where(Jurisdiction.code.in_(codes)))
    return int(count or 0)


async def stored_keys(session: AsyncSession, key: str) -> int:
    count = await session.scalar(select(func.count()).select_from(IdempotencyKey).where(IdempotencyKey.key == key))
    return int(count or 0)


@pytest.fixture
async def admin(session: AsyncSession) -> Account:
    account = await make_account(session, "admin")
    await session.commit()
    return account


def new_key() -> str:
    return str(uuid.uuid4())


# --- T-I1: sequential retries ------------------------------------------------------------------------------------


async def test_ten_retries_create_one_jurisdiction_with_byte_identical_answers(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, admin: Account
) -> None:
    code, key = jurisdiction_code(), new_key()
    responses = [
        await client.post(URL, content=establish(code), headers=headers_for(settings, admin, key)) for _ in range(10)
    ]
    first = responses[0]
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    for replay in responses[1:]:
        assert replay.status_code == 201
        assert replay.content == first.content
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.headers["location"] == first.headers["location"] == f"{URL}/{code}"
        assert replay.headers["content-type"] == first.headers["content-type"]
    assert await jurisdictions(session, code) == 1


async def test_quoted_structured_field_key_is_the_same_key(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, admin: Account
) -> None:
    code, key = jurisdiction_code(), new_key()
    first = await client.post(URL, content=establish(code), headers=headers_for(settings, admin, key))
    quoted = await client.post(URL, content=establish(code), headers=headers_for(settings, admin, f'"{key}"'))
    assert first.status_code == quoted.status_code == 201
    assert quoted.headers["idempotent-replayed"] == "true"
    assert quoted.content == first.content


# --- T-I3: same key, different request ---------------------------------------------------------------------------


async def test_same_key_with_a_different_body_is_422_and_creates_nothing(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, admin: Account
) -> None:
    code, other_code, key = jurisdiction_code(), jurisdiction_code(), new_key()
    assert (
        await client.post(URL, content=establish(code), headers=headers_for(settings, admin, key))
    ).status_code == 201
    response = await client.post(URL, content=establish(other_code), headers=headers_for(settings, admin, key))
    assert_problem(response, 422, "idempotency_key_reused")
    assert "idempotent-replayed" not in response.headers
    assert await jurisdictions(session, other_code) == 0


async def test_same_key_on_another_path_is_422(client: httpx.AsyncClient, settings: Settings, admin: Account) -> None:
    key = new_key()
    assert (
        await client.post(URL, content=establish(jurisdiction_code()), headers=headers_for(settings, admin, key))
    ).status_code == 201
    account = msgspec.json.encode(
        {"username": f"idem_{uuid.uuid4().hex[:8]}", "password": "a long enough password", "role": "admin"}
    )
    response = await client.post("/api/v1/accounts", content=account, headers=headers_for(settings, admin, key))
    assert_problem(response, 422, "idempotency_key_reused")


# --- T-I6: keys are per principal --------------------------------------------------------------------------------


async def test_another_principal_reusing_the_key_executes_afresh(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, admin: Account
) -> None:
    other_admin = await make_account(session, "admin")
    await session.commit()
    code, key = jurisdiction_code(), new_key()
    first = await client.post(URL, content=establish(code), headers=headers_for(settings, admin, key))
    assert first.status_code == 201
    # The very same request under another principal is not a replay: it runs, and meets the existing code.
    second = await client.post(URL, content=establish(code), headers=headers_for(settings, other_admin, key))
    assert_problem(second, 409, "jurisdiction_exists")
    assert "idempotent-replayed" not in second.headers
    assert first.content not in second.content
    # And a fresh request under that key succeeds for the other principal.
    other_code = jurisdiction_code()
    third = await client.post(URL, content=establish(other_code), headers=headers_for(settings, other_admin, new_key()))
    assert third.status_code == 201
    assert await jurisdictions(session, code, other_code) == 2


# --- T-I5: malformed keys ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        [b""],
        [b'""'],
        [b"k" * 256],
        [b"ab\x01cd"],
        [b"ab\x7fcd"],
        ["clé".encode()],
        [b"00000000-0000-0000-0000-000000000000"],
        [b"one", b"two"],
    ],
    ids=["empty", "empty-quoted", "256-chars", "control-char", "delete-char", "non-ascii", "zero-uuid", "repeated"],
)
async def test_malformed_keys_are_400_naming_the_header(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, admin: Account, values: list[bytes]
) -> None:
    code = jurisdiction_code()
    headers: list[tuple[bytes, bytes]] = [
        (name.encode(), value.encode()) for name, value in auth_headers(settings, admin).items()
    ]
    headers += [(b"content-type", b"application/json"), *((b"idempotency-key", value) for value in values)]
    response = await client.post(URL, content=establish(code), headers=headers)
    problem = assert_problem(response, 400, "invalid_idempotency_key")
    assert problem["errors"] == [{"field": "Idempotency-Key", "message": problem["errors"][0]["message"]}]  # type: ignore[index]
    assert await jurisdictions(session, code) == 0


async def test_a_key_of_255_characters_is_accepted(
    client: httpx.AsyncClient, settings: Settings, admin: Account
) -> None:
    response = await client.post(
        URL, content=establish(jurisdiction_code()), headers=headers_for(settings, admin, "k" * 255)
    )
    assert response.status_code == 201, response.text


# --- T-I7: refusals are not stored -------------------------------------------------------------------------------


async def test_failed_validation_then_a_corrected_retry_with_the_same_key_succeeds(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, admin: Account
) -> None:
    code, key = jurisdiction_code(), new_key()
    invalid = await client.post(URL, content=establish(code, name=""), headers=headers_for(settings, admin, key))
    assert_problem(invalid, 422, "validation_failed")
    assert await stored_keys(session, key) == 0
    fixed = await client.post(URL, content=establish(code), headers=headers_for(settings, admin, key))
    assert fixed.status_code == 201, fixed.text
    assert "idempotent-replayed" not in fixed.headers
    assert await jurisdictions(session, code) == 1


async def test_unauthenticated_attempt_is_not_stored(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, admin: Account
) -> None:
    key = new_key()
    headers = {"Idempotency-Key": key, "content-type": "application/json"}
    assert_problem(
        await client.post(URL, content=establish(jurisdiction_code()), headers=headers), 401, "not_authenticated"
    )
    assert await stored_keys(session, key) == 0


async def test_an_oversize_body_is_413_and_not_stored(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, admin: Account
) -> None:
    key = new_key()
    body = establish(jurisdiction_code(), name="x" * (settings.http.max_body_bytes + 1))
    assert_problem(
        await client.post(URL, content=body, headers=headers_for(settings, admin, key)), 413, "body_too_large"
    )
    assert await stored_keys(session, key) == 0


async def test_a_conflict_is_stored_and_replayed(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, admin: Account
) -> None:
    existing = await make_jurisdiction(session)
    await session.commit()
    key = new_key()
    first = await client.post(URL, content=establish(existing.code), headers=headers_for(settings, admin, key))
    assert_problem(first, 409, "jurisdiction_exists")
    # Even once the conflict is gone, the retry answers what the first attempt answered.
    await session.execute(delete(Jurisdiction).where(Jurisdiction.code == existing.code))
    await session.commit()
    retry = await client.post(URL, content=establish(existing.code), headers=headers_for(settings, admin, key))
    assert_problem(retry, 409, "jurisdiction_exists")
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"
    assert await jurisdictions(session, existing.code) == 0


# --- passing through ---------------------------------------------------------------------------------------------


async def test_requests_without_the_header_and_gets_store_nothing(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, admin: Account
) -> None:
    code = jurisdiction_code()
    plain = {**auth_headers(settings, admin), "content-type": "application/json"}
    assert (await client.post(URL, content=establish(code), headers=plain)).status_code == 201
    key = new_key()
    listed = await client.get(URL, headers={**plain, "Idempotency-Key": key})
    assert listed.status_code == 200
    assert "idempotent-replayed" not in listed.headers
    assert await session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0


# --- T-I8, T-I9: expiry and leases -------------------------------------------------------------------------------


async def test_a_key_older_than_24_hours_counts_as_new(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, admin: Account
) -> None:
    code, key = jurisdiction_code(), new_key()
    assert (
        await client.post(URL, content=establish(code), headers=headers_for(settings, admin, key))
    ).status_code == 201
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.key == key)
        .values(created_at=IdempotencyKey.created_at - KEY_TTL - dt.timedelta(seconds=1))
    )
    await session.execute(delete(Jurisdiction).where(Jurisdiction.code == code))
    await session.commit()
    again = await client.post(URL, content=establish(code), headers=headers_for(settings, admin, key))
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert await jurisdictions(session, code) == 1
    assert await stored_keys(session, key) == 1


async def _hold(
    session: AsyncSession, settings: Settings, admin: Account, key: str, body: bytes, locked_until: dt.datetime
) -> None:
    """A key left in progress by an attempt that is still running (or crashed).

    Real time, not the settings' clock: core.idempotency_keys times its leases and key TTL with the system clock.
    """
    session.add(
        IdempotencyKey(
            principal=str(admin.id),
            key=key,
            fingerprint=fingerprint(
                settings.auth.secret_key, "POST", URL, b"", canonical_body("application/json", body)
            ),
            state="in_progress",
            created_at=dt.datetime.now(dt.UTC),
            locked_until=locked_until,
        )
    )
    await session.commit()


async def test_a_retry_while_the_first_runs_is_409_with_retry_after(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, admin: Account
) -> None:
    code, key = jurisdiction_code(), new_key()
    await _hold(session, settings, admin, key, establish(code), dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30))
    response = await client.post(URL, content=establish(code), headers=headers_for(settings, admin, key))
    assert_problem(response, 409, "idempotency_key_in_progress")
    assert int(response.headers["retry-after"]) >= 1
    assert await jurisdictions(session, code) == 0


async def test_a_stale_lease_is_taken_over_by_the_retry(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, admin: Account
) -> None:
    code, key = jurisdiction_code(), new_key()
    await _hold(session, settings, admin, key, establish(code), dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    response = await client.post(URL, content=establish(code), headers=headers_for(settings, admin, key))
    assert response.status_code == 201, response.text
    replay = await client.post(URL, content=establish(code), headers=headers_for(settings, admin, key))
    assert replay.headers["idempotent-replayed"] == "true"
    assert await jurisdictions(session, code) == 1


# --- server errors and no-store responses are not kept (a small app of our own) ----------------------------------


async def test_server_errors_and_no_store_answers_are_not_kept(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    calls = itertools.count(1)

    @post("/flaky", status_code=201)
    async def flaky() -> dict[str, int]:
        call = next(calls)
        if call == 1:
            raise RuntimeError("the first attempt fails on our side")
        return {"call": call}

    @post("/secret", status_code=200)
    async def secret() -> Response[dict[str, int]]:
        return Response({"call": next(calls)}, headers={"Cache-Control": "no-store"})

    app = Litestar(
        route_handlers=[flaky, secret],
        middleware=[IdempotencyMiddleware],
        state=State({"settings": settings, "sessionmaker": sessionmaker}),
        exception_handlers=EXCEPTION_HANDLERS,
    )
    caller = Principal(account_id=uuid.uuid4(), role="vendor")
    key = {"Idempotency-Key": new_key(), **auth_headers(settings, caller)}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        assert_problem(await client.post("/flaky", headers=key), 500, "internal_error")
        retried = await client.post("/flaky", headers=key)
        assert retried.status_code == 201
        assert retried.json() == {"call": 2}
        replayed = await client.post("/flaky", headers=key)
        assert replayed.json() == {"call": 2}
        assert replayed.headers["idempotent-replayed"] == "true"

        other = {"Idempotency-Key": new_key()}
        assert (await client.post("/secret", headers=other)).json() == {"call": 3}
        assert (await client.post("/secret", headers=other)).json() == {"call": 4}
    assert await stored_keys(session, other["Idempotency-Key"]) == 0


# --- T-I2: concurrent retries ------------------------------------------------------------------------------------


@pytest.mark.concurrency
async def test_concurrent_identical_requests_create_exactly_one(settings: Settings, engine: AsyncEngine) -> None:
    """20 requests at once with one key, on a real app with its own pool; committed rows cleaned up in finally."""
    maker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    code, key = jurisdiction_code(), new_key()
    admin_id = uuid.uuid4()
    async with transaction(maker) as setup:
        admin = await make_account(setup, "admin", id=admin_id)
    app = create_app(settings)
    try:
        async with (
            app.lifespan(),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client,
        ):
            body, headers = establish(code), headers_for(settings, admin, key)
            responses = await asyncio.gather(*(client.post(URL, content=body, headers=headers) for _ in range(20)))
        statuses: dict[Any, int] = {}
        created = [r for r in responses if r.status_code == 201]
        for response in responses:
            label = (response.status_code, response.headers.get("idempotent-replayed"))
            statuses[label] = statuses.get(label, 0) + 1
            assert response.status_code in (201, 409), response.text
            if response.status_code == 409:
                assert_problem(response, 409, "idempotency_key_in_progress")
        assert statuses.get((201, None)) == 1, statuses
        assert len({r.content for r in created}) == 1
        async with maker() as check:
            assert await jurisdictions(check, code) == 1
    finally:
        async with transaction(maker) as cleanup:
            await cleanup.execute(delete(IdempotencyKey).where(IdempotencyKey.principal == str(admin_id)))
            await cleanup.execute(delete(Jurisdiction).where(Jurisdiction.code == code))
            await cleanup.execute(delete(Account).where(Account.id == admin_id))


def test_fingerprint_ignores_json_layout_and_multipart_boundaries() -> None:
    from core.idempotency_keys import canonical_body

    assert canonical_body("application/json", b'{"b": 1,  "a": [1, 2]}') == canonical_body(
        "application/json; charset=utf-8", b'{"a":[1,2],"b":1}'
    )
    assert canonical_body("application/json", b'{"a": 1}') != canonical_body("application/json", b'{"a": 2}')
    first = b'--AAA\r\nContent-Disposition: form-data; name="file"\r\n\r\nPDF\r\n--AAA--\r\n'
    second = first.replace(b"AAA", b"BBB")
    assert canonical_body('multipart/form-data; boundary="AAA"', first) == canonical_body(
        "multipart/form-data; boundary=BBB", second
    )
    deep = b"[" * 5000 + b"]" * 5000
    assert canonical_body("application/json", deep) == deep


async def test_anonymous_requests_are_not_deduplicated(client: httpx.AsyncClient) -> None:
    """Anonymous callers would share one key space; the route's guard answers them (401) first."""
    key = new_key()
    body = establish(jurisdiction_code())
    for _ in range(2):
        response = await client.post(
            URL, content=body, headers={"Idempotency-Key": key, "content-type": "application/json"}
        )
        assert_problem(response, 401, "not_authenticated")
        assert "idempotent-replayed" not in response.headers

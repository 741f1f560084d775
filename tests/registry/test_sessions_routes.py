"""Sessions over HTTP: short access tokens, rotating refresh tokens, sign-out, deactivation, password change."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import httpx
import jwt
import msgspec
import pytest
from litestar import Litestar, get
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import authenticated
from core.clock import FixedClock
from core.settings import Settings
from registry.models import Account, AccountEvent, AuthSession, RefreshToken
from tests.builders import auth_headers
from tests.problems import assert_problem
from tests.registry.builders import PASSWORD, make_account

Client = httpx.AsyncClient
ACCOUNTS = "/api/v1/accounts"


async def _sign_in(client: Client, username: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _bearer(body: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {body['access_token']}"}


async def _refresh(client: Client, refresh_token: str) -> httpx.Response:
    return await client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


async def test_sign_in_returns_a_short_access_token_and_a_refresh_token(
    client: Client, session: AsyncSession, settings: Settings
) -> None:
    admin = await make_account(session, "admin")
    await session.commit()
    body = await _sign_in(client, admin.username)
    assert set(body) == {"access_token", "token_type", "expires_in", "role", "refresh_token", "refresh_expires_in"}
    assert body["expires_in"] == settings.auth.token_ttl_seconds == 900
    assert body["refresh_expires_in"] == settings.auth.refresh_ttl_seconds
    claims = jwt.decode(body["access_token"], settings.auth.secret_key, algorithms=["HS256"], audience="flexreg-api")
    assert claims["exp"] - claims["iat"] == 900
    signed_in = await session.get(AuthSession, claims["sid"])
    assert signed_in is not None
    assert signed_in.account_id == admin.id
    assert signed_in.revoked_at is None
    # Only the hash is kept.
    stored = await session.scalar(select(RefreshToken).where(RefreshToken.session_id == signed_in.id))
    assert stored is not None
    assert stored.token_hash == hashlib.sha256(body["refresh_token"].encode()).digest()
    assert (await client.get(ACCOUNTS, headers=_bearer(body))).status_code == 200


async def test_refresh_rotates_and_reuse_revokes_the_whole_family(
    client: Client, session: AsyncSession, settings: Settings, clock: FixedClock
) -> None:
    admin = await make_account(session, "admin")
    await session.commit()
    first = await _sign_in(client, admin.username)
    other = await _sign_in(client, admin.username)  # another sign-in of the same account: untouched throughout
    response = await _refresh(client, first["refresh_token"])
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["role"] == "admin"
    assert second["token_type"] == "bearer"
    sid = jwt.decode(second["access_token"], options={"verify_signature": False})["sid"]
    assert sid == jwt.decode(first["access_token"], options={"verify_signature": False})["sid"]
    assert (await client.get(ACCOUNTS, headers=_bearer(second))).status_code == 200

    # The spent token again, once the grace for a lost answer is over: someone else holds a copy. Everything of
    # that sign-in ends.
    clock.advance(dt.timedelta(seconds=settings.auth.refresh_reuse_grace_seconds))
    assert_problem(await _refresh(client, first["refresh_token"]), 401, "refresh_token_reused")
    assert_problem(await _refresh(client, second["refresh_token"]), 401, "invalid_refresh_token")
    for body in (first, second):
        assert_problem(await client.get(ACCOUNTS, headers=_bearer(body)), 401, "not_authenticated")
    assert (await client.get(ACCOUNTS, headers=_bearer(other))).status_code == 200
    assert (await _refresh(client, other["refresh_token"])).status_code == 200
    revoked = await session.get(AuthSession, sid)
    assert revoked is not None
    await session.refresh(revoked)
    assert revoked.revoked_reason == "refresh_token_reused"


def _family(body: dict[str, Any]) -> str:
    sid: str = jwt.decode(body["access_token"], options={"verify_signature": False})["sid"]
    return sid


async def _revoked_reason(session: AsyncSession, body: dict[str, Any]) -> str | None:
    signed_in = await session.get(AuthSession, _family(body))
    assert signed_in is not None
    await session.refresh(signed_in)
    return signed_in.revoked_reason


async def test_a_retry_after_a_lost_answer_within_the_grace_gets_a_new_pair(
    client: Client, session: AsyncSession, settings: Settings, clock: FixedClock
) -> None:
    admin = await make_account(session, "admin")
    await session.commit()
    first = await _sign_in(client, admin.username)
    lost = await _refresh(client, first["refresh_token"])  # the phone never sees this answer
    assert lost.status_code == 200, lost.text
    clock.advance(dt.timedelta(seconds=settings.auth.refresh_reuse_grace_seconds - 1))
    retried = await _refresh(client, first["refresh_token"])
    assert retried.status_code == 200, retried.text
    again = retried.json()
    # A new refresh token, never the lost one (only its hash is kept): that one is spent in its stead.
    assert again["refresh_token"] not in (first["refresh_token"], lost.json()["refresh_token"])
    assert _family(again) == _family(first)
    assert (await client.get(ACCOUNTS, headers=_bearer(again))).status_code == 200
    following = await _refresh(client, again["refresh_token"])
    assert following.status_code == 200, following.text
    assert await _revoked_reason(session, first) is None
    # The superseded token turning up after all: whoever holds it was not the one retrying. The sign-in ends.
    assert_problem(await _refresh(client, lost.json()["refresh_token"]), 401, "refresh_token_reused")
    assert_problem(await client.get(ACCOUNTS, headers=_bearer(following.json())), 401, "not_authenticated")
    assert await _revoked_reason(session, first) == "refresh_token_reused"


async def test_a_spent_token_is_retried_once_only(client: Client, session: AsyncSession) -> None:
    admin = await make_account(session, "admin")
    await session.commit()
    first = await _sign_in(client, admin.username)
    assert (await _refresh(client, first["refresh_token"])).status_code == 200
    retried = await _refresh(client, first["refresh_token"])
    assert retried.status_code == 200, retried.text
    assert_problem(await _refresh(client, first["refresh_token"]), 401, "refresh_token_reused")
    assert_problem(await client.get(ACCOUNTS, headers=_bearer(retried.json())), 401, "not_authenticated")
    assert await _revoked_reason(session, first) == "refresh_token_reused"


async def test_once_the_successor_is_used_the_spent_token_is_reuse_even_within_the_grace(
    client: Client, session: AsyncSession
) -> None:
    admin = await make_account(session, "admin")
    await session.commit()
    first = await _sign_in(client, admin.username)
    second = (await _refresh(client, first["refresh_token"])).json()
    third = await _refresh(client, second["refresh_token"])  # the answer arrived: the client went on with it
    assert third.status_code == 200, third.text
    assert_problem(await _refresh(client, first["refresh_token"]), 401, "refresh_token_reused")
    assert_problem(await client.get(ACCOUNTS, headers=_bearer(third.json())), 401, "not_authenticated")
    assert_problem(await _refresh(client, third.json()["refresh_token"]), 401, "invalid_refresh_token")


async def test_a_grace_of_zero_treats_every_spent_token_as_reuse(
    client: Client, session: AsyncSession, settings: Settings, app: Litestar
) -> None:
    auth = msgspec.structs.replace(settings.auth, refresh_reuse_grace_seconds=0)
    app.state.settings = msgspec.structs.replace(settings, auth=auth)
    admin = await make_account(session, "admin")
    await session.commit()
    first = await _sign_in(client, admin.username)
    assert (await _refresh(client, first["refresh_token"])).status_code == 200
    assert_problem(await _refresh(client, first["refresh_token"]), 401, "refresh_token_reused")


def test_the_grace_is_a_setting() -> None:
    env = {"FLEXREG_SECRET_KEY": "00", "FLEXREG_DATA_KEY": "11"}
    assert Settings.from_env(env).auth.refresh_reuse_grace_seconds == 30
    assert Settings.from_env({**env, "FLEXREG_REFRESH_REUSE_GRACE_SECONDS": "0"}).auth.refresh_reuse_grace_seconds == 0
    for wrong in ("-1", "5s", "1.5"):
        with pytest.raises(ValueError, match="FLEXREG_REFRESH_REUSE_GRACE_SECONDS"):
            Settings.from_env({**env, "FLEXREG_REFRESH_REUSE_GRACE_SECONDS": wrong})


async def test_refresh_refuses_unknown_and_expired_tokens(
    client: Client, session: AsyncSession, settings: Settings, clock: FixedClock
) -> None:
    admin = await make_account(session, "admin")
    await session.commit()
    assert_problem(await _refresh(client, "not-a-token-we-issued"), 401, "invalid_refresh_token")
    body = await _sign_in(client, admin.username)
    clock.advance(dt.timedelta(seconds=settings.auth.refresh_ttl_seconds + 1))
    assert_problem(await _refresh(client, body["refresh_token"]), 401, "invalid_refresh_token")
    refused = await client.post("/api/v1/auth/refresh", json={"refresh_token": "x", "extra": 1})
    assert refused.status_code == 422


async def test_sign_out_ends_the_token_and_its_refresh_family(client: Client, session: AsyncSession) -> None:
    admin = await make_account(session, "admin")
    await session.commit()
    mine, elsewhere = await _sign_in(client, admin.username), await _sign_in(client, admin.username)
    response = await client.post("/api/v1/auth/sign-out", headers=_bearer(mine))
    assert response.status_code == 204, response.text
    assert_problem(await client.get(ACCOUNTS, headers=_bearer(mine)), 401, "not_authenticated")
    assert_problem(await _refresh(client, mine["refresh_token"]), 401, "invalid_refresh_token")
    assert_problem(await client.post("/api/v1/auth/sign-out", headers=_bearer(mine)), 401, "not_authenticated")
    assert (await client.get(ACCOUNTS, headers=_bearer(elsewhere))).status_code == 200


async def test_sign_out_everywhere_ends_every_sign_in(
    client: Client, session: AsyncSession, settings: Settings
) -> None:
    admin = await make_account(session, "admin")
    await session.commit()
    signed_in = [await _sign_in(client, admin.username) for _ in range(3)]
    without_session = auth_headers(settings, admin)  # a token naming no sign-in ends too
    response = await client.post("/api/v1/auth/sign-out", json={"everywhere": True}, headers=_bearer(signed_in[0]))
    assert response.status_code == 204, response.text
    for body in signed_in:
        assert_problem(await client.get(ACCOUNTS, headers=_bearer(body)), 401, "not_authenticated")
        assert_problem(await _refresh(client, body["refresh_token"]), 401, "invalid_refresh_token")
    assert_problem(await client.get(ACCOUNTS, headers=without_session), 401, "not_authenticated")
    assert (await client.get(ACCOUNTS, headers=_bearer(await _sign_in(client, admin.username)))).status_code == 200


async def test_deactivation_ends_every_token_of_the_account_at_once(
    client: Client, session: AsyncSession, settings: Settings, clock: FixedClock
) -> None:
    admin = await make_account(session, "admin")
    target = await make_account(session, "admin")
    await session.commit()
    admin_headers = auth_headers(settings, admin)
    body = await _sign_in(client, target.username)
    legacy = auth_headers(settings, target)  # no `sid`: judged by the account row alone
    assert (await client.get(ACCOUNTS, headers=_bearer(body))).status_code == 200

    response = await client.patch(f"{ACCOUNTS}/{target.id}", json={"is_active": False}, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is False
    for headers in (_bearer(body), legacy):
        assert_problem(await client.get(ACCOUNTS, headers=headers), 401, "not_authenticated")
    assert_problem(await _refresh(client, body["refresh_token"]), 401, "invalid_refresh_token")
    refused = await client.post("/api/v1/auth/token", json={"username": target.username, "password": PASSWORD})
    assert_problem(refused, 401, "invalid_credentials")

    clock.advance(dt.timedelta(minutes=5))
    response = await client.patch(f"{ACCOUNTS}/{target.id}", json={"is_active": True}, headers=admin_headers)
    assert response.status_code == 200
    assert response.json()["is_active"] is True
    # Reactivation revives no earlier sign-in; a new one works.
    assert_problem(await client.get(ACCOUNTS, headers=_bearer(body)), 401, "not_authenticated")
    assert (await client.get(ACCOUNTS, headers=_bearer(await _sign_in(client, target.username)))).status_code == 200

    events = (
        await session.execute(
            select(AccountEvent.event, AccountEvent.actor_account_id, AccountEvent.at)
            .where(AccountEvent.account_id == target.id)
            .order_by(AccountEvent.id)
        )
    ).all()
    start = clock.now() - dt.timedelta(minutes=5)
    assert [tuple(row) for row in events] == [
        ("deactivated", admin.id, start),
        ("reactivated", admin.id, clock.now()),
    ]


async def test_deactivation_refusals(client: Client, session: AsyncSession, settings: Settings) -> None:
    admin = await make_account(session, "admin")
    office = await make_account(session, "admin")
    await session.commit()
    headers = auth_headers(settings, admin)
    assert_problem(
        await client.patch(f"{ACCOUNTS}/{admin.id}", json={"is_active": False}, headers=headers),
        409,
        "cannot_deactivate_self",
    )
    missing = "6f1c1f9e-3f55-4a43-9a5f-0a4c3c3c9d11"
    assert_problem(
        await client.patch(f"{ACCOUNTS}/{missing}", json={"is_active": False}, headers=headers),
        404,
        "account_not_found",
    )
    vendor = await make_account(session, "vendor")
    await session.commit()
    assert_problem(
        await client.patch(
            f"{ACCOUNTS}/{office.id}", json={"is_active": False}, headers=auth_headers(settings, vendor)
        ),
        403,
        "forbidden",
    )
    assert (await client.patch(f"{ACCOUNTS}/{office.id}", json={"nope": 1}, headers=headers)).status_code == 422
    unchanged = await client.patch(f"{ACCOUNTS}/{office.id}", json={}, headers=headers)
    assert unchanged.status_code == 200
    assert unchanged.json()["is_active"] is True


async def test_a_route_that_opens_no_session_still_refuses_a_revoked_token(
    own_app: Litestar, session: AsyncSession, settings: Settings
) -> None:
    """The guard asks the database itself when the handler takes neither the session nor the principal."""

    @get("/whoami-free", guards=[authenticated], sync_to_thread=False)
    def free() -> dict[str, str]:
        return {"ok": "yes"}

    own_app.register(free)
    admin = await make_account(session, "admin")
    target = await make_account(session, "admin")
    await session.commit()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=own_app), base_url="http://testserver") as client:
        body = await _sign_in(client, target.username)
        assert (await client.get("/whoami-free", headers=_bearer(body))).status_code == 200
        response = await client.patch(
            f"{ACCOUNTS}/{target.id}", json={"is_active": False}, headers=auth_headers(settings, admin)
        )
        assert response.status_code == 200
        assert_problem(await client.get("/whoami-free", headers=_bearer(body)), 401, "not_authenticated")


async def test_password_change_ends_the_other_sign_ins(
    client: Client, session: AsyncSession, settings: Settings
) -> None:
    account = await make_account(session, "admin")
    await session.commit()
    mine, other = await _sign_in(client, account.username), await _sign_in(client, account.username)
    legacy = auth_headers(settings, account)
    wrong = await client.post(
        "/api/v1/auth/password",
        json={"current_password": "not it at all", "new_password": "a-new-long-password"},
        headers=_bearer(mine),
    )
    assert_problem(wrong, 422, "wrong_current_password", fields=["current_password"])
    assert (await client.get(ACCOUNTS, headers=_bearer(other))).status_code == 200

    response = await client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "a-new-long-password"},
        headers=_bearer(mine),
    )
    assert response.status_code == 204, response.text
    assert (await client.get(ACCOUNTS, headers=_bearer(mine))).status_code == 200
    for headers in (_bearer(other), legacy):
        assert_problem(await client.get(ACCOUNTS, headers=headers), 401, "not_authenticated")
    assert_problem(await _refresh(client, other["refresh_token"]), 401, "invalid_refresh_token")
    assert (await _refresh(client, mine["refresh_token"])).status_code == 200
    old = await client.post("/api/v1/auth/token", json={"username": account.username, "password": PASSWORD})
    assert_problem(old, 401, "invalid_credentials")
    await _sign_in(client, account.username, "a-new-long-password")
    event = await session.scalar(select(AccountEvent).where(AccountEvent.account_id == account.id))
    assert event is not None
    assert event.event == "password_changed"
    assert event.actor_account_id == account.id
    short = await client.post(
        "/api/v1/auth/password",
        json={"current_password": "a-new-long-password", "new_password": "short"},
        headers=_bearer(mine),
    )
    assert short.status_code == 422


async def test_deactivating_a_vendor_ends_their_app_session(
    client: Client, session: AsyncSession, settings: Settings
) -> None:
    """RELIABILITY T-J: a valid token of a disabled user is a 401, whatever the role."""
    admin = await make_account(session, "admin")
    vendor = await make_account(session, "vendor")
    await session.commit()
    headers = auth_headers(settings, vendor)
    # No vendor profile behind this bare account: 404, but past authentication.
    assert_problem(await client.get("/api/v1/vendors/me", headers=headers), 404, "vendor_not_found")
    await client.patch(f"{ACCOUNTS}/{vendor.id}", json={"is_active": False}, headers=auth_headers(settings, admin))
    assert_problem(await client.get("/api/v1/vendors/me", headers=headers), 401, "not_authenticated")


async def test_signing_out_a_token_without_a_session_ends_such_tokens_not_the_account(
    client: Client, session: AsyncSession, settings: Settings
) -> None:
    vendor = await make_account(session, "vendor")
    await session.commit()
    headers = auth_headers(settings, vendor)
    assert (await client.post("/api/v1/auth/sign-out", headers=headers)).status_code == 204
    assert_problem(await client.get("/api/v1/vendors/me", headers=headers), 401, "not_authenticated")
    account = await session.get(Account, vendor.id)
    assert account is not None
    await session.refresh(account)
    assert account.is_active
    assert account.tokens_valid_after is not None
    body = await _sign_in(client, vendor.username)
    assert_problem(await client.get("/api/v1/vendors/me", headers=_bearer(body)), 404, "vendor_not_found")


async def test_a_signed_out_token_gets_no_stored_answer_of_an_idempotency_key(
    client: Client, session: AsyncSession
) -> None:
    """A replay is an answer too: after sign-out the key's stored 201 is not handed back, the guard says 401."""
    admin = await make_account(session, "admin")
    await session.commit()
    mine = await _sign_in(client, admin.username)
    body = {"username": "clerk_replayed", "password": "long enough pass", "role": "admin"}
    headers = {**_bearer(mine), "Idempotency-Key": "open-clerk-1"}
    first = await client.post(ACCOUNTS, json=body, headers=headers)
    assert first.status_code == 201, first.text
    replay = await client.post(ACCOUNTS, json=body, headers=headers)
    assert replay.headers.get("idempotent-replayed") == "true"
    assert (await client.post("/api/v1/auth/sign-out", headers=_bearer(mine))).status_code == 204
    after = await client.post(ACCOUNTS, json=body, headers=headers)
    assert_problem(after, 401, "not_authenticated")
    assert "idempotent-replayed" not in after.headers

"""Permit tokens verify with nothing but the JWKS and a JOSE library the service does not use (joserfc).

A tampered token, an expired one, one of another type or algorithm fail; a rotation keeps older tokens
verifiable; two processes creating the first key at once end with one active key.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt as pyjwt
import pytest
from joserfc import jws
from joserfc import jwt as jose_jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidClaimError
from joserfc.jwk import KeySet, OKPKey
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from core.clock import FixedClock
from core.crypto import FieldCipher
from core.db import create_sessionmaker, drop_database, sqlalchemy_url, transaction
from core.settings import Settings
from flexreg.cli import main
from permits import signing
from permits.issuance import PERMIT_AUDIENCE, PERMIT_TYP
from permits.issued_models import SigningKey
from tests.clock import CITY
from tests.conftest import migrated_database
from tests.permits.issued_builders import make_permit

# joserfc warns that RFC 9864 prefers the fully specified "Ed25519" to "EdDSA"; PyJWT, scanners in the field
# and RFC 8037 still name it EdDSA, which is what the service signs with.
pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated:joserfc.errors.SecurityWarning")

KEYS = "/api/v1/permit-signing-keys"


def _claims_registry(settings: Settings, at: dt.datetime) -> jose_jwt.JWTClaimsRegistry:
    return jose_jwt.JWTClaimsRegistry(
        now=int(at.timestamp()),
        iss={"essential": True, "value": settings.http.public_url},
        aud={"essential": True, "value": PERMIT_AUDIENCE},
        sub={"essential": True},
        exp={"essential": True},
        nbf={"essential": True},
        iat={"essential": True},
    )


async def _offline_check(client: httpx.AsyncClient, settings: Settings, token: str, at: dt.datetime) -> dict[str, Any]:
    """What a scanner does: the JWKS it downloaded, joserfc, EdDSA only, the claims checked at `at`."""
    answer = await client.get(KEYS)
    assert answer.status_code == 200
    keys = KeySet.import_key_set(answer.json())
    decoded = jose_jwt.decode(token, keys, algorithms=["EdDSA"])
    assert decoded.header["typ"] == PERMIT_TYP
    _claims_registry(settings, at).validate(decoded.claims)
    return decoded.claims


def _tampered(token: str, **changes: Any) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


async def test_a_permit_token_verifies_with_the_jwks_alone(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    issued = await make_permit(session, settings)
    await session.commit()
    claims = await _offline_check(client, settings, issued.permit.token, dt.datetime(2026, 7, 1, 8, tzinfo=CITY))
    assert claims["sub"] == issued.permit.number
    assert claims["holder"] == "王**"
    assert claims["id_last4"] == "002X"
    assert claims["activity"] == "cooked_snacks"
    assert claims["place"] == {
        "name": "东华门早市 A-07",
        "venue_id": "3f6b1c2e-8d4a-4c1e-9b7a-2e5d8f0a1c34",
        "pitch": "A-07",
    }
    assert claims["hours"] == {"schedule": [{"days": [1, 2, 3, 4, 5, 6, 7], "start": "06:00", "end": "09:00"}]}
    assert claims["departments"] == ["market_regulation"]
    # exp is the end of valid_to in the city (2026-12-31 24:00 +08:00), nbf the start of valid_from.
    assert claims["exp"] == int(dt.datetime(2027, 1, 1, tzinfo=CITY).timestamp())
    assert claims["nbf"] == int(dt.datetime(2026, 6, 16, tzinfo=CITY).timestamp())


async def test_the_jwks_holds_public_okp_keys_only_and_is_cacheable(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    issued = await make_permit(session, settings)
    await session.commit()
    answer = await client.get(KEYS)
    assert "public" in answer.headers["cache-control"]
    (key,) = answer.json()["keys"]
    assert set(key) == {"kty", "crv", "x", "kid", "use", "alg"}  # no "d": never the private half
    assert (key["kty"], key["crv"], key["use"], key["alg"]) == ("OKP", "Ed25519", "sig", "EdDSA")
    assert key["kid"] == pyjwt.get_unverified_header(issued.permit.token)["kid"]
    assert OKPKey.import_key(key).thumbprint() == key["kid"]  # the kid is the RFC 7638 thumbprint


async def test_a_tampered_token_fails(session: AsyncSession, settings: Settings, client: httpx.AsyncClient) -> None:
    issued = await make_permit(session, settings)
    await session.commit()
    at = dt.datetime(2026, 7, 1, 8, tzinfo=CITY)
    # A transferred permit: someone else's name and ID digits on a genuine signature.
    for forged in (_tampered(issued.permit.token, holder="李*"), _tampered(issued.permit.token, id_last4="1234")):
        with pytest.raises(BadSignatureError):
            await _offline_check(client, settings, forged, at)
    header, payload, signature = issued.permit.token.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    with pytest.raises(BadSignatureError):
        await _offline_check(client, settings, f"{header}.{payload}.{flipped}", at)


async def test_an_expired_token_fails(session: AsyncSession, settings: Settings, client: httpx.AsyncClient) -> None:
    issued = await make_permit(session, settings, valid_to=dt.date(2026, 12, 31))
    await session.commit()
    await _offline_check(client, settings, issued.permit.token, dt.datetime(2026, 12, 31, 23, 59, tzinfo=CITY))
    with pytest.raises(ExpiredTokenError):
        await _offline_check(client, settings, issued.permit.token, dt.datetime(2027, 1, 1, 0, 1, tzinfo=CITY))


async def test_a_token_before_its_first_day_fails(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    issued = await make_permit(session, settings, valid_from=dt.date(2026, 6, 16))
    await session.commit()
    with pytest.raises(InvalidClaimError):
        await _offline_check(client, settings, issued.permit.token, dt.datetime(2026, 6, 15, 23, 0, tzinfo=CITY))


async def test_the_service_refuses_other_algorithms_types_and_unknown_keys(
    session: AsyncSession, settings: Settings
) -> None:
    issued = await make_permit(session, settings)
    token, at = issued.permit.token, dt.datetime(2026, 7, 1, tzinfo=CITY)

    async def verify(candidate: str) -> dict[str, Any]:
        return await signing.verify_token(
            session, candidate, typ=PERMIT_TYP, issuer=settings.http.public_url, audience=PERMIT_AUDIENCE, now=at
        )

    assert (await verify(token))["sub"] == issued.permit.number
    claims = pyjwt.decode(token, options={"verify_signature": False})
    kid = pyjwt.get_unverified_header(token)["kid"]
    unsigned = pyjwt.encode(claims, None, algorithm="none", headers={"kid": kid, "typ": PERMIT_TYP})
    hmac = pyjwt.encode(claims, "a" * 32, algorithm="HS256", headers={"kid": kid, "typ": PERMIT_TYP})
    signer = await signing.current_signer(session, FieldCipher(settings.data.data_key))
    for candidate in (unsigned, hmac, signer.sign_claims(claims, typ="JWT"), _tampered(token, holder="李*")):
        with pytest.raises(signing.InvalidSignature):
            await verify(candidate)
    with pytest.raises(signing.InvalidSignature, match="expired"):
        await signing.verify_token(
            session,
            token,
            typ=PERMIT_TYP,
            issuer=settings.http.public_url,
            audience=PERMIT_AUDIENCE,
            now=dt.datetime(2027, 1, 2, tzinfo=CITY),
        )


async def test_rotation_keeps_older_tokens_verifiable(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    cipher = FieldCipher(settings.data.data_key)
    before = await make_permit(session, settings)
    new_kid = await signing.rotate_signing_key(session, cipher, now=clock.now())
    after = await make_permit(session, settings, vendor=before.vendor)
    await session.commit()
    old_kid = pyjwt.get_unverified_header(before.permit.token)["kid"]
    assert pyjwt.get_unverified_header(after.permit.token)["kid"] == new_kid != old_kid
    kids = [key["kid"] for key in (await client.get(KEYS)).json()["keys"]]
    assert kids == [new_kid, old_kid]  # the active key first
    at = dt.datetime(2026, 7, 1, tzinfo=CITY)
    assert (await _offline_check(client, settings, before.permit.token, at))["sub"] == before.permit.number
    assert (await _offline_check(client, settings, after.permit.token, at))["sub"] == after.permit.number
    assert await session.scalar(select(func.count()).where(SigningKey.retired_at.is_(None))) == 1


async def test_detached_signatures_verify_over_their_bytes_only(session: AsyncSession, settings: Settings) -> None:
    signer = await signing.current_signer(session, FieldCipher(settings.data.data_key))
    head = b'{"seq":42,"hash":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}'
    signature = signing.sign_bytes(signer, head, typ="history-head+jws")
    header, empty, _ = signature.split(".")
    assert empty == ""
    await signing.verify_detached(session, signature, head, typ="history-head+jws")
    for payload, typ in ((head.replace(b"42", b"43"), "history-head+jws"), (head, "permit+jwt")):
        with pytest.raises(signing.InvalidSignature):
            await signing.verify_detached(session, signature, payload, typ=typ)
    # Any JOSE library checks it by putting the payload's base64url back (RFC 7515 Appendix F).
    keys = KeySet.import_key_set(await signing.jwks(session))
    whole = f"{header}.{base64.urlsafe_b64encode(head).rstrip(b'=').decode()}.{signature.split('.')[2]}"
    assert jws.deserialize_compact(whole, keys, algorithms=["EdDSA"]).payload == head


# --- the first key, made by two processes at once --------------------------------------------------------------


@pytest.fixture(scope="module")
async def empty_keys_url(server_url: str) -> AsyncIterator[str]:
    name = f"flexreg_first_key_{os.getpid()}"
    yield await migrated_database(server_url, name)
    await drop_database(server_url, name)


@pytest.mark.concurrency
async def test_two_processes_creating_the_first_key_end_with_one(
    empty_keys_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    racers = 8
    cipher = FieldCipher(settings.data.data_key)
    engine = create_async_engine(sqlalchemy_url(empty_keys_url), poolclass=NullPool)
    makers: async_sessionmaker[AsyncSession] = create_sessionmaker(engine)
    # Every racer must see "no key yet" before any inserts: the first look of each waits for all the others.
    everyone_looked = asyncio.Barrier(racers)
    real_active = signing._active

    async def look_then_wait(session: AsyncSession) -> SigningKey | None:
        found = await real_active(session)
        if found is None and not session.info.get("looked"):
            session.info["looked"] = True
            await everyone_looked.wait()
        return found

    monkeypatch.setattr(signing, "_active", look_then_wait)

    async def race() -> str:
        async with transaction(makers) as session:
            return (await signing.current_signer(session, cipher)).kid

    try:
        kids = await asyncio.gather(*(race() for _ in range(racers)))
        assert len(set(kids)) == 1
        async with makers() as session:
            assert await session.scalar(select(func.count()).select_from(SigningKey)) == 1
    finally:
        async with transaction(makers) as session:
            await session.execute(SigningKey.__table__.delete())
        await engine.dispose()


def test_the_rotate_command_adds_a_key_and_keeps_the_old_one(
    empty_keys_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_keys_url)
    monkeypatch.setenv("FLEXREG_VAR_DIR", str(tmp_path))
    assert main(["rotate-signing-key"]) == 0
    assert main(["rotate-signing-key"]) == 0
    assert "new permit signing key" in capsys.readouterr().out

    async def counts() -> tuple[int, int]:
        engine = create_async_engine(sqlalchemy_url(empty_keys_url), poolclass=NullPool)
        try:
            async with create_sessionmaker(engine)() as session:
                total = await session.scalar(select(func.count()).select_from(SigningKey))
                active = await session.scalar(select(func.count()).where(SigningKey.retired_at.is_(None)))
                await session.execute(SigningKey.__table__.delete())
                await session.commit()
                return int(total or 0), int(active or 0)
        finally:
            await engine.dispose()

    assert asyncio.run(counts()) == (2, 1)

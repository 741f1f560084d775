"""Ed25519 signing keys: compact JWS for permits and the revocation list, detached signatures, the public JWKS.

Keys live in `permits_signing_key`, the private half encrypted with the app's field cipher. One key is active;
it is made on first need (two processes making it at once end with the same one: the partial unique index
decides and the loser's insert does nothing) and `flexreg rotate-signing-key` retires it for a new one. Retired
keys stay published, so a token signed before a rotation still verifies until it expires.

Signatures are JWS (RFC 7515) with `alg: EdDSA` over Ed25519 (RFC 8037), made by PyJWT over `cryptography`.
Each names its key (`kid`, the key's RFC 7638 thumbprint) and its type (`typ`), so a permit token cannot pass
for a revocation list or a chain head (RFC 8725 §3.11). A detached signature (RFC 7515 Appendix F) is the
compact JWS with its payload part left empty: a verifier puts the payload's base64url back in the middle.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import FieldCipher
from permits.issued_models import SigningKey

__all__ = [
    "ALGORITHM",
    "InvalidSignature",
    "Signer",
    "current_signer",
    "jwks",
    "rotate_signing_key",
    "sign_bytes",
    "sign_claims",
    "verify_detached",
    "verify_token",
]

ALGORITHM: Final = "EdDSA"
# Associated data of the private key's ciphertext: copied into another column it will not decrypt.
PRIVATE_KEY_CONTEXT: Final = "permits_signing_key.private_key"
# Rotations take this lock so two at once retire one key and make one, not two.
_ROTATION_LOCK: Final = 0x7065726D69747331  # "permits1"
_LEEWAY_SECONDS: Final = 30


class InvalidSignature(Exception):
    """A token or signature that does not verify; the message says why (for logs and the verify page)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def thumbprint(public_key: bytes) -> str:
    """The RFC 7638 JWK thumbprint of an Ed25519 public key: SHA-256 over its required members, in order."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": _b64(public_key)}, separators=(",", ":"))
    return _b64(hashlib.sha256(canonical.encode()).digest())


@dataclass(frozen=True, slots=True)
class Signer:
    """The active key, decrypted: signs claims and bytes without touching the database."""

    kid: str
    private_key: Ed25519PrivateKey

    def sign_claims(self, claims: dict[str, Any], *, typ: str) -> str:
        """A compact JWS over `claims` as JSON, with header `{alg: EdDSA, kid, typ}`."""
        return jwt.encode(claims, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid, "typ": typ})

    def sign_bytes(self, payload: bytes, *, typ: str) -> str:
        """A detached compact JWS over `payload` (`header..signature`, RFC 7515 Appendix F)."""
        signed = jwt.api_jws.encode(
            payload, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid, "typ": typ}
        )
        header, _, signature = signed.split(".")
        return f"{header}..{signature}"


async def _active(session: AsyncSession) -> SigningKey | None:
    return await session.scalar(select(SigningKey).where(SigningKey.retired_at.is_(None)))


def _new_key_values(cipher: FieldCipher) -> dict[str, Any]:
    private = Ed25519PrivateKey.generate()
    raw_private = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = _raw_public(private.public_key())
    return {
        "kid": thumbprint(public),
        "public_key": public,
        "private_key_encrypted": cipher.encrypt(_b64(raw_private), context=PRIVATE_KEY_CONTEXT),
    }


def _signer(key: SigningKey, cipher: FieldCipher) -> Signer:
    encoded = cipher.decrypt(key.private_key_encrypted, context=PRIVATE_KEY_CONTEXT)
    raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    return Signer(kid=key.kid, private_key=Ed25519PrivateKey.from_private_bytes(raw))


async def current_signer(session: AsyncSession, cipher: FieldCipher) -> Signer:
    """The active key, made now if there is none yet (in the caller's transaction)."""
    key = await _active(session)
    if key is None:
        # On conflict (another process made the first key meanwhile) this does nothing and the read below,
        # a new statement under READ COMMITTED, sees the winner's key once it has committed.
        await session.execute(insert(SigningKey).values(**_new_key_values(cipher)).on_conflict_do_nothing())
        key = await _active(session)
        if key is None:
            raise RuntimeError("no active signing key after creating one")
    return _signer(key, cipher)


async def sign_claims(session: AsyncSession, cipher: FieldCipher, claims: dict[str, Any], *, typ: str = "JWT") -> str:
    """Sign `claims` with the active key: a compact JWS `{alg: EdDSA, kid, typ}`."""
    return (await current_signer(session, cipher)).sign_claims(claims, typ=typ)


def sign_bytes(signer: Signer, payload: bytes, *, typ: str = "JOSE") -> str:
    """A detached signature over `payload` with `signer` (from `current_signer`): `header..signature`."""
    return signer.sign_bytes(payload, typ=typ)


async def rotate_signing_key(session: AsyncSession, cipher: FieldCipher, *, now: dt.datetime) -> str:
    """Retire the active key (it stays published) and make a new one; returns the new key's kid."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ROTATION_LOCK})
    await session.execute(update(SigningKey).where(SigningKey.retired_at.is_(None)).values(retired_at=now))
    values = _new_key_values(cipher)
    await session.execute(insert(SigningKey).values(**values))
    return str(values["kid"])


async def jwks(session: AsyncSession) -> dict[str, list[dict[str, str]]]:
    """Every key's public half as a JWK Set (RFC 7517, OKP per RFC 8037), the active key first."""
    keys = await session.scalars(
        select(SigningKey).order_by(SigningKey.retired_at.desc().nulls_first(), SigningKey.created_at.desc())
    )
    return {
        "keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": _b64(key.public_key), "kid": key.kid, "use": "sig", "alg": ALGORITHM}
            for key in keys
        ]
    }


async def _public_key(session: AsyncSession, header: dict[str, Any], typ: str) -> Ed25519PublicKey:
    # The algorithm allowlist is this one algorithm (ASVS V9.1.2): `none`, HMAC or anything else is refused
    # before a key is even looked up.
    if header.get("alg") != ALGORITHM:
        raise InvalidSignature("the signature's algorithm is not EdDSA")
    if header.get("typ") != typ:
        raise InvalidSignature(f"the signature is not of type {typ}")
    kid = header.get("kid")
    raw = await session.scalar(select(SigningKey.public_key).where(SigningKey.kid == kid)) if kid else None
    if raw is None:
        raise InvalidSignature("the signature names no published key")
    return Ed25519PublicKey.from_public_bytes(raw)


async def verify_token(
    session: AsyncSession, token: str, *, typ: str, issuer: str, audience: str, now: dt.datetime
) -> dict[str, Any]:
    """The claims of a token this service signed, checked: key, signature, type, issuer, audience and times.

    `exp`, `nbf` and `iat` are required (ASVS V9.2.1) and judged against `now` (the service's clock, not the
    machine's), with 30 s of leeway.
    """
    try:
        key = await _public_key(session, jwt.get_unverified_header(token), typ)
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=issuer,
            audience=audience,
            options={
                "require": ["exp", "nbf", "iat", "iss", "aud", "sub"],
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidTokenError as exc:
        raise InvalidSignature(f"the token does not verify: {exc}") from None
    instant = now.timestamp()
    if instant > float(claims["exp"]) + _LEEWAY_SECONDS:
        raise InvalidSignature("the token has expired")
    if instant < float(claims["nbf"]) - _LEEWAY_SECONDS:
        raise InvalidSignature("the token is not valid yet")
    return claims


async def verify_detached(session: AsyncSession, signature: str, payload: bytes, *, typ: str) -> None:
    """Check a detached signature (`header..signature`) over `payload`; raise InvalidSignature if it fails."""
    parts = signature.split(".")
    if len(parts) != 3 or parts[1] != "":
        raise InvalidSignature("not a detached compact JWS (header..signature)")
    header, _, sealed = parts
    whole = f"{header}.{_b64(payload)}.{sealed}"
    try:
        key = await _public_key(session, jwt.get_unverified_header(whole), typ)
        jwt.api_jws.decode(whole, key, algorithms=[ALGORITHM])
    except jwt.InvalidTokenError as exc:
        raise InvalidSignature(f"the signature does not verify: {exc}") from None

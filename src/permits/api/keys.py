"""GET /permit-signing-keys (the JWKS) and GET /permit-revocations (the signed list): what an offline scanner
downloads while it has network, to check permits' tokens and say "valid as of T" when it has none."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get

from core.crypto import FieldCipher
from core.deps import DbSession
from core.settings import Settings
from permits import revocations, signing
from permits.revocations import RevokedEntry

_KEYS_CACHE = "public, max-age=300"
_REVOCATIONS_CACHE = "public, max-age=60"


class JwkOut(msgspec.Struct, kw_only=True):
    """An Ed25519 public key as a JWK (RFC 8037): `x` is the raw key, base64url."""

    kty: str  # "OKP"
    crv: str  # "Ed25519"
    x: str
    kid: str
    use: str  # "sig"
    alg: str  # "EdDSA"


class JwksOut(msgspec.Struct, kw_only=True):
    """A JWK Set (RFC 7517 §5): the active key first, then retired ones (still valid for older tokens)."""

    keys: list[JwkOut]


class RevocationsOut(msgspec.Struct, kw_only=True):
    """The suspended and revoked permits still within their dates. `token` is an Ed25519 JWS (typ
    `permit-revocations+jwt`) over `{iss, iat, revoked}`: the same list, signed, for a scanner to keep."""

    token: str
    issued_at: dt.datetime
    revoked: list[RevokedEntry]


class PermitKeysController(Controller):
    path = "/"
    tags = ("permits",)

    @get(
        "/permit-signing-keys",
        operation_id="listPermitSigningKeys",
        summary="The public keys that sign permits, as a JWKS (anyone)",
        description=(
            "Anyone. Every Ed25519 public key that has signed permits (kty OKP, crv Ed25519, alg EdDSA, use sig), "
            "named by `kid` as the tokens' headers name them; a rotated key stays listed so older tokens still "
            "verify. Public keys only. Cacheable for 5 minutes; a token naming an unknown `kid` means: fetch again."
        ),
    )
    async def list_permit_signing_keys(self, session: DbSession) -> Response[JwksOut]:
        keys = msgspec.convert(await signing.jwks(session), JwksOut)
        return Response(keys, headers={"Cache-Control": _KEYS_CACHE})

    @get(
        "/permit-revocations",
        operation_id="getPermitRevocations",
        summary="The signed list of suspended and revoked permits (anyone)",
        description=(
            "Anyone. Every permit suspended or revoked and not yet past its validity, with its status, since "
            "when and the legal `ground`; `token` signs the same list with the permits' key and `iat`, so a "
            "scanner offline can tell a permit's status as of that instant. Expired permits are not listed: their "
            "tokens fail on `exp`. Cacheable for a minute."
        ),
    )
    async def get_permit_revocations(
        self, request: Request[Any, Any, Any], session: DbSession
    ) -> Response[RevocationsOut]:
        settings: Settings = request.app.state.settings
        cipher: FieldCipher = request.app.state.cipher
        now = settings.now()
        token, revoked = await revocations.revocation_list(
            session, cipher, now=now, today=settings.today(), issuer=settings.http.public_url
        )
        body = RevocationsOut(token=token, issued_at=now.replace(microsecond=0), revoked=revoked)
        return Response(body, headers={"Cache-Control": _REVOCATIONS_CACHE})

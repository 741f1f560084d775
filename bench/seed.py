"""Seed the bench database: a jurisdiction, many vendors with tokens, an evidence document each (JSON out).

A vendor may have one pending claim per group, so the write benchmark rotates over many vendors. They are
inserted in bulk (executemany) with one shared password hash and random lookup hashes: the claim path
never reads the encrypted fields.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import uuid

import asyncpg
import msgspec
from argon2 import PasswordHasher

from core.auth import Principal, issue_token
from core.db import database_url
from core.geojson import Polygon, check_area, to_builtins
from core.settings import Settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SQUARE = Polygon(coordinates=[[[116.40, 39.92], [116.42, 39.92], [116.42, 39.94], [116.40, 39.94], [116.40, 39.92]]])
CODE = "110101001001"


async def main(count: int) -> None:
    settings = Settings.from_env()
    connection = await asyncpg.connect(database_url(settings))
    password_hash = PasswordHasher().hash("bench-password")
    accounts = [(uuid.uuid4(), uuid.uuid4(), uuid.uuid4()) for _ in range(count)]  # account, vendor, document
    try:
        async with connection.transaction():
            await connection.execute(
                "INSERT INTO registry_jurisdiction (code, name, boundary, min_lon, min_lat, max_lon, max_lat)"
                " VALUES ($1, 'Bench street', $2::jsonb, 116.40, 39.92, 116.42, 39.94)",
                CODE,
                msgspec.json.encode(to_builtins(SQUARE)).decode(),
            )
            check_area(SQUARE, "boundary")
            await connection.executemany(
                "INSERT INTO registry_account (id, username, password_hash, role) VALUES ($1, $2, $3, 'vendor')",
                [(a, f"bench_{a.hex[:12]}", password_hash) for a, _, _ in accounts],
            )
            await connection.executemany(
                "INSERT INTO registry_vendor (id, account_id, name, id_number_encrypted, id_number_hmac,"
                " id_number_masked, birth_on, sex, phone_encrypted, phone_masked, residence_jurisdiction_code)"
                " VALUES ($1, $2, '测试', $3, $4, '110101********0000', '1995-03-01', 'male', $3, '138****0000', $5)",
                [(v, a, os.urandom(32), os.urandom(32), CODE) for a, v, _ in accounts],
            )
            digest = hashlib.sha256(PNG).hexdigest()
            await connection.executemany(
                "INSERT INTO registry_document (id, owner_account_id, sha256, size, media_type)"
                " VALUES ($1, $2, $3, $4, 'image/png')",
                [(d, a, digest, len(PNG)) for a, _, d in accounts],
            )
    finally:
        await connection.close()
    long_lived = msgspec.structs.replace(settings.auth, token_ttl_seconds=3600)
    vendors = [
        {
            "vendor_id": str(v),
            "account_id": str(a),
            "document_id": str(d),
            "token": issue_token(long_lived, Principal(account_id=a, role="vendor", vendor_id=v)),
        }
        for a, v, d in accounts
    ]
    print(json.dumps(vendors))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1))

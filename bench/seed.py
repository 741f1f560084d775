"""Seed the bench database: one jurisdiction, one vendor with a token, one evidence document (prints JSON)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid

import msgspec

from core.auth import issue_token
from core.crypto import FieldCipher
from core.db import create_engine, create_sessionmaker, transaction
from core.geojson import Polygon, check_area, to_builtins
from core.settings import Settings
from registry import jurisdictions, vendors
from registry.accounts import principal_for
from registry.models import Account, Document, DocumentContent

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SQUARE = Polygon(coordinates=[[[116.40, 39.92], [116.42, 39.92], [116.42, 39.94], [116.40, 39.94], [116.40, 39.92]]])


async def main() -> None:
    settings = Settings.from_env()
    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            code = "110101001001"
            await jurisdictions.establish_jurisdiction(
                session, code=code, name="Bench street", boundary=to_builtins(SQUARE), shape=check_area(SQUARE, "b")
            )
            vendor = await vendors.register_vendor(
                session,
                FieldCipher(settings.data.data_key),
                username=f"bench_{uuid.uuid4().hex[:8]}",
                password="bench-password",
                name="测试",
                id_number="110101199001011237",
                phone="13800001234",
                residence_jurisdiction=code,
            )
            account = await session.get(Account, vendor.account_id)
            assert account is not None
            document = Document(
                id=uuid.uuid4(),
                owner_account_id=account.id,
                sha256=hashlib.sha256(PNG).hexdigest(),
                size=len(PNG),
                media_type="image/png",
            )
            session.add(document)
            await session.flush()
            session.add(DocumentContent(document_id=document.id, content=PNG))
            long_lived = msgspec.structs.replace(settings.auth, token_ttl_seconds=3600)
            token = issue_token(long_lived, principal_for(account, vendor.id))
            print(json.dumps({"vendor_id": str(vendor.id), "document_id": str(document.id), "token": token}))
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())

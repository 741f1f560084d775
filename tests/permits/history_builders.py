"""Helpers for the history tests: a local Ed25519 signer, and tampering as the table owner."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.chain_queue import flush_chains
from permits.history import SYSTEM, Actor, append_history
from permits.history_models import HistoryEntry
from tests.clock import START

REVIEWER = Actor(role="department", account_id=uuid.UUID("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c63"))


class LocalSigner:
    """A HeadSigner over a key made for the test (the service's key store is the issued-permits module's)."""

    def __init__(self, kid: str = "history-test") -> None:
        self._key = Ed25519PrivateKey.generate()
        self._kid = kid

    @property
    def kid(self) -> str:
        return self._kid

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


async def append_rows(
    session: AsyncSession, count: int, *, application_id: uuid.UUID | None = None
) -> list[HistoryEntry]:
    """`count` rows appended and written now (flush_chains), read back as stored."""
    for index in range(count):
        actor = SYSTEM if index % 3 == 2 else REVIEWER
        await append_history(
            session,
            event="task_approved" if index % 2 else "application_received",
            actor=actor,
            at=START + dt.timedelta(minutes=index),
            application_id=application_id or uuid.uuid4(),
            task_id=uuid.uuid4(),
            payload={"step": index, "note": f"第{index}步", "items": [{"b": 1, "a": True}]},
        )
    await flush_chains(session)
    newest = await session.scalars(select(HistoryEntry).order_by(HistoryEntry.seq.desc()).limit(count))
    return list(reversed(newest.all()))


async def tamper(session: AsyncSession, sql: str, *, table: str = "permits_history", **params: Any) -> None:
    """Run `sql` with `table`'s triggers off, as its owner, in the test's transaction (rolled back with it)."""
    await session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
    await session.execute(text(sql), params)
    await session.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))

"""Tables of the permits history: the hash-chained record of what happened, and its signed daily anchors.

`permits_history` is append-only (migration 0012: triggers refuse UPDATE, DELETE and TRUNCATE). `seq` is
assigned right before the appending transaction's COMMIT, under a transaction-scoped advisory lock
(`permits.history.append_history` queues the row, core.chain_queue writes it), not by a sequence: a sequence
leaves a gap for every rolled-back request, and the chain must have none. UNIQUE on `prev_hash` is
the backstop: two rows can never claim the same predecessor, so the chain cannot fork even if the lock were
bypassed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Final, Literal, get_args

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, LargeBinary, Text, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.chain_anchors import AnchorRow
from core.db import Base, one_of

# Who did it: an account acting in its role (core.auth.Role, restated: a Literal cannot be derived; a test keeps
# them in step), or the service itself (sweeps, deemed consent).
ActorRole = Literal["vendor", "street_office", "department", "admin", "system"]
ACTOR_ROLES: Final[tuple[ActorRole, ...]] = get_args(ActorRole)

HASH_BYTES: Final = 32


class HistoryEntry(Base):
    """One event in the life of an application, a task or a permit; never changed once written."""

    __tablename__ = "permits_history"
    __table_args__ = (
        CheckConstraint("seq >= 1", name="seq_positive"),
        CheckConstraint("event ~ '^[a-z][a-z0-9]*(_[a-z0-9]+)*$' AND length(event) <= 64", name="event_snake_case"),
        one_of("actor_role", ACTOR_ROLES, name="actor_role_known"),
        CheckConstraint("(actor_role = 'system') = (actor_account_id IS NULL)", name="actor_account_unless_system"),
        CheckConstraint(f"length(prev_hash) = {HASH_BYTES} AND length(row_hash) = {HASH_BYTES}", name="hash_sizes"),
        CheckConstraint("jsonb_typeof(payload) = 'object'", name="payload_is_object"),
        Index("ix_permits_history_application_id_seq", "application_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # No foreign keys yet: the lead's tables arrive on merge, which adds them.
    application_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    task_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    permit_number: Mapped[str | None] = mapped_column(Text)
    event: Mapped[str] = mapped_column(Text)
    actor_role: Mapped[str] = mapped_column(Text)
    actor_account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    row_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)


class HistoryAnchor(AnchorRow, Base):
    """The chain head as it stood on one city day, signed, so copies kept outside can catch a rewrite."""

    __tablename__ = "permits_history_anchor"

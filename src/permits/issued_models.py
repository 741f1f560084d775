"""Tables of issued permits: the Ed25519 signing keys, the permits, their components and each status change.

Races the database decides:

- two processes creating the first signing key at once: a partial unique index allows one key whose
  `retired_at` is null, and the insert does nothing on conflict, so both end with the same active key;
- two officers changing one permit's status with the same ETag: the service locks the permit row
  (`SELECT … FOR UPDATE`) before comparing versions, so the second sees the first's version and gets 412.

A permit's `status` column holds the worst status its components were set to (valid, suspended, revoked);
expiry is a matter of the date and is computed when the permit is read (`issuance.permit_status`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Final, Literal, get_args

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, one_of

# What an officer can set a permit (component) to; `expired` is never stored, it follows from the date.
StoredStatus = Literal["valid", "suspended", "revoked"]
STORED_STATUSES: Final[tuple[StoredStatus, ...]] = get_args(StoredStatus)
PermitStatus = Literal["valid", "expired", "suspended", "revoked"]
# Worst first: a permit takes the worst status of its components.
STATUS_SEVERITY: Final[dict[str, int]] = {"valid": 0, "expired": 1, "suspended": 2, "revoked": 3}


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class SigningKey(Base):
    """An Ed25519 key pair; the private half encrypted with the field cipher. Retired keys stay published."""

    __tablename__ = "permits_signing_key"
    __table_args__ = (
        # One active key at a time, decided by the database when two processes create the first one together.
        Index(
            "uq_permits_signing_key_active",
            text("(retired_at IS NULL)"),
            unique=True,
            postgresql_where=text("retired_at IS NULL"),
        ),
        CheckConstraint("length(public_key) = 32", name="public_key_length"),
    )

    # The RFC 7638 JWK thumbprint of the public key (base64url SHA-256): stable, derived, never reused.
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = _now()
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Permit(Base):
    """An issued permit: public number, holder shown masked, place, hours, validity and its signed token."""

    __tablename__ = "permits_permit"
    __table_args__ = (
        one_of("status", STORED_STATUSES, name="status_known"),
        CheckConstraint("valid_to >= valid_from", name="validity_ordered"),
        CheckConstraint("id_last4 ~ '^[0-9]{3}[0-9X]$'", name="id_last4_shape"),
    )

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The application it was issued for (its foreign key is added with the applications' tables).
    application_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    vendor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_vendor.id"), index=True)
    activity_code: Mapped[str] = mapped_column(String(64))
    holder_masked: Mapped[str] = mapped_column(Text)
    id_last4: Mapped[str] = mapped_column(String(4))
    place: Mapped[dict[str, Any]] = mapped_column(JSONB)
    hours: Mapped[dict[str, Any]] = mapped_column(JSONB)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date] = mapped_column(Date)
    conditions: Mapped[list[str]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), server_default="valid")
    # When `status` last changed (the revocation list's "since").
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    token: Mapped[str] = mapped_column(Text)
    kid: Mapped[str] = mapped_column(ForeignKey("permits_signing_key.kid"))
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class PermitComponent(Base):
    """One department's decision inside a permit, with its own validity and status (and the ground if changed)."""

    __tablename__ = "permits_permit_component"
    __table_args__ = (
        one_of("status", STORED_STATUSES, name="status_known"),
        CheckConstraint("valid_to >= valid_from", name="validity_ordered"),
    )

    # The task whose approval this is (its foreign key is added with the tasks' table): one component per task.
    task_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    permit_number: Mapped[str] = mapped_column(ForeignKey("permits_permit.number"), index=True)
    department: Mapped[str] = mapped_column(String(32))
    permit_type: Mapped[str] = mapped_column(String(64))
    decision_number: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), server_default="valid")
    ground: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    compensation: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class PermitStatusChange(Base):
    """A suspension, revocation or reinstatement of one component: who, when, on what legal ground and why."""

    __tablename__ = "permits_status_change"
    __table_args__ = (
        one_of("from_status", (*STORED_STATUSES, "expired"), name="from_status_known"),
        one_of("to_status", STORED_STATUSES, name="to_status_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    permit_number: Mapped[str] = mapped_column(ForeignKey("permits_permit.number"), index=True)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("permits_permit_component.task_id"))
    department: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    ground: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    compensation: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_account.id"))
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[dt.datetime] = _now()

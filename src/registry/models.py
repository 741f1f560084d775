"""Tables of the registry: accounts, jurisdictions, vendors, documents, key-group claims, access log."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Final, Literal, get_args

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.auth import ROLES
from core.chain_anchors import AnchorRow
from core.db import Base, one_of
from core.hash_chain import HASH_BYTES
from registry.policies import KEY_GROUPS

ClaimStatus = Literal["pending", "verified", "rejected"]
ClaimDecision = Literal["verified", "rejected"]
CLAIM_STATUSES: Final[tuple[ClaimStatus, ...]] = get_args(ClaimStatus)
CLAIM_DECISIONS: Final[tuple[ClaimDecision, ...]] = get_args(ClaimDecision)
# The evidence formats accepted (by their magic bytes, registry/documents.py).
DocumentMediaType = Literal["application/pdf", "image/jpeg", "image/png"]
DOCUMENT_MEDIA_TYPES: Final[tuple[DocumentMediaType, ...]] = get_args(DocumentMediaType)


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Jurisdiction(Base):
    """A street office's area (or a district above it), keyed by its 12-digit statistical division code."""

    __tablename__ = "registry_jurisdiction"
    __table_args__ = (CheckConstraint("code ~ '^[0-9]{12}$'", name="code_is_12_digits"),)

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("registry_jurisdiction.code"))
    # GeoJSON (WGS84) as submitted after validation; bbox columns let lists filter without PostGIS.
    boundary: Mapped[dict[str, Any]] = mapped_column(JSONB)
    min_lon: Mapped[float]
    min_lat: Mapped[float]
    max_lon: Mapped[float]
    max_lat: Mapped[float]
    created_at: Mapped[dt.datetime] = _now()


class Account(Base):
    """A login: vendors, street-office staff (one jurisdiction), department reviewers (one department), admins."""

    __tablename__ = "registry_account"
    __table_args__ = (
        one_of("role", ROLES, name="role_known"),
        CheckConstraint("(role = 'street_office') = (jurisdiction_code IS NOT NULL)", name="staff_has_jurisdiction"),
        CheckConstraint("(role = 'department') = (department_code IS NOT NULL)", name="reviewer_has_department"),
        Index("uq_registry_account_username_lower", func.lower(text("username")), unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    jurisdiction_code: Mapped[str | None] = mapped_column(ForeignKey("registry_jurisdiction.code"))
    department_code: Mapped[str | None] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    # Tokens without a session (`sid`) issued at or before this instant (real time, as tokens' `iat` is) no
    # longer count: set by a password change, a deactivation, signing out everywhere.
    tokens_valid_after: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = _now()


SessionKind = Literal["api", "console"]
SESSION_KINDS: Final[tuple[SessionKind, ...]] = get_args(SessionKind)
AccountEventKind = Literal["deactivated", "reactivated", "password_changed"]
ACCOUNT_EVENT_KINDS: Final[tuple[AccountEventKind, ...]] = get_args(AccountEventKind)


class AuthSession(Base):
    """One sign-in: every access token it issues names it (`sid`), and so does its family of refresh tokens.

    Revoking it (sign-out, reuse of a spent refresh token, deactivation, a password change) ends them all.
    """

    __tablename__ = "registry_auth_session"
    __table_args__ = (one_of("kind", SESSION_KINDS, name="kind_known"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_account.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(String(32))


class RefreshToken(Base):
    """A refresh token, by the SHA-256 of its random text (never the text): good once, then spent."""

    __tablename__ = "registry_refresh_token"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_auth_session.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # The hash of the token its spending handed out (registry.sessions: a retry within the grace supersedes that
    # one). No foreign key: it is only looked up, and retention may purge a family's tokens in any order.
    replaced_by: Mapped[bytes | None] = mapped_column(LargeBinary)


class AccountEvent(Base):
    """Append-only: who deactivated, reactivated or changed the password of an account, and when."""

    __tablename__ = "registry_account_event"
    __table_args__ = (one_of("event", ACCOUNT_EVENT_KINDS, name="event_known"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_account.id"), index=True)
    event: Mapped[str] = mapped_column(String(24))
    actor_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_account.id"))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Vendor(Base):
    """A person working for themselves. ID number and phone are stored encrypted, with a keyed hash for dedup."""

    __tablename__ = "registry_vendor"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_account.id"), unique=True)
    name: Mapped[str] = mapped_column(Text)
    id_number_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    id_number_hmac: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    id_number_masked: Mapped[str] = mapped_column(String(18))
    # Derived from the ID number at sign-up: age and sex rules (e.g. "4050") need them without decrypting.
    birth_on: Mapped[dt.date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(6))
    phone_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    phone_masked: Mapped[str] = mapped_column(String(16))
    residence_jurisdiction_code: Mapped[str] = mapped_column(ForeignKey("registry_jurisdiction.code"), index=True)
    # Individual-business (个体工商户) registration: the tax deduction runs from its month (DOMAIN.md §1.2).
    business_registered_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = _now()


class Document(Base):
    """An uploaded evidence file's metadata; the bytes live behind DocumentStore."""

    __tablename__ = "registry_document"
    __table_args__ = (
        one_of("media_type", DOCUMENT_MEDIA_TYPES, name="media_type_allowed"),
        CheckConstraint("size > 0", name="size_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_account.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = _now()


class DocumentContent(Base):
    """The bytes of a document, for the PostgreSQL-backed DocumentStore."""

    __tablename__ = "registry_document_content"

    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_document.id"), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class KeyGroupClaim(Base):
    """A vendor's claim to belong to a key group; `status` mirrors the latest decision for fast filtering."""

    __tablename__ = "registry_key_group_claim"
    __table_args__ = (
        one_of("key_group", KEY_GROUPS, name="key_group_known"),
        one_of("status", CLAIM_STATUSES, name="status_known"),
        Index("ix_registry_key_group_claim_jurisdiction_status", "jurisdiction_code", "status", "submitted_at"),
        # One pending claim per vendor and group: a repeat would only queue the same review twice.
        Index(
            "uq_registry_key_group_claim_pending",
            "vendor_id",
            "key_group",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    vendor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_vendor.id"), index=True)
    # The vendor's residence jurisdiction when the claim was made: whose staff decide it.
    jurisdiction_code: Mapped[str] = mapped_column(ForeignKey("registry_jurisdiction.code"))
    key_group: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'pending'"))
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    submitted_at: Mapped[dt.datetime] = _now()
    submitted_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_account.id"))


class KeyGroupClaimEvidence(Base):
    __tablename__ = "registry_key_group_claim_evidence"

    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_key_group_claim.id"), primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_document.id"), primary_key=True)


class KeyGroupDecision(Base):
    """Staff's decision on a claim: a fact of its own (who, when, why); one per claim."""

    __tablename__ = "registry_key_group_decision"
    __table_args__ = (
        one_of("decision", CLAIM_DECISIONS, name="decision_known"),
        CheckConstraint("decision = 'rejected' OR valid_until IS NOT NULL", name="verified_has_validity"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_key_group_claim.id"), unique=True)
    decision: Mapped[str] = mapped_column(String(16))
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_account.id"))
    decided_at: Mapped[dt.datetime] = _now()


class PersonalDataAccess(Base):
    """Each time staff read a vendor's personal data (PIPL; DOMAIN.md §7.3 item 4): append-only and hash-chained
    (registry.access_log). Migration 0013's trigger refuses UPDATE, DELETE and TRUNCATE, save the one change
    retention makes: clearing `purpose` and `purpose_salt` together once their period ends. The chain covers
    `purpose_digest`, not the purpose itself, so it verifies before and after."""

    __tablename__ = "registry_personal_data_access"
    __table_args__ = (
        CheckConstraint("seq >= 1", name="seq_positive"),
        CheckConstraint(
            f"length(prev_hash) = {HASH_BYTES} AND length(row_hash) = {HASH_BYTES} "
            f"AND length(purpose_digest) = {HASH_BYTES}",
            name="hash_sizes",
        ),
        CheckConstraint("(purpose IS NULL) = (purpose_salt IS NULL)", name="purpose_with_its_salt"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # The chain's order, gapless (assigned under the chain's lock, not by a sequence).
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    accessed_at: Mapped[dt.datetime] = _now()
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_account.id"))
    role: Mapped[str] = mapped_column(String(16))
    vendor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_vendor.id"), index=True)
    fields: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # Free text staff typed: kept for its retention period, then cleared with its salt (registry.access_log).
    purpose: Mapped[str | None] = mapped_column(Text)
    purpose_salt: Mapped[bytes | None] = mapped_column(LargeBinary)
    # SHA-256(salt ‖ purpose): what the chain covers; once the salt is gone it says nothing about the purpose.
    purpose_digest: Mapped[bytes] = mapped_column(LargeBinary)
    request_path: Mapped[str] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    row_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)


class AccessLogAnchor(AnchorRow, Base):
    """The access log's head as it stood on one city day, signed (core.chain_anchors): copies kept outside catch
    a cut tail or a rewrite. Append-only (migration 0017's triggers)."""

    __tablename__ = "registry_access_log_anchor"


class LoginFailure(Base):
    """Failed sign-ins per username and fixed time window, across all clients (registry.throttle's gentle cap)."""

    __tablename__ = "registry_login_failure"

    username_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)


class RetentionRun(Base):
    """What one run of the retention job (flexreg.retention) purged or cleared, by kind: counts, never values."""

    __tablename__ = "registry_retention_run"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ran_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    counts: Mapped[dict[str, int]] = mapped_column(JSONB)


class LoginDelay(Base):
    """Failed sign-ins per username and client address since the last success: the progressive delay."""

    __tablename__ = "registry_login_delay"

    username_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

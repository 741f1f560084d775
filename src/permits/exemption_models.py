"""The stored exemption checks: each decision as it was made, with what it was made from.

A check is a fact: never updated. It keeps its input and that input's digest, the outcome with every reason,
the permits required, the place matched, the rules version of every day of its periods and the revision of
every venue it read, so the decision can be explained and recomputed later. An exempt decision for a named
vendor carries a public `reference` an inspector checks (GET /exemption-references/{reference}).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Final, get_args

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, one_of
from permits.exemption_types import Outcome

OUTCOMES: Final[tuple[Outcome, ...]] = get_args(Outcome)


class ExemptionCheck(Base):
    __tablename__ = "permits_exemption_check"
    __table_args__ = (
        one_of("outcome", OUTCOMES, name="outcome_known"),
        CheckConstraint(
            "reference IS NULL OR (outcome = 'exempt' AND vendor_id IS NOT NULL)", name="reference_only_when_exempt"
        ),
        Index("ix_permits_exemption_check_vendor", "vendor_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    reference: Mapped[str | None] = mapped_column(String(24), unique=True)
    vendor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("registry_vendor.id"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("registry_account.id"))
    activity_code: Mapped[str] = mapped_column(String(64))
    jurisdiction_code: Mapped[str | None] = mapped_column(String(12))
    input: Mapped[dict[str, Any]] = mapped_column(JSONB)
    input_digest: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(20))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    required_permits: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    matched_place: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    rule_version: Mapped[str] = mapped_column(String(40))
    # [{day, rule_version}] for every day the periods touch; [{venue_id, revision, role}] for every venue read.
    rule_versions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    venue_revisions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    decision_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

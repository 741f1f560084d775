"""Key-group claims: a vendor says they belong to a key group, street-office staff verify or reject it.

Only a verified claim whose `valid_until` has not passed gives priority or support (API.md "Registry").
Who may see a claim: the vendor themselves, staff of the jurisdiction the claim was made in, admins; anyone
else gets 404. Key-group status is sensitive personal information (PIPL Art. 28), so staff reads are logged.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Collection, Sequence
from typing import Any, Final, Literal

import msgspec
from asyncpg.exceptions import ForeignKeyViolationError, UniqueViolationError
from sqlalchemy import Date, Integer, Row, String, bindparam, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from core.auth import Principal, require_role
from core.db import constraint_name
from core.errors import FieldError, InvalidInput, PreconditionFailed, field_error_from_msgspec
from registry import entitlements as rules
from registry.access import get_vendor_in_scope, record_personal_data_access
from registry.errors import ClaimAlreadyDecided, ClaimNotFound, ClaimPending, VendorNotFound
from registry.models import KeyGroupClaim, KeyGroupClaimEvidence, KeyGroupDecision
from registry.policies import Policy, policies_in_force

ClaimStatus = Literal["pending", "verified", "rejected"]
Decision = Literal["verified", "rejected"]

# The longest a verification may last before staff must look again (annual reviews are common: DOMAIN §3.1).
MAX_VALIDITY_YEARS: Final = 5
MAX_EVIDENCE_DOCUMENTS: Final = 20
ACCESS_FIELDS: Final = ("key_group", "details")


class ClaimRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A claim as its readers see it: the claim, its evidence and the decision on it (if any)."""

    id: uuid.UUID
    vendor_id: uuid.UUID
    jurisdiction_code: str
    key_group: str
    details: dict[str, Any]
    status: str
    valid_until: dt.date | None
    version: int
    submitted_at: dt.datetime
    evidence_document_ids: list[uuid.UUID]
    decided_at: dt.datetime | None = None
    decision_reason: str | None = None


class VerifiedClaim(msgspec.Struct, frozen=True, kw_only=True):
    """A verified, unexpired claim: what the entitlement rules and the allocation draw rely on."""

    key_group: str
    valid_until: dt.date
    details: dict[str, Any]


# --- submitting -----------------------------------------------------------------------------------------------


def parse_details(group: str, details: dict[str, Any], *, today: dt.date) -> rules.ClaimDetails:
    """Check a claim's details against its group's shape; errors name the field as `details.<name>`."""
    try:
        parsed = msgspec.convert(details, rules.DETAILS_TYPES[group], strict=True)
    except msgspec.ValidationError as exc:
        error = _without_values(field_error_from_msgspec(str(exc), prefix="details"))
        raise InvalidInput(f"{error.field}: {error.message}", errors=[error]) from None
    problems = _future_dates(parsed, today)
    if problems:
        raise InvalidInput("; ".join(f"{p.field}: {p.message}" for p in problems), errors=problems)
    return parsed


_FIELD_NAME = re.compile(r"^details\.[a-z_][a-z0-9_]{0,63}$")


def _without_values(error: FieldError) -> FieldError:
    """msgspec repeats a wrong enum value and an unknown key; details are free-form, so neither is echoed."""
    message = "is not one of the allowed values" if error.message.startswith("Invalid enum value") else error.message
    if not _FIELD_NAME.match(error.field):
        return FieldError("details", "contains a field this group does not take")
    return FieldError(error.field, message)


def _future_dates(details: rules.ClaimDetails, today: dt.date) -> list[FieldError]:
    """Dates that describe the past must not lie in the future.

    A graduation date may lie later in the current year: students can claim in their graduation year
    (DOMAIN §3.1, in-school students get a 就业创业证 through their university).
    """
    if isinstance(details, rules.CollegeGraduateDetails):
        if details.graduation_on > dt.date(today.year, 12, 31):
            return [FieldError("details.graduation_on", "must not be later than this calendar year")]
        return []
    past: dict[str, dt.date | None] = {}
    if isinstance(details, rules.LaidOffUnemployedDetails):
        past["registered_unemployed_since"] = details.registered_unemployed_since
    elif isinstance(details, rules.MigrantWorkerDetails):
        past["returned_on"] = details.returned_on
    else:
        past["since"] = details.since
    return [
        FieldError(f"details.{name}", "must not be in the future")
        for name, value in past.items()
        if value is not None and value > today
    ]


# One statement, one round trip: the vendor in the caller's scope, the evidence the caller may use, the claim
# and its evidence rows. Nothing is inserted unless the vendor is in scope and every document is usable.
# Parameters: $1 vendor, $2 the staff member's jurisdiction (NULL for the vendor themselves), $3 document ids,
# $4 acting account, $5 claim id, $6 key group, $7 details (JSON text), $8 number of documents.
_SUBMIT_SQL: Final = """
WITH vendor AS (
    SELECT v.id, v.account_id, v.residence_jurisdiction_code
    FROM registry_vendor AS v
    WHERE v.id = $1 AND ($2::varchar IS NULL OR v.residence_jurisdiction_code = $2)
),
usable AS (
    SELECT count(*) AS n
    FROM registry_document AS d, vendor
    WHERE d.id = ANY($3::uuid[]) AND d.owner_account_id IN (vendor.account_id, $4)
),
claim AS (
    INSERT INTO registry_key_group_claim (id, vendor_id, jurisdiction_code, key_group, details, submitted_by)
    SELECT $5, vendor.id, vendor.residence_jurisdiction_code, $6, $7::jsonb, $4
    FROM vendor, usable
    WHERE usable.n = $8
    RETURNING jurisdiction_code, status, version, submitted_at
),
evidence AS (
    INSERT INTO registry_key_group_claim_evidence (claim_id, document_id)
    SELECT $5, document_id FROM claim, unnest($3::uuid[]) AS document_id
)
SELECT (SELECT count(*) FROM vendor) AS vendor_found, claim.*
FROM (VALUES (1)) AS one LEFT JOIN claim ON true
"""
_EVIDENCE_FK: Final = "fk_registry_key_group_claim_evidence_document_id_registry_document"
_ONE_PENDING: Final = "uq_registry_key_group_claim_pending"


async def submit_claim(
    session: AsyncSession,
    principal: Principal,
    *,
    vendor_id: uuid.UUID,
    group: str,
    details: dict[str, Any],
    evidence_document_ids: Sequence[uuid.UUID],
    today: dt.date,
) -> ClaimRecord:
    """Record a vendor's claim to a key group, pending a street office's decision.

    The vendor claims for themselves, or staff of their residence jurisdiction claim on their behalf.
    Evidence must be the vendor's own documents (or uploaded by the staff member acting): a document
    that is missing and one that is someone else's get the same refusal, so neither is revealed. A second
    pending claim to the same group is a 409 `claim_pending` (a partial unique index decides races).

    A hot write (benchmarked against a raw asyncpg insert), so the whole check-and-insert is one statement
    sent straight through the session's driver connection: no SQLAlchemy statement layer, and no BEGIN and
    COMMIT round trips when the session has no transaction open yet (one statement is atomic on its own).
    If the session already has one open (an earlier write, or the tests' outer transaction), the statement
    joins it.
    """
    require_role(principal, "vendor", "street_office")
    if principal.role == "vendor" and principal.vendor_id != vendor_id:
        raise VendorNotFound()
    parsed = parse_details(group, details, today=today)
    stored = msgspec.to_builtins(parsed)
    document_ids = list(dict.fromkeys(evidence_document_ids))
    claim_id = uuid.uuid4()
    driver = await _driver_connection(session)
    try:
        row = await driver.fetchrow(
            _SUBMIT_SQL,
            vendor_id,
            principal.jurisdiction_code if principal.role == "street_office" else None,
            document_ids,
            principal.account_id,
            claim_id,
            group,
            msgspec.json.encode(stored).decode(),
            len(document_ids),
        )
    except ForeignKeyViolationError as exc:
        # A document deleted between the check and the insert of this very statement.
        if exc.constraint_name != _EVIDENCE_FK:
            raise
        row = None
    except UniqueViolationError as exc:
        # The partial unique index: at most one pending claim per vendor and group, also under concurrency.
        if exc.constraint_name != _ONE_PENDING:
            raise
        raise ClaimPending("Wait for the street office's decision on the pending claim to this group") from None
    if row is not None and not row["vendor_found"]:
        raise VendorNotFound()
    if row is None or row["submitted_at"] is None:
        raise InvalidInput.for_field(
            "evidence_document_ids", "every document must exist and be yours (or uploaded by you for this vendor)"
        )
    return ClaimRecord(
        id=claim_id,
        vendor_id=vendor_id,
        jurisdiction_code=row["jurisdiction_code"],
        key_group=group,
        details=stored,
        status=row["status"],
        valid_until=None,
        version=row["version"],
        submitted_at=row["submitted_at"],
        evidence_document_ids=document_ids,
    )


async def _driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session's connection (checked out from the pool if need be)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


# --- reading --------------------------------------------------------------------------------------------------


def _claim_columns() -> list[Any]:
    evidence = (
        select(func.coalesce(func.array_agg(KeyGroupClaimEvidence.document_id), text("'{}'::uuid[]")))
        .where(KeyGroupClaimEvidence.claim_id == KeyGroupClaim.id)
        .scalar_subquery()
    )
    return [
        KeyGroupClaim.id,
        KeyGroupClaim.vendor_id,
        KeyGroupClaim.jurisdiction_code,
        KeyGroupClaim.key_group,
        KeyGroupClaim.details,
        KeyGroupClaim.status,
        KeyGroupClaim.valid_until,
        KeyGroupClaim.version,
        KeyGroupClaim.submitted_at,
        evidence.label("evidence_document_ids"),
        KeyGroupDecision.decided_at,
        KeyGroupDecision.reason.label("decision_reason"),
    ]


def _select_claims() -> Any:
    return select(*_claim_columns()).outerjoin(KeyGroupDecision, KeyGroupDecision.claim_id == KeyGroupClaim.id)


def _record(row: Row[Any]) -> ClaimRecord:
    return msgspec.convert(row._mapping, ClaimRecord)


def _in_scope(principal: Principal) -> Any:
    """The claims a caller may see: their own (vendor), their jurisdiction's (street office), all (admin)."""
    require_role(principal, "vendor", "street_office", "admin")
    if principal.role == "vendor":
        return KeyGroupClaim.vendor_id == principal.vendor_id if principal.vendor_id else False
    if principal.role == "street_office":
        return KeyGroupClaim.jurisdiction_code == principal.jurisdiction_code
    return True


async def get_claim(
    session: AsyncSession, principal: Principal, claim_id: uuid.UUID, *, request_path: str, purpose: str | None = None
) -> ClaimRecord:
    """One claim in the caller's scope (404 outside it); a staff read is logged as personal-data access."""
    row = (await session.execute(_select_claims().where(KeyGroupClaim.id == claim_id, _in_scope(principal)))).first()
    if row is None:
        raise ClaimNotFound()
    record = _record(row)
    await record_personal_data_access(
        session,
        principal=principal,
        vendor_ids=[record.vendor_id],
        fields=ACCESS_FIELDS,
        purpose=purpose or "review key-group claim",
        request_path=request_path,
    )
    return record


async def list_claims(
    session: AsyncSession,
    principal: Principal,
    *,
    limit: int,
    after: tuple[dt.datetime, uuid.UUID] | None = None,
    status: ClaimStatus | None = None,
    group: str | None = None,
    request_path: str,
    purpose: str | None = None,
) -> list[ClaimRecord]:
    """Claims in the caller's scope, oldest first (a review queue); staff reads are logged per vendor."""
    query = _select_claims().where(_in_scope(principal))
    if status is not None:
        query = query.where(KeyGroupClaim.status == status)
    if group is not None:
        query = query.where(KeyGroupClaim.key_group == group)
    if after is not None:
        query = query.where(tuple_(KeyGroupClaim.submitted_at, KeyGroupClaim.id) > tuple_(*after))
    query = query.order_by(KeyGroupClaim.submitted_at, KeyGroupClaim.id).limit(limit)
    records = [_record(row) for row in await session.execute(query)]
    await record_personal_data_access(
        session,
        principal=principal,
        vendor_ids=[record.vendor_id for record in records],
        fields=ACCESS_FIELDS,
        purpose=purpose or "review key-group claims",
        request_path=request_path,
    )
    return records


# --- deciding -------------------------------------------------------------------------------------------------


def check_decision(decision: Decision, *, valid_until: dt.date | None, reason: str | None, today: dt.date) -> None:
    """A verification lasts from today to a date at most MAX_VALIDITY_YEARS ahead; a rejection says why."""
    if decision == "verified":
        if valid_until is None:
            raise InvalidInput.for_field("valid_until", "is required to verify a claim")
        if valid_until < today:
            raise InvalidInput.for_field("valid_until", "must be today or later")
        if valid_until > rules.add_months(today, 12 * MAX_VALIDITY_YEARS):
            raise InvalidInput.for_field("valid_until", f"must be at most {MAX_VALIDITY_YEARS} years ahead")
    else:
        if valid_until is not None:
            raise InvalidInput.for_field("valid_until", "is only for verified claims")
        if reason is None or not reason.strip():
            raise InvalidInput.for_field("reason", "is required to reject a claim")


# The decision row and the claim's mirror of it in one statement; `status = 'pending'` in the UPDATE is
# what makes concurrent deciders safe (the losers find the row no longer pending once the winner commits),
# and the unique constraint on the decision's claim_id backs it up.
_DECIDE = text(
    """
WITH claim AS (
    UPDATE registry_key_group_claim
    SET status = :decision, valid_until = :valid_until, version = version + 1
    WHERE id = :claim_id AND jurisdiction_code = :jurisdiction_code AND status = 'pending'
      AND (CAST(:expected_versions AS integer[]) IS NULL OR version = ANY(:expected_versions))
    RETURNING id
),
decision AS (
    INSERT INTO registry_key_group_decision (id, claim_id, decision, valid_until, reason, decided_by)
    SELECT :decision_id, claim.id, :decision, :valid_until, :reason, :actor_id FROM claim
    RETURNING claim_id
)
SELECT claim_id FROM decision
"""
).bindparams(
    bindparam("claim_id", type_=Uuid()),
    bindparam("decision_id", type_=Uuid()),
    bindparam("actor_id", type_=Uuid()),
    bindparam("jurisdiction_code", type_=String()),
    bindparam("decision", type_=String()),
    bindparam("reason", type_=String()),
    bindparam("valid_until", type_=Date()),
    bindparam("expected_versions", type_=ARRAY(Integer())),
)


async def decide_claim(
    session: AsyncSession,
    principal: Principal,
    claim_id: uuid.UUID,
    *,
    decision: Decision,
    valid_until: dt.date | None,
    reason: str | None,
    today: dt.date,
    expected_versions: Collection[int] | None = None,
    request_path: str,
) -> ClaimRecord:
    """Verify or reject a pending claim: a decision row (who, when, why) and the claim's new status at once.

    Only staff of the claim's jurisdiction decide; admins are refused too (separation of duties). A second
    decision is a 409 `claim_already_decided`, also when two staff members decide at the same moment.
    `expected_versions` holds the versions an `If-Match` header named: when given, a claim at another
    version is a 412. Leaving it out is allowed: the pending-only rule already prevents lost updates.
    """
    require_role(principal, "street_office")
    check_decision(decision, valid_until=valid_until, reason=reason, today=today)
    try:
        decided = await session.scalar(
            _DECIDE,
            {
                "claim_id": claim_id,
                "decision_id": uuid.uuid4(),
                "actor_id": principal.account_id,
                "jurisdiction_code": principal.jurisdiction_code,
                "decision": decision,
                "valid_until": valid_until,
                "reason": reason.strip() if reason else None,
                "expected_versions": list(expected_versions) if expected_versions is not None else None,
            },
        )
    except IntegrityError as exc:
        if constraint_name(exc) == "uq_registry_key_group_decision_claim_id":
            raise ClaimAlreadyDecided() from None
        raise
    if decided is None:
        await _explain_refused_decision(session, principal, claim_id, expected_versions)
    return await get_claim(session, principal, claim_id, request_path=request_path)


async def _explain_refused_decision(
    session: AsyncSession, principal: Principal, claim_id: uuid.UUID, expected_versions: Collection[int] | None
) -> None:
    """Why the conditional update touched nothing: out of scope (404), stale If-Match (412) or decided (409)."""
    row = (
        await session.execute(
            select(KeyGroupClaim.status, KeyGroupClaim.version).where(
                KeyGroupClaim.id == claim_id, KeyGroupClaim.jurisdiction_code == principal.jurisdiction_code
            )
        )
    ).first()
    if row is None:
        raise ClaimNotFound()
    # RFC 9110 §13.2.2: preconditions are evaluated before the method's own rules.
    if expected_versions is not None and row.version not in expected_versions:
        raise PreconditionFailed(f"The claim is at version {row.version}", headers={"ETag": f'"{row.version}"'})
    raise ClaimAlreadyDecided(f"This claim is already {row.status}")


# --- what verified claims give --------------------------------------------------------------------------------


async def verified_claims(session: AsyncSession, vendor_id: uuid.UUID, on: dt.date) -> list[VerifiedClaim]:
    """The vendor's verified claims still valid on `on` (valid_until is inclusive), by group."""
    rows = await session.execute(
        select(KeyGroupClaim.key_group, KeyGroupClaim.valid_until, KeyGroupClaim.details)
        .where(
            KeyGroupClaim.vendor_id == vendor_id,
            KeyGroupClaim.status == "verified",
            KeyGroupClaim.valid_until >= on,
        )
        .order_by(KeyGroupClaim.key_group, KeyGroupClaim.valid_until.desc())
    )
    return [VerifiedClaim(key_group=r.key_group, valid_until=r.valid_until, details=r.details) for r in rows]


async def verified_key_groups(session: AsyncSession, vendor_id: uuid.UUID, on: dt.date) -> list[str]:
    """The key groups that give this vendor priority on `on`: verified and not expired (sorted, distinct)."""
    rows = await session.scalars(
        select(KeyGroupClaim.key_group)
        .where(
            KeyGroupClaim.vendor_id == vendor_id,
            KeyGroupClaim.status == "verified",
            KeyGroupClaim.valid_until >= on,
        )
        .distinct()
        .order_by(KeyGroupClaim.key_group)
    )
    return list(rows)


async def vendor_entitlements(
    session: AsyncSession,
    principal: Principal,
    vendor_id: uuid.UUID,
    *,
    on: dt.date,
    request_path: str,
    purpose: str | None = None,
    policies: Sequence[Policy] | None = None,
) -> rules.Judgement:
    """The supports a vendor qualifies for on `on`, and the others with the reasons (vendor, their staff, admin).

    Built from the vendor's facts and their verified, unexpired claims only; self-declarations never count.
    """
    vendor = await get_vendor_in_scope(session, principal, vendor_id)
    facts = rules.VendorFacts(
        birth_on=vendor.birth_on,
        sex=vendor.sex,
        business_registered_on=vendor.business_registered_on,
        claims=tuple(_fact(claim) for claim in await verified_claims(session, vendor_id, on)),
    )
    await record_personal_data_access(
        session,
        principal=principal,
        vendor_ids=[vendor_id],
        fields=("key_group", "details", "birth_on", "sex", "business_registered_on"),
        purpose=purpose or "entitlement check",
        request_path=request_path,
    )
    return rules.judge(policies_in_force(on) if policies is None else policies, facts, on)


def _fact(claim: VerifiedClaim) -> rules.ClaimFact:
    try:
        details: rules.ClaimDetails | None = msgspec.convert(claim.details, rules.DETAILS_TYPES[claim.key_group])
    except (msgspec.ValidationError, KeyError):
        details = None  # stored before a shape changed: the rules that need details say so
    return rules.ClaimFact(group=claim.key_group, valid_until=claim.valid_until, details=details)

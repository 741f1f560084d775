"""Key-group claims: a vendor says they belong to a key group, street-office staff verify or reject it.

Only a verified claim whose `valid_until` has not passed gives priority or support (API.md "Registry").
Who may see a claim: the vendor themselves, staff of the jurisdiction the claim was made in, admins; anyone
else gets 404. Key-group status is sensitive personal information (PIPL Art. 28), so staff reads are logged.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from typing import Any, Final

import msgspec
from sqlalchemy import Date, DateTime, Integer, Row, String, any_, bindparam, func, or_, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from core.auth import Principal, require_role
from core.conditional import Precondition, etag
from core.db import execute_or_raise, fetchrow_or_raise
from core.errors import FieldError, InvalidInput, PreconditionFailed
from core.pagination import Page, keyset_page
from core.validation import body_errors
from registry import entitlements as rules
from registry.access import get_vendor_in_scope, readable_claims, record_personal_data_access
from registry.errors import ClaimAlreadyDecided, ClaimNotFound, ClaimPending, VendorNotFound
from registry.models import ClaimDecision, ClaimStatus, KeyGroupClaim, KeyGroupClaimEvidence, KeyGroupDecision, Vendor
from registry.policies import KeyGroup, Policy, default_verification_months, policies_in_force, registration_rules

__all__ = ["ClaimDecision", "ClaimStatus"]

MAX_EVIDENCE_DOCUMENTS: Final = 20
ACCESS_FIELDS: Final = ("name", "id_number_masked", "key_group", "details")
LIST_ACCESS_FIELDS: Final = ACCESS_FIELDS


class ClaimRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A claim as its readers see it: the claim, its evidence and the decision on it (if any)."""

    id: uuid.UUID
    vendor_id: uuid.UUID
    vendor_name: str
    vendor_id_number_masked: str
    jurisdiction_code: str
    key_group: KeyGroup
    details: dict[str, Any]
    status: ClaimStatus
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
    shape = rules.DETAILS_TYPES[group]
    try:
        parsed = msgspec.convert(details, shape, strict=True)
    except msgspec.ValidationError as exc:
        errors = [
            _without_values(FieldError(f"details.{e.field}", e.message)) for e in body_errors(shape, details, exc)
        ]
        raise InvalidInput("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors) from None
    problems = _future_dates(parsed, today)
    if problems:
        raise InvalidInput("; ".join(f"{p.field}: {p.message}" for p in problems), errors=problems)
    return parsed


_FIELD_NAME = re.compile(r"^details\.[a-z_][a-z0-9_]{0,63}$")


def _without_values(error: FieldError) -> FieldError:
    """An unknown key of the details is not repeated unless it looks like a field name (details are free-form)."""
    message = error.message
    if not _FIELD_NAME.match(error.field.split("[", 1)[0]):
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


def needs_identity_check(details: rules.ClaimDetails) -> bool:
    """Claims whose category the ID number can prove or disprove (DOMAIN §3.2: "4050" is derived, not typed)."""
    return isinstance(details, rules.EmploymentDifficultyDetails) and details.category == "over_40_female_over_50_male"


def check_identity(details: rules.ClaimDetails, *, birth_on: dt.date, sex: str, today: dt.date) -> None:
    """Refuse a "4050" claim the claimant's ID number contradicts: women from 40, men from 50, on the claim's day."""
    if not needs_identity_check(details):
        return
    needed = rules.AGE_4050.get(sex)
    if needed is None or rules.age_on(birth_on, today) < needed:
        message = (
            "over_40_female_over_50_male needs a woman aged 40 or more or a man aged 50 or more; "
            "the ID number shows otherwise"
        )
        raise InvalidInput.for_field("details.category", message)


# One statement: the vendor in the caller's scope, the evidence the caller may use, the claim and its evidence
# rows. Nothing is inserted unless the vendor is in scope and every document is usable. It runs on the
# request's connection and in its transaction like every other write (core.db.fetchrow_or_raise), so a
# request that fails afterwards leaves no claim behind. Parameters: $1 vendor, $2 the staff member's
# jurisdiction (NULL for the vendor themselves), $3 document ids, $4 acting account, $5 claim id, $6 key
# group, $7 details (JSON text), $8 number of documents, $9 when it was filed (the service's clock, which a draw
# compares with its close: the database's own now() would ignore a test's or a replay's clock).
SUBMIT_SQL: Final = """
WITH vendor AS (
    SELECT v.id, v.account_id, v.residence_jurisdiction_code, v.name, v.id_number_masked
    FROM registry_vendor AS v
    WHERE v.id = $1 AND ($2::varchar IS NULL OR v.residence_jurisdiction_code = $2)
),
usable AS (
    SELECT count(*) AS n
    FROM registry_document AS d, vendor
    WHERE d.id = ANY($3::uuid[]) AND d.owner_account_id IN (vendor.account_id, $4)
),
claim AS (
    INSERT INTO registry_key_group_claim (id, vendor_id, jurisdiction_code, key_group, details, submitted_by,
                                          submitted_at)
    SELECT $5, vendor.id, vendor.residence_jurisdiction_code, $6, $7::jsonb, $4, $9::timestamptz
    FROM vendor, usable
    WHERE usable.n = $8
    RETURNING jurisdiction_code, status, version, submitted_at
),
evidence AS (
    INSERT INTO registry_key_group_claim_evidence (claim_id, document_id)
    SELECT $5, document_id FROM claim, unnest($3::uuid[]) AS document_id
)
SELECT vendor.id IS NOT NULL AS vendor_found, vendor.name AS vendor_name,
       vendor.id_number_masked AS vendor_id_number_masked, claim.*
FROM (VALUES (1)) AS one LEFT JOIN vendor ON true LEFT JOIN claim ON true
"""
_EVIDENCE_FK: Final = "fk_registry_key_group_claim_evidence_document_id_registry_document"
_ONE_PENDING: Final = "uq_registry_key_group_claim_pending"


async def submit_claim(
    session: AsyncSession,
    principal: Principal,
    *,
    vendor_id: uuid.UUID,
    group: KeyGroup,
    details: dict[str, Any],
    evidence_document_ids: Sequence[uuid.UUID],
    today: dt.date,
    now: dt.datetime,
) -> ClaimRecord:
    """Record a vendor's claim to a key group, pending a street office's decision, filed at `now`.

    The vendor claims for themselves, or staff of their residence jurisdiction claim on their behalf.
    Evidence must be the vendor's own documents (or uploaded by the staff member acting): a document
    that is missing and one that is someone else's get the same refusal, so neither is revealed. A second
    pending claim to the same group is a 409 `claim_pending` (a partial unique index decides races).
    What the ID number proves is checked against what the claim states (a "4050" category needs the age).

    A hot write (benchmarked against a raw asyncpg endpoint running the same statement in a transaction):
    the whole check-and-insert is one statement, sent to the driver on the request's connection and in its
    transaction, without SQLAlchemy's statement layer.
    """
    require_role(principal, "vendor", "street_office")
    if principal.role == "vendor" and principal.vendor_id != vendor_id:
        raise VendorNotFound()
    parsed = parse_details(group, details, today=today)
    if needs_identity_check(parsed):
        vendor = await get_vendor_in_scope(session, principal, vendor_id)
        check_identity(parsed, birth_on=vendor.birth_on, sex=vendor.sex, today=today)
    stored = msgspec.to_builtins(parsed)
    document_ids = list(dict.fromkeys(evidence_document_ids))
    claim_id = uuid.uuid4()
    row = await fetchrow_or_raise(
        session,
        SUBMIT_SQL,
        vendor_id,
        principal.jurisdiction_code if principal.role == "street_office" else None,
        document_ids,
        principal.account_id,
        claim_id,
        group,
        msgspec.json.encode(stored).decode(),
        len(document_ids),
        now,
        errors={_ONE_PENDING: _pending, _EVIDENCE_FK: _unusable_evidence},
    )
    if row is not None and not row["vendor_found"]:
        raise VendorNotFound()
    if row is None or row["submitted_at"] is None:
        raise _unusable_evidence()
    return ClaimRecord(
        id=claim_id,
        vendor_id=vendor_id,
        vendor_name=row["vendor_name"],
        vendor_id_number_masked=row["vendor_id_number_masked"],
        jurisdiction_code=row["jurisdiction_code"],
        key_group=group,
        details=stored,
        status=row["status"],
        valid_until=None,
        version=row["version"],
        submitted_at=row["submitted_at"],
        evidence_document_ids=document_ids,
    )


def _pending() -> ClaimPending:
    # The partial unique index: at most one pending claim per vendor and group, also under concurrency.
    return ClaimPending("Wait for the street office's decision on the pending claim to this group")


def _unusable_evidence() -> InvalidInput:
    # Also a document deleted between the check and the insert of this very statement (the evidence FK).
    return InvalidInput.for_field(
        "evidence_document_ids", "every document must exist and be yours (or uploaded by you for this vendor)"
    )


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
        Vendor.name.label("vendor_name"),
        Vendor.id_number_masked.label("vendor_id_number_masked"),
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


def _select_claims(principal: Principal) -> Any:
    return (
        select(*_claim_columns())
        .join(Vendor, Vendor.id == KeyGroupClaim.vendor_id)
        .outerjoin(KeyGroupDecision, KeyGroupDecision.claim_id == KeyGroupClaim.id)
        .where(readable_claims(principal))
    )


def _record(row: Row[Any]) -> ClaimRecord:
    return msgspec.convert(row._mapping, ClaimRecord)


async def get_claim(
    session: AsyncSession, principal: Principal, claim_id: uuid.UUID, *, request_path: str, purpose: str | None = None
) -> ClaimRecord:
    """One claim in the caller's scope (404 outside it); a staff read is logged as personal-data access."""
    row = (await session.execute(_select_claims(principal).where(KeyGroupClaim.id == claim_id))).first()
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
    cursor: str | None = None,
    status: ClaimStatus | None = None,
    group: str | None = None,
    request_path: str,
    purpose: str | None = None,
) -> Page[ClaimRecord]:
    """Claims in the caller's scope, oldest first (a review queue, with each vendor's name and masked ID
    number so a console needs no request per claim); staff reads are logged per vendor."""
    query = _select_claims(principal)
    if status is not None:
        query = query.where(KeyGroupClaim.status == status)
    if group is not None:
        query = query.where(KeyGroupClaim.key_group == group)
    page = await keyset_page(
        session,
        query,
        (KeyGroupClaim.submitted_at, KeyGroupClaim.id),
        limit=limit,
        cursor=cursor,
        convert=_record,
        key=lambda record: (record.submitted_at, record.id),
    )
    await record_personal_data_access(
        session,
        principal=principal,
        vendor_ids=[record.vendor_id for record in page.items],
        fields=LIST_ACCESS_FIELDS,
        purpose=purpose or "review key-group claims",
        request_path=request_path,
    )
    return page


# --- deciding -------------------------------------------------------------------------------------------------


def verification_end(
    group: str, decision: ClaimDecision, *, valid_until: dt.date | None, reason: str | None, today: dt.date
) -> dt.date | None:
    """When a verification ends: the officer's date (today to the policy's maximum ahead) or, without one, the
    group's default term from the policy data; a rejection ends nothing and must say why."""
    longest = registration_rules().max_verification_years
    if decision == "verified":
        if valid_until is None:
            return rules.add_months(today, default_verification_months(group))
        if valid_until < today:
            raise InvalidInput.for_field("valid_until", "must be today or later")
        if valid_until > rules.add_months(today, 12 * longest):
            raise InvalidInput.for_field("valid_until", f"must be at most {longest} years ahead")
        return valid_until
    if valid_until is not None:
        raise InvalidInput.for_field("valid_until", "is only for verified claims")
    if reason is None or not reason.strip():
        raise InvalidInput.for_field("reason", "is required to reject a claim")
    return None


# The decision row and the claim's mirror of it in one statement. `status = 'pending' AND version = :version`
# is what makes concurrent deciders safe: the loser's UPDATE finds the row changed once the winner commits.
# The unique constraint on the decision's claim_id backs it up.
_DECIDE = text(
    """
WITH claim AS (
    UPDATE registry_key_group_claim
    SET status = :decision, valid_until = :valid_until, version = version + 1
    WHERE id = :claim_id AND status = 'pending' AND version = :version
    RETURNING id
),
decision AS (
    INSERT INTO registry_key_group_decision (id, claim_id, decision, valid_until, reason, decided_by, decided_at)
    SELECT :decision_id, claim.id, :decision, :valid_until, :reason, :actor_id, :decided_at FROM claim
    RETURNING claim_id
)
SELECT claim_id FROM decision
"""
).bindparams(
    bindparam("claim_id", type_=Uuid()),
    bindparam("decision_id", type_=Uuid()),
    bindparam("actor_id", type_=Uuid()),
    bindparam("decision", type_=String()),
    bindparam("reason", type_=String()),
    bindparam("valid_until", type_=Date()),
    bindparam("version", type_=Integer()),
    bindparam("decided_at", type_=DateTime(timezone=True)),
)


async def decide_claim(
    session: AsyncSession,
    principal: Principal,
    claim_id: uuid.UUID,
    *,
    decision: ClaimDecision,
    valid_until: dt.date | None,
    reason: str | None,
    today: dt.date,
    now: dt.datetime,
    precondition: Precondition,
    request_path: str,
) -> ClaimRecord:
    """Verify or reject a pending claim: a decision row (who, when, why) and the claim's new status at once.

    In this order (RFC 9110 §13.2.1): only staff of the claim's jurisdiction find it (404 for anyone else,
    whatever headers they sent; admins are refused with 403, separation of duties); then If-Match must name
    its current version (428 absent, 412 stale); then a decided claim is a 409 `claim_already_decided`; then
    the decision's own fields are checked (422). Of two officers deciding at once with the same ETag, the
    loser is told the claim changed (412, with its new ETag).
    """
    require_role(principal, "street_office")
    current = (
        await session.execute(
            select(KeyGroupClaim.key_group, KeyGroupClaim.status, KeyGroupClaim.version).where(
                KeyGroupClaim.id == claim_id, readable_claims(principal)
            )
        )
    ).first()
    if current is None:
        raise ClaimNotFound()
    precondition.check(current.version, what="claim")
    if current.status != "pending":
        raise ClaimAlreadyDecided(f"This claim is already {current.status}")
    ends = verification_end(current.key_group, decision, valid_until=valid_until, reason=reason, today=today)
    result = await execute_or_raise(
        session,
        _DECIDE,
        {
            "claim_id": claim_id,
            "decision_id": uuid.uuid4(),
            "actor_id": principal.account_id,
            "decision": decision,
            "valid_until": ends,
            "reason": reason.strip() if reason else None,
            "version": current.version,
            "decided_at": now,
        },
        {"uq_registry_key_group_decision_claim_id": ClaimAlreadyDecided},
    )
    if result.scalar_one_or_none() is None:
        # Another officer decided between our read and our write: the version If-Match named is gone.
        raise PreconditionFailed("The claim was decided by someone else just now", headers=etag(current.version + 1))
    return await get_claim(session, principal, claim_id, request_path=request_path)


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


class KeyGroupsAtClose(msgspec.Struct, frozen=True, kw_only=True):
    """What an allocation draw may use of its applicants' claims (venues.round_results): the groups each vendor holds by
    claims filed before the close, verified (whenever decided) and valid on the close's date; and how many
    claims filed before the close are still undecided, which must block the draw."""

    groups: dict[uuid.UUID, frozenset[str]]
    pending: int


async def key_groups_at_close(
    session: AsyncSession, vendor_ids: Sequence[uuid.UUID], *, closed_at: dt.datetime, close_date: dt.date
) -> KeyGroupsAtClose:
    """The key groups that give these vendors priority in a round closing at `closed_at` (on `close_date`, the
    city's date), and the count of their claims filed before the close still pending.

    A claim filed after the close never counts, and one filed before counts once decided: so no one gains or
    loses priority by when staff happen to decide, only by what was claimed in time. One query for any number
    of vendors (an array parameter, not one bind per id).
    """
    if not vendor_ids:
        return KeyGroupsAtClose(groups={}, pending=0)
    ids = bindparam("vendor_ids", value=list(vendor_ids), type_=ARRAY(Uuid()))
    rows = await session.execute(
        select(KeyGroupClaim.vendor_id, KeyGroupClaim.key_group, KeyGroupClaim.status).where(
            KeyGroupClaim.vendor_id == any_(ids),
            KeyGroupClaim.submitted_at < closed_at,
            or_(
                KeyGroupClaim.status == "pending",
                (KeyGroupClaim.status == "verified") & (KeyGroupClaim.valid_until >= close_date),
            ),
        )
    )
    groups: dict[uuid.UUID, set[str]] = {}
    pending = 0
    for vendor_id, key_group, status in rows:
        if status == "pending":
            pending += 1
        else:
            groups.setdefault(vendor_id, set()).add(key_group)
    return KeyGroupsAtClose(groups={vendor: frozenset(held) for vendor, held in groups.items()}, pending=pending)

"""Key-group claims and entitlements.

POST /vendors/{id}/key-group-claims, GET /key-group-claims, GET /key-group-claims/{id},
POST /key-group-claims/{id}/decision and GET /vendors/{id}/entitlements.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter

from core.auth import requires
from core.deps import CurrentPrincipal, DbSession
from core.errors import PreconditionFailed, PreconditionRequired
from core.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor
from registry import claims as service
from registry import entitlements as rules
from registry.api.params import Purpose, city_today

KeyGroup = rules.KeyGroup


_DETAILS_DOC = (
    "Depends on `group`; unknown fields are refused. laid_off_unemployed: registered_unemployed_since (date). "
    "college_graduate: graduation_on (date; later this year for students), "
    "institution?, chsi_verification_code?. migrant_worker: hukou_village_code? (12 digits), returned_on? (date). "
    "employment_difficulty: category (over_40_female_over_50_male, zero_employment_family, minimum_living_allowance, "
    "disability, long_term_unemployed, landless_farmer, single_parent, other), since (date). "
    "Certificate numbers (就业创业证) are not taken: they are ID numbers in practice; the evidence carries them."
)


class SubmitClaim(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A key-group claim; evidence may be left out where a written commitment stands in (告知承诺制)."""

    group: KeyGroup
    details: Annotated[dict[str, Any], msgspec.Meta(description=_DETAILS_DOC)]
    evidence_document_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=service.MAX_EVIDENCE_DOCUMENTS)] = []


class DecideClaim(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`verified` needs `valid_until` (today to 5 years ahead); `rejected` needs a `reason`."""

    decision: service.Decision
    valid_until: dt.date | None = None
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)] | None = None


class ClaimOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    vendor_id: uuid.UUID
    jurisdiction_code: str
    group: str
    status: str
    details: dict[str, Any]
    evidence_document_ids: list[uuid.UUID]
    submitted_at: dt.datetime
    valid_until: dt.date | None
    version: int
    decided_at: dt.datetime | None
    decision_reason: str | None


class ClaimPage(msgspec.Struct, kw_only=True):
    items: list[ClaimOut]
    next_cursor: str | None


class EntitlementsOut(msgspec.Struct, kw_only=True):
    """`items`: the supports the vendor qualifies for today; `not_yet_eligible`: the others, with reasons."""

    on: dt.date
    items: list[rules.Entitlement]
    not_yet_eligible: list[rules.Entitlement]


def _claim_out(record: service.ClaimRecord) -> ClaimOut:
    return ClaimOut(
        id=record.id,
        vendor_id=record.vendor_id,
        jurisdiction_code=record.jurisdiction_code,
        group=record.key_group,
        status=record.status,
        details=record.details,
        evidence_document_ids=record.evidence_document_ids,
        submitted_at=record.submitted_at,
        valid_until=record.valid_until,
        version=record.version,
        decided_at=record.decided_at,
        decision_reason=record.decision_reason,
    )


def _etag(record: service.ClaimRecord) -> dict[str, str]:
    return {"ETag": f'"{record.version}"'}


_STRONG_TAG = re.compile(r'^"(\d{1,9})"$')


def expected_versions(if_match: str | None) -> frozenset[int]:
    """The claim versions an If-Match header accepts (API.md: decisions on versioned resources need it).

    Decisions compare strongly (RFC 9110 §13.1.1): a weak tag never matches, and `*` is refused (428)
    because it would accept whatever another officer just did.
    """
    if if_match is None:
        raise PreconditionRequired("Send the claim's ETag (from GET /key-group-claims/{id}) in If-Match")
    tags = [tag.strip() for tag in if_match.split(",") if tag.strip()]
    if "*" in tags:
        raise PreconditionRequired("Send the claim's ETag in If-Match, not *")
    versions = frozenset(int(match.group(1)) for tag in tags if (match := _STRONG_TAG.match(tag)))
    if not versions:
        raise PreconditionFailed("If-Match names no current version of this claim")
    return versions


class ClaimController(Controller):
    path = "/"
    tags = ("key-group claims",)
    security = [{"bearer": []}]

    @post(
        "/vendors/{vendor_id:uuid}/key-group-claims",
        summary="Claim a key group (the vendor, or street office of their residence on their behalf)",
        guards=[requires("vendor", "street_office")],
    )
    async def submit_claim(
        self,
        request: Request[Any, Any, Any],
        vendor_id: FromPath[uuid.UUID],
        data: JSONBody[SubmitClaim],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> Response[ClaimOut]:
        record = await service.submit_claim(
            session,
            principal,
            vendor_id=vendor_id,
            group=data.group,
            details=data.details,
            evidence_document_ids=data.evidence_document_ids,
            today=city_today(request),
        )
        headers = {"Location": f"/api/v1/key-group-claims/{record.id}", **_etag(record)}
        return Response(_claim_out(record), status_code=201, headers=headers)

    @get(
        "/key-group-claims",
        summary="List key-group claims (street office: its jurisdiction; admin: all; vendor: their own)",
        guards=[requires("vendor", "street_office", "admin")],
    )
    async def list_claims(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentPrincipal,
        session: DbSession,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        status: Annotated[
            service.ClaimStatus | None, QueryParameter(description="pending, verified or rejected")
        ] = None,
        group: Annotated[KeyGroup | None, QueryParameter(description="A key group")] = None,
        purpose: Purpose = None,
    ) -> ClaimPage:
        after = decode_cursor(cursor, dt.datetime, uuid.UUID) if cursor else None
        records = await service.list_claims(
            session,
            principal,
            limit=limit + 1,
            after=(after[0], after[1]) if after else None,
            status=status,
            group=group,
            request_path=request.url.path,
            purpose=purpose,
        )
        page = records[:limit]
        next_cursor = encode_cursor(page[-1].submitted_at, page[-1].id) if len(records) > limit else None
        return ClaimPage(items=[_claim_out(record) for record in page], next_cursor=next_cursor)

    @get(
        "/key-group-claims/{claim_id:uuid}",
        summary="One key-group claim, with its ETag",
        guards=[requires("vendor", "street_office", "admin")],
    )
    async def get_claim(
        self,
        request: Request[Any, Any, Any],
        claim_id: FromPath[uuid.UUID],
        principal: CurrentPrincipal,
        session: DbSession,
        purpose: Purpose = None,
    ) -> Response[ClaimOut]:
        record = await service.get_claim(session, principal, claim_id, request_path=request.url.path, purpose=purpose)
        return Response(_claim_out(record), headers=_etag(record))

    @post(
        "/key-group-claims/{claim_id:uuid}/decision",
        summary="Verify or reject a pending claim (street office of the claim's jurisdiction only)",
        status_code=200,
        guards=[requires("street_office")],
    )
    async def decide_claim(
        self,
        request: Request[Any, Any, Any],
        claim_id: FromPath[uuid.UUID],
        data: JSONBody[DecideClaim],
        principal: CurrentPrincipal,
        session: DbSession,
        if_match: Annotated[
            str | None,
            HeaderParameter(name="If-Match", description="The claim's ETag (required: absent 428, stale 412)"),
        ] = None,
    ) -> Response[ClaimOut]:
        """Decide a claim once. Admins are refused (separation of duties: staff who know the case decide).

        `If-Match` is required (absent 428, stale 412), as for every decision on a versioned resource; and a
        claim is decided only while pending, so a decision never overwrites another (409 `claim_already_decided`).
        """
        record = await service.decide_claim(
            session,
            principal,
            claim_id,
            decision=data.decision,
            valid_until=data.valid_until,
            reason=data.reason,
            today=city_today(request),
            expected_versions=expected_versions(if_match),
            request_path=request.url.path,
        )
        return Response(_claim_out(record), headers=_etag(record))

    @get(
        "/vendors/{vendor_id:uuid}/entitlements",
        summary="Supports the vendor qualifies for today (and those they do not yet, with reasons)",
        guards=[requires("vendor", "street_office", "admin")],
    )
    async def entitlements(
        self,
        request: Request[Any, Any, Any],
        vendor_id: FromPath[uuid.UUID],
        principal: CurrentPrincipal,
        session: DbSession,
        purpose: Purpose = None,
    ) -> EntitlementsOut:
        today = city_today(request)
        judgement = await service.vendor_entitlements(
            session, principal, vendor_id, on=today, request_path=request.url.path, purpose=purpose
        )
        return EntitlementsOut(on=today, items=judgement.eligible, not_yet_eligible=judgement.not_yet_eligible)

"""Key-group claims and entitlements.

POST /vendors/{id}/key-group-claims, GET /key-group-claims, GET /key-group-claims/{id},
POST /key-group-claims/{id}/decision and GET /vendors/{id}/entitlements.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from core.auth import requires
from core.conditional import IF_MATCH_OPT, etag
from core.deps import CurrentPrincipal, DbSession, IfMatch
from core.openapi import ETAG_HEADER, PROBLEMS_OPT
from core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, page_of
from core.text import free_text
from registry import claims as service
from registry import entitlements as rules
from registry.api.params import Purpose, city_today
from registry.errors import ClaimAlreadyDecided, ClaimNotFound, ClaimPending, VendorNotFound
from registry.models import ClaimDecision, ClaimStatus

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
    """`verified` may name `valid_until` (from today to the longest term the policy data allows, 5 years now;
    without it the group's default term from the policy data applies); `rejected` needs a `reason`, which may
    run over several lines."""

    decision: ClaimDecision
    valid_until: dt.date | None = None
    reason: Annotated[str, free_text(2000)] | None = None


class ClaimOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    vendor_id: uuid.UUID
    vendor_name: str
    vendor_id_number_masked: str
    jurisdiction_code: str
    group: KeyGroup
    status: ClaimStatus
    details: dict[str, Any]
    evidence_document_ids: list[uuid.UUID]
    submitted_at: dt.datetime
    valid_until: dt.date | None
    version: int
    decided_at: dt.datetime | None
    decision_reason: str | None


class EntitlementsOut(msgspec.Struct, kw_only=True):
    """`items`: the supports the vendor qualifies for today; `not_yet_eligible`: the others, with reasons."""

    on: dt.date
    items: list[rules.Entitlement]
    not_yet_eligible: list[rules.Entitlement]


def _claim_out(record: service.ClaimRecord) -> ClaimOut:
    return ClaimOut(
        id=record.id,
        vendor_id=record.vendor_id,
        vendor_name=record.vendor_name,
        vendor_id_number_masked=record.vendor_id_number_masked,
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
    return etag(record.version)


class ClaimController(Controller):
    path = "/"
    tags = ("key-group claims",)
    security = [{"bearer": []}]

    @post(
        "/vendors/{vendor_id:uuid}/key-group-claims",
        operation_id="submitClaim",
        summary="Claim a key group (the vendor, or street office of their residence on their behalf)",
        guards=[requires("vendor", "street_office")],
        description=(
            "The vendor, or the street office of the vendor's residence on their behalf; others 403. `details` "
            "takes the shape of the `group` (see SubmitClaim). Refuses a vendor outside the caller's reach (404 "
            "`vendor_not_found`), a second pending claim to the same group (409 `claim_pending`), and details "
            "that do not fit the group or evidence the caller may not cite (422 `validation_failed`, naming the "
            "field). Answers 201 with the claim's Location and ETag."
        ),
        opt={PROBLEMS_OPT: (VendorNotFound, ClaimPending)},
        response_headers=[ETAG_HEADER],
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
            now=request.app.state.settings.now(),
        )
        headers = {"Location": f"/api/v1/key-group-claims/{record.id}", **_etag(record)}
        return Response(_claim_out(record), status_code=201, headers=headers)

    @get(
        "/key-group-claims",
        operation_id="listClaims",
        summary="List key-group claims (street office: its jurisdiction; admin: all; vendor: their own)",
        guards=[requires("vendor", "street_office", "admin")],
        description=(
            "Street offices (claims of their jurisdiction), admins (all) and vendors (their own); departments "
            "403. Oldest first, a page at a time, optionally by `status` and `group`. Staff reads are written to "
            "the personal-data access log with their `purpose`."
        ),
    )
    async def list_claims(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentPrincipal,
        session: DbSession,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        status: Annotated[ClaimStatus | None, QueryParameter(description="pending, verified or rejected")] = None,
        group: Annotated[KeyGroup | None, QueryParameter(description="A key group")] = None,
        purpose: Purpose = None,
    ) -> Page[ClaimOut]:
        page = await service.list_claims(
            session,
            principal,
            limit=limit,
            cursor=cursor,
            status=status,
            group=group,
            request_path=request.url.path,
            purpose=purpose,
        )
        return page_of([_claim_out(record) for record in page.items], page)

    @get(
        "/key-group-claims/{claim_id:uuid}",
        operation_id="getClaim",
        summary="One key-group claim, with its ETag",
        guards=[requires("vendor", "street_office", "admin")],
        description=(
            "The claimant, the street office of the claim's jurisdiction and admins; anyone else gets 404 "
            "`claim_not_found`. The ETag is what a decision sends back in If-Match."
        ),
        opt={PROBLEMS_OPT: (ClaimNotFound,)},
        response_headers=[ETAG_HEADER],
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
        operation_id="decideClaim",
        summary="Verify or reject a pending claim (street office of the claim's jurisdiction only)",
        status_code=200,
        guards=[requires("street_office")],
        description=(
            "Street offices of the claim's jurisdiction only: admins are refused too (403, separation of duties),"
            " and another jurisdiction's office gets 404 `claim_not_found`, whether or not it sent If-Match. Send"
            " the claim's ETag in If-Match (absent 428 `precondition_required`, stale 412 `precondition_failed`)."
            " A verification may name `valid_until` (today to 5 years ahead; without it the group's default term"
            " from the policy data applies); a rejection needs a `reason` (422 `validation_failed` otherwise). A"
            " claim is decided once (409 `claim_already_decided`)."
        ),
        opt={IF_MATCH_OPT: True, PROBLEMS_OPT: (ClaimNotFound, ClaimAlreadyDecided)},
    )
    async def decide_claim(
        self,
        request: Request[Any, Any, Any],
        claim_id: FromPath[uuid.UUID],
        data: JSONBody[DecideClaim],
        principal: CurrentPrincipal,
        session: DbSession,
        precondition: IfMatch,
    ) -> Response[ClaimOut]:
        """Decide a claim once. Admins are refused (separation of duties: staff who know the case decide).

        Staff of another jurisdiction get 404 whatever they send. `If-Match` is required (absent 428, stale
        412), as for every decision on a versioned resource; and a claim is decided only while pending, so a
        decision never overwrites another (409 `claim_already_decided`).
        """
        record = await service.decide_claim(
            session,
            principal,
            claim_id,
            decision=data.decision,
            valid_until=data.valid_until,
            reason=data.reason,
            today=city_today(request),
            now=request.app.state.settings.now(),
            precondition=precondition,
            request_path=request.url.path,
        )
        return Response(_claim_out(record), headers=_etag(record))

    @get(
        "/vendors/{vendor_id:uuid}/entitlements",
        operation_id="getEntitlements",
        summary="Supports the vendor qualifies for today (and those they do not yet, with reasons)",
        guards=[requires("vendor", "street_office", "admin")],
        description=(
            "The vendor, the street office of their residence and admins (anyone else 404 `vendor_not_found`): "
            "the supports the vendor qualifies for today, and those they do not yet, each with its reasons and, "
            "where time alone cures it, the day they would qualify."
        ),
        opt={PROBLEMS_OPT: (VendorNotFound,)},
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

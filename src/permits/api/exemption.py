"""Exemption checks: POST /exemption-checks, GET /exemption-checks/{id}, GET /exemption-references/{reference}."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody

from core.deps import DbSession, OptionalPrincipal
from core.errors import InvalidInput
from core.geojson import CoordinateSystem, Point
from core.openapi import PROBLEMS_OPT
from core.settings import Settings
from core.text import matching
from permits import exemption as service
from permits import signing
from permits.errors import ExemptionCheckNotFound, ExemptionReferenceNotFound
from permits.exemption_models import ExemptionCheck
from permits.exemption_types import (
    DayVersion,
    MatchedPlace,
    Outcome,
    Reason,
    RequiredPermit,
    VenueRevisionUsed,
)
from venues.api.road import MAX_PERIODS, ActivityCode, OccupancyPeriod
from venues.designated import index_of
from venues.venues import any_shape

DivisionCode = Annotated[
    str,
    matching(
        r"^[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{3}([0-9]{3})?)?)?)?$",
        "must be an administrative-division code of 2, 4, 6, 9 or 12 digits",
        description="Administrative-division code (or its province, city or county prefix)",
    ),
]
Reference = Annotated[str, msgspec.Meta(pattern=r"^EX-[A-Z2-9]{12}$", description="An exemption reference")]


class CheckExemption(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """May this activity be carried on here and then without a licence? `location` is required for a street
    activity and optional for an online, platform or home-service one; `jurisdiction_code` only without a
    location (where an online seller works from: it picks the local configuration)."""

    activity_code: ActivityCode
    location: Point | None = None
    periods: Annotated[list[OccupancyPeriod], msgspec.Meta(min_length=1, max_length=MAX_PERIODS)]
    vendor_id: uuid.UUID | None = None
    jurisdiction_code: DivisionCode | None = None
    coordinate_system: CoordinateSystem = "wgs84"

    def __post_init__(self) -> None:
        if self.location is not None and self.jurisdiction_code is not None:
            raise ValueError("jurisdiction_code: give it only without a location (the location decides)")


class ExemptionCheckOut(msgspec.Struct, kw_only=True):
    """A stored decision: `reference` (exempt decisions for a named vendor) is what an inspector checks."""

    id: uuid.UUID
    outcome: Outcome
    reasons: list[Reason]
    required_permits: list[RequiredPermit]
    matched_place: MatchedPlace | None
    rule_version: str
    rule_versions: list[DayVersion]
    venue_revisions: list[VenueRevisionUsed]
    activity_code: str
    jurisdiction_code: str | None
    vendor_id: uuid.UUID | None
    reference: str | None
    input_digest: str
    decision_digest: str
    created_at: dt.datetime


def check_out(row: ExemptionCheck) -> ExemptionCheckOut:
    return ExemptionCheckOut(
        id=row.id,
        outcome=msgspec.convert(row.outcome, Outcome),
        reasons=msgspec.convert(row.reasons, list[Reason]),
        required_permits=msgspec.convert(row.required_permits, list[RequiredPermit]),
        matched_place=msgspec.convert(row.matched_place, MatchedPlace | None),
        rule_version=row.rule_version,
        rule_versions=msgspec.convert(row.rule_versions, list[DayVersion]),
        venue_revisions=msgspec.convert(row.venue_revisions, list[VenueRevisionUsed]),
        activity_code=row.activity_code,
        jurisdiction_code=row.jurisdiction_code,
        vendor_id=row.vendor_id,
        reference=row.reference,
        input_digest=row.input_digest,
        decision_digest=row.decision_digest,
        created_at=row.created_at,
    )


def _settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


class ExemptionCheckController(Controller):
    path = "/exemption-checks"
    tags = ("exemption checks",)

    @post(
        "/",
        operation_id="checkExemption",
        summary="Decide whether an activity here and then needs a licence or permits (anyone)",
        status_code=200,
        security=[{}, {"bearer": []}],
        description=(
            "Anyone, with or without a token. Answers `exempt`, `permits_required` (with each permit and its "
            "department; `business_license` when no exemption holds, `road_occupancy` for the road authority and "
            "the traffic police on a road zone outside a designated place) or `not_allowed`, with every rule "
            "applied in `reasons` (its result, legal basis, the facts it used: the designated place and its "
            "designation, the window that failed, the nearest designated place's distance). Only designated "
            "places count, and each period must lie inside one session of one. Stores the decision with the "
            "venue revisions it read and the rules version of every day; same input and versions, same "
            "decision (`decision_digest`). `vendor_id` must be the caller's own (an admin: any; a street "
            "office: its residents'), else 422 `validation_failed` naming it; an exempt decision for a named "
            "vendor carries a public `reference`. Refuses an unknown activity, a street activity without "
            "`location`, invalid coordinates, periods ending before they start or without an offset, and days "
            "with no rules in force (422 `validation_failed` naming the field)."
        ),
        opt={PROBLEMS_OPT: (InvalidInput,)},
    )
    async def check_exemption(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[CheckExemption],
        maybe_principal: OptionalPrincipal,
        session: DbSession,
    ) -> ExemptionCheckOut:
        point = (
            any_shape(data.location, field="location", coordinate_system=data.coordinate_system)
            if data.location is not None
            else None
        )
        if data.vendor_id is not None:
            await service.usable_vendor(session, maybe_principal, data.vendor_id)
        periods = [(p.start, p.end) for p in data.periods]
        decision = await service.decide_exemption(
            session,
            index_of(request.app.state),
            activity_code=data.activity_code,
            point=point,
            periods=periods,
            vendor_id=data.vendor_id,
            jurisdiction_code=data.jurisdiction_code,
        )
        row = await service.record_exemption_check(
            session,
            decision,
            point=point,
            periods=periods,
            vendor_id=data.vendor_id,
            jurisdiction_code=data.jurisdiction_code,
            created_by=maybe_principal.account_id if maybe_principal is not None else None,
            now=_settings(request).now(),
        )
        return check_out(row)

    @get(
        "/{check_id:uuid}",
        operation_id="getExemptionCheck",
        summary="One stored exemption check",
        security=[{}, {"bearer": []}],
        description=(
            "A check that names a vendor: that vendor and admins; anyone else 404 `exemption_check_not_found`. "
            "A check naming no vendor holds no personal data: anyone with its id may read it."
        ),
        opt={PROBLEMS_OPT: (ExemptionCheckNotFound,)},
    )
    async def get_exemption_check(
        self, check_id: FromPath[uuid.UUID], maybe_principal: OptionalPrincipal, session: DbSession
    ) -> ExemptionCheckOut:
        return check_out(await service.get_exemption_check(session, maybe_principal, check_id))


class ExemptionReferenceController(Controller):
    path = "/exemption-references"
    tags = ("exemption checks",)

    @get(
        "/{reference:str}",
        operation_id="getExemptionReference",
        summary="Check an exemption reference on the street (anyone)",
        security=[{}],
        description=(
            "Anyone. `valid`, or `lapsed` with the reasons: re-checked now, it lapses when a matched place's "
            "designation no longer stands (changed or removed, the zone closed or past its validity) or its "
            "last period is over. Shows the masked holder (张*), the activity, the place with its designation "
            "and the hours; nothing else about the holder. A valid one carries `token`, an Ed25519 JWS of the "
            "same (keys at GET /permit-signing-keys; `aud` flexreg-exemption, `exp` the last period's end), "
            "checked offline like a permit's. An unknown reference: 404 "
            "`exemption_reference_not_found`."
        ),
        opt={PROBLEMS_OPT: (ExemptionReferenceNotFound,)},
    )
    async def get_exemption_reference(
        self, request: Request[Any, Any, Any], reference: FromPath[Reference], session: DbSession
    ) -> service.ReferenceAnswer:
        settings = _settings(request)
        answer = await service.reference_status(
            session, reference, now=settings.now(), zone=ZoneInfo(settings.timezone)
        )
        if answer.status != "valid":
            return answer
        claims = service.reference_claims(answer, issuer=settings.http.public_url)
        token = await signing.sign_claims(session, request.app.state.cipher, claims, typ=service.EXEMPTION_JWS_TYP)
        return msgspec.structs.replace(answer, token=token)

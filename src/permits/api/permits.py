"""Permits: GET /permits/{number} and its QR codes (public), POST /permits/{number}/status (the issuing department).

A permit is public by its number, as a paper permit on a stall is: the holder's name masked (张*), the last four
characters of their ID number (what an inspector compares with the card in front of them), never the ID number,
phone or key-group status.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody

from core.auth import requires
from core.conditional import IF_MATCH_OPT, etag
from core.deps import CurrentPrincipal, DbSession, IfMatch
from core.openapi import ETAG_HEADER, PROBLEMS_OPT
from core.settings import Settings
from core.text import free_text
from permits import issuance, qr, revocations
from permits.errors import PermitNotFound, PermitStatusConflict
from permits.issuance import PermitHours, PermitPlace
from permits.issued_models import Permit, PermitComponent, PermitStatus, StoredStatus
from permits.revocations import GROUNDS, GroundCode
from registry import catalogue
from registry.catalogue import DepartmentCode

Reason = Annotated[str, free_text(2000)]
Number = Annotated[str, msgspec.Meta(max_length=64, description="The permit's number, e.g. XK-2026-7QX3M9K2VB4TNW8RJ")]
_QR_CACHE = "public, max-age=3600"


class ComponentOut(msgspec.Struct, kw_only=True):
    """One department's approval in the permit; a suspension or revocation shows its ground and reason."""

    department: DepartmentCode
    permit_type: str
    decision_number: str
    valid_from: dt.date
    valid_to: dt.date
    status: PermitStatus
    ground: GroundCode | None
    ground_citation: str | None
    reason: str | None
    compensation: str | None
    status_changed_at: dt.datetime | None


class PermitOut(msgspec.Struct, kw_only=True):
    """An issued permit; `status` is today's, the worst of its components' (revoked > suspended > expired >
    valid). `token` is the Ed25519 JWS an offline scanner checks against GET /permit-signing-keys."""

    number: str
    status: PermitStatus
    holder_masked: str
    id_last4: str
    activity: str
    activity_name: str | None
    place: PermitPlace
    hours: PermitHours
    valid_from: dt.date
    valid_to: dt.date
    conditions: list[str]
    departments: list[DepartmentCode]
    components: list[ComponentOut]
    issued_at: dt.datetime
    status_changed_at: dt.datetime | None
    kid: str
    token: str
    verification_url: str
    version: int


class ChangePermitStatus(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`suspended` and `revoked` need a `ground`; `valid` (reinstating a suspension) takes none. A withdrawal
    (撤回) records the `compensation` arranged. An admin may name the `department` whose components change."""

    status: StoredStatus
    reason: Reason
    ground: GroundCode | None = None
    compensation: Reason | None = None
    department: DepartmentCode | None = None


def _settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _component_out(component: PermitComponent, today: dt.date) -> ComponentOut:
    ground = GROUNDS.get(component.ground) if component.ground else None
    return ComponentOut(
        department=component.department,  # type: ignore[arg-type]  # a catalogue code, checked when issued
        permit_type=component.permit_type,
        decision_number=component.decision_number,
        valid_from=component.valid_from,
        valid_to=component.valid_to,
        status=issuance.component_status(component, today),  # type: ignore[arg-type]  # CHECK status_known
        ground=ground.code if ground else None,
        ground_citation=ground.citation if ground else None,
        reason=component.reason,
        compensation=component.compensation,
        status_changed_at=component.status_changed_at,
    )


def permit_out(permit: Permit, components: list[PermitComponent], *, today: dt.date, public_url: str) -> PermitOut:
    activity = catalogue.load_catalogue().find_activity(permit.activity_code)
    return PermitOut(
        number=permit.number,
        status=issuance.permit_status(permit, components, today),  # type: ignore[arg-type]
        holder_masked=permit.holder_masked,
        id_last4=permit.id_last4,
        activity=permit.activity_code,
        activity_name=activity.name_zh if activity else None,
        place=msgspec.convert(permit.place, PermitPlace),
        hours=msgspec.convert(permit.hours, PermitHours),
        valid_from=permit.valid_from,
        valid_to=permit.valid_to,
        conditions=list(permit.conditions),
        departments=list(dict.fromkeys(component.department for component in components)),  # type: ignore[misc]
        components=[_component_out(component, today) for component in components],
        issued_at=permit.issued_at,
        status_changed_at=permit.status_changed_at,
        kid=permit.kid,
        token=permit.token,
        verification_url=issuance.verification_url(public_url, permit.number, permit.token),
        version=permit.version,
    )


def _reply(request: Request[Any, Any, Any], permit: Permit, components: list[PermitComponent]) -> Response[PermitOut]:
    settings = _settings(request)
    body = permit_out(permit, components, today=settings.today(), public_url=settings.http.public_url)
    return Response(body, headers=etag(permit.version))


_PUBLIC = "Anyone (an inspector, a buyer, the holder)."
_WHO_CHANGES: Final = (
    "Departments, for the components of permits they issued (a permit with none of theirs is a 404 "
    "`permit_not_found`, before If-Match is looked at), and admins, who may name the `department`; vendors and "
    "street offices 403."
)


class PermitController(Controller):
    path = "/permits"
    tags = ("permits",)

    @get(
        "/{number:str}",
        operation_id="getPermit",
        summary="One permit, its status today and its signed token (anyone)",
        description=(
            f"{_PUBLIC} The permit with its ETag: status today (`expired` once its validity or a component's has "
            "passed; `suspended`/`revoked` with each component's legal ground and reason), masked holder, last "
            "four ID characters, activity, place, hours, validity, conditions, departments, components and the "
            "`token` (an Ed25519 compact JWS, checkable offline with GET /permit-signing-keys). An unknown or "
            "mistyped number is a 404 `permit_not_found`."
        ),
        opt={PROBLEMS_OPT: (PermitNotFound,)},
        response_headers=[ETAG_HEADER],
    )
    async def get_permit(
        self, request: Request[Any, Any, Any], number: FromPath[Number], session: DbSession
    ) -> Response[PermitOut]:
        permit, components = await issuance.get_permit(session, number)
        return _reply(request, permit, components)

    async def _link(self, session: DbSession, request: Request[Any, Any, Any], number: str) -> tuple[Permit, str]:
        permit, _ = await issuance.get_permit(session, number)
        return permit, issuance.verification_url(_settings(request).http.public_url, permit.number, permit.token)

    @get(
        "/{number:str}/qr.png",
        operation_id="getPermitQrPng",
        summary="The permit's QR code as PNG (anyone)",
        description=(
            f"{_PUBLIC} A QR code (PNG) of the permit's verification link, "
            "`{public URL}/verify/{number}#{token}`: the token rides in the fragment, so a scanner with no network "
            "can check it. 404 `permit_not_found`."
        ),
        media_type="image/png",
        responses={
            200: ResponseSpec(bytes, media_type="image/png", description="The QR code", generate_examples=False)
        },
        opt={PROBLEMS_OPT: (PermitNotFound,)},
    )
    async def get_permit_qr_png(
        self, request: Request[Any, Any, Any], number: FromPath[Number], session: DbSession
    ) -> Response[bytes]:
        _, link = await self._link(session, request, number)
        return Response(qr.png(link), media_type="image/png", headers={"Cache-Control": _QR_CACHE})

    @get(
        "/{number:str}/qr.svg",
        operation_id="getPermitQrSvg",
        summary="The permit's QR code as SVG (anyone)",
        description=(
            f"{_PUBLIC} The same QR code as getPermitQrPng, as an SVG document (for printing at any size). "
            "404 `permit_not_found`."
        ),
        media_type="image/svg+xml",
        responses={
            200: ResponseSpec(bytes, media_type="image/svg+xml", description="The QR code", generate_examples=False)
        },
        opt={PROBLEMS_OPT: (PermitNotFound,)},
    )
    async def get_permit_qr_svg(
        self, request: Request[Any, Any, Any], number: FromPath[Number], session: DbSession
    ) -> Response[bytes]:
        permit, link = await self._link(session, request, number)
        body = qr.svg(link, title=f"Permit {permit.number}")
        return Response(body, media_type="image/svg+xml", headers={"Cache-Control": _QR_CACHE})

    @post(
        "/{number:str}/status",
        operation_id="changePermitStatus",
        summary="Suspend, revoke or reinstate a permit on a legal ground (If-Match)",
        status_code=200,
        security=[{"bearer": []}],
        guards=[requires("department", "admin")],
        description=(
            f"{_WHO_CHANGES} Send the permit's ETag in If-Match (absent 428, stale 412). `suspended` and `revoked` "
            "need a `ground`: `annulment` (撤销, 行政许可法 Art. 69), `withdrawal` (撤回, Art. 8, with the "
            "`compensation` arranged), `deregistration` (注销, Art. 70), `road_authority` (城市道路管理条例 "
            "Art. 38, road occupancy only), `penalty` (暂扣/吊销, 行政处罚法 Art. 9); `valid` reinstates a "
            "suspension and takes no ground. A `reason` is always required (line breaks allowed). A ground that "
            "does not fit is a 422 `validation_failed` naming the field; a change the current status does not "
            "allow (revoked is final; expired can only be deregistered) a 409 `permit_status_conflict` listing "
            "the statuses in `allowed_transitions`. The change is recorded on the component and shown by getPermit."
        ),
        opt={IF_MATCH_OPT: True, PROBLEMS_OPT: (PermitNotFound, PermitStatusConflict)},
        response_headers=[ETAG_HEADER],
    )
    async def change_permit_status(
        self,
        request: Request[Any, Any, Any],
        number: FromPath[Number],
        data: JSONBody[ChangePermitStatus],
        principal: CurrentPrincipal,
        session: DbSession,
        precondition: IfMatch,
    ) -> Response[PermitOut]:
        settings = _settings(request)
        permit, components = await revocations.change_permit_status(
            session,
            principal,
            number,
            status=data.status,
            ground=data.ground,
            reason=data.reason,
            compensation=data.compensation,
            department=data.department,
            precondition=precondition,
            now=settings.now(),
            today=settings.today(),
        )
        return _reply(request, permit, components)

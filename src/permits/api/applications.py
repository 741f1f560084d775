"""One-stop applications: POST/GET /applications, GET /applications/{id}, POST …/supplements, POST …/withdraw."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from core.auth import requires
from core.deps import CurrentPrincipal, DbSession
from core.geojson import CoordinateSystem, Point
from core.openapi import PROBLEMS_OPT
from core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, page_of
from core.settings import Settings
from core.text import free_text
from permits import applications as service
from permits import commitments, decisions, history, submission
from permits.api.history import HistoryEntryOut, history_entry_out
from permits.api.tasks import TaskOut, task_out
from permits.calendars import calendar_of
from permits.errors import ActivityNotAllowed, ApplicationNotFound, InvalidTransition, NoPermitNeeded
from permits.models import ApplicationStatus
from permits.permit_issue import Issuer
from venues.api.road import ActivityCode, OccupancyPeriod

# A permit is asked for one stretch of activity: its periods lie within a year of the first one's start.
MAX_PERIODS: Final = 366
DocumentIds = Annotated[list[uuid.UUID], msgspec.Meta(max_length=50, description="Documents you uploaded")]
SupplementNote = Annotated[str, free_text(4000, min_length=0, description="What the supplement answers")]


class Commitment(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A signed commitment (告知承诺制) for a permit type offered so where the application is handled: the
    version and SHA-256 of the text as `GET /commitment-texts/{permit_type}` publishes it."""

    permit_type: ActivityCode
    text_version: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    text_sha256: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]


class SubmitApplication(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """An activity at a place and time; `location` may be left out for an online activity."""

    activity_code: ActivityCode
    periods: Annotated[list[OccupancyPeriod], msgspec.Meta(min_length=1, max_length=MAX_PERIODS)]
    location: Point | None = None
    venue_id: uuid.UUID | None = None
    document_ids: DocumentIds = []
    commitments: Annotated[list[Commitment], msgspec.Meta(max_length=20)] = []
    coordinate_system: CoordinateSystem = "wgs84"


class Supplement(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The answer to the open notice: documents, a note, or both."""

    document_ids: DocumentIds = []
    note: SupplementNote = ""


class NoticeItemOut(msgspec.Struct, frozen=True, kw_only=True):
    item: str
    reason: str
    department: str


class NoticeOut(msgspec.Struct, frozen=True, kw_only=True):
    """The one consolidated notice of what is missing (一次性告知, 行政许可法 Art. 32(4)), and its answer."""

    round: int
    items: list[NoticeItemOut]
    before_acceptance: bool
    opened_at: dt.datetime
    answered_at: dt.datetime | None
    answer_note: str | None
    answer_document_ids: list[uuid.UUID]


class ApplicationOut(msgspec.Struct, frozen=True, kw_only=True):
    """An application, its tasks and notices; `permit_number` once approved."""

    id: uuid.UUID
    vendor_id: uuid.UUID
    activity_code: str
    status: ApplicationStatus
    location: Point | None
    periods: list[OccupancyPeriod]
    venue_id: uuid.UUID | None
    venue_revision: int | None
    road_occupancy_id: uuid.UUID | None
    exemption_check_id: uuid.UUID | None
    rule_version: str
    green_channel: bool
    received_on: dt.date
    completeness_due_on: dt.date
    accepted_on: dt.date | None
    joint_due_on: dt.date | None
    joint_due_provisional: bool
    document_ids: list[uuid.UUID]
    tasks: list[TaskOut]
    notices: list[NoticeOut]
    permit_number: str | None
    created_at: dt.datetime
    decided_at: dt.datetime | None
    withdrawn_at: dt.datetime | None


def application_out(record: service.ApplicationRecord, city: ZoneInfo) -> ApplicationOut:
    return ApplicationOut(
        id=record.id,
        vendor_id=record.vendor_id,
        activity_code=record.activity_code,
        status=record.status,
        location=msgspec.convert(record.location, Point) if record.location else None,
        periods=[OccupancyPeriod(start=p.start.astimezone(city), end=p.end.astimezone(city)) for p in record.periods],
        venue_id=record.venue_id,
        venue_revision=record.venue_revision,
        road_occupancy_id=record.road_occupancy_id,
        exemption_check_id=record.exemption_check_id,
        rule_version=record.rule_version,
        green_channel=record.green_channel,
        received_on=record.received_on,
        completeness_due_on=record.completeness_due_on,
        accepted_on=record.accepted_on,
        joint_due_on=record.joint_due_on,
        joint_due_provisional=record.joint_due_provisional,
        document_ids=record.document_ids,
        tasks=[task_out(task, city) for task in record.tasks],
        notices=[
            NoticeOut(
                round=n.round,
                items=[NoticeItemOut(item=i.item, reason=i.reason, department=i.department) for i in n.items],
                before_acceptance=n.before_acceptance,
                opened_at=n.opened_at.astimezone(city),
                answered_at=n.answered_at.astimezone(city) if n.answered_at else None,
                answer_note=n.answer_note,
                answer_document_ids=n.answer_document_ids,
            )
            for n in record.notices
        ],
        permit_number=record.permit_number,
        created_at=record.created_at.astimezone(city),
        decided_at=record.decided_at.astimezone(city) if record.decided_at else None,
        withdrawn_at=record.withdrawn_at.astimezone(city) if record.withdrawn_at else None,
    )


def _settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


class ApplicationController(Controller):
    path = "/applications"
    tags = ("applications",)
    security = [{"bearer": []}]

    @post(
        "/",
        operation_id="submitApplication",
        summary="Apply once for every permit an activity needs at a place and time (vendor)",
        guards=[requires("vendor")],
        description=(
            "One task per required permit and department, routed in parallel (API.md). The permits needed are the "
            "exemption decision's; an activity that needs nothing there and then is 422 `no_permit_needed`, one "
            "an individual cannot carry on is 422 `activity_not_allowed` (with the decision's `reasons`). Refuses "
            "an unknown activity or venue, documents that are not yours, and periods ending before they start or "
            "spanning more than a year (422 naming the field)."
        ),
        opt={PROBLEMS_OPT: (NoPermitNeeded, ActivityNotAllowed)},
    )
    async def submit_application(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[SubmitApplication],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> Response[ApplicationOut]:
        settings = _settings(request)
        record = await submission.submit_application(
            session,
            principal,
            submission.SubmitInput(
                activity_code=data.activity_code,
                location=data.location,
                coordinate_system=data.coordinate_system,
                periods=[(p.start, p.end) for p in data.periods],
                venue_id=data.venue_id,
                document_ids=data.document_ids,
                commitments=[
                    commitments.Signed(c.permit_type, c.text_version, c.text_sha256) for c in data.commitments
                ],
            ),
            state=request.app.state,
            calendar=await calendar_of(request.app.state, session),
            issuer=Issuer(request.app.state.cipher, settings.http.public_url, settings.timezone),
            now=settings.now(),
            today=settings.today(),
        )
        headers = {"Location": f"/api/v1/applications/{record.id}"}
        return Response(application_out(record, ZoneInfo(settings.timezone)), status_code=201, headers=headers)

    @get(
        "/",
        operation_id="listApplications",
        summary="List applications (vendor: own; department: those it has a task on; admin: all)",
        guards=[requires("vendor", "department", "admin")],
        description="In the order they were received, a page at a time, optionally by `status`. Street offices 403.",
    )
    async def list_applications(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentPrincipal,
        session: DbSession,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        status: Annotated[
            ApplicationStatus | None, QueryParameter(description="Only applications in this status")
        ] = None,
    ) -> Page[ApplicationOut]:
        city = ZoneInfo(_settings(request).timezone)
        page = await service.list_applications(session, principal, status=status, limit=limit, cursor=cursor)
        return page_of([application_out(record, city) for record in page.items], page)

    @get(
        "/{application_id:uuid}",
        operation_id="getApplication",
        summary="One application with its tasks (the applicant, departments involved, admin)",
        guards=[requires("vendor", "department", "admin")],
        description="Anyone else gets 404 `application_not_found`; street offices 403.",
        opt={PROBLEMS_OPT: (ApplicationNotFound,)},
    )
    async def get_application(
        self,
        request: Request[Any, Any, Any],
        application_id: FromPath[uuid.UUID],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> ApplicationOut:
        record = await service.get_application(session, principal, application_id)
        return application_out(record, ZoneInfo(_settings(request).timezone))

    @get(
        "/{application_id:uuid}/history",
        operation_id="getApplicationHistory",
        summary="The application's history, oldest first (the applicant, departments involved, admin)",
        guards=[requires("vendor", "department", "admin")],
        description=(
            "Every step as the hash-chained history recorded it: who (role and account), when, and what; free "
            "text appears as its SHA-256, never copied. `row_hash` lets a reader show later the service recorded "
            "exactly this (`flexreg verify-audit`; GET /history-anchors). Anyone else 404; street offices 403."
        ),
        opt={PROBLEMS_OPT: (ApplicationNotFound,)},
    )
    async def get_application_history(
        self,
        application_id: FromPath[uuid.UUID],
        principal: CurrentPrincipal,
        session: DbSession,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[HistoryEntryOut]:
        await service.check_readable(session, principal, application_id)
        page = await history.application_history(session, application_id, limit=limit, cursor=cursor)
        return page_of([history_entry_out(entry) for entry in page.items], page)

    @post(
        "/{application_id:uuid}/supplements",
        operation_id="submitSupplement",
        summary="Answer the notice of what is missing (the applicant)",
        status_code=200,
        guards=[requires("vendor")],
        description=(
            "No If-Match (a holder's own act). Only while the application is `needs_supplement` (otherwise 409 "
            "`invalid_transition` with `allowed_transitions`); documents must be yours; documents or a note are "
            "needed (422 naming `document_ids` and `note`). The application and the waiting tasks go back to "
            "review; a notice sent within 5 working days of receipt makes the answer day the acceptance day."
        ),
        opt={PROBLEMS_OPT: (ApplicationNotFound, InvalidTransition)},
    )
    async def submit_supplement(
        self,
        request: Request[Any, Any, Any],
        application_id: FromPath[uuid.UUID],
        data: JSONBody[Supplement],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> ApplicationOut:
        settings = _settings(request)
        record = await decisions.answer_supplement(
            session,
            principal,
            application_id,
            document_ids=data.document_ids,
            note=data.note,
            calendar=await calendar_of(request.app.state, session),
            now=settings.now(),
            today=settings.today(),
        )
        return application_out(record, ZoneInfo(settings.timezone))

    @post(
        "/{application_id:uuid}/withdraw",
        operation_id="withdrawApplication",
        summary="Withdraw an open application (the applicant)",
        status_code=200,
        guards=[requires("vendor")],
        description=(
            "No If-Match (a holder's own act). Undecided tasks close and a road occupancy waiting on it is withdrawn. "
            "An application already approved, rejected or withdrawn — as for the loser of a withdrawal and a last "
            "approval at once — is 409 `invalid_transition`."
        ),
        opt={PROBLEMS_OPT: (ApplicationNotFound, InvalidTransition)},
    )
    async def withdraw_application(
        self,
        request: Request[Any, Any, Any],
        application_id: FromPath[uuid.UUID],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> ApplicationOut:
        settings = _settings(request)
        record = await decisions.withdraw_application(session, principal, application_id, now=settings.now())
        return application_out(record, ZoneInfo(settings.timezone))

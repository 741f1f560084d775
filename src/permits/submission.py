"""A vendor's submission: the exemption decision names the permits, the application opens one task for each.

The exemption check is run and stored with the application (its rule version and the venue revision it used),
so what an application asks for can always be traced to the rules and the place as they stood on receipt.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from litestar.datastructures import State
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from core.errors import InvalidInput
from core.geojson import CoordinateSystem, Point
from permits import commitments, exemption, workdays
from permits.applications import (
    ApplicationRecord,
    Requirement,
    Submission,
    check_documents,
    open_application,
    to_application_record,
)
from permits.errors import ActivityNotAllowed, NoPermitNeeded
from permits.history import SYSTEM, Actor, append_history
from permits.models import Application, Task
from permits.permit_issue import Issuer, issue_for_application
from registry import claims
from registry.vendors import get_own_vendor
from venues import geo
from venues.designated import index_of
from venues.models import Venue
from venues.venues import any_shape

Period = tuple[dt.datetime, dt.datetime]
# A permit is asked for one stretch of activity (an application for 50 years is refused).
MAX_SPAN = dt.timedelta(days=366)


@dataclass(frozen=True, slots=True)
class SubmitInput:
    activity_code: str
    location: Point | None
    coordinate_system: CoordinateSystem
    periods: Sequence[Period]
    venue_id: uuid.UUID | None
    document_ids: Sequence[uuid.UUID]
    commitments: Sequence[commitments.Signed] = ()


def _check_span(periods: Sequence[Period]) -> None:
    first = min(start for start, _ in periods)
    last = max(end for _, end in periods)
    if last - first > MAX_SPAN:
        raise InvalidInput.for_field("periods", "must lie within one year of the first period's start")


async def submit_application(
    session: AsyncSession,
    principal: Principal,
    data: SubmitInput,
    *,
    state: State,
    calendar: workdays.WorkCalendar,
    issuer: Issuer,
    now: dt.datetime,
    today: dt.date,
) -> ApplicationRecord:
    """Check, decide which permits are needed, and open the application with its tasks."""
    vendor = await get_own_vendor(session, principal)
    _check_span(data.periods)
    venue = None
    if data.venue_id is not None:
        venue = await session.get(Venue, data.venue_id)
        if venue is None:
            raise InvalidInput.for_field("venue_id", "no such venue (GET /venues lists them)")
    await check_documents(session, principal, data.document_ids)
    point = (
        any_shape(data.location, field="location", coordinate_system=data.coordinate_system)
        if data.location is not None
        else None
    )
    if point is not None and point.geom_type != "Point":
        raise InvalidInput.for_field("location", "must be a GeoJSON Point")
    if venue is not None and point is not None and geo.distance_m(point, geo.to_shape(venue.geometry)) > 0:
        # The venue names the permit's place and where the application is handled: it must be where it is.
        raise InvalidInput.for_field("venue_id", "the location lies outside this venue")
    decision = await exemption.decide_exemption(
        session,
        index_of(state),
        activity_code=data.activity_code,
        point=point,
        periods=data.periods,
        vendor_id=vendor.id,
        jurisdiction_code=None
        if point is not None
        else (venue.jurisdiction_code if venue else None) or vendor.residence_jurisdiction_code,
    )
    # A refusal writes nothing, the decision included: its reasons travel in the problem instead.
    if decision.outcome == "exempt":
        raise NoPermitNeeded(
            "This activity needs no permit here and then (POST /exemption-checks gives the reasoned decision)",
            reasons=decision.reasons,
        )
    if decision.outcome == "not_allowed":
        raise ActivityNotAllowed("This activity cannot be carried on here by an individual", reasons=decision.reasons)
    jurisdiction = (
        venue.jurisdiction_code
        if venue is not None
        else decision.jurisdiction_code or vendor.residence_jurisdiction_code
    )
    signed = commitments.check_signed(
        data.commitments, [p.permit_type for p in decision.required_permits], jurisdiction
    )
    check = await exemption.record_exemption_check(
        session,
        decision,
        point=point,
        periods=data.periods,
        vendor_id=vendor.id,
        jurisdiction_code=None if point is not None else jurisdiction,
        created_by=principal.account_id,
        now=now,
    )
    matched = decision.matched_place
    green = bool(await claims.verified_key_groups(session, vendor.id, today))
    opened = await open_application(
        session,
        vendor_id=vendor.id,
        submission=Submission(
            activity_code=data.activity_code,
            location={"type": "Point", "coordinates": [point.x, point.y]} if point is not None else None,
            periods=data.periods,
            document_ids=data.document_ids,
            requirements=[Requirement(p.permit_type, p.department) for p in decision.required_permits],
            rule_version=decision.rule_version,
            jurisdiction_code=jurisdiction,
            venue_id=venue.id if venue else (matched.venue_id if matched else None),
            venue_revision=venue.version if venue else (matched.venue_revision if matched else None),
            exemption_check_id=check.id,
            green_channel=green,
        ),
        calendar=calendar,
        today=today,
        now=now,
        actor=Actor.of(principal),
    )
    if not signed:
        return opened.record()
    application = opened.application
    await _approve_on_commitments(
        session, application, signed, principal=principal, issuer=issuer, calendar=calendar, now=now, today=today
    )
    return await to_application_record(session, application)


async def _approve_on_commitments(
    session: AsyncSession,
    application: Application,
    signed: Mapping[str, commitments.Signed],
    *,
    principal: Principal,
    issuer: Issuer,
    calendar: workdays.WorkCalendar,
    now: dt.datetime,
    today: dt.date,
) -> None:
    """告知承诺制: the signed types are approved on the spot; if nothing else is needed, so is the application."""
    tasks = (await session.scalars(select(Task).where(Task.application_id == application.id))).all()
    await commitments.approve_on_commitments(
        session,
        tasks,
        signed,
        jurisdiction_code=application.jurisdiction_code,
        signer=principal.account_id,
        calendar=calendar,
        now=now,
        today=today,
    )
    for task in tasks:
        if task.mode == "commitment":
            await append_history(
                session,
                event="task_approved_on_commitment",
                actor=Actor.of(principal),
                at=now,
                application_id=application.id,
                task_id=task.id,
                payload={
                    "decision_number": task.decision_number,
                    "text_version": signed[task.permit_type].text_version,
                    "text_sha256": signed[task.permit_type].text_sha256,
                },
            )
    if all(task.status == "approved" for task in tasks):
        application.status, application.decided_at = "approved", now
        application.version += 1
        await session.flush()
        await append_history(
            session,
            event="application_approved",
            actor=SYSTEM,
            at=now,
            application_id=application.id,
            payload={"version": application.version},
        )
        await issue_for_application(session, issuer, application, now=now)

"""Issuing the permit of an application whose every task is approved: one permit, its components the approvals.

Runs in the transaction of the last approval, after the application row was locked, so of two last approvals
at once exactly one issues (the unique application id on permits is the backstop).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import FieldCipher
from core.geojson import Geometry
from permits.history import SYSTEM, append_history
from permits.issuance import IssuedComponent, IssuedPermit, PermitHours, PermitPeriod, PermitPlace, issue_permit
from permits.models import Application, Task
from registry import catalogue
from venues.models import RoadOccupancy, Venue


@dataclass(frozen=True, slots=True)
class Issuer:
    """What issuing needs from the app: the key cipher, the public base of verification links, the city's zone."""

    cipher: FieldCipher
    public_url: str
    timezone: str


def _periods(application: Application) -> list[PermitPeriod]:
    return [
        PermitPeriod(start=dt.datetime.fromisoformat(p["start"]), end=dt.datetime.fromisoformat(p["end"]))
        for p in application.periods
    ]


def _validity(periods: list[PermitPeriod], city: ZoneInfo) -> tuple[dt.date, dt.date]:
    """The city days the periods cover: from the first start's day to the day of the last instant held."""
    first = min(p.start for p in periods).astimezone(city).date()
    last_end = max(p.end for p in periods).astimezone(city)
    last = (last_end - dt.timedelta(microseconds=1)).date()  # [start, end): an end at midnight ends the day before
    return first, last


async def _place(session: AsyncSession, application: Application) -> PermitPlace:
    geometry: dict[str, Any] | None = application.location
    if application.road_occupancy_id is not None:
        geometry = await session.scalar(
            select(RoadOccupancy.footprint).where(RoadOccupancy.id == application.road_occupancy_id)
        )
    venue = await session.get(Venue, application.venue_id) if application.venue_id else None
    if venue is not None:
        name = venue.name
    elif application.location is not None:
        lon, lat = application.location["coordinates"]
        name = f"定位点 {lat:.6f}, {lon:.6f} (WGS84)"  # no venue: the point itself is the place
    else:
        name = catalogue.load_catalogue().activity(application.activity_code).name_zh + "（网络经营，无固定场所）"
    return PermitPlace(
        name=name,
        venue_id=application.venue_id,
        geometry=msgspec.convert(geometry, Geometry) if geometry else None,
    )


async def issue_for_application(
    session: AsyncSession, issuer: Issuer, application: Application, *, now: dt.datetime
) -> IssuedPermit:
    """Issue the permit of a locked, approved application and note its number on it."""
    city = ZoneInfo(issuer.timezone)
    periods = _periods(application)
    valid_from, valid_to = _validity(periods, city)
    tasks = (
        await session.scalars(
            select(Task).where(Task.application_id == application.id).order_by(Task.department, Task.permit_type)
        )
    ).all()
    conditions = list(dict.fromkeys(condition for task in tasks for condition in task.conditions))
    issued = await issue_permit(
        session,
        issuer.cipher,
        application_id=application.id,
        vendor_id=application.vendor_id,
        activity_code=application.activity_code,
        place=await _place(session, application),
        hours=PermitHours(periods=periods),
        valid_from=valid_from,
        valid_to=valid_to,
        conditions=conditions,
        components=[
            IssuedComponent(
                task_id=task.id,
                department=task.department,
                permit_type=task.permit_type,
                decision_number=task.decision_number or "",
                valid_from=valid_from,
                valid_to=valid_to,
            )
            for task in tasks
        ],
        now=now,
        public_base_url=issuer.public_url,
        timezone=issuer.timezone,
    )
    application.permit_number = issued.number
    await session.flush()
    await append_history(
        session,
        event="permit_issued",
        actor=SYSTEM,
        at=now,
        application_id=application.id,
        permit_number=issued.number,
        payload={"valid_from": valid_from.isoformat(), "valid_to": valid_to.isoformat(), "components": len(tasks)},
    )
    return issued

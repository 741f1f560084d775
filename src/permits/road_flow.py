"""The road-occupancy hand-off venues defines (`venues.road.PermitFlow`), and its way back.

A road-occupancy request that needs a permit becomes a one-stop application with two tasks for the one permit
type: the road authority's and the traffic police's (城市道路管理条例 Art. 31: both approve). Which department is
the road authority is configured per jurisdiction (urban management, or housing and construction). The
application's approval approves the occupancy; a rejection refuses it; a withdrawal on either side withdraws
the other.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from permits.applications import Requirement, Submission, open_application, withdraw_open
from permits.calendars import CalendarSource
from permits.exemption_logic import TRAFFIC_POLICE
from permits.exemption_rules import ROAD_OCCUPANCY, load_exemption_rules
from permits.history import Actor
from permits.models import OPEN_APPLICATION_STATUSES, Application
from permits.revocations import deregister_on_surrender
from registry.models import Vendor
from venues import road
from venues.models import Venue
from venues.road_rules import Period

DEFAULT_ROAD_AUTHORITY = "urban_management"
ROAD_RULE_VERSION = "城市道路管理条例 Art. 31"

# Which department is the road authority where a jurisdiction (by its code) is, on a day.
RoadAuthority = Callable[[str, dt.date], str]


def configured_road_authority(jurisdiction_code: str, day: dt.date) -> str:
    """The jurisdiction's road authority as the exemption rules configure it (urban management by default,
    housing and construction where the city keeps the statutory holder, 城市道路管理条例 Art. 31)."""
    return load_exemption_rules().road_authority(jurisdiction_code, day) or DEFAULT_ROAD_AUTHORITY


class RoadPermitFlow:
    """`venues.road.PermitFlow`, implemented by the one-stop application."""

    def __init__(
        self,
        settings: Settings,
        *,
        calendars: CalendarSource,
        road_authority: RoadAuthority = configured_road_authority,
    ) -> None:
        self._settings = settings
        self._calendars = calendars
        self._road_authority = road_authority

    async def open_road_occupancy_application(
        self,
        session: AsyncSession,
        *,
        occupancy_id: uuid.UUID,
        vendor_id: uuid.UUID,
        zone_id: uuid.UUID,
        activity_code: str,
        periods: Sequence[Period],
    ) -> uuid.UUID:
        # venues locked the zone's row before handing the request over
        zone = (await session.execute(select(Venue).where(Venue.id == zone_id))).scalar_one()
        requirements = [
            Requirement(ROAD_OCCUPANCY, self._road_authority(zone.jurisdiction_code, self._settings.today())),
            Requirement(ROAD_OCCUPANCY, TRAFFIC_POLICE),
        ]
        opened = await open_application(
            session,
            vendor_id=vendor_id,
            submission=Submission(
                activity_code=activity_code,
                location=None,
                periods=periods,
                document_ids=(),
                requirements=requirements,
                rule_version=ROAD_RULE_VERSION,
                venue_id=zone.id,
                venue_revision=zone.version,
                jurisdiction_code=zone.jurisdiction_code,
                road_occupancy_id=occupancy_id,
            ),
            calendar=await self._calendars.current(session),
            today=self._settings.today(),
            now=self._settings.now(),
            actor=Actor(role="vendor", account_id=await _account_of(session, vendor_id)),
        )
        return opened.application.id

    async def road_occupancy_withdrawn(
        self, session: AsyncSession, *, occupancy_id: uuid.UUID, application_id: uuid.UUID
    ) -> None:
        application = await session.scalar(
            select(Application).where(Application.id == application_id).with_for_update()
        )
        if application is None:
            return
        holder = await _account_of(session, application.vendor_id)
        if application.status in OPEN_APPLICATION_STATUSES:
            actor = Actor(role="vendor", account_id=holder)
            await withdraw_open(
                session, application, now=self._settings.now(), actor=actor, cause="road_occupancy_withdrawn"
            )
        elif application.status == "approved" and application.permit_number is not None:
            # Approved meanwhile (or long ago): the permit must not outlive the occupancy it allows.
            await deregister_on_surrender(
                session,
                application.permit_number,
                holder_account_id=holder,
                reason="持证人撤回占道（自愿放弃）: the holder withdrew the road occupancy",
                now=self._settings.now(),
                today=self._settings.today(),
            )


async def _account_of(session: AsyncSession, vendor_id: uuid.UUID) -> uuid.UUID:
    """The vendor's account: the hand-off is the vendor's own act, recorded as theirs."""
    return (await session.execute(select(Vendor.account_id).where(Vendor.id == vendor_id))).scalar_one()


async def settle_road_occupancy(session: AsyncSession, application: Application, *, now: dt.datetime) -> None:
    """Carry an application's end over to the road occupancy it decides (none: nothing to do)."""
    if application.road_occupancy_id is None:
        return
    outcome: road.SettledOutcome
    if application.status == "approved":
        outcome = "approved"
    elif application.status == "rejected":
        outcome = "refused"
    elif application.status == "withdrawn":
        outcome = "withdrawn"
    else:
        return
    await road.settle_pending_occupancy(session, application.road_occupancy_id, outcome=outcome, now=now)

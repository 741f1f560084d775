"""Allocation-round records for tests: add, flush, return (the caller commits when the app must see it).

`make_place` builds what most round tests stand on: a jurisdiction with its street office, an admin, an open
community space with pitches; `make_round` opens a round straight in the tables (no checks: a builder), with a
seed the test knows.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from registry.models import Account, Jurisdiction, Vendor
from registry.policies import KEY_GROUPS
from tests.builders import auth_headers
from tests.clock import START, city_time
from tests.registry.builders import make_account, make_jurisdiction, make_vendor, vendor_headers
from tests.venues.builders import box, make_pitch, make_venue
from venues import draw
from venues.models import Allocation, AllocationRound, Holder, Pitch, RoundApplication, RoundPitch, Venue

CLOSE = city_time(2026, 6, 20, 18, 0)  # five days after tests.clock.START
TERM_START = dt.date(2026, 7, 1)
TERM_END = dt.date(2026, 9, 30)


@dataclass
class Place:
    settings: Settings
    jurisdiction: Jurisdiction
    office: Account
    admin: Account
    venue: Venue
    pitches: list[Pitch]
    vendors: list[Vendor] = field(default_factory=list)

    def as_office(self) -> dict[str, str]:
        return auth_headers(self.settings, self.office)

    def as_admin(self) -> dict[str, str]:
        return auth_headers(self.settings, self.admin)

    def as_vendor(self, index: int = 0) -> dict[str, str]:
        return vendor_headers(self.settings, self.vendors[index])


async def make_place(session: AsyncSession, settings: Settings, *, pitches: int = 4, vendors: int = 3) -> Place:
    """A jurisdiction, its street office, an admin, an open venue with `pitches` pitches in a row, and vendors."""
    jurisdiction = await make_jurisdiction(session)
    office = await make_account(session, "street_office", jurisdiction_code=jurisdiction.code)
    admin = await make_account(session, "admin")
    venue = await make_venue(session, jurisdiction_code=jurisdiction.code, created_by=office)
    made = [
        await make_pitch(
            session,
            venue=venue,
            created_by=office,
            label=f"A-{n + 1:02d}",
            geometry=box(-18 + 3 * n, 0, -17 + 3 * n, 1),
        )
        for n in range(pitches)
    ]
    people = [
        await make_vendor(session, settings, residence_jurisdiction_code=jurisdiction.code) for _ in range(vendors)
    ]
    return Place(
        settings=settings,
        jurisdiction=jurisdiction,
        office=office,
        admin=admin,
        venue=venue,
        pitches=made,
        vendors=people,
    )


async def make_round(
    session: AsyncSession,
    *,
    jurisdiction_code: str,
    created_by: Account,
    pitches: list[Pitch],
    seed: bytes | None = None,
    **overrides: Any,
) -> AllocationRound:
    """An open round over `pitches` (closing at CLOSE, term TERM_START–TERM_END, default tiers)."""
    seed = seed if seed is not None else secrets.token_bytes(32)
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "jurisdiction_code": jurisdiction_code,
        "name": "东华门社区2026年第三季度便民摊位",
        "term_start": TERM_START,
        "term_end": TERM_END,
        "applications_close_at": CLOSE,
        "priority_tiers": [list(KEY_GROUPS)],
        "seed": seed,
        "seed_commitment": draw.commitment(seed),
        "created_by": created_by.id,
        "created_at": START,
    }
    fields.update(overrides)
    round_ = AllocationRound(**fields)
    session.add(round_)
    await session.flush()
    session.add_all(
        RoundPitch(
            round_id=round_.id,
            pitch_id=pitch.id,
            pitch_no=pitch.pitch_no,
            term_start=round_.term_start,
            term_end=round_.term_end,
            position=position,
        )
        for position, pitch in enumerate(pitches, start=1)
    )
    await session.flush()
    return round_


async def make_application(
    session: AsyncSession, *, round_: AllocationRound, vendor: Vendor, choices: list[Pitch], **overrides: Any
) -> RoundApplication:
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "round_id": round_.id,
        "vendor_id": vendor.id,
        "applicant_ref": secrets.token_hex(16),
        "choices": [pitch.id for pitch in choices],
        "submitted_at": START,
    }
    fields.update(overrides)
    application = RoundApplication(**fields)
    session.add(application)
    await session.flush()
    return application


async def make_allocation(
    session: AsyncSession, *, application: RoundApplication, pitch: Pitch, **overrides: Any
) -> Allocation:
    """A held allocation of `pitch` to the application's vendor for its round's term (holder key made if need be)."""
    holder = await session.get(Holder, application.vendor_id)
    if holder is None:
        holder = Holder(vendor_id=application.vendor_id)
        session.add(holder)
        await session.flush()
    round_ = await session.get(AllocationRound, application.round_id)
    assert round_ is not None
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "round_id": application.round_id,
        "application_id": application.id,
        "pitch_id": pitch.id,
        "pitch_no": pitch.pitch_no,
        "vendor_id": application.vendor_id,
        "holder_no": holder.holder_no,
        "term_start": round_.term_start,
        "term_end": round_.term_end,
        "choice_rank": 1,
        "source": "draw",
        "created_at": START,
    }
    fields.update(overrides)
    allocation = Allocation(**fields)
    session.add(allocation)
    await session.flush()
    return allocation


@dataclass
class Applied:
    """A round over a place's pitches and the applications of its vendors."""

    place: Place
    round: AllocationRound
    refs: dict[int, str]  # vendor index -> applicant_ref
    applications: list[RoundApplication] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"/api/v1/allocation-rounds/{self.round.id}"


async def make_applied_round(
    session: AsyncSession, settings: Settings, *, pitches: int = 3, vendors: int = 5, **round_fields: Any
) -> Applied:
    """`pitches` pitches and `vendors` applicants who all want them in the same order (pitch 0 first)."""
    place = await make_place(session, settings, pitches=pitches, vendors=vendors)
    round_ = await make_round(
        session,
        jurisdiction_code=place.jurisdiction.code,
        created_by=place.office,
        pitches=place.pitches,
        **round_fields,
    )
    made = Applied(place=place, round=round_, refs={})
    for index, vendor in enumerate(place.vendors):
        application = await make_application(session, round_=round_, vendor=vendor, choices=place.pitches)
        made.refs[index] = application.applicant_ref
        made.applications.append(application)
    return made

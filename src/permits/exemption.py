"""Exemption checks: decide (the rules of permits.exemption_logic over facts read in the caller's transaction),
record, read back, and answer a public reference.

What the lead calls when an application is submitted, to learn the permits it needs:
`decide_exemption(session, index, activity_code=…, point=…, periods=…, vendor_id=…)` then, to keep the decision,
`record_exemption_check(session, decision, …)`. Neither commits (one transaction per request).

Who may name a vendor: the vendor themself, an admin, or the street office of the vendor's residence; anyone
else naming a vendor_id (anonymous callers included) is refused 422 naming `vendor_id`, as a body referring to
another's record is (API.md: documents that are not the applicant's). A stored check naming a vendor is read by
that vendor and admins (others 404); one naming none holds no personal data and is read by anyone with its id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Sequence
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from core.errors import InvalidInput
from permits import exemption_facts as read
from permits.errors import ExemptionCheckNotFound, ExemptionReferenceNotFound
from permits.exemption_logic import NO_PLACE_SETTINGS, decide
from permits.exemption_models import ExemptionCheck
from permits.exemption_rules import ExemptionRules, RulesVersion, load_exemption_rules
from permits.exemption_types import ExemptionDecision, ExemptionFacts, PeriodFacts, decision_digest
from registry.catalogue import Catalogue, load_catalogue
from registry.id_numbers import mask_name
from registry.models import Vendor
from venues import geo
from venues.designated import DesignatedIndex
from venues.models import Venue

__all__ = [
    "ExemptionDecision",
    "check_input",
    "decide_exemption",
    "get_exemption_check",
    "record_exemption_check",
    "reference_status",
    "usable_vendor",
]

Period = tuple[dt.datetime, dt.datetime]
_REFERENCE_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud on the street


async def decide_exemption(
    session: AsyncSession,
    index: DesignatedIndex,
    *,
    activity_code: str,
    point: geo.Shape | None,
    periods: Sequence[Period],
    vendor_id: uuid.UUID | None = None,
    jurisdiction_code: str | None = None,
    rules: ExemptionRules | None = None,
    catalogue: Catalogue | None = None,
) -> ExemptionDecision:
    """The decision for an activity at a WGS84 point (None for an activity with no street place) over the
    periods (aware, end after start). `jurisdiction_code` decides the configuration when given (an online
    activity's, or an application's venue's); otherwise it is found from the point. `vendor_id` is recorded
    by the caller; the rules do not depend on who asks. Raises InvalidInput naming the field."""
    del vendor_id  # same place, time and activity: the same answer for everyone (the record keeps who asked)
    cat = catalogue or load_catalogue()
    rule_data = rules or load_exemption_rules()
    activity = cat.find_activity(activity_code)
    if activity is None:
        raise InvalidInput.for_field("activity_code", "is not an activity code of GET /activities")
    street = activity.setting not in NO_PLACE_SETTINGS
    if street and point is None:
        raise InvalidInput.for_field("location", f"is required for a {activity.setting} activity")
    if not periods:
        raise InvalidInput.for_field("periods", "must name at least one period")
    zone = index.zone
    versions = _versions(rule_data, periods, zone)
    days = _days(periods, zone)
    if point is None:
        located = ExemptionFacts(
            located=False,
            jurisdiction_code=jurisdiction_code,
            periods=tuple(
                PeriodFacts(start=s.astimezone(zone), end=e.astimezone(zone), matched=None) for s, e in periods
            ),
            days=days,
        )
        return decide(activity, located, rule_data, cat, versions)
    if not street:
        code = jurisdiction_code or await read.jurisdiction_at(session, point)
        facts = ExemptionFacts(
            located=True,
            jurisdiction_code=code,
            periods=tuple(
                PeriodFacts(start=s.astimezone(zone), end=e.astimezone(zone), matched=None) for s, e in periods
            ),
            days=days,
        )
        return decide(activity, facts, rule_data, cat, versions)
    period_facts, covering = await read.period_facts(
        session, index, activity=activity, point=point, periods=periods, zone=zone
    )
    code = jurisdiction_code or _jurisdiction_of(period_facts, covering) or await read.jurisdiction_at(session, point)
    configs = [rule_data.config(v, code) for v in {v.version: v for v in versions}.values()]
    unmatched = any(p.matched is None for p in period_facts)
    search = max(c.version.national.nearest_search_m for c in configs)
    gate_reach = max(
        (g.distance_m for c in configs for g in c.school_gates if g.covers(activity.category)), default=0.0
    )
    facts = ExemptionFacts(
        located=True,
        jurisdiction_code=code,
        periods=tuple(period_facts),
        days=days,
        nearest=await read.nearest_designated(session, point, search) if unmatched else None,
        road_zones=tuple(await read.road_zones(session, point)),
        school_gates=tuple(await read.school_gates(session, point, gate_reach)),
    )
    return decide(activity, facts, rule_data, cat, versions)


def _jurisdiction_of(periods: Sequence[PeriodFacts], covering: Sequence[Venue]) -> str | None:
    for period in periods:
        if period.matched is not None:
            return period.matched.jurisdiction_code
    return covering[0].jurisdiction_code if covering else None


def _versions(rules: ExemptionRules, periods: Sequence[Period], zone: Any) -> list[RulesVersion]:
    found: list[RulesVersion] = []
    for position, (start, _) in enumerate(periods):
        day = start.astimezone(zone).date()
        version = rules.version_on(day)
        if version is None:
            raise InvalidInput.for_field(f"periods[{position}].start", f"no exemption rules are in force on {day}")
        found.append(version)
    return found


def _days(periods: Sequence[Period], zone: Any) -> tuple[dt.date, ...]:
    days: set[dt.date] = set()
    for start, end in periods:
        day = start.astimezone(zone).date()
        last = (end - dt.timedelta(microseconds=1)).astimezone(zone).date()
        while day <= last:
            days.add(day)
            day += dt.timedelta(days=1)
    return tuple(sorted(days))


# --- input, record, read -------------------------------------------------------------------------------------


def check_input(
    *,
    activity_code: str,
    point: geo.Shape | None,
    periods: Sequence[Period],
    vendor_id: uuid.UUID | None,
    jurisdiction_code: str | None,
) -> tuple[dict[str, Any], str]:
    """The input as stored (WGS84 coordinates, instants in UTC) and its SHA-256 over canonical JSON."""
    data: dict[str, Any] = {
        "activity_code": activity_code,
        "location": None if point is None else [point.x, point.y],
        "periods": [
            {"start": s.astimezone(dt.UTC).isoformat(), "end": e.astimezone(dt.UTC).isoformat()} for s, e in periods
        ],
        "vendor_id": None if vendor_id is None else str(vendor_id),
        "jurisdiction_code": jurisdiction_code,
    }
    digest = hashlib.sha256(msgspec.json.encode(data, order="sorted")).hexdigest()
    return data, digest


def _reference() -> str:
    return "EX-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(12))


async def record_exemption_check(
    session: AsyncSession,
    decision: ExemptionDecision,
    *,
    point: geo.Shape | None,
    periods: Sequence[Period],
    vendor_id: uuid.UUID | None,
    jurisdiction_code: str | None = None,
    created_by: uuid.UUID | None = None,
    now: dt.datetime,
) -> ExemptionCheck:
    """Store the decision with its input (as given to decide_exemption); flushes, never commits. An exempt
    decision for a named vendor gets a public `reference`."""
    data, digest = check_input(
        activity_code=decision.activity_code,
        point=point,
        periods=periods,
        vendor_id=vendor_id,
        jurisdiction_code=jurisdiction_code,
    )
    built = msgspec.to_builtins(decision)
    row = ExemptionCheck(
        id=uuid.uuid4(),
        reference=_reference() if decision.outcome == "exempt" and vendor_id is not None else None,
        vendor_id=vendor_id,
        created_by=created_by,
        activity_code=decision.activity_code,
        jurisdiction_code=decision.jurisdiction_code,
        input=data,
        input_digest=digest,
        outcome=decision.outcome,
        reasons=built["reasons"],
        required_permits=built["required_permits"],
        matched_place=built["matched_place"],
        rule_version=decision.rule_version,
        rule_versions=built["rule_versions"],
        venue_revisions=built["venue_revisions"],
        decision_digest=decision_digest(decision),
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def usable_vendor(session: AsyncSession, principal: Principal | None, vendor_id: uuid.UUID) -> Vendor:
    """The vendor a check may name: the caller's own, any for an admin, a resident for their street office."""
    vendor = await session.get(Vendor, vendor_id)
    allowed = (
        vendor is not None
        and principal is not None
        and (
            principal.role == "admin"
            or (principal.role == "vendor" and principal.vendor_id == vendor_id)
            or (principal.role == "street_office" and principal.jurisdiction_code == vendor.residence_jurisdiction_code)
        )
    )
    if vendor is None or not allowed:
        raise InvalidInput.for_field(
            "vendor_id", "must be your own vendor id (or a resident's, for their street office)"
        )
    return vendor


async def get_exemption_check(
    session: AsyncSession, principal: Principal | None, check_id: uuid.UUID
) -> ExemptionCheck:
    row = await session.get(ExemptionCheck, check_id)
    if row is None or not _may_read(principal, row):
        raise ExemptionCheckNotFound()
    return row


def _may_read(principal: Principal | None, row: ExemptionCheck) -> bool:
    if row.vendor_id is None:
        return True
    return principal is not None and (principal.role == "admin" or principal.vendor_id == row.vendor_id)


ReferenceStatus = Literal["valid", "lapsed"]


class ReferencePlace(msgspec.Struct, frozen=True, kw_only=True):
    venue_id: uuid.UUID
    name: str
    designation_authority: str
    designation_document_number: str
    designated_on: dt.date


class ReferenceAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """What an inspector learns from a reference: no personal data beyond the masked name."""

    reference: str
    status: ReferenceStatus
    lapsed_because: list[str]
    holder_masked: str
    activity_code: str
    activity_name_zh: str
    places: list[ReferencePlace]
    hours: list[dict[str, str]]  # the periods the decision covers, [{start, end}]
    rule_version: str
    decided_at: dt.datetime
    checked_at: dt.datetime
    # A valid reference's signed statement (Ed25519 compact JWS, keys at GET /permit-signing-keys), checked like a
    # permit's token: offline it proves the decision and its place; only online does it show a later lapse.
    token: str | None = None


EXEMPTION_AUDIENCE: Final = "flexreg-exemption"
EXEMPTION_JWS_TYP: Final = "exemption+jwt"


def reference_claims(answer: ReferenceAnswer, *, issuer: str) -> dict[str, Any]:
    """What a reference's token states; it expires when the decision's last period ends."""
    ends = max(dt.datetime.fromisoformat(h["end"]) for h in answer.hours)
    starts = min(dt.datetime.fromisoformat(h["start"]) for h in answer.hours)
    return {
        "iss": issuer,
        "sub": answer.reference,
        "aud": EXEMPTION_AUDIENCE,
        "iat": int(answer.checked_at.timestamp()),
        "nbf": int(min(starts, answer.checked_at).timestamp()),
        "exp": int(ends.timestamp()),
        "holder": answer.holder_masked,
        "activity": answer.activity_code,
        "places": msgspec.to_builtins(answer.places),
        "hours": answer.hours,
        "rule_version": answer.rule_version,
    }


async def reference_status(
    session: AsyncSession, reference: str, *, now: dt.datetime, zone: ZoneInfo
) -> ReferenceAnswer:
    """The reference re-checked now: it lapses when a matched place's designation no longer stands (changed,
    removed, the zone closed or past its validity) or when its last period is over."""
    row = await session.scalar(select(ExemptionCheck).where(ExemptionCheck.reference == reference))
    if row is None or row.vendor_id is None:
        raise ExemptionReferenceNotFound()
    vendor = await session.get(Vendor, row.vendor_id)
    places: list[ReferencePlace] = []
    lapsed: list[str] = []
    matched = [msgspec.convert(p, dict[str, Any]) for r in row.reasons for p in _matched_of(r)]
    for place_id in dict.fromkeys(uuid.UUID(m["venue_id"]) for m in matched):
        stored = next(m for m in matched if uuid.UUID(m["venue_id"]) == place_id)["designation"]
        venue = await session.get(Venue, place_id)
        lapsed += _lapses(venue, stored, now)
        places.append(
            ReferencePlace(
                venue_id=place_id,
                name=venue.name
                if venue is not None
                else next(m for m in matched if m["venue_id"] == str(place_id))["name"],
                designation_authority=stored["authority"],
                designation_document_number=stored["document_number"],
                designated_on=dt.date.fromisoformat(stored["designated_on"]),
            )
        )
    periods = row.input["periods"]
    if max(dt.datetime.fromisoformat(p["end"]) for p in periods) <= now:
        lapsed.append("its last period is over")
    return ReferenceAnswer(
        reference=reference,
        status="lapsed" if lapsed else "valid",
        lapsed_because=lapsed,
        holder_masked=mask_name(vendor.name) if vendor is not None else "*",
        activity_code=row.activity_code,
        activity_name_zh=load_catalogue().activity(row.activity_code).name_zh,
        places=places,
        hours=[{"start": _local(p["start"], zone), "end": _local(p["end"], zone)} for p in periods],
        rule_version=row.rule_version,
        decided_at=row.created_at,
        checked_at=now,
    )


def _local(stored: str, zone: ZoneInfo) -> str:
    """A stored UTC instant in the city's time, as the street reads hours."""
    return dt.datetime.fromisoformat(stored).astimezone(zone).isoformat()


def _matched_of(reason: dict[str, Any]) -> list[dict[str, Any]]:
    if reason.get("rule") != "designated_place_and_time":
        return []
    return [p["matched"] for p in reason.get("facts", {}).get("periods", []) if p.get("matched")]


def _lapses(venue: Venue | None, stored: dict[str, Any], now: dt.datetime) -> list[str]:
    if venue is None or venue.kind != "designated_zone" or venue.designation_authority is None:
        return ["the place is no longer designated"]
    name = venue.name
    same = (venue.designation_authority, venue.designation_document_number, str(venue.designated_on)) == (
        stored["authority"],
        stored["document_number"],
        stored["designated_on"],
    )
    found: list[str] = [] if same else [f"{name}: its designation has changed"]
    if venue.status == "closed" and (venue.status_from is None or venue.status_from <= now):
        found.append(f"{name}: closed")
    if venue.valid_to is not None and venue.valid_to < now.date():
        found.append(f"{name}: valid only to {venue.valid_to}")
    return found

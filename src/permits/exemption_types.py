"""The shapes of an exemption decision and of the facts it is made from (permits.exemption_logic decides)."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from permits.exemption_rules import RuleName
from registry.catalogue import DepartmentCode, PermitKind
from venues.designated import DesignatedPlace, Designation

Outcome = Literal["exempt", "permits_required", "not_allowed"]
VenueRole = Literal["matched", "covering", "nearest", "road_zone"]


class Reason(msgspec.Struct, frozen=True, kw_only=True):
    """One rule applied: its result, its legal basis, the facts it used (`detail` in words, `facts` as data)."""

    rule: RuleName
    passed: bool
    basis: str
    detail: str
    facts: dict[str, Any] = {}
    rule_version: str


class RequiredPermit(msgspec.Struct, frozen=True, kw_only=True):
    """A permit to obtain, from this department; `kind` filing: recorded once the materials are complete."""

    permit_type: str
    department: DepartmentCode
    kind: PermitKind
    legal_basis: str


class MatchedPlace(msgspec.Struct, frozen=True, kw_only=True):
    """The designated place and session a period lies in, with the designation that makes it count."""

    venue_id: uuid.UUID
    venue_revision: int
    name: str
    jurisdiction_code: str
    designation: Designation
    opens_at: dt.datetime
    closes_at: dt.datetime


class VenueRevisionUsed(msgspec.Struct, frozen=True, kw_only=True):
    venue_id: uuid.UUID
    revision: int
    role: VenueRole


class DayVersion(msgspec.Struct, frozen=True, kw_only=True):
    day: dt.date
    rule_version: str


class ExemptionDecision(msgspec.Struct, frozen=True, kw_only=True):
    activity_code: str
    jurisdiction_code: str | None
    outcome: Outcome
    reasons: list[Reason]
    required_permits: list[RequiredPermit]
    matched_place: MatchedPlace | None
    rule_version: str  # the version in force on the first period's day
    rule_versions: list[DayVersion]  # the version in force on every day the periods touch
    venue_revisions: list[VenueRevisionUsed]


def decision_digest(decision: ExemptionDecision) -> str:
    """SHA-256 of the decision's canonical JSON: equal for equal decisions (the determinism proof)."""
    return hashlib.sha256(msgspec.json.encode(decision, order="deterministic")).hexdigest()


# --- facts (what permits.exemption_facts read) --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZoneMiss:
    """A designated-zone venue covering the point that did not hold a period, and why, in words and data."""

    venue_id: uuid.UUID
    revision: int
    name: str
    designated: bool
    why: str
    hours: tuple[str, ...]  # its sessions that open on the period's day, "HH:MM–HH:MM" (city time)


@dataclass(frozen=True, slots=True)
class PeriodFacts:
    start: dt.datetime
    end: dt.datetime
    matched: DesignatedPlace | None
    misses: tuple[ZoneMiss, ...] = ()


@dataclass(frozen=True, slots=True)
class NearestPlace:
    venue_id: uuid.UUID
    revision: int
    name: str
    distance_m: float


@dataclass(frozen=True, slots=True)
class RoadZone:
    venue_id: uuid.UUID
    revision: int
    name: str
    carriageway: bool
    joint_approval_valid_to: dt.date | None


@dataclass(frozen=True, slots=True)
class SchoolGate:
    feature_id: uuid.UUID
    name: str | None
    distance_m: float


@dataclass(frozen=True, slots=True)
class ExemptionFacts:
    """Everything the rules look at besides the activity; `located` False for a check without a location."""

    located: bool
    jurisdiction_code: str | None
    periods: tuple[PeriodFacts, ...]
    days: tuple[dt.date, ...]  # every local day the periods touch, in order
    nearest: NearestPlace | None = None
    road_zones: tuple[RoadZone, ...] = ()
    school_gates: tuple[SchoolGate, ...] = ()  # nearest first

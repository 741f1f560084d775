"""Licence-exemption decisions (DOMAIN §1.2, §1.3, §1.5): rules in code over the dated rule data. Pure.

`decide(activity, facts, rules)` turns what was found about the place and time (`ExemptionFacts`, read by
permits.exemption_facts) into an outcome, every rule applied with its result, its legal basis and the facts it
used, and the permits required with their departments:

- `not_allowed` when a hard block holds: the activity is blocked everywhere (catalogue), banned where it is, or
  a food stall is within the local school-gate distance;
- otherwise the permits required: the activity's unconditional permits (the food-stall filing as the province
  routes it), the business licence when no exemption holds (无证无照经营查处办法 Art. 3(1) needs a designated
  place AND time, an activity type it covers, and no permit under another law), and road occupancy when a
  street stall stands on a road zone outside any designated place;
- `exempt` when that list is empty.

Each period is judged under the rules version in force on the day it starts (city time); periods under
different versions are judged apart and merged (the worst outcome, the union of permits, every reason with the
version that gave it). Same activity, facts and rules → the same decision, byte for byte (`decision_digest`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, Final

import msgspec

from permits.exemption_rules import ROAD_OCCUPANCY, ExemptionRules, JurisdictionConfig, RuleName, RulesVersion
from permits.exemption_types import (
    DayVersion,
    ExemptionDecision,
    ExemptionFacts,
    MatchedPlace,
    Outcome,
    PeriodFacts,
    Reason,
    RequiredPermit,
    VenueRevisionUsed,
    VenueRole,
)
from registry.catalogue import BUSINESS_LICENSE, Activity, Catalogue
from venues.designated import DesignatedPlace

_SEVERITY: Final[dict[str, int]] = {"exempt": 0, "permits_required": 1, "not_allowed": 2}
# Settings whose work has no street place: 电子商务法 Art. 10 (online), platform work, services at clients' homes.
NO_PLACE_SETTINGS: Final = frozenset({"online", "platform", "home_service"})
TRAFFIC_POLICE: Final = "traffic_police"
FOOD_STALL_FILING: Final = "food_stall_filing"
_MM: Final = 1e-3  # distances compare at millimetre resolution (venues.geo.MM)


# --- the decision -------------------------------------------------------------------------------------------


def decide(
    activity: Activity,
    facts: ExemptionFacts,
    rules: ExemptionRules,
    catalogue: Catalogue,
    versions: Sequence[RulesVersion],
) -> ExemptionDecision:
    """`versions[i]` is the version in force on the day period i starts; `facts.days` the days to record."""
    groups: dict[str, tuple[RulesVersion, list[PeriodFacts]]] = {}
    for period, version in zip(facts.periods, versions, strict=True):
        groups.setdefault(version.version, (version, []))[1].append(period)
    outcomes: list[Outcome] = []
    reasons: list[Reason] = []
    required: list[RequiredPermit] = []
    for version, periods in groups.values():
        config = rules.config(version, facts.jurisdiction_code)
        judged = _Judgement(activity, facts, periods, config, rules.label(version), catalogue)
        outcome, group_reasons, group_required = judged.run()
        outcomes.append(outcome)
        reasons += group_reasons
        required += [p for p in group_required if p not in required]
    first = facts.periods[0].matched
    return ExemptionDecision(
        activity_code=activity.code,
        jurisdiction_code=facts.jurisdiction_code,
        outcome=max(outcomes, key=_SEVERITY.__getitem__),
        reasons=reasons,
        required_permits=required,
        matched_place=_matched(first) if first is not None else None,
        rule_version=rules.label(versions[0]),
        rule_versions=[
            DayVersion(day=day, rule_version=rules.label(v)) for day, v in _versions_by_day(rules, facts.days)
        ],
        venue_revisions=_venue_revisions(facts),
    )


def _versions_by_day(rules: ExemptionRules, days: Sequence[dt.date]) -> list[tuple[dt.date, RulesVersion]]:
    found = [(day, rules.version_on(day)) for day in days]
    return [(day, version) for day, version in found if version is not None]


def _matched(place: DesignatedPlace) -> MatchedPlace:
    return MatchedPlace(
        venue_id=place.venue_id,
        venue_revision=place.venue_revision,
        name=place.name,
        jurisdiction_code=place.jurisdiction_code,
        designation=place.designation,
        opens_at=place.opens_at,
        closes_at=place.closes_at,
    )


def _venue_revisions(facts: ExemptionFacts) -> list[VenueRevisionUsed]:
    used: list[VenueRevisionUsed] = []

    def add(venue_id: uuid.UUID, revision: int, role: VenueRole) -> None:
        entry = VenueRevisionUsed(venue_id=venue_id, revision=revision, role=role)
        if entry not in used:
            used.append(entry)

    for period in facts.periods:
        if period.matched is not None:
            add(period.matched.venue_id, period.matched.venue_revision, "matched")
        for miss in period.misses:
            add(miss.venue_id, miss.revision, "covering")
    if facts.nearest is not None:
        add(facts.nearest.venue_id, facts.nearest.revision, "nearest")
    for zone in facts.road_zones:
        add(zone.venue_id, zone.revision, "road_zone")
    return used


def _instant(value: dt.datetime) -> str:
    return value.isoformat()


def _place_facts(place: DesignatedPlace) -> dict[str, Any]:
    return msgspec.to_builtins(_matched(place))  # type: ignore[no-any-return]


class _Judgement:
    """The rules applied to one group of periods under one version's configuration."""

    def __init__(
        self,
        activity: Activity,
        facts: ExemptionFacts,
        periods: Sequence[PeriodFacts],
        config: JurisdictionConfig,
        label: str,
        catalogue: Catalogue,
    ) -> None:
        self.activity = activity
        self.facts = facts
        self.periods = periods
        self.config = config
        self.label = label
        self.catalogue = catalogue
        self.street = activity.setting not in NO_PLACE_SETTINGS
        self.all_matched = all(p.matched is not None for p in periods)
        self.reasons: list[Reason] = []

    def reason(self, rule: RuleName, passed: bool, detail: str, **facts: Any) -> bool:
        self.reasons.append(
            Reason(
                rule=rule,
                passed=passed,
                basis=self.config.basis(rule),
                detail=detail,
                facts=facts,
                rule_version=self.label,
            )
        )
        return passed

    def run(self) -> tuple[Outcome, list[Reason], list[RequiredPermit]]:
        allowed = self._activity_allowed()
        not_banned = self._local_ban()
        place = self._place() if self.street else self._place_not_needed()
        exempt_type = self._licence_exemption()
        no_licence = self._no_other_licence() if self.activity.setting in ("street", "home_service") else True
        self._food_stall()
        gates = self._school_gates() if self.street else True
        road = self._road() if self.street else []
        self._conditional()
        if not (allowed and not_banned and gates):
            return "not_allowed", self.reasons, []
        required = self._activity_permits()
        if not (place and exempt_type and no_licence) and BUSINESS_LICENSE not in [p.permit_type for p in required]:
            required.insert(0, self._permit(BUSINESS_LICENSE, "market_regulation", "市场主体登记管理条例 Art. 3 [L]"))
        required += road
        return ("permits_required" if required else "exempt"), self.reasons, required

    # --- the rules, in the order reasons list them

    def _activity_allowed(self) -> bool:
        a = self.activity
        blocked = a.stall_allowed == "blocked"
        detail = f"{a.name_en} is blocked everywhere: {a.licence_basis}" if blocked else f"{a.name_en} is not blocked"
        return self.reason("activity_allowed", not blocked, detail, stall_allowed=a.stall_allowed)

    def _local_ban(self) -> bool:
        ban = self.config.ban_of(self.activity.code)
        applies = ban is not None and (ban.scope == "everywhere" or not self.all_matched)
        rows = list(self.config.applied)
        where = self.facts.jurisdiction_code or "national default"
        if ban is None:
            return self.reason("local_ban", True, f"No ban of this activity applies in {where}", rows=rows)
        detail = f"Banned in {where} ({ban.scope}): {ban.basis}"
        if not applies:
            detail = f"Banned in {where} only outside designated places, and every period is inside one: {ban.basis}"
        return self.reason("local_ban", not applies, detail, rows=rows, scope=ban.scope, ban_basis=ban.basis)

    def _place(self) -> bool:
        periods = [self._period_facts(p) for p in self.periods]
        nearest = self.facts.nearest
        near = None
        if nearest is not None:
            near = {
                "venue_id": str(nearest.venue_id),
                "venue_revision": nearest.revision,
                "name": nearest.name,
                "distance_m": round(nearest.distance_m, 2),
            }
        if self.all_matched:
            names = sorted({p.matched.name for p in self.periods if p.matched is not None})
            detail = "Every period lies inside one session of a designated place: " + ", ".join(names)
        else:
            failed = [p for p in periods if p["matched"] is None]
            detail = f"{len(failed)} of {len(periods)} periods lie in no designated place's session"
            detail += "; " + "; ".join(p["why"] for p in failed)
            if near is not None:
                detail += f"; the nearest designated place is {near['name']}, {near['distance_m']} m away"
            elif not any(p["misses"] for p in failed):
                detail += "; no designated place lies within the search distance"
        return self.reason("designated_place_and_time", self.all_matched, detail, periods=periods, nearest=near)

    def _period_facts(self, period: PeriodFacts) -> dict[str, Any]:
        span = f"{_instant(period.start)}–{_instant(period.end)}"
        misses = [
            {
                "venue_id": str(m.venue_id),
                "venue_revision": m.revision,
                "name": m.name,
                "designated": m.designated,
                "why": m.why,
                "hours": list(m.hours),
            }
            for m in period.misses
        ]
        if period.matched is not None:
            why = f"{span} inside {period.matched.name}"
        elif misses:
            why = f"{span}: " + "; ".join(f"{m['name']}: {m['why']}" for m in misses)
        else:
            why = f"{span}: the location is in no designated place"
        matched = _place_facts(period.matched) if period.matched is not None else None
        return {
            "start": _instant(period.start),
            "end": _instant(period.end),
            "matched": matched,
            "misses": misses,
            "why": why,
        }

    def _place_not_needed(self) -> bool:
        setting = self.activity.setting
        return self.reason(
            "place_not_needed", True, f"A {setting} activity: no designated place is needed", setting=setting
        )

    def _licence_exemption(self) -> bool:
        a = self.activity
        passed = a.licence in ("exempt", "conditional")
        # The kind of activity only: whether the exemption holds here and then is the place-and-time rule's.
        kind = "can be" if passed else "cannot be"
        detail = f"The kind of activity {kind} licence-exempt at a designated place and time ({a.licence}): "
        detail += a.licence_basis
        if a.licence_threshold_cny is not None:
            detail += f" (exempt up to ¥{a.licence_threshold_cny:,} a year)"
        return self.reason(
            "licence_exemption", passed, detail, licence=a.licence, licence_threshold_cny=a.licence_threshold_cny
        )

    def _no_other_licence(self) -> bool:
        permits = [
            p.permit_type
            for p in self.activity.required_permits
            if p.condition is None
            and p.permit_type != BUSINESS_LICENSE
            and self.catalogue.permit_type(p.permit_type).instrument == "permit"
        ]
        filings = [
            p.permit_type
            for p in self.activity.required_permits
            if p.condition is None and p.permit_type != BUSINESS_LICENSE and p.permit_type not in permits
        ]
        detail = (
            "Needs a permit under another law: " + ", ".join(permits)
            if permits
            else "Needs no permit (许可) under another law"
        )
        if filings:
            detail += "; it still files or holds, without defeating the exemption: " + ", ".join(filings)
        return self.reason("no_other_licence", not permits, detail, permits=permits)

    def _food_stall(self) -> None:
        if FOOD_STALL_FILING not in self.activity.unconditional_permit_codes:
            return
        regime = self.config.food_stall
        detail = f"Files {regime.permit_type} with {regime.filed_with}, routed to {regime.department}: {regime.basis}"
        self.reason(
            "food_stall_regime",
            True,
            detail,
            permit_type=regime.permit_type,
            department=regime.department,
            filed_with=regime.filed_with,
            rows=list(self.config.applied),
        )

    def _school_gates(self) -> bool:
        category = self.activity.category
        rules = [
            g
            for g in self.config.school_gates
            if g.covers(category) and (g.applies == "everywhere" or not self.all_matched)
        ]
        if not rules:
            return self.reason("school_gate_distance", True, f"No school-gate distance applies to {category} here")
        rule = max(rules, key=lambda g: g.distance_m)
        gate = self.facts.school_gates[0] if self.facts.school_gates else None
        too_close = gate is not None and gate.distance_m <= rule.distance_m + _MM
        gate_facts = None
        if gate is not None:
            gate_facts = {
                "feature_id": str(gate.feature_id),
                "name": gate.name,
                "distance_m": round(gate.distance_m, 2),
            }
        if gate is None or gate.distance_m > 1000:
            detail = f"No school gate within {rule.distance_m:g} m"
        else:
            relation = "within" if too_close else "more than"
            detail = f"The nearest school gate is {gate.distance_m:.2f} m away, {relation} {rule.distance_m:g} m"
        return self.reason(
            "school_gate_distance",
            not too_close,
            f"{detail}: {rule.basis}",
            distance_required_m=rule.distance_m,
            applies=rule.applies,
            nearest_gate=gate_facts,
        )

    def _road(self) -> list[RequiredPermit]:
        zones = self.facts.road_zones
        zone_facts = [
            {
                "venue_id": str(z.venue_id),
                "venue_revision": z.revision,
                "name": z.name,
                "carriageway": z.carriageway,
                "joint_approval_valid_to": z.joint_approval_valid_to.isoformat() if z.joint_approval_valid_to else None,
            }
            for z in zones
        ]
        authority = self.config.road_authority
        if self.all_matched:
            self.reason(
                "road_occupancy", True, "Inside a designated place: no separate road occupation", zones=zone_facts
            )
            return []
        if not zones:
            self.reason("road_occupancy", True, "The location is on no road zone", zones=zone_facts)
            return []
        last_day = max(p.end for p in self.periods).date()
        approved = [
            z
            for z in zones
            if not z.carriageway and z.joint_approval_valid_to is not None and z.joint_approval_valid_to >= last_day
        ]
        if approved:
            zone = approved[0]
            detail = (
                f"{zone.name} has a joint approval to {zone.joint_approval_valid_to}: requests are approved at once"
            )
            self.reason("road_occupancy", True, detail, zones=zone_facts, road_authority=authority)
            return []
        detail = f"On road zone {zones[0].name}: occupation needs the approval of {authority} and {TRAFFIC_POLICE}"
        detail += f" ({self.config.road_authority_basis})"
        self.reason("road_occupancy", False, detail, zones=zone_facts, road_authority=authority)
        basis = self.catalogue.permit_type(ROAD_OCCUPANCY).legal_basis
        return [self._permit(ROAD_OCCUPANCY, authority, basis), self._permit(ROAD_OCCUPANCY, TRAFFIC_POLICE, basis)]

    def _conditional(self) -> None:
        conditional = [p for p in self.activity.required_permits if p.condition is not None]
        if not conditional:
            return
        listed = [
            {"permit_type": p.permit_type, "department": p.department, "condition": p.condition} for p in conditional
        ]
        detail = "Needed only in a stated case: " + "; ".join(f"{p.permit_type} ({p.condition})" for p in conditional)
        self.reason("conditional_permits", True, detail, permits=listed)

    # --- permits

    def _activity_permits(self) -> list[RequiredPermit]:
        regime = self.config.food_stall
        found: list[RequiredPermit] = []
        for p in self.activity.required_permits:
            if p.condition is not None:
                continue
            if p.permit_type == FOOD_STALL_FILING:
                found.append(self._permit(regime.permit_type, regime.department, regime.basis))
            else:
                found.append(self._permit(p.permit_type, p.department, p.legal_basis))
        return found

    def _permit(self, code: str, department: str, basis: str) -> RequiredPermit:
        return msgspec.convert(
            {
                "permit_type": code,
                "department": department,
                "kind": self.catalogue.permit_type(code).kind,
                "legal_basis": basis,
            },
            RequiredPermit,
        )

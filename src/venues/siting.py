"""Siting rules for a pitch (DOMAIN §2.3): inside its venue, clear of other pitches and restricted features,
small enough, and on road zones leaving the walkway clear. Pure: every check is reported, passed or not.

Rules come from the packaged `data/siting-rules.toml`, read and validated once per process. Geometry is
handled through `venues.geo` (WGS84 shapes in; one projection per check, that of the venue's zone).

Boundaries: "within N m" includes N m (民法典 Art. 1259): a pitch exactly N m from a feature is within its
buffer and fails; it must be more than N m away. Distances are compared rounded to the millimetre.

Walkway: the sidewalk (a road zone's polygon) minus every footprint given — the pitch itself and every other
footprint the caller says occupies an overlapping period — must still let a walker `min_clear_m` wide pass
wherever the bare sidewalk does (see `geo.walkway`: a disc of that diameter must still roll through).
The detail reports the widest walker that still passes, to the centimetre.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Annotated, Final, Literal

import msgspec

from registry.catalogue import CATEGORIES, Category
from venues import geo

FeatureKind = Literal[
    "fire_hydrant",
    "intersection",
    "school_gate",
    "hospital_entrance",
    "bus_stop",
    "metro_exit",
    "fire_lane",
    "pollution_source",
    "blind_lane",
    "highway_land",
]
FEATURE_KINDS: Final[tuple[FeatureKind, ...]] = typing.get_args(FeatureKind)
# The law forbids any occupation of these, whatever a city's file says (消防法 Art. 28; 公路法 Art. 46).
MUST_FORBID_OVERLAP: Final = frozenset({"fire_lane", "blind_lane", "highway_land"})
VenueKind = Literal["community_space", "designated_zone", "road_zone"]
CheckName = Literal["inside_venue", "no_overlap", "clear_of_restricted", "area_cap", "walkway_clear"]

MAX_BUFFER_M: Final = 1000.0
Metres = Annotated[float, msgspec.Meta(ge=0, le=MAX_BUFFER_M)]
_DATA_FILE: Final = "siting-rules.toml"
# Above this many others or features, candidates come from an STRtree instead of a scan.
_INDEX_FROM: Final = 16


class SitingRulesError(ValueError):
    """The siting rules file is malformed or inconsistent; the message names every problem found."""


class CategoryBuffers(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Buffers per registry activity category; one field per `registry.catalogue.Category` (a test checks)."""

    agricultural_products: Metres | None = None
    daily_necessities: Metres | None = None
    convenience_services: Metres | None = None
    prepared_food: Metres | None = None
    prepackaged_food: Metres | None = None
    restricted: Metres | None = None


class KindRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    default_m: Metres
    by_category: CategoryBuffers = msgspec.field(default_factory=CategoryBuffers)
    overlap_forbidden: bool = False

    def for_category(self, category: str) -> float:
        value: float | None = getattr(self.by_category, category)
        return self.default_m if value is None else value


class _Kinds(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One required rule per `FeatureKind` (a test checks they match), so a missing kind is named."""

    fire_hydrant: KindRule
    intersection: KindRule
    school_gate: KindRule
    hospital_entrance: KindRule
    bus_stop: KindRule
    metro_exit: KindRule
    fire_lane: KindRule
    pollution_source: KindRule
    blind_lane: KindRule
    highway_land: KindRule


class StallRules(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    max_area_m2: Annotated[float, msgspec.Meta(gt=0, le=100)]


class WalkwayRules(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    min_clear_m: Annotated[float, msgspec.Meta(gt=0, le=20)]


class RoadRules(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Limits of a road-occupancy request (venues.road): the whole request, and each of its periods."""

    max_duration_days: Annotated[int, msgspec.Meta(gt=0, le=366)]
    max_period_hours: Annotated[float, msgspec.Meta(gt=0, le=24)]


class _RulesFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    version: Annotated[str, msgspec.Meta(pattern=r"^\d{4}\.\d+$")]
    stall: StallRules
    walkway: WalkwayRules
    road: RoadRules
    kinds: _Kinds


@dataclass(frozen=True, slots=True)
class SitingRules:
    version: str
    max_stall_area_m2: float
    min_walkway_m: float
    kinds: Mapping[str, KindRule]
    road: RoadRules

    def buffer_m(self, kind: str, categories: Iterable[str]) -> float:
        """The buffer around a `kind` feature for a venue allowing `categories` (the largest applies)."""
        rule = self.kinds[kind]
        values = [rule.for_category(c) for c in categories]
        return max(values, default=rule.default_m)


def parse_siting_rules(text: str | bytes) -> SitingRules:
    """Decode and check a rules file's text; raise `SitingRulesError` naming every problem."""
    raw = text.encode() if isinstance(text, str) else text
    try:
        data = msgspec.toml.decode(raw, type=_RulesFile)
    except msgspec.DecodeError as exc:  # ValidationError is a subclass; its message names the field path
        raise SitingRulesError(f"{_DATA_FILE}: {exc}") from exc
    kinds: dict[str, KindRule] = {kind: getattr(data.kinds, kind) for kind in FEATURE_KINDS}
    problems = [
        f"kinds.{kind}: overlap_forbidden must be true"
        for kind in sorted(MUST_FORBID_OVERLAP)
        if not kinds[kind].overlap_forbidden
    ]
    if problems:
        raise SitingRulesError(f"{_DATA_FILE}: " + "; ".join(problems))
    return SitingRules(
        version=data.version,
        max_stall_area_m2=data.stall.max_area_m2,
        min_walkway_m=data.walkway.min_clear_m,
        kinds=MappingProxyType(kinds),
        road=data.road,
    )


@functools.cache
def load_siting_rules() -> SitingRules:
    """The packaged siting rules, read and checked once per process."""
    return parse_siting_rules(resources.files("venues").joinpath("data", _DATA_FILE).read_bytes())


# --- Inputs and results -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Site:
    """Where a pitch goes: its kind and WGS84 shape (for a road zone, the sidewalk polygon)."""

    kind: VenueKind
    shape: geo.Shape


@dataclass(frozen=True, slots=True)
class Footprint:
    """Another pitch or occupancy: `ref` names it in the report."""

    ref: str
    shape: geo.Shape


@dataclass(frozen=True, slots=True)
class Feature:
    """A restricted feature; `buffer_m` overrides the rules for it (all categories) when given."""

    ref: str
    kind: FeatureKind
    shape: geo.Shape
    buffer_m: float | None = None


class Check(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One check of a pitch, as API.md's `checks: [{check, passed, detail}]`, with its numbers."""

    check: CheckName
    passed: bool
    detail: str
    feature: str | None = None
    kind: str | None = None
    distance_m: float | None = None
    required_m: float | None = None
    overlap_forbidden: bool | None = None
    measured: float | None = None
    limit: float | None = None
    refs: list[str] | None = None


# --- The checks ---------------------------------------------------------------------------------------------


def check_pitch(
    area: geo.Shape,
    *,
    venue: Site,
    others: Sequence[Footprint] = (),
    features: Sequence[Feature] = (),
    categories: Iterable[Category] = (),
    rules: SitingRules | None = None,
) -> list[Check]:
    """Every siting check of pitch `area` (WGS84) in `venue`, in a fixed order; failed ones carry numbers.

    `others` are the footprints that count against this pitch (other pitches; for road zones, every
    footprint approved or pending for an overlapping period). `categories` are those the venue allows.
    """
    rules = rules or load_siting_rules()
    cats = sorted(set(categories))
    unknown = [c for c in cats if c not in CATEGORIES]
    if unknown:
        raise ValueError(f"unknown activity categories: {', '.join(unknown)}")
    projection = geo.projection_of(venue.shape)
    shapes = projection.all_to_metres([area, venue.shape, *(o.shape for o in others), *(f.shape for f in features)])
    pitch, site = shapes[0], shapes[1]
    other_shapes = shapes[2 : 2 + len(others)]
    feature_shapes = shapes[2 + len(others) :]

    checks = [_inside(pitch, site), _no_overlap(pitch, others, other_shapes)]
    checks += _clear_of_restricted(pitch, features, feature_shapes, cats, rules)
    checks.append(_area_cap(pitch, rules))
    if venue.kind == "road_zone":
        checks.append(_walkway(pitch, site, other_shapes, rules))
    return checks


def _mm(value: float) -> float:
    return round(value, 3)


def _inside(pitch: geo.Shape, site: geo.Shape) -> Check:
    outside = _mm(geo.area_outside(pitch, site))
    if outside <= 0:
        return Check(check="inside_venue", passed=True, detail="the pitch lies inside its venue")
    return Check(
        check="inside_venue",
        passed=False,
        detail=f"{outside} m² of the pitch lies outside its venue",
        measured=outside,
        limit=0.0,
    )


def _candidates(pitch: geo.Shape, shapes: Sequence[geo.Shape], within: float | None) -> list[int]:
    """Indexes worth testing exactly: all of them when few, else an STRtree query."""
    if len(shapes) < _INDEX_FROM:
        return list(range(len(shapes)))
    index = geo.Index(shapes)
    return index.intersecting(pitch) if within is None else index.within(pitch, within)


def _no_overlap(pitch: geo.Shape, others: Sequence[Footprint], shapes: Sequence[geo.Shape]) -> Check:
    hits = [
        (others[i].ref, _mm(geo.overlap_area(pitch, shapes[i])))
        for i in _candidates(pitch, shapes, None)
        if geo.interiors_meet(pitch, shapes[i])
    ]
    hits = [(ref, m2) for ref, m2 in hits if m2 > 0]
    if not hits:
        return Check(check="no_overlap", passed=True, detail="the pitch overlaps no other pitch")
    listed = ", ".join(f"{ref} ({m2} m²)" for ref, m2 in hits)
    return Check(check="no_overlap", passed=False, detail=f"the pitch overlaps {listed}", refs=[ref for ref, _ in hits])


def _clear_of_restricted(
    pitch: geo.Shape,
    features: Sequence[Feature],
    shapes: Sequence[geo.Shape],
    categories: Sequence[str],
    rules: SitingRules,
) -> list[Check]:
    required = [f.buffer_m if f.buffer_m is not None else rules.buffer_m(f.kind, categories) for f in features]
    reach = max(required, default=0.0) + geo.MM
    checks: list[Check] = []
    # Features out of every buffer's reach pass without an exact measure; near ones are measured.
    near = set(_candidates(pitch, shapes, reach))
    for i, feature in enumerate(features):
        forbidden = rules.kinds[feature.kind].overlap_forbidden
        need = required[i]
        distance = _mm(geo.planar_distance(pitch, shapes[i])) if i in near else None
        overlapping = i in near and geo.interiors_meet(pitch, shapes[i])
        if forbidden and overlapping:
            passed, why = False, f"the pitch overlaps {feature.kind} {feature.ref}, which no stall may occupy"
        elif need > 0 and distance is not None and distance <= need:
            passed, why = False, f"{distance} m from {feature.kind} {feature.ref}; more than {need} m required"
        else:
            shown = f"{distance} m" if distance is not None else f"more than {need} m"
            passed, why = True, f"{shown} from {feature.kind} {feature.ref}; required more than {need} m"
        checks.append(
            Check(
                check="clear_of_restricted",
                passed=passed,
                detail=why,
                feature=feature.ref,
                kind=feature.kind,
                distance_m=distance,
                required_m=need,
                overlap_forbidden=forbidden or None,
            )
        )
    if not checks:
        checks.append(Check(check="clear_of_restricted", passed=True, detail="no restricted features given"))
    return checks


def _area_cap(pitch: geo.Shape, rules: SitingRules) -> Check:
    area = _mm(geo.planar_area(pitch))
    cap = rules.max_stall_area_m2
    passed = area <= cap  # "≤ 2 m² per stall": the cap itself is allowed
    return Check(
        check="area_cap",
        passed=passed,
        detail=f"{area} m², {'within' if passed else 'over'} the {cap} m² cap",
        measured=area,
        limit=cap,
    )


def _walkway(pitch: geo.Shape, sidewalk: geo.Shape, others: Sequence[geo.Shape], rules: SitingRules) -> Check:
    footprints = [pitch, *others]
    need = rules.min_walkway_m
    passed, width = geo.walkway(sidewalk, footprints, need)
    verdict = "at least" if passed else "less than"
    return Check(
        check="walkway_clear",
        passed=passed,
        detail=f"the walkway left is {verdict} {need} m wide (about {width} m)",
        measured=width,
        limit=need,
    )


def clear_of(
    area: geo.Shape,
    *,
    site: geo.Shape,
    features: Sequence[Feature],
    categories: Iterable[str],
    rules: SitingRules | None = None,
) -> list[Check]:
    """Only the `clear_of_restricted` checks of `area` (WGS84), projected in the zone of `site` as
    `check_pitch` does: what a new or moved feature means for a pitch already drawn."""
    rules = rules or load_siting_rules()
    projection = geo.projection_of(site)
    shapes = projection.all_to_metres([area, *(f.shape for f in features)])
    return _clear_of_restricted(shapes[0], features, shapes[1:], sorted(set(categories)), rules)

"""The exemption rules data: legal bases per rule and what varies by place, dated and versioned.

Read once from the packaged `data/exemption-rules.toml`, validated against itself and the activity catalogue,
and served from memory (pure: no database, no I/O beyond the packaged file). A jurisdiction's configuration is
the national row overlaid by every row whose prefix starts its code, shortest first (province, city, district,
street): road authority, food-stall regime and school-gate rules are replaced, bans accumulate.

A decision cites `rule_version` = the version's name and a digest of this file together with the catalogue's
(the catalogue says which permits an activity needs, so it is part of what decided): same label, same rules.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Final, Literal, get_args

import msgspec

from registry.catalogue import CATEGORIES, Catalogue, Category, DepartmentCode, load_catalogue

Text = Annotated[str, msgspec.Meta(min_length=1)]
Code = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
# Division-code prefixes at the levels of GB/T 2260 and the street codes: 2, 4, 6, 9 or 12 digits.
Prefix = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{3}([0-9]{3})?)?)?)?$")]
Metres = Annotated[float, msgspec.Meta(ge=0, le=1000)]

RuleName = Literal[
    "activity_allowed",
    "local_ban",
    "designated_place_and_time",
    "place_not_needed",
    "licence_exemption",
    "no_other_licence",
    "food_stall_regime",
    "school_gate_distance",
    "road_occupancy",
    "conditional_permits",
]
RULE_NAMES: Final[tuple[RuleName, ...]] = get_args(RuleName)
Applies = Literal["everywhere", "outside_designated_places"]
ROAD_AUTHORITIES: Final = frozenset({"urban_management", "housing_construction"})
ROAD_OCCUPANCY: Final = "road_occupancy"

_DATA_FILE: Final = "exemption-rules.toml"


class ExemptionRulesError(ValueError):
    """The rules file is malformed or inconsistent; the message names every problem found."""


class FoodStallRegime(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    permit_type: Code
    department: DepartmentCode
    filed_with: Text
    basis: Text


class SchoolGateRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    distance_m: Metres
    categories: list[Category] = []  # empty: every category
    applies: Applies = "everywhere"
    basis: Text

    def covers(self, category: str) -> bool:
        return not self.categories or category in self.categories


class Ban(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    activity: Code
    scope: Applies
    basis: Text


class JurisdictionRow(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    prefix: Prefix
    name: Text
    road_authority: DepartmentCode | None = None
    road_authority_basis: Text | None = None
    food_stall: FoodStallRegime | None = None
    school_gates: list[SchoolGateRule] | None = None  # None: the rows above decide; [] lifts their rules
    bans: list[Ban] = []


class NationalRow(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    nearest_search_m: Annotated[float, msgspec.Meta(gt=0, le=20_000)]
    road_authority: DepartmentCode
    road_authority_basis: Text
    food_stall: FoodStallRegime
    school_gates: list[SchoolGateRule] = []
    bans: list[Ban] = []


class RulesVersion(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    version: Annotated[str, msgspec.Meta(pattern=r"^\d{4}\.\d+$")]
    effective_from: dt.date
    effective_to: dt.date | None = None  # the last day in force; None: until further notice
    basis: dict[RuleName, Text]
    national: NationalRow
    jurisdictions: list[JurisdictionRow] = []

    def in_force_on(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)


class _RulesFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    versions: Annotated[list[RulesVersion], msgspec.Meta(min_length=1)]


@dataclass(frozen=True, slots=True)
class JurisdictionConfig:
    """One version's configuration for one jurisdiction (or the national default when the code is None)."""

    version: RulesVersion
    jurisdiction_code: str | None
    applied: tuple[str, ...]  # the prefixes of the rows applied, shortest first ("" = national)
    road_authority: str
    road_authority_basis: str
    food_stall: FoodStallRegime
    school_gates: tuple[SchoolGateRule, ...]
    bans: tuple[Ban, ...]

    def basis(self, rule: RuleName) -> str:
        return self.version.basis[rule]

    def ban_of(self, activity_code: str) -> Ban | None:
        """The first ban of the activity, most specific row first (its basis is the one to cite)."""
        return next((ban for ban in reversed(self.bans) if ban.activity == activity_code), None)


@dataclass(frozen=True, slots=True)
class ExemptionRules:
    versions: tuple[RulesVersion, ...]  # by effective_from
    digest: str  # SHA-256 over this file's bytes and the catalogue's digest

    def version_on(self, day: dt.date) -> RulesVersion | None:
        return next((v for v in self.versions if v.in_force_on(day)), None)

    def label(self, version: RulesVersion) -> str:
        """The `rule_version` a decision cites: the version's name and the digest of everything that decided."""
        return f"{version.version}+{self.digest[:12]}"

    def config(self, version: RulesVersion, jurisdiction_code: str | None) -> JurisdictionConfig:
        national = version.national
        rows = sorted(
            (row for row in version.jurisdictions if jurisdiction_code and jurisdiction_code.startswith(row.prefix)),
            key=lambda row: len(row.prefix),
        )
        authority, authority_basis = national.road_authority, national.road_authority_basis
        food_stall, gates, bans = national.food_stall, tuple(national.school_gates), list(national.bans)
        for row in rows:
            if row.road_authority is not None:
                authority, authority_basis = row.road_authority, row.road_authority_basis or authority_basis
            food_stall = row.food_stall or food_stall
            gates = tuple(row.school_gates) if row.school_gates is not None else gates
            bans += row.bans
        return JurisdictionConfig(
            version=version,
            jurisdiction_code=jurisdiction_code,
            applied=("", *(row.prefix for row in rows)),
            road_authority=authority,
            road_authority_basis=authority_basis,
            food_stall=food_stall,
            school_gates=gates,
            bans=tuple(bans),
        )

    def road_authority(self, jurisdiction_code: str | None, day: dt.date) -> str | None:
        """The department that approves road occupation with the traffic police there on `day` (the road flow's)."""
        version = self.version_on(day)
        return None if version is None else self.config(version, jurisdiction_code).road_authority


def parse_exemption_rules(text: str | bytes, catalogue: Catalogue | None = None) -> ExemptionRules:
    """Decode and check a rules file's text against itself and the catalogue; raise naming every problem."""
    raw = text.encode() if isinstance(text, str) else text
    cat = catalogue or load_catalogue()
    try:
        data = msgspec.toml.decode(raw, type=_RulesFile)
    except msgspec.DecodeError as exc:  # ValidationError is a subclass; its message names the field path
        raise ExemptionRulesError(f"{_DATA_FILE}: {exc}") from exc
    problems = _problems(data.versions, cat)
    if problems:
        raise ExemptionRulesError(f"{_DATA_FILE}: " + "; ".join(problems))
    digest = hashlib.sha256(hashlib.sha256(raw).digest() + cat.digest.encode()).hexdigest()
    return ExemptionRules(versions=tuple(sorted(data.versions, key=lambda v: v.effective_from)), digest=digest)


def _problems(versions: Sequence[RulesVersion], cat: Catalogue) -> list[str]:
    problems = [f"duplicate version {v!r}" for v, n in Counter(v.version for v in versions).items() if n > 1]
    ordered = sorted(versions, key=lambda v: v.effective_from)
    for earlier, later in itertools.pairwise(ordered):
        if earlier.effective_to is None or earlier.effective_to >= later.effective_from:
            problems.append(f"versions {earlier.version!r} and {later.version!r} overlap")
    for version in versions:
        problems += [f"version {version.version!r}: {p}" for p in _version_problems(version, cat)]
    return problems


def _version_problems(version: RulesVersion, cat: Catalogue) -> list[str]:
    problems: list[str] = []
    if version.effective_to is not None and version.effective_to < version.effective_from:
        problems.append("effective_to is before effective_from")
    problems += [f"rule {rule!r} has no basis" for rule in RULE_NAMES if rule not in version.basis]
    prefixes = [row.prefix for row in version.jurisdictions]
    problems += [f"duplicate jurisdiction prefix {p!r}" for p, n in Counter(prefixes).items() if n > 1]
    national = version.national
    problems += _place_problems("national", national.road_authority, national.food_stall, national.bans, cat)
    problems += _gate_problems("national", national.school_gates)
    for row in version.jurisdictions:
        where = f"jurisdiction {row.prefix!r}"
        problems += _place_problems(where, row.road_authority, row.food_stall, row.bans, cat)
        problems += _gate_problems(where, row.school_gates or [])
        if row.road_authority is not None and row.road_authority_basis is None:
            problems.append(f"{where}: road_authority needs its road_authority_basis")
    return problems


def _place_problems(
    where: str, authority: str | None, food_stall: FoodStallRegime | None, bans: Sequence[Ban], cat: Catalogue
) -> list[str]:
    problems: list[str] = []
    road = cat.permit_types.get(ROAD_OCCUPANCY)
    if authority is not None and (
        authority not in ROAD_AUTHORITIES or road is None or authority not in road.departments
    ):
        problems.append(f"{where}: road authority {authority!r} is not one that handles {ROAD_OCCUPANCY!r}")
    if food_stall is not None:
        permit = cat.permit_types.get(food_stall.permit_type)
        if permit is None:
            problems.append(f"{where}: unknown food-stall permit type {food_stall.permit_type!r}")
        elif food_stall.department not in permit.departments:
            problems.append(f"{where}: department {food_stall.department!r} does not handle {permit.code!r}")
    problems += [
        f"{where}: ban of unknown activity {ban.activity!r}" for ban in bans if ban.activity not in cat.activities
    ]
    return problems


def _gate_problems(where: str, gates: Sequence[SchoolGateRule]) -> list[str]:
    return [
        f"{where}: unknown category {category!r} in school_gates"
        for gate in gates
        for category in gate.categories
        if category not in CATEGORIES
    ]


@functools.cache
def load_exemption_rules() -> ExemptionRules:
    """The packaged rules, read and checked once per process."""
    return parse_exemption_rules(resources.files("permits").joinpath("data", _DATA_FILE).read_bytes())

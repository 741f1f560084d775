"""The activity catalogue: activities, the permits they need and the departments that handle them.

Read once from the packaged, versioned `data/activities.toml`, validated, and served from memory. Pure: no
database, no I/O beyond reading the packaged file.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Annotated, Final, Literal, get_args

import msgspec

from registry.errors import ActivityNotFound

Code = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Text = Annotated[str, msgspec.Meta(min_length=1)]
SourceTag = Literal["L", "W", "K", "V"]

# API.md "Stable codes clients rely on": changing these is an API change, not a data change.
Category = Literal[
    "agricultural_products",
    "daily_necessities",
    "convenience_services",
    "prepared_food",
    "prepackaged_food",
    "restricted",
]
DepartmentCode = Literal[
    "market_regulation",
    "urban_management",
    "traffic_police",
    "health",
    "fire_rescue",
    "ecology_environment",
    "tobacco",
    "emergency_management",
    "drug_administration",
    "education",
    "transport",
    "human_resources",
    "agriculture_rural",
    "press_publication",
    "public_security",
    "housing_construction",
]
CATEGORIES: Final[frozenset[str]] = frozenset(get_args(Category))
DEPARTMENT_CODES: Final[frozenset[str]] = frozenset(get_args(DepartmentCode))

Licence = Literal["exempt", "conditional", "required", "not_possible"]
StallAllowed = Literal["allowed", "conditional", "blocked"]
Setting = Literal["street", "online", "platform", "home_service"]
# A licence may be refused on the merits; a filing is recorded once its materials are complete (issue 7).
PermitKind = Literal["licence", "filing"]
# The legal instrument, finer than `kind`: a registration, a permit (许可证), a filing (备案), a certificate.
Instrument = Literal["registration", "permit", "filing", "certificate"]
DayUnit = Literal["working_day", "calendar_day"]

BUSINESS_LICENSE: Final = "business_license"
_DATA_FILE: Final = "activities.toml"


class CatalogueError(ValueError):
    """The catalogue file is malformed or inconsistent; the message names every problem found."""


class DepartmentOut(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A department requests are routed to (DOMAIN §1.4)."""

    code: DepartmentCode
    name_zh: Text
    name_en: Text
    responsibilities: list[Text] = []


class TimeLimitOut(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A statutory decision limit: `days` = 0 means on the spot; `scope` is "national" or a locality."""

    days: Annotated[int, msgspec.Meta(ge=0)]
    unit: DayUnit
    scope: Text
    basis: Text
    source_tag: SourceTag
    extension_days: Annotated[int, msgspec.Meta(ge=0)] = 0
    uncertain: bool = False


class PermitTypeOut(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A permit, filing, registration or certificate; `departments` handle it here, the first leads."""

    code: Code
    name_zh: Text
    name_en: Text
    kind: PermitKind
    instrument: Instrument
    departments: Annotated[list[DepartmentCode], msgspec.Meta(min_length=1)]
    legal_basis: Text
    source_tag: SourceTag
    # The real issuing authority when it has no department code of its own (API.md fixes the list).
    issuer: str | None = None
    statutory_limits: list[TimeLimitOut] = []
    uncertain: bool = False
    notes: list[Text] = []


class RequiredPermitOut(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One permit an activity needs; a `condition` means it is needed only in that case."""

    permit_type: Code
    department: DepartmentCode
    legal_basis: Text
    stall_possible: bool
    condition: str | None = None


class FlagsOut(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Traits that trigger siting and equipment rules."""

    fumes: bool = False
    open_flame: bool = False
    gas: bool = False
    noise: bool = False
    needs_health_certificate: bool = False


class Activity(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One activity as written in the catalogue file (DOMAIN §1.5)."""

    code: Code
    name_zh: Text
    name_en: Text
    category: Category
    setting: Setting
    licence: Licence
    licence_basis: Text
    stall_allowed: StallAllowed
    # Licence exemption holds only up to this annual turnover (e.g. e-commerce 零星小额) ⚠.
    licence_threshold_cny: Annotated[int, msgspec.Meta(ge=0)] | None = None
    required_permits: list[RequiredPermitOut] = []
    flags: FlagsOut = msgspec.field(default_factory=FlagsOut)
    uncertain: bool = False
    notes: list[Text] = []

    @property
    def permit_codes(self) -> list[str]:
        """The permit types this activity may need, conditional ones included."""
        return [p.permit_type for p in self.required_permits]

    @property
    def unconditional_permit_codes(self) -> list[str]:
        """The permit types this activity always needs (at a designated place and time)."""
        return [p.permit_type for p in self.required_permits if p.condition is None]


class ActivityOut(msgspec.Struct, frozen=True, kw_only=True):
    """An activity as `GET /activities` serves it."""

    code: str
    name_zh: str
    name_en: str
    category: Category
    permits: list[str]  # always needed; `required_permits` adds those needed only under a stated condition
    setting: Setting
    licence: Licence
    licence_basis: str
    licence_threshold_cny: int | None
    stall_allowed: StallAllowed
    required_permits: list[RequiredPermitOut]
    flags: FlagsOut
    uncertain: bool
    notes: list[str]


class ActivityListOut(msgspec.Struct, frozen=True, kw_only=True):
    items: list[ActivityOut]
    version: str


class DepartmentListOut(msgspec.Struct, frozen=True, kw_only=True):
    items: list[DepartmentOut]
    version: str


class PermitTypeListOut(msgspec.Struct, frozen=True, kw_only=True):
    items: list[PermitTypeOut]
    version: str


class _CatalogueFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    version: Annotated[str, msgspec.Meta(pattern=r"^\d{4}\.\d+$")]
    effective_from: dt.date
    departments: list[DepartmentOut]
    permit_types: list[PermitTypeOut]
    activities: list[Activity]


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The validated catalogue, indexed by code; mappings keep the file's order."""

    version: str
    effective_from: dt.date
    digest: str  # SHA-256 of the source text: an ETag, and part of a decision's rule version
    departments: Mapping[str, DepartmentOut]
    permit_types: Mapping[str, PermitTypeOut]
    activities: Mapping[str, Activity]

    @property
    def department_codes(self) -> frozenset[str]:
        return frozenset(self.departments)

    def find_activity(self, code: str) -> Activity | None:
        return self.activities.get(code)

    def activity(self, code: str) -> Activity:
        """The activity with this code, or `ActivityNotFound`."""
        found = self.activities.get(code)
        if found is None:
            # Never repeat the code: it comes from the URL, and people paste ID numbers into anything.
            raise ActivityNotFound("No activity has that code; GET /activities lists them")
        return found

    def permit_type(self, code: str) -> PermitTypeOut:
        """The permit type with this code; a `KeyError` means a caller bug (the catalogue is checked)."""
        return self.permit_types[code]


def parse_catalogue(text: str | bytes) -> Catalogue:
    """Decode and check a catalogue file's text; raise `CatalogueError` naming every problem."""
    raw = text.encode() if isinstance(text, str) else text
    try:
        data = msgspec.toml.decode(raw, type=_CatalogueFile)
    except msgspec.DecodeError as exc:  # ValidationError is a subclass; its message names the field path
        raise CatalogueError(f"{_DATA_FILE}: {exc}") from exc
    problems = _integrity_problems(data)
    if problems:
        raise CatalogueError(f"{_DATA_FILE}: " + "; ".join(problems))
    return Catalogue(
        version=data.version,
        effective_from=data.effective_from,
        digest=hashlib.sha256(raw).hexdigest(),
        departments=MappingProxyType({d.code: d for d in data.departments}),
        permit_types=MappingProxyType({p.code: p for p in data.permit_types}),
        activities=MappingProxyType({a.code: a for a in data.activities}),
    )


def _duplicates(codes: Iterable[str]) -> list[str]:
    return [code for code, n in Counter(codes).items() if n > 1]


def _integrity_problems(data: _CatalogueFile) -> list[str]:
    problems: list[str] = []
    for kind, codes in (
        ("department", [d.code for d in data.departments]),
        ("permit type", [p.code for p in data.permit_types]),
        ("activity", [a.code for a in data.activities]),
    ):
        problems += [f"duplicate {kind} code {c!r}" for c in _duplicates(codes)]
    departments = {d.code for d in data.departments}
    problems += [f"department {c!r} (API.md) is missing" for c in sorted(DEPARTMENT_CODES - departments)]
    permit_types = {p.code: p for p in data.permit_types}
    for p in data.permit_types:
        problems += [f"permit type {p.code!r}: unknown department {d!r}" for d in p.departments if d not in departments]
        if (p.instrument == "filing") != (p.kind == "filing"):
            problems.append(f"permit type {p.code!r}: a filing instrument is exactly a filing kind")
    for a in data.activities:
        where = f"activity {a.code!r}"
        problems += [f"{where}: permit type {c!r} listed twice" for c in _duplicates(a.permit_codes)]
        for req in a.required_permits:
            permit = permit_types.get(req.permit_type)
            if permit is None:
                problems.append(f"{where}: unknown permit type {req.permit_type!r}")
            elif req.department not in permit.departments:
                problems.append(f"{where}: department {req.department!r} does not handle {req.permit_type!r}")
        problems += _licence_problems(a)
    return problems


def _licence_problems(a: Activity) -> list[str]:
    """Keep the licence status, the business-licence permit and the stall verdict consistent."""
    where = f"activity {a.code!r}"
    licence = [p for p in a.required_permits if p.permit_type == BUSINESS_LICENSE]
    problems: list[str] = []
    if a.licence == "exempt" and licence:
        problems.append(f"{where}: licence is exempt but {BUSINESS_LICENSE!r} is required")
    if a.licence == "required" and not any(p.condition is None for p in licence):
        problems.append(f"{where}: licence is required but {BUSINESS_LICENSE!r} is not listed unconditionally")
    if a.licence == "not_possible" and a.stall_allowed != "blocked":
        problems.append(f"{where}: licence is not possible but stall_allowed is {a.stall_allowed!r}")
    if a.stall_allowed != "blocked" and any(p.condition is None and not p.stall_possible for p in a.required_permits):
        problems.append(f"{where}: needs a permit no stall can get, so stall_allowed must be 'blocked'")
    return problems


@functools.cache
def load_catalogue() -> Catalogue:
    """The packaged catalogue, read and checked once per process."""
    text = resources.files("registry").joinpath("data", _DATA_FILE).read_bytes()
    return parse_catalogue(text)


def to_activity_out(activity: Activity) -> ActivityOut:
    return ActivityOut(
        code=activity.code,
        name_zh=activity.name_zh,
        name_en=activity.name_en,
        category=activity.category,
        permits=activity.unconditional_permit_codes,
        setting=activity.setting,
        licence=activity.licence,
        licence_basis=activity.licence_basis,
        licence_threshold_cny=activity.licence_threshold_cny,
        stall_allowed=activity.stall_allowed,
        required_permits=activity.required_permits,
        flags=activity.flags,
        uncertain=activity.uncertain,
        notes=activity.notes,
    )


def activity_list() -> ActivityListOut:
    catalogue = load_catalogue()
    items = [to_activity_out(a) for a in catalogue.activities.values()]
    return ActivityListOut(items=items, version=catalogue.version)


def department_list() -> DepartmentListOut:
    catalogue = load_catalogue()
    return DepartmentListOut(items=list(catalogue.departments.values()), version=catalogue.version)


def permit_type_list() -> PermitTypeListOut:
    catalogue = load_catalogue()
    return PermitTypeListOut(items=list(catalogue.permit_types.values()), version=catalogue.version)


# Pre-encoded bodies: the public lists never change while the process runs, so encode them once.
@functools.cache
def activity_list_json() -> bytes:
    return msgspec.json.encode(activity_list())


@functools.cache
def department_list_json() -> bytes:
    return msgspec.json.encode(department_list())


@functools.cache
def permit_type_list_json() -> bytes:
    return msgspec.json.encode(permit_type_list())

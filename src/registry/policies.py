"""Dated support policies for key groups (DOMAIN §3.3): which row of each policy is in force on a date.

Read once from the packaged `data/policies.toml`, validated, and served from memory. Pure: no database,
no I/O beyond reading the packaged file.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import typing
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Annotated, Final, Literal

import msgspec

KeyGroup = Literal["laid_off_unemployed", "college_graduate", "migrant_worker", "employment_difficulty"]
KEY_GROUPS: Final[tuple[KeyGroup, ...]] = typing.get_args(KeyGroup)
AmountPeriod = Literal["per_household_per_year", "one_off", "loan_cap_per_person", "per_month"]
BusinessRegistration = Literal["not_required", "required", "required_or_equivalent"]
Code = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Text = Annotated[str, msgspec.Meta(min_length=1)]
Count = Annotated[int, msgspec.Meta(ge=0)]

_DATA_FILE: Final = "policies.toml"


class PolicyFileError(ValueError):
    """The policy file is malformed or inconsistent; the message names every problem found."""


class UnknownPolicy(LookupError):
    """No policy with this code exists in any row (a caller bug: codes come from the data)."""


class PolicyParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What the eligibility rules check; None means the policy sets no such limit."""

    business_registration: BusinessRegistration = "not_required"
    graduation_window_years: Count | None = None  # 0: only the calendar year of graduation (毕业年度内)
    includes_current_students: bool = False
    min_unemployed_months: Count | None = None
    min_operating_months: Count | None = None
    max_duration_months: Count | None = None
    provincial_uplift_max_percent: Count | None = None

    @property
    def requires_business_registration(self) -> bool:
        return self.business_registration != "not_required"


class Policy(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One dated row of a support policy; effective_from and effective_to are both inclusive."""

    code: Code
    name_zh: Text
    name_en: Text
    legal_basis: Text
    effective_from: dt.date
    eligible_groups: Annotated[list[KeyGroup], msgspec.Meta(min_length=1)]
    conditions: list[Text]
    source_tag: Literal["L", "W", "K", "V"]
    amount_cny: Count | None = None
    amount_period: AmountPeriod | None = None
    effective_to: dt.date | None = None
    parameters: PolicyParameters = msgspec.field(default_factory=PolicyParameters)
    scope: Literal["national", "local_example"] = "national"
    uncertain: bool = False
    notes: list[Text] = []

    def in_force_on(self, on: dt.date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)


class KeyGroupTerms(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """How long a street office's verification of a key-group claim lasts when the officer names no date."""

    default_verification_months: Annotated[int, msgspec.Meta(ge=1, le=60)]


class Registration(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Who may register and how long a verification may last at most."""

    # 劳动法 Art. 15 / 就业促进法: no one under 16 may be employed; working age starts at 16 (DOMAIN §3.1).
    minimum_age: Annotated[int, msgspec.Meta(ge=14, le=18)]
    max_verification_years: Annotated[int, msgspec.Meta(ge=1, le=10)]


class _PolicyFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    version: Annotated[str, msgspec.Meta(pattern=r"^\d{4}\.\d+$")]
    registration: Registration
    key_groups: dict[KeyGroup, KeyGroupTerms]
    policies: list[Policy]


@dataclass(frozen=True, slots=True)
class PolicyBook:
    """Every dated row, grouped by policy code and sorted by effective_from."""

    version: str
    rows: Mapping[str, tuple[Policy, ...]]
    registration: Registration
    key_groups: Mapping[str, KeyGroupTerms]

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(self.rows)

    def in_force(self, code: str, on: dt.date) -> Policy | None:
        """The row of `code` in force on `on`, or None if none is; `UnknownPolicy` if no row has that code."""
        rows = self.rows.get(code)
        if rows is None:
            raise UnknownPolicy(f"No policy with code {code!r}")
        return next((row for row in rows if row.in_force_on(on)), None)

    def all_in_force(self, on: dt.date) -> list[Policy]:
        """One row per policy in force on `on`, in file order of the codes."""
        return [row for rows in self.rows.values() for row in rows if row.in_force_on(on)]


def parse_policies(text: str | bytes) -> PolicyBook:
    """Decode and check a policy file's text; raise `PolicyFileError` naming every problem."""
    raw = text.encode() if isinstance(text, str) else text
    try:
        data = msgspec.toml.decode(raw, type=_PolicyFile)
    except msgspec.DecodeError as exc:  # ValidationError is a subclass; its message names the field path
        raise PolicyFileError(f"{_DATA_FILE}: {exc}") from exc
    grouped: dict[str, list[Policy]] = defaultdict(list)
    for row in data.policies:
        grouped[row.code].append(row)
    problems = [p for row in data.policies for p in _row_problems(row)]
    for code, rows in grouped.items():
        rows.sort(key=lambda r: r.effective_from)
        for earlier, later in itertools.pairwise(rows):
            if earlier.effective_to is None or earlier.effective_to >= later.effective_from:
                problems.append(
                    f"policy {code!r}: rows from {earlier.effective_from} and {later.effective_from} overlap"
                )
    missing = sorted(set(KEY_GROUPS) - set(data.key_groups))
    if missing:
        problems.append(f"key_groups: no terms for {', '.join(missing)}")
    if problems:
        raise PolicyFileError(f"{_DATA_FILE}: " + "; ".join(problems))
    return PolicyBook(
        version=data.version,
        rows=MappingProxyType({code: tuple(rows) for code, rows in grouped.items()}),
        registration=data.registration,
        key_groups=MappingProxyType({str(group): terms for group, terms in data.key_groups.items()}),
    )


def _row_problems(row: Policy) -> list[str]:
    where = f"policy {row.code!r} from {row.effective_from}"
    problems: list[str] = []
    if row.effective_to is not None and row.effective_to < row.effective_from:
        problems.append(f"{where}: effective_to {row.effective_to} is before effective_from")
    if (row.amount_cny is None) != (row.amount_period is None):
        problems.append(f"{where}: amount_cny and amount_period must be given together")
    if len(set(row.eligible_groups)) != len(row.eligible_groups):
        problems.append(f"{where}: eligible_groups lists a group twice")
    return problems


@functools.cache
def load_policies() -> PolicyBook:
    """The packaged policy book, read and checked once per process."""
    return parse_policies(resources.files("registry").joinpath("data", _DATA_FILE).read_bytes())


def policy_in_force(code: str, on: dt.date) -> Policy | None:
    """The packaged row of policy `code` in force on `on` (None if it is not in force then)."""
    return load_policies().in_force(code, on)


def policies_in_force(on: dt.date) -> list[Policy]:
    """Every packaged policy in force on `on`, one row each."""
    return load_policies().all_in_force(on)


def registration_rules() -> Registration:
    """Who may register and the longest verification (packaged data)."""
    return load_policies().registration


def default_verification_months(group: str) -> int:
    """How long a verification of `group` lasts when the officer names no end date (packaged data)."""
    return load_policies().key_groups[group].default_verification_months

"""Promised limits per permit type and the clock rules per jurisdiction, from the packaged `data/time-limits.toml`.

A jurisdiction is a 12-digit division code; a rule's `scope` is "national" or a code prefix, and the longest
matching prefix wins (a district's figure over its city's over its province's over the national default).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from importlib import resources
from typing import Annotated, Final, Literal, Protocol, TypeVar

import msgspec

from permits.clocks import (
    ClockRules,
    Completeness,
    DayUnit,
    DecisionDue,
    Extension,
    Pause,
    PromisedLimit,
    StatutoryLimit,
    Supplement,
    completeness,
    decision_due,
)
from permits.workdays import WorkCalendar

_DATA_FILE: Final = "time-limits.toml"
NATIONAL: Final = "national"

Scope = Annotated[str, msgspec.Meta(pattern=r"^(national|[0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12})$")]
Text = Annotated[str, msgspec.Meta(min_length=1)]
SourceTag = Literal["L", "W", "K", "V", "demo"]


class TimeLimitsError(ValueError):
    """The time-limits file is malformed or inconsistent; the message names the problem."""


class PromisedEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    permit_type: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*$")]
    scope: Scope
    days: Annotated[int, msgspec.Meta(ge=0)]
    unit: DayUnit
    basis: Text
    source_tag: SourceTag
    green_channel_days: Annotated[int, msgspec.Meta(ge=0)] | None = None


class ClockRulesEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    scope: Scope
    rest_day_receipt_moves: bool
    receipt_basis: Text
    supplement_stops_clock: bool
    supplement_basis: Text


TimeoutAction = Literal["escalate", "deem_consent", "block"]


class TimeoutPolicyEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What the sweep does with a co-department's task past its limit (DOMAIN §4.3). Deemed consent needs the
    local instrument that provides it; without one a jurisdiction escalates or blocks."""

    scope: Scope
    action: TimeoutAction
    basis: Text
    instrument: Text | None = None


class CommitmentEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A permit type decided on the applicant's signed commitment (告知承诺制) where it is configured: the text's
    version and SHA-256 the applicant must sign, and the working days within which the inspection follows."""

    permit_type: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*$")]
    scope: Scope
    text_version: Text
    text_sha256: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
    inspection_working_days: Annotated[int, msgspec.Meta(ge=1, le=60)]
    basis: Text


class TimeLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    version: Text
    clock_rules: list[ClockRulesEntry]
    promised: list[PromisedEntry] = []
    timeout_policy: list[TimeoutPolicyEntry] = []
    commitment: list[CommitmentEntry] = []
    # Types never deemed consented to, whatever the local rule (food, gas, fire; DOMAIN §4.3).
    safety_critical: list[Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*$")]] = []

    def timeout_policy_for(self, jurisdiction_code: str) -> TimeoutPolicyEntry:
        entry = _closest(self.timeout_policy, jurisdiction_code)
        if entry is None:
            raise TimeLimitsError("no timeout policy applies: the file needs a national entry")
        return entry

    def commitment_for(self, permit_type: str, jurisdiction_code: str) -> CommitmentEntry | None:
        return _closest((e for e in self.commitment if e.permit_type == permit_type), jurisdiction_code)

    def promised_limit(
        self, permit_type: str, jurisdiction_code: str, *, green_channel: bool = False
    ) -> PromisedLimit | None:
        """The promised limit for this type where the application is handled; the green channel's when the
        applicant is a verified key-group member and one is published, else the ordinary one."""
        entry = _closest((e for e in self.promised if e.permit_type == permit_type), jurisdiction_code)
        if entry is None:
            return None
        if green_channel and entry.green_channel_days is not None:
            return PromisedLimit(entry.green_channel_days, entry.unit, f"{entry.basis} (green channel)")
        return PromisedLimit(entry.days, entry.unit, entry.basis)

    def clock_rules_for(self, jurisdiction_code: str) -> ClockRules:
        """The clock rules where the application is handled; the calendar region is the code's province."""
        entry = _closest(self.clock_rules, jurisdiction_code)
        if entry is None:
            raise TimeLimitsError("no clock rules apply: the file needs a national entry")
        return ClockRules(
            region=jurisdiction_code[:2],
            rest_day_receipt_moves=entry.rest_day_receipt_moves,
            supplement_stops_clock=entry.supplement_stops_clock,
            supplement_basis=entry.supplement_basis,
        )


class _Scoped(Protocol):
    @property
    def scope(self) -> str: ...


_E = TypeVar("_E", bound=_Scoped)


def _closest(entries: Iterable[_E], code: str) -> _E | None:
    best: _E | None = None
    best_length = -1
    for entry in entries:
        length = 0 if entry.scope == NATIONAL else len(entry.scope)
        if (entry.scope == NATIONAL or code.startswith(entry.scope)) and length > best_length:
            best, best_length = entry, length
    return best


def parse_time_limits(text: bytes | str) -> TimeLimits:
    try:
        limits = msgspec.toml.decode(text, type=TimeLimits)
    except msgspec.ValidationError as exc:
        raise TimeLimitsError(f"time limits: {exc}") from None
    seen: set[tuple[str, str]] = set()
    for entry in limits.promised:
        key = (entry.permit_type, entry.scope)
        if key in seen:
            raise TimeLimitsError(f"time limits: {entry.permit_type} has two promised limits for {entry.scope}")
        seen.add(key)
        if entry.green_channel_days is not None and entry.green_channel_days > entry.days:
            raise TimeLimitsError(f"time limits: {entry.permit_type} ({entry.scope}) green channel longer than usual")
    if not any(rule.scope == NATIONAL for rule in limits.clock_rules):
        raise TimeLimitsError("time limits: clock_rules need a national entry")
    if not any(rule.scope == NATIONAL for rule in limits.timeout_policy):
        raise TimeLimitsError("time limits: timeout_policy needs a national entry")
    for rule in limits.timeout_policy:
        if rule.action == "deem_consent" and rule.instrument is None:
            raise TimeLimitsError(
                f"time limits: deemed consent in {rule.scope} needs the local instrument providing it"
            )
    return limits


@functools.cache
def load_time_limits() -> TimeLimits:
    """The packaged time limits, read and checked once per process."""
    return parse_time_limits(resources.files("permits").joinpath("data", _DATA_FILE).read_bytes())


def task_acceptance(
    calendar: WorkCalendar,
    *,
    jurisdiction_code: str,
    received: dt.date,
    today: dt.date,
    notice_sent_on: dt.date | None = None,
    completed_on: dt.date | None = None,
    accepted_on: dt.date | None = None,
    limits: TimeLimits | None = None,
) -> Completeness:
    """`clocks.completeness` under the clock rules where the application is handled."""
    rules = (limits or load_time_limits()).clock_rules_for(jurisdiction_code)
    return completeness(
        calendar,
        received=received,
        today=today,
        notice_sent_on=notice_sent_on,
        completed_on=completed_on,
        accepted_on=accepted_on,
        rules=rules,
    )


def task_due(
    calendar: WorkCalendar,
    *,
    permit_type: str,
    jurisdiction_code: str,
    accepted_on: dt.date,
    today: dt.date,
    green_channel: bool = False,
    statutory: StatutoryLimit | None = None,
    extension: Extension | None = None,
    pauses: Iterable[Pause] = (),
    supplements: Iterable[Supplement] = (),
    limits: TimeLimits | None = None,
) -> DecisionDue:
    """A task's decision due date: `clocks.decision_due` with the type's promised limit (the green channel's
    for a verified key-group applicant) and the clock rules where the application is handled. `statutory` is
    the type's own limit where a law or regulation sets one (registry catalogue), else Art. 42's."""
    data = limits or load_time_limits()
    return decision_due(
        calendar,
        accepted_on=accepted_on,
        today=today,
        statutory=statutory,
        promised=data.promised_limit(permit_type, jurisdiction_code, green_channel=green_channel),
        extension=extension,
        pauses=pauses,
        supplements=supplements,
        rules=data.clock_rules_for(jurisdiction_code),
    )

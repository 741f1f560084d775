"""Key-group facts and the support rules that read them: who qualifies for which support, and why.

Pure: no database, no clock. The caller passes the vendor's facts, their verified unexpired key-group claims
and the policies in force on the day (`registry.policies`); every amount, window and date comes from the
policy data, so a new year's figures are a data change (DOMAIN.md §3.3).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Final, Literal

import msgspec

from core.text import matching
from registry.policies import KEY_GROUPS, KeyGroup, Policy

__all__ = ["KEY_GROUPS", "KeyGroup"]


# DOMAIN.md §3.1: the categories provinces certify as 就业困难人员 (Shandong Art. 42, Henan Art. 43); the exact
# scope is provincial, so "other" carries what a city adds.
DifficultyCategory = Literal[
    "over_40_female_over_50_male",  # "4050"
    "zero_employment_family",  # 零就业家庭
    "minimum_living_allowance",  # 低保
    "disability",  # 残疾人证
    "long_term_unemployed",  # continuously unemployed ≥ 1 year
    "landless_farmer",  # 失地农民
    "single_parent",
    "other",
]

CertificateNo = Annotated[
    str, matching(r"^[0-9A-Za-z\-]+$", "may hold only ASCII letters, digits and '-'", min_length=1, max_length=64)
]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
DivisionCode = Annotated[
    str, matching(r"^[0-9]{12}$", "must be a 12-digit division code", description="12-digit division code")
]


class LaidOffUnemployedDetails(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True, omit_defaults=True
):
    """Registered unemployed (登记失业人员), since when.

    No 就业创业证 number: in practice it is the holder's ID number, and the evidence document carries it
    (PIPL Art. 6 minimisation; DOMAIN.md §7.2).
    """

    registered_unemployed_since: dt.date


class CollegeGraduateDetails(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """A college graduate (高校毕业生); in-school students may claim in their graduation year."""

    graduation_on: dt.date
    institution: ShortText | None = None
    # 学信网 (CHSI) online verification code for the degree record: a check instead of a scan (DOMAIN §3.2).
    chsi_verification_code: CertificateNo | None = None


class MigrantWorkerDetails(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """A migrant worker (农民工): the village of their household registration and, if back, since when."""

    hukou_village_code: DivisionCode | None = None
    returned_on: dt.date | None = None


class EmploymentDifficultyDetails(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True, omit_defaults=True
):
    """A person with employment difficulties (就业困难人员), as certified on the 就业创业证, since a date.

    The certificate's number stays on the evidence document (it is the holder's ID number in practice).
    """

    category: DifficultyCategory
    since: dt.date


ClaimDetails = LaidOffUnemployedDetails | CollegeGraduateDetails | MigrantWorkerDetails | EmploymentDifficultyDetails

# What a claim states about the claimant: each group has its own shape, and unknown fields are refused.
DETAILS_TYPES: Final[dict[str, type[ClaimDetails]]] = {
    "laid_off_unemployed": LaidOffUnemployedDetails,
    "college_graduate": CollegeGraduateDetails,
    "migrant_worker": MigrantWorkerDetails,
    "employment_difficulty": EmploymentDifficultyDetails,
}


# --- entitlement rules ----------------------------------------------------------------------------------------

# "4050": women from 40, men from 50 (Shandong 就业促进条例 Art. 42 item 1; DOMAIN §3.1), derived from the
# birth date on the ID number at the date that matters (DOMAIN §3.2), not from what the claimant types.
AGE_4050: Final[dict[str, int]] = {"female": 40, "male": 50}

ReasonCode = Literal[
    "no_verified_key_group",
    "details_missing",
    "not_graduated_yet",
    "graduation_window_passed",
    "unemployed_too_short",
    "not_in_4050_age",
    "requires_business_registration",
    "requires_business_licence_or_equivalent",
    "operating_too_short",
    "registration_window_ended",
]
# Refusals that time alone cures: the item says from which day the vendor qualifies.
_WAITING: Final[frozenset[str]] = frozenset({"not_graduated_yet", "unemployed_too_short", "operating_too_short"})


class ClaimFact(msgspec.Struct, frozen=True, kw_only=True):
    """A verified, unexpired key-group claim as the rules see it (details None if they could not be read)."""

    group: str
    valid_until: dt.date
    details: ClaimDetails | None


class VendorFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What the rules know about a vendor on the day asked about."""

    birth_on: dt.date
    sex: str
    business_registered_on: dt.date | None = None
    # A permit or venue contract standing in for a business licence (loans accept one: DOMAIN §3.3).
    holds_licence_equivalent: bool = False
    claims: tuple[ClaimFact, ...] = ()


class Reason(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Why a vendor does not (yet) qualify: a stable code to branch on and a sentence to show."""

    code: ReasonCode
    message: str
    group: str | None = None
    eligible_from: dt.date | None = None


class Entitlement(msgspec.Struct, frozen=True, kw_only=True):
    """One support policy judged for one vendor on one day."""

    policy_code: str
    name: str
    name_en: str
    legal_basis: str
    conditions: list[str]
    eligible: bool
    amount_cny: int | None = None
    amount_period: str | None = None
    # Last day this support runs for the vendor as far as the rules can tell (policy end, 36-month window…).
    valid_until: dt.date | None = None
    qualifying_groups: list[str] = []
    reasons: list[Reason] = []
    # Not yet eligible only because time must pass: the first day they would qualify.
    eligible_from: dt.date | None = None
    # Benefits that run from the registration month, for a vendor not registered: how long they would
    # run if the vendor registered today (the no-licence trade-off, DOMAIN §1.2).
    runs_until_if_registered_today: dt.date | None = None
    # When the verified key-group status behind it must be renewed.
    verified_until: dt.date | None = None
    scope: str = "national"
    uncertain: bool = False


class Judgement(msgspec.Struct, frozen=True, kw_only=True):
    eligible: list[Entitlement]
    not_yet_eligible: list[Entitlement]


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, or that month's last day when it is shorter (31 Jan + 1 → 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, _days_in_month(year, month)))


def _days_in_month(year: int, month: int) -> int:
    return ((dt.date(year + month // 12, month % 12 + 1, 1)) - dt.timedelta(days=1)).day


def month_window_end(start: dt.date, months: int) -> dt.date:
    """Last day of `months` whole months counted from the month of `start` (March + 36 → end of February)."""
    return add_months(start.replace(day=1), months) - dt.timedelta(days=1)


def age_on(birth_on: dt.date, on: dt.date) -> int:
    """Full years of age on a day."""
    return on.year - birth_on.year - ((on.month, on.day) < (birth_on.month, birth_on.day))


def graduation_window(graduated: dt.date, years: int, *, includes_current_students: bool) -> tuple[dt.date, dt.date]:
    """First and last day a graduate qualifies, both inclusive.

    `years` 0 is 毕业年度内, the calendar year of graduation (1 January to 31 December; tax notice 2023
    No. 15). Otherwise "within N years of graduation", which includes the N-th anniversary itself
    (民法典 Art. 1259: 以内 includes the number). Current students qualify before graduating where the
    policy says so: in the graduation year for the calendar-year window, any time before otherwise.
    """
    if years == 0:
        start = dt.date(graduated.year, 1, 1) if includes_current_students else graduated
        return start, dt.date(graduated.year, 12, 31)
    return (dt.date.min if includes_current_students else graduated), add_months(graduated, 12 * years)


class _Route(msgspec.Struct, frozen=True, kw_only=True):
    """Whether one verified claim opens a policy on the day judged, and until when its own window lasts."""

    group: str
    reasons: list[Reason] = []
    window_end: dt.date | None = None


def _route(policy: Policy, claim: ClaimFact, facts: VendorFacts, at: dt.date) -> _Route:
    params = policy.parameters
    details = claim.details
    if claim.group == "college_graduate" and params.graduation_window_years is not None:
        if not isinstance(details, CollegeGraduateDetails):
            return _Route(group=claim.group, reasons=[_details_missing(claim.group)])
        years = params.graduation_window_years
        start, end = graduation_window(
            details.graduation_on, years, includes_current_students=params.includes_current_students
        )
        window = "the calendar year of graduation" if years == 0 else f"{years} years of graduation"
        if at < start:
            message = f"Open from {start.isoformat()} (within {window})"
            return _Route(group=claim.group, reasons=[_reason("not_graduated_yet", message, claim, start)])
        if at > end:
            message = f"Open within {window}, which ended on {end.isoformat()}"
            return _Route(group=claim.group, reasons=[_reason("graduation_window_passed", message, claim)])
        return _Route(group=claim.group, window_end=end)
    if claim.group == "laid_off_unemployed" and params.min_unemployed_months is not None:
        if not isinstance(details, LaidOffUnemployedDetails):
            return _Route(group=claim.group, reasons=[_details_missing(claim.group)])
        # "At least N months" of registration: the day N months after registering counts.
        from_day = add_months(details.registered_unemployed_since, params.min_unemployed_months)
        if at < from_day:
            message = (
                f"Needs {params.min_unemployed_months} months of registered unemployment, "
                f"reached on {from_day.isoformat()}"
            )
            return _Route(group=claim.group, reasons=[_reason("unemployed_too_short", message, claim, from_day)])
    if claim.group == "employment_difficulty":
        if not isinstance(details, EmploymentDifficultyDetails):
            return _Route(group=claim.group, reasons=[_details_missing(claim.group)])
        minimum = AGE_4050.get(facts.sex)
        if details.category == "over_40_female_over_50_male" and (
            minimum is None or age_on(facts.birth_on, at) < minimum
        ):
            message = "The 4050 category covers women from 40 and men from 50 (birth date from the ID number)"
            return _Route(group=claim.group, reasons=[_reason("not_in_4050_age", message, claim)])
    return _Route(group=claim.group)


def _reason(code: ReasonCode, message: str, claim: ClaimFact, eligible_from: dt.date | None = None) -> Reason:
    return Reason(code=code, message=message, group=claim.group, eligible_from=eligible_from)


def _details_missing(group: str) -> Reason:
    message = "The verified claim lacks the details this support needs"
    return Reason(code="details_missing", message=message, group=group)


def _business_reasons(
    policy: Policy, facts: VendorFacts, registered: dt.date | None, on: dt.date
) -> tuple[list[Reason], dt.date | None]:
    """Refusals tied to business registration, and the end of a window that runs from the registration month."""
    params = policy.parameters
    reasons: list[Reason] = []
    window_end: dt.date | None = None
    if registered is None and params.business_registration == "required":
        message = (
            "Needs individual-business (个体工商户) registration: working without a licence does not give this support"
        )
        reasons.append(Reason(code="requires_business_registration", message=message))
    if (
        registered is None
        and params.business_registration == "required_or_equivalent"
        and not facts.holds_licence_equivalent
    ):
        message = "Needs a business licence or an equivalent document (a permit or a venue contract)"
        reasons.append(Reason(code="requires_business_licence_or_equivalent", message=message))
    if registered is not None and _runs_from_registration(policy) and params.max_duration_months is not None:
        window_end = month_window_end(registered, params.max_duration_months)
        if on > window_end:
            message = (
                f"Runs {params.max_duration_months} months from the month of registration; "
                f"that ended on {window_end.isoformat()}"
            )
            reasons.append(Reason(code="registration_window_ended", message=message))
    if params.min_operating_months is not None:
        operating_from = add_months(registered, params.min_operating_months) if registered else None
        if operating_from is None or on < operating_from:
            message = f"Needs {params.min_operating_months} months of operation since business registration"
            if operating_from is not None:
                message += f", reached on {operating_from.isoformat()}"
            reasons.append(Reason(code="operating_too_short", message=message, eligible_from=operating_from))
    return reasons, window_end


def _runs_from_registration(policy: Policy) -> bool:
    """A benefit counted from the month of business registration (the 2023 No. 15 tax deduction's 36 months).

    For policies without required registration, `max_duration_months` is the benefit's own term (a loan's
    three years), not a window from registration.
    """
    params = policy.parameters
    return params.business_registration == "required" and params.max_duration_months is not None


def judge_policy(policy: Policy, facts: VendorFacts, on: dt.date) -> Entitlement:
    """Decide whether a vendor qualifies for one policy on `on`, and why (or why not yet).

    Group windows (graduation, months of unemployment, 4050 age) are judged on `on`, except for benefits
    that run from the registration month: those are judged on the registration date, so a graduate who
    registered in the graduation year keeps the 36 months after that year ends.
    """
    params = policy.parameters
    registered = facts.business_registered_on
    if registered is not None and registered > on:
        registered = None
    at = registered if registered is not None and _runs_from_registration(policy) else on

    claims = [claim for claim in facts.claims if claim.group in policy.eligible_groups]
    routes = [_route(policy, claim, facts, at) for claim in claims]
    open_routes = [route for route in routes if not route.reasons]
    reasons: list[Reason] = []
    if not claims:
        message = f"Needs a verified, unexpired key-group claim as one of: {', '.join(policy.eligible_groups)}"
        reasons.append(Reason(code="no_verified_key_group", message=message))
    elif not open_routes and at == on:
        reasons.extend(reason for route in routes for reason in route.reasons)
    elif not open_routes:
        # Judged on the registration date, which is past: waiting no longer helps.
        suffix = f" (judged on the business registration date, {at.isoformat()})"
        reasons.extend(
            Reason(code=reason.code, message=reason.message + suffix, group=reason.group)
            for route in routes
            for reason in route.reasons
        )
    business_reasons, registration_window_end = _business_reasons(policy, facts, registered, on)
    reasons.extend(business_reasons)

    ends = [day for day in (policy.effective_to, registration_window_end) if day is not None]
    best = max(open_routes, key=lambda route: route.window_end or dt.date.max, default=None)
    if best is not None and best.window_end is not None and not _runs_from_registration(policy):
        ends.append(best.window_end)
    if_registered_today = None
    if registered is None and open_routes and _runs_from_registration(policy) and params.max_duration_months:
        if_registered_today = _capped(month_window_end(on, params.max_duration_months), policy)
    eligible = not reasons
    open_groups = {route.group for route in open_routes}
    verified_until = [claim.valid_until for claim in claims if claim.group in open_groups]
    return Entitlement(
        policy_code=policy.code,
        name=policy.name_zh,
        name_en=policy.name_en,
        legal_basis=policy.legal_basis,
        conditions=list(policy.conditions),
        eligible=eligible,
        amount_cny=policy.amount_cny,
        amount_period=policy.amount_period,
        valid_until=min(ends) if eligible and ends else None,
        qualifying_groups=sorted(open_groups),
        reasons=reasons,
        eligible_from=_eligible_from(reasons, policy),
        runs_until_if_registered_today=if_registered_today,
        verified_until=max(verified_until, default=None),
        scope=policy.scope,
        uncertain=policy.uncertain,
    )


def _capped(day: dt.date, policy: Policy) -> dt.date:
    return min(day, policy.effective_to) if policy.effective_to is not None else day


def _eligible_from(reasons: list[Reason], policy: Policy) -> dt.date | None:
    """The first day every refusal has passed, if only waiting stands in the way (and the policy still runs)."""
    waits = [reason.eligible_from for reason in reasons if reason.code in _WAITING]
    if not reasons or len(waits) != len(reasons) or None in waits:
        return None
    day = max(wait for wait in waits if wait is not None)
    return day if policy.effective_to is None or day <= policy.effective_to else None


def judge(policies: Sequence[Policy], facts: VendorFacts, on: dt.date) -> Judgement:
    """Every policy in force judged: those the vendor qualifies for, and the rest with the reasons."""
    judged = [judge_policy(policy, facts, on) for policy in policies]
    return Judgement(
        eligible=[item for item in judged if item.eligible],
        not_yet_eligible=[item for item in judged if not item.eligible],
    )

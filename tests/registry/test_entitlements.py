"""Entitlement rules, pure: each packaged policy judged for and against, windows inclusive at both ends."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest

from registry import entitlements as rules
from registry.entitlements import (
    ClaimFact,
    CollegeGraduateDetails,
    EmploymentDifficultyDetails,
    Entitlement,
    LaidOffUnemployedDetails,
    MigrantWorkerDetails,
    VendorFacts,
)
from registry.policies import Policy, load_policies, policies_in_force

D = dt.date
ON = D(2026, 6, 15)  # every packaged policy is in force on this day
FAR = D(2030, 12, 31)
SINCE = D(2024, 1, 1)


def policy(code: str, on: dt.date = ON) -> Policy:
    row = load_policies().in_force(code, on)
    assert row is not None, f"{code} is not in force on {on}"
    return row


def graduate(graduated: dt.date, valid_until: dt.date = FAR) -> ClaimFact:
    return ClaimFact(
        group="college_graduate", valid_until=valid_until, details=CollegeGraduateDetails(graduation_on=graduated)
    )


def unemployed(since: dt.date) -> ClaimFact:
    return ClaimFact(
        group="laid_off_unemployed",
        valid_until=FAR,
        details=LaidOffUnemployedDetails(registered_unemployed_since=since),
    )


def difficulty(category: Any, since: dt.date = SINCE) -> ClaimFact:
    return ClaimFact(
        group="employment_difficulty",
        valid_until=FAR,
        details=EmploymentDifficultyDetails(category=category, since=since),
    )


def migrant() -> ClaimFact:
    return ClaimFact(group="migrant_worker", valid_until=FAR, details=MigrantWorkerDetails())


def vendor(*claims: ClaimFact, registered: dt.date | None = None, **overrides: Any) -> VendorFacts:
    fields: dict[str, Any] = {"birth_on": D(1990, 5, 20), "sex": "female", "business_registered_on": registered}
    fields.update(overrides)
    return VendorFacts(claims=claims, **fields)


def codes(item: Entitlement) -> list[str]:
    return [reason.code for reason in item.reasons]


# --- calendar helpers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (D(2024, 1, 31), 1, D(2024, 2, 29)),
        (D(2023, 1, 31), 1, D(2023, 2, 28)),
        (D(2024, 2, 29), 12, D(2025, 2, 28)),
        (D(2024, 11, 15), 6, D(2025, 5, 15)),
        (D(2024, 3, 15), 0, D(2024, 3, 15)),
        (D(2024, 3, 15), -3, D(2023, 12, 15)),
    ],
)
def test_add_months_keeps_the_day_or_clamps_to_month_end(day: dt.date, months: int, expected: dt.date) -> None:
    assert rules.add_months(day, months) == expected


def test_month_window_counts_whole_months_from_the_registration_month() -> None:
    assert rules.month_window_end(D(2024, 3, 15), 36) == D(2027, 2, 28)
    assert rules.month_window_end(D(2024, 1, 1), 36) == D(2026, 12, 31)
    assert rules.month_window_end(D(2023, 12, 31), 1) == D(2023, 12, 31)


def test_age_turns_on_the_birthday() -> None:
    assert rules.age_on(D(1986, 6, 15), D(2026, 6, 14)) == 39
    assert rules.age_on(D(1986, 6, 15), D(2026, 6, 15)) == 40
    assert rules.age_on(D(2004, 2, 29), D(2025, 2, 28)) == 20
    assert rules.age_on(D(2004, 2, 29), D(2025, 3, 1)) == 21


def test_graduation_windows() -> None:
    # 毕业年度内: the calendar year, 1 January to 31 December.
    assert rules.graduation_window(D(2025, 6, 30), 0, includes_current_students=True) == (
        D(2025, 1, 1),
        D(2025, 12, 31),
    )
    assert rules.graduation_window(D(2025, 6, 30), 0, includes_current_students=False) == (
        D(2025, 6, 30),
        D(2025, 12, 31),
    )
    # "Within 2 years" includes the second anniversary (民法典 Art. 1259).
    assert rules.graduation_window(D(2024, 6, 30), 2, includes_current_students=False) == (
        D(2024, 6, 30),
        D(2026, 6, 30),
    )
    assert rules.graduation_window(D(2024, 6, 30), 5, includes_current_students=True)[0] == D.min


# --- tax deduction, 2023 No. 15 -------------------------------------------------------------------------------


def test_tax_runs_36_months_from_the_registration_month_capped_at_the_policy_end() -> None:
    tax = policy("tax_deduction_2023_15")
    item = rules.judge_policy(tax, vendor(graduate(D(2024, 6, 30)), registered=D(2024, 3, 15)), ON)
    assert item.eligible, item.reasons
    assert item.valid_until == D(2027, 2, 28)
    assert item.amount_cny == tax.amount_cny
    assert item.legal_basis == tax.legal_basis
    assert item.qualifying_groups == ["college_graduate"]
    late = rules.judge_policy(tax, vendor(graduate(D(2025, 6, 30)), registered=D(2025, 9, 10)), ON)
    assert late.eligible
    assert late.valid_until == tax.effective_to == D(2027, 12, 31)


def test_tax_needs_individual_business_registration() -> None:
    tax = policy("tax_deduction_2023_15")
    item = rules.judge_policy(tax, vendor(graduate(D(2026, 6, 30))), ON)
    assert not item.eligible
    assert codes(item) == ["requires_business_registration"]
    assert "个体工商户" in item.reasons[0].message
    assert item.valid_until is None
    assert item.qualifying_groups == ["college_graduate"]  # the group route is open: only registration is missing
    assert item.runs_until_if_registered_today == D(2027, 12, 31)  # June 2026 + 36 months, capped at the end


def test_tax_window_boundaries_are_inclusive() -> None:
    tax = policy("tax_deduction_2023_15")
    facts = vendor(graduate(D(2024, 6, 30)), registered=D(2024, 3, 15))
    assert rules.judge_policy(tax, facts, D(2027, 2, 28)).eligible
    after = rules.judge_policy(tax, facts, D(2027, 3, 1))
    assert codes(after) == ["registration_window_ended"]


def test_tax_graduates_qualify_by_registering_in_the_graduation_year() -> None:
    tax = policy("tax_deduction_2023_15")
    on_new_years_eve = rules.judge_policy(tax, vendor(graduate(D(2025, 6, 30)), registered=D(2025, 12, 31)), ON)
    assert on_new_years_eve.eligible
    next_year = rules.judge_policy(tax, vendor(graduate(D(2025, 6, 30)), registered=D(2026, 1, 1)), ON)
    assert codes(next_year) == ["graduation_window_passed"]
    assert next_year.eligible_from is None  # registration is past: waiting does not help
    # Students may claim in their graduation year, before graduating.
    student = rules.judge_policy(tax, vendor(graduate(D(2026, 7, 1)), registered=D(2026, 1, 1)), ON)
    assert student.eligible


def test_tax_unemployed_route_needs_six_months_at_registration() -> None:
    tax = policy("tax_deduction_2023_15")
    assert tax.parameters.min_unemployed_months == 6
    exactly = rules.judge_policy(tax, vendor(unemployed(D(2025, 1, 31)), registered=D(2025, 7, 31)), ON)
    assert exactly.eligible
    short = rules.judge_policy(tax, vendor(unemployed(D(2025, 1, 31)), registered=D(2025, 7, 30)), ON)
    assert codes(short) == ["unemployed_too_short"]
    waiting = rules.judge_policy(tax, vendor(unemployed(D(2026, 3, 1))), ON)
    assert codes(waiting) == ["unemployed_too_short", "requires_business_registration"]


def test_tax_is_not_for_migrant_workers_or_after_it_ends() -> None:
    tax = policy("tax_deduction_2023_15")
    item = rules.judge_policy(tax, vendor(migrant(), registered=D(2025, 1, 1)), ON)
    assert codes(item) == ["no_verified_key_group"]
    assert "tax_deduction_2023_15" not in {p.code for p in policies_in_force(D(2028, 1, 1))}


def test_4050_is_derived_from_the_birth_date() -> None:
    tax = policy("tax_deduction_2023_15")
    claim = difficulty("over_40_female_over_50_male")
    forty = rules.judge_policy(tax, vendor(claim, registered=D(2026, 5, 20), birth_on=D(1986, 5, 20)), ON)
    assert forty.eligible, forty.reasons
    thirty_nine = rules.judge_policy(tax, vendor(claim, registered=D(2026, 5, 19), birth_on=D(1986, 5, 20)), ON)
    assert codes(thirty_nine) == ["not_in_4050_age"]
    man_of_45 = rules.judge_policy(
        tax, vendor(claim, registered=D(2026, 5, 20), birth_on=D(1981, 1, 1), sex="male"), ON
    )
    assert codes(man_of_45) == ["not_in_4050_age"]


# --- guaranteed entrepreneurship loan -------------------------------------------------------------------------


def test_loan_for_graduates_within_five_years_inclusive() -> None:
    loan = policy("guaranteed_loan")
    facts = vendor(graduate(D(2021, 6, 30)), registered=D(2025, 1, 1))
    last_day = rules.judge_policy(loan, facts, D(2026, 6, 30))
    assert last_day.eligible
    assert last_day.valid_until == D(2026, 6, 30)
    assert last_day.amount_cny == loan.amount_cny
    assert codes(rules.judge_policy(loan, facts, D(2026, 7, 1))) == ["graduation_window_passed"]
    student = rules.judge_policy(loan, vendor(graduate(D(2026, 12, 31)), registered=D(2026, 1, 1)), ON)
    assert student.eligible


def test_loan_needs_a_licence_or_an_equivalent_document() -> None:
    loan = policy("guaranteed_loan")
    unlicensed = rules.judge_policy(loan, vendor(migrant()), ON)
    assert codes(unlicensed) == ["requires_business_licence_or_equivalent"]
    with_contract = rules.judge_policy(loan, vendor(migrant(), holds_licence_equivalent=True), ON)
    assert with_contract.eligible
    assert with_contract.valid_until is None  # no end date in the data, no group window for migrant workers


def test_loan_term_is_not_a_window_from_registration() -> None:
    loan = policy("guaranteed_loan")
    assert loan.parameters.max_duration_months == 36
    item = rules.judge_policy(loan, vendor(difficulty("disability"), registered=D(2015, 1, 1)), ON)
    assert item.eligible


# --- one-off start-up subsidy ---------------------------------------------------------------------------------


def test_startup_subsidy_after_six_months_of_operation() -> None:
    subsidy = policy("startup_subsidy")
    facts = vendor(graduate(D(2025, 6, 30)), registered=D(2025, 12, 1))
    assert rules.judge_policy(subsidy, facts, D(2026, 6, 1)).eligible
    early = rules.judge_policy(subsidy, facts, D(2026, 5, 31))
    assert codes(early) == ["operating_too_short"]
    assert early.eligible_from == D(2026, 6, 1)


def test_startup_subsidy_within_two_years_of_graduation_only() -> None:
    subsidy = policy("startup_subsidy")
    facts = vendor(graduate(D(2024, 6, 15)), registered=D(2025, 1, 1))
    on_anniversary = rules.judge_policy(subsidy, facts, D(2026, 6, 15))
    assert on_anniversary.eligible
    assert on_anniversary.valid_until == D(2026, 6, 15)
    assert codes(rules.judge_policy(subsidy, facts, D(2026, 6, 16))) == ["graduation_window_passed"]
    unregistered = rules.judge_policy(subsidy, vendor(graduate(D(2025, 6, 30))), ON)
    assert codes(unregistered) == ["requires_business_registration", "operating_too_short"]
    assert codes(rules.judge_policy(subsidy, vendor(unemployed(D(2020, 1, 1)), registered=D(2021, 1, 1)), ON)) == [
        "no_verified_key_group"
    ]


# --- flexible-employment social-insurance subsidy ------------------------------------------------------------


def test_social_insurance_subsidy_needs_no_registration() -> None:
    subsidy = policy("social_insurance_subsidy")
    item = rules.judge_policy(subsidy, vendor(difficulty("single_parent")), ON)
    assert item.eligible
    assert item.valid_until is None
    assert item.amount_cny is None
    graduate_item = rules.judge_policy(subsidy, vendor(graduate(D(2025, 6, 30))), ON)
    assert graduate_item.valid_until == D(2027, 6, 30)
    assert codes(rules.judge_policy(subsidy, vendor(migrant()), ON)) == ["no_verified_key_group"]
    assert codes(rules.judge_policy(subsidy, vendor(graduate(D(2024, 6, 14))), ON)) == ["graduation_window_passed"]
    not_yet = rules.judge_policy(subsidy, vendor(graduate(D(2026, 6, 30))), ON)
    assert codes(not_yet) == ["not_graduated_yet"]
    assert not_yet.eligible_from == D(2026, 6, 30)


# --- the whole judgement --------------------------------------------------------------------------------------


def test_judge_splits_qualifying_from_not_yet() -> None:
    judgement = rules.judge(policies_in_force(ON), vendor(graduate(D(2026, 6, 1))), ON)
    assert {item.policy_code for item in judgement.eligible} == {"social_insurance_subsidy"}
    assert {item.policy_code for item in judgement.not_yet_eligible} == {
        "tax_deduction_2023_15",
        "guaranteed_loan",
        "startup_subsidy",
    }


def test_amounts_and_windows_come_from_the_data() -> None:
    tax = policy("tax_deduction_2023_15")
    next_year = msgspec.structs.replace(
        tax,
        amount_cny=24000,
        parameters=msgspec.structs.replace(tax.parameters, max_duration_months=24),
    )
    item = rules.judge_policy(next_year, vendor(graduate(D(2024, 6, 30)), registered=D(2024, 3, 15)), ON)
    assert item.amount_cny == 24000
    assert codes(item) == ["registration_window_ended"]  # 24 months from March 2024 ended in February 2026


def test_unreadable_details_do_not_qualify() -> None:
    broken = ClaimFact(group="college_graduate", valid_until=FAR, details=None)
    item = rules.judge_policy(policy("social_insurance_subsidy"), vendor(broken), ON)
    assert codes(item) == ["details_missing"]

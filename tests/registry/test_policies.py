"""Dated support policies: the row in force on a date, and broken files refused clearly."""

from __future__ import annotations

import datetime as dt

import pytest

from registry import policies
from registry.policies import PolicyFileError, UnknownPolicy, parse_policies

API_GROUPS = {"laid_off_unemployed", "college_graduate", "migrant_worker", "employment_difficulty"}

HEADER = """version = "2026.1"
registration = { minimum_age = 16, max_verification_years = 5 }
[key_groups]
laid_off_unemployed = { default_verification_months = 12 }
college_graduate = { default_verification_months = 12 }
migrant_worker = { default_verification_months = 12 }
employment_difficulty = { default_verification_months = 12 }
"""


def _row(code: str, start: str, end: str | None, amount: int = 200000) -> str:
    ends = f"effective_to = {end}\n" if end else ""
    return (
        f'\n[[policies]]\ncode = "{code}"\nname_zh = "创业担保贷款"\nname_en = "Guaranteed loan"\n'
        f'amount_cny = {amount}\namount_period = "loan_cap_per_person"\nlegal_basis = "test"\n'
        f'effective_from = {start}\n{ends}eligible_groups = ["college_graduate"]\nconditions = []\nsource_tag = "K"\n'
    )


# Three dated rows of one policy: a closed one, a gap, then an open-ended one; plus another policy.
DATED = (
    HEADER
    + _row("loan", "2018-01-01", "2019-12-31", amount=150000)
    + _row("loan", "2021-01-01", None, amount=300000)
    + _row("loan", "2020-01-01", "2020-12-31", amount=200000)
    + _row("other", "2020-06-01", "2020-06-30", amount=1)
)


def test_packaged_policies_load_and_are_cached() -> None:
    book = policies.load_policies()
    assert book is policies.load_policies()
    assert {"tax_deduction_2023_15", "guaranteed_loan", "startup_subsidy", "social_insurance_subsidy"} <= book.codes


def test_packaged_policies_use_api_key_groups() -> None:
    for rows in policies.load_policies().rows.values():
        for row in rows:
            assert set(row.eligible_groups) <= API_GROUPS


def test_tax_deduction_window_and_parameters() -> None:
    code = "tax_deduction_2023_15"
    assert policies.policy_in_force(code, dt.date(2022, 12, 31)) is None
    first = policies.policy_in_force(code, dt.date(2023, 1, 1))
    last = policies.policy_in_force(code, dt.date(2027, 12, 31))
    assert first is not None
    assert first is last
    assert policies.policy_in_force(code, dt.date(2028, 1, 1)) is None
    assert first.amount_cny == 20000
    assert first.parameters.requires_business_registration
    assert first.parameters.provincial_uplift_max_percent == 20
    assert first.parameters.max_duration_months == 36
    assert first.parameters.min_unemployed_months == 6
    assert first.parameters.graduation_window_years == 0


def test_social_insurance_subsidy_covers_difficulty_and_recent_graduates() -> None:
    row = policies.policy_in_force("social_insurance_subsidy", dt.date(2026, 1, 1))
    assert row is not None
    assert set(row.eligible_groups) == {"employment_difficulty", "college_graduate"}
    assert row.parameters.graduation_window_years == 2
    assert not row.parameters.requires_business_registration


def test_policies_in_force_lists_one_row_per_policy() -> None:
    rows = policies.policies_in_force(dt.date(2026, 6, 1))
    codes = [r.code for r in rows]
    assert len(codes) == len(set(codes))
    assert "tax_deduction_2023_15" in codes


@pytest.mark.parametrize(
    ("on", "amount"),
    [
        (dt.date(2017, 12, 31), None),  # before the first row
        (dt.date(2018, 1, 1), 150000),  # first day, inclusive
        (dt.date(2019, 12, 31), 150000),  # last day, inclusive
        (dt.date(2020, 1, 1), 200000),  # the next row (listed out of order in the file)
        (dt.date(2020, 12, 31), 200000),
        (dt.date(2021, 1, 1), 300000),  # the open-ended row
        (dt.date(2099, 1, 1), 300000),
    ],
)
def test_row_in_force_is_chosen_by_date(on: dt.date, amount: int | None) -> None:
    row = parse_policies(DATED).in_force("loan", on)
    assert (row.amount_cny if row else None) == amount


def test_gap_between_rows_has_nothing_in_force() -> None:
    text = HEADER + _row("loan", "2018-01-01", "2018-12-31") + _row("loan", "2020-01-01", None)
    assert parse_policies(text).in_force("loan", dt.date(2019, 6, 1)) is None


def test_all_in_force_picks_each_policy_on_the_date() -> None:
    book = parse_policies(DATED)
    assert [(r.code, r.amount_cny) for r in book.all_in_force(dt.date(2020, 6, 15))] == [("loan", 200000), ("other", 1)]
    assert [r.code for r in book.all_in_force(dt.date(2020, 7, 1))] == ["loan"]


def test_unknown_policy_code_raises() -> None:
    with pytest.raises(UnknownPolicy):
        parse_policies(DATED).in_force("free_lunch", dt.date(2020, 1, 1))
    with pytest.raises(UnknownPolicy):
        policies.policy_in_force("free_lunch", dt.date(2026, 1, 1))


def test_overlapping_rows_are_refused() -> None:
    text = HEADER + _row("loan", "2018-01-01", "2020-06-30") + _row("loan", "2020-01-01", None)
    with pytest.raises(PolicyFileError, match=r"policy 'loan': rows from 2018-01-01 and 2020-01-01 overlap"):
        parse_policies(text)


def test_open_ended_row_followed_by_another_is_refused() -> None:
    text = HEADER + _row("loan", "2018-01-01", None) + _row("loan", "2020-01-01", None)
    with pytest.raises(PolicyFileError, match=r"policy 'loan': rows from 2018-01-01 and 2020-01-01 overlap"):
        parse_policies(text)


def test_window_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(
        PolicyFileError, match=r"policy 'loan' from 2020-01-01: effective_to 2019-01-01 is before effective_from"
    ):
        parse_policies(HEADER + _row("loan", "2020-01-01", "2019-01-01"))


def test_unknown_key_group_is_refused_naming_the_field() -> None:
    text = HEADER + _row("loan", "2020-01-01", None).replace('"college_graduate"', '"retiree"')
    with pytest.raises(
        PolicyFileError, match=r"Invalid enum value 'retiree' - at `\$\.policies\[0\]\.eligible_groups\[0\]`"
    ):
        parse_policies(text)


def test_misspelt_parameter_is_refused() -> None:
    text = HEADER + _row("loan", "2020-01-01", None) + "[policies.parameters]\ngraduation_window_yrs = 5\n"
    with pytest.raises(
        PolicyFileError, match=r"unknown field `graduation_window_yrs` - at `\$\.policies\[0\]\.parameters`"
    ):
        parse_policies(text)


def test_amount_without_period_is_refused() -> None:
    text = HEADER + _row("loan", "2020-01-01", None).replace('amount_period = "loan_cap_per_person"\n', "")
    with pytest.raises(PolicyFileError, match=r"amount_cny and amount_period must be given together"):
        parse_policies(text)


def test_toml_syntax_error_is_refused() -> None:
    with pytest.raises(PolicyFileError, match=r"policies\.toml: Expected '\]\]' at the end of an array declaration"):
        parse_policies(HEADER + "[[policies]\n")

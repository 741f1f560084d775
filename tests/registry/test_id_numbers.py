"""Pure rules for ID numbers, phones and names (DOMAIN.md §6.1 and §7.3, RELIABILITY.md §4 rows 16-35)."""

from __future__ import annotations

import datetime as dt

import pytest

from registry.id_numbers import (
    InvalidIdNumber,
    InvalidName,
    InvalidPhone,
    birth_date,
    mask_id_number,
    mask_name,
    mask_phone,
    normalise_id_number,
    normalise_name,
    normalise_phone,
    sex,
)

TODAY = dt.date(2025, 6, 1)


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "0" <= c <= "9" or c in "Xx" else c for c in text)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("11010519491231002X", "11010519491231002X"),  # the classic example
        ("110101199001011237", "110101199001011237"),  # Dongcheng, 1990-01-01, male
        ("11010519491231002x", "11010519491231002X"),  # row 29: lower-case x
        (fullwidth("11010519491231002X"), "11010519491231002X"),  # row 30: fullwidth digits and X
        (fullwidth("11010519491231002x"), "11010519491231002X"),
        # stdnum's birthplace table would reject these checksum-valid numbers (DOMAIN.md §6.1).
        ("441900198501011233", "441900198501011233"),  # Dongguan code, born before 1988
        ("810000198501011232", "810000198501011232"),  # Hong Kong residence permit
    ],
)
def test_normalise_id_number_accepts(raw: str, expected: str) -> None:
    assert normalise_id_number(raw, today=TODAY) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("110101199001011238", "invalid_check_digit"),  # DOMAIN.md §6.1
        ("110105194912310021", "invalid_check_digit"),  # row 28
        ("١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", "invalid_format"),  # row 31: Arabic-Indic digits
        ("11010519491231002X\n", "invalid_format"),  # row 32: trailing newline is not stripped
        ("11010519491231002X ", "invalid_format"),
        (" 11010519491231002X", "invalid_format"),
        ("11010519491231002X\u3000", "invalid_format"),  # NFKC turns U+3000 into a space: still refused
        ("440308199002301238", "invalid_birth_date"),  # row 33: Feb 30, valid checksum
        ("440308209912311239", "invalid_birth_date"),  # row 34: born 2099
        ("110101189912311231", "invalid_birth_date"),  # before 1900
        ("110105491231002", "legacy_15_digit"),  # row 35
        ("", "invalid_format"),
        ("1101051949123100X2", "invalid_format"),  # X only as the check character
        ("110105194912310_2X", "invalid_format"),  # int() would accept an underscore
        ("11010519491231002XX", "invalid_format"),
        ("11010519491231002", "invalid_format"),
    ],
)
def test_normalise_id_number_refuses_with_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidIdNumber) as caught:
        normalise_id_number(raw, today=TODAY)
    assert caught.value.reason == reason
    assert caught.value.field == "id_number"
    assert isinstance(caught.value, ValueError)


def test_refusal_messages_never_repeat_the_number() -> None:
    for raw in ("110101199001011238", "440308199002301238", "440308209912311239", "110105491231002"):
        with pytest.raises(InvalidIdNumber) as caught:
            normalise_id_number(raw, today=TODAY)
        assert raw not in str(caught.value)
        assert raw[:6] not in caught.value.message


def test_birth_date_today_is_accepted_tomorrow_is_not() -> None:
    # 2025-06-01 and 2025-06-02 with valid check digits.
    assert normalise_id_number("110101202506010015", today=TODAY) == "110101202506010015"
    with pytest.raises(InvalidIdNumber) as caught:
        normalise_id_number("110101202506020010", today=TODAY)
    assert caught.value.reason == "invalid_birth_date"


@pytest.mark.parametrize(
    ("number", "born", "expected_sex"),
    [
        ("11010519491231002X", dt.date(1949, 12, 31), "female"),  # sequence 002 is even
        ("110101199001011237", dt.date(1990, 1, 1), "male"),  # sequence 123 is odd
    ],
)
def test_birth_date_and_sex(number: str, born: dt.date, expected_sex: str) -> None:
    assert birth_date(number) == born
    assert sex(number) == expected_sex


def test_mask_id_number() -> None:
    assert mask_id_number("110101199001011237") == "110101********1237"
    assert mask_id_number("11010519491231002X") == "110105********002X"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812341234", "13812341234"),
        ("+8613812341234", "13812341234"),
        ("１３８１２３４１２３４", "13812341234"),
        ("19912341234", "19912341234"),
    ],
)
def test_normalise_phone_accepts(raw: str, expected: str) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(
    "raw", ["12812341234", "1381234123", "138123412345", "13812341234\n", "+85213812341234", "", "86 13812341234"]
)
def test_normalise_phone_refuses(raw: str) -> None:
    with pytest.raises(InvalidPhone) as caught:
        normalise_phone(raw)
    assert caught.value.reason == "invalid_format"


def test_mask_phone() -> None:
    assert mask_phone("13812341234") == "138****1234"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("张三", "张三"),
        ("\u3000张三 ", "张三"),  # row 21: surrounding ideographic space is trimmed
        ("\u2f08", "人"),  # row 22: Kangxi radical
        ("\uf90a", "金"),  # row 22: CJK compatibility ideograph
        ("ＡＢＣ１", "ABC1"),  # row 23
        ("阿依古丽・买买提", "阿依古丽·买买提"),  # row 24: katakana middle dot
        ("阿依古丽•买买提", "阿依古丽·买买提"),  # bullet
        ("阿依古丽．买买提", "阿依古丽·买买提"),  # fullwidth full stop
        ("阿依古丽‧买买提", "阿依古丽·买买提"),  # hyphenation point
        ("阿依古丽·买买提", "阿依古丽·买买提"),
        ("J. Smith", "J. Smith"),  # an ASCII full stop stays
        ("人" * 50, "人" * 50),
    ],
)
def test_normalise_name_accepts(raw: str, expected: str) -> None:
    assert normalise_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("张\x00三", "invalid_characters"),  # row 16
        ("张\u202e三", "invalid_characters"),  # row 17
        ("张\u2066三", "invalid_characters"),
        ("张\u200b三", "invalid_characters"),  # row 18
        ("张\u200d三", "invalid_characters"),
        ("张\ufeff三", "invalid_characters"),
        ("张\n三", "invalid_characters"),  # row 19
        ("张\r三", "invalid_characters"),
        ("张\t三", "invalid_characters"),
        ("张三\n", "invalid_characters"),  # a trailing newline is refused, not trimmed
        ("人" * 51, "too_long"),  # row 20
        ("😀" * 51, "too_long"),
        ("", "required"),  # row 21
        ("   ", "required"),
        ("\u3000\u3000", "required"),
    ],
)
def test_normalise_name_refuses(raw: str, reason: str) -> None:
    with pytest.raises(InvalidName) as caught:
        normalise_name(raw)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三", "张*"), ("张", "张*"), ("王小明", "王**"), ("欧阳娜娜", "欧阳**"), ("欧阳修", "欧阳*")],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked

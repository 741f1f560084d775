"""Pure rules for a vendor's identity: resident ID numbers (GB 11643-1999), mobile numbers and names.

Normalise first (NFKC, so fullwidth digits and compatibility characters become their plain forms), then
validate strictly, then mask for display. Nothing here does I/O, and no error message ever repeats the
value it refuses: error bodies and logs must not carry personal data (DOMAIN.md §7, RELIABILITY.md §4).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import ClassVar

from stdnum.cn.ric import calc_check_digit

_ID_NUMBER = re.compile(r"\A[0-9]{17}[0-9X]\Z")
# An 18-character resident ID number standing alone in a text (digits on neither side); its check character
# decides, so a long numeric code does not trip it by accident.
_ID_NUMBER_IN_TEXT = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
_LEGACY_ID_NUMBER = re.compile(r"\A[0-9]{15}\Z")
_MOBILE = re.compile(r"\A1[3-9][0-9]{9}\Z")
_EARLIEST_BIRTH = dt.date(1900, 1, 1)

MAX_NAME_CODE_POINTS = 50
MIDDLE_DOT = "\u00b7"
# Separators people type in minority names (e.g. 阿依古丽·买买提), mapped to the one canonical U+00B7.
_DOT_VARIANTS = str.maketrans(
    dict.fromkeys(
        "\u30fb\uff65\u2022\u2027\uff0e\u2219\u22c5\u0387\u2e31\u16eb\u00b7",
        MIDDLE_DOT,
    )
)
# Invisible characters that can make two names look the same or reorder text: refused, not stripped.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")
# Control, format, surrogate and line/paragraph-separator categories never belong in a name.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

# Two-character surnames (复姓): masking keeps the whole surname, 欧阳娜娜 → 欧阳**.
_SURNAME_PAIRS = (
    "欧阳司马上官诸葛东方皇甫尉迟公孙慕容长孙宇文司徒令狐夏侯轩辕端木独孤南宫西门澹台"
    "公冶宗政濮阳淳于单于太叔申屠钟离闻人呼延百里东郭万俟司空赫连第五羊舌拓跋鲜于闾丘"
    "左丘梁丘公羊谷梁段干乐正壤驷公良漆雕巫马仲孙叔孙颛孙亓官司寇子车微生公西南门"
)
_COMPOUND_SURNAMES = frozenset(_SURNAME_PAIRS[i : i + 2] for i in range(0, len(_SURNAME_PAIRS), 2))


class InvalidPersonalValue(ValueError):
    """A personal value that breaks its rule; `reason` is a stable snake_case code, `message` never quotes the value."""

    field: ClassVar[str] = "value"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class InvalidIdNumber(InvalidPersonalValue):
    field = "id_number"


class InvalidPhone(InvalidPersonalValue):
    field = "phone"


class InvalidName(InvalidPersonalValue):
    field = "name"


def normalise_id_number(raw: str, *, today: dt.date) -> str:
    """The canonical 18-character ID number (upper-case X), or InvalidIdNumber saying which rule failed.

    NFKC first so that fullwidth digits deduplicate with ASCII ones; nothing is stripped (a trailing newline
    or space is an error). The checksum is ISO 7064 MOD 11-2. stdnum's `validate` is deliberately not used:
    its birthplace table rejects valid numbers (Dongguan 4419…, Hong Kong 810000…; DOMAIN.md §6.1).
    """
    number = unicodedata.normalize("NFKC", raw).replace("x", "X")
    if _LEGACY_ID_NUMBER.match(number):
        raise InvalidIdNumber(
            "legacy_15_digit",
            "15-digit first-generation ID numbers are no longer valid; give the 18-character number",
        )
    if not _ID_NUMBER.match(number):
        raise InvalidIdNumber("invalid_format", "must be 17 digits followed by a digit or X, with nothing else")
    if calc_check_digit(number) != number[-1]:
        raise InvalidIdNumber("invalid_check_digit", "the check character does not match (mistyped?)")
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidIdNumber("invalid_birth_date", "the birth date in the number is not a calendar date") from None
    if born < _EARLIEST_BIRTH or born > today:
        raise InvalidIdNumber("invalid_birth_date", "the birth date in the number is in the future or before 1900")
    return number


def holds_id_number(text: str) -> bool:
    """Whether `text` (after NFKC: fullwidth digits count) holds a resident ID number with a valid check
    character: what logs and audit trails must never hold (RELIABILITY.md T-L6)."""
    for match in _ID_NUMBER_IN_TEXT.finditer(unicodedata.normalize("NFKC", text)):
        number = match.group().upper()
        # stdnum's calc_check_digit takes the whole number and ignores its last character.
        if calc_check_digit(number) == number[17]:
            return True
    return False


def birth_date(number: str) -> dt.date:
    """The birth date encoded in a normalised ID number."""
    return dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def sex(number: str) -> str:
    """ "male" when the sequence number (17th character) is odd, else "female" (GB 11643-1999)."""
    return "male" if int(number[16]) % 2 == 1 else "female"


def mask_id_number(number: str) -> str:
    """First 6 + 8 stars + last 4: 110101********1237 (DOMAIN.md §7.3)."""
    return f"{number[:6]}{'*' * 8}{number[-4:]}"


def normalise_phone(raw: str) -> str:
    """A mainland mobile number as 11 ASCII digits; an optional +86 prefix is dropped."""
    phone = unicodedata.normalize("NFKC", raw)
    phone = phone.removeprefix("+86")
    if not _MOBILE.match(phone):
        raise InvalidPhone("invalid_format", "must be a mainland mobile number: 11 digits starting 13-19, +86 optional")
    return phone


def mask_phone(phone: str) -> str:
    """138****1234."""
    return f"{phone[:3]}****{phone[-4:]}"


def normalise_name(raw: str) -> str:
    """A person's name after NFKC, trimmed, with one middle dot; invisible or control characters are refused."""
    name = _strip_spaces(unicodedata.normalize("NFKC", raw.translate(_DOT_VARIANTS)).translate(_DOT_VARIANTS))
    if not name:
        raise InvalidName("required", "must not be empty or only spaces")
    if len(name) > MAX_NAME_CODE_POINTS:
        raise InvalidName("too_long", f"must be at most {MAX_NAME_CODE_POINTS} characters")
    for char in name:
        if char in _BIDI_CONTROLS or char in _ZERO_WIDTH or unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise InvalidName(
                "invalid_characters",
                f"must not contain control, bidirectional or zero-width characters (found U+{ord(char):04X})",
            )
    return name


def _strip_spaces(text: str) -> str:
    """Trim space separators (U+0020, U+3000 and the like); a stray newline or tab is refused, not trimmed."""
    start, end = 0, len(text)
    while start < end and unicodedata.category(text[start]) == "Zs":
        start += 1
    while end > start and unicodedata.category(text[end - 1]) == "Zs":
        end -= 1
    return text[start:end]


def mask_name(name: str) -> str:
    """Keep the surname, star the rest: 张三 → 张*, 欧阳娜娜 → 欧阳**."""
    keep = 2 if len(name) > 2 and name[:2] in _COMPOUND_SURNAMES else 1
    return name[:keep] + "*" * max(len(name) - keep, 1)

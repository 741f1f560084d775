"""Field errors a client can act on: every field of a body at once, in words.

msgspec stops at the first error and speaks of types ("Invalid enum value", "Expected `str` matching regex
'^[0-9]{12}$'"). A person fixing a form needs every wrong field at once, the allowed values of an enum and
what a pattern allows in words. So when a strict decode fails, each top-level field is converted on its own
(missing, unknown and wrong fields are all named), and each message is rewritten from the type at its path:
an enum lists its values, a pattern says what it takes (the `pattern_words` of its Meta, see `core.text`).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import msgspec.inspect as mi

from core.errors import FieldError, field_error_from_msgspec, shown

_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_FALLBACK_PATTERN_WORDS = "does not have the required form"
_NAMED_RULE = re.compile(r"^(?P<field>[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*): (?P<reason>.+)$", re.DOTALL)


def body_errors(body_type: Any, decoded: Any, first: msgspec.ValidationError) -> list[FieldError]:
    """Every field error of a body that failed a strict decode against `body_type` (a Struct), in words.

    `decoded` is the body decoded without a type. Where the fields are fine one by one (a cross-field rule
    of `__post_init__` failed, or the body is not an object), the decoder's own first error is returned.
    """
    errors: list[FieldError] = []
    if isinstance(decoded, dict) and isinstance(body_type, type) and issubclass(body_type, msgspec.Struct):
        config = body_type.__struct_config__
        fields = {field.encode_name: field for field in msgspec.structs.fields(body_type)}
        if config.forbid_unknown_fields:
            errors += [
                FieldError(shown(name), "is not a field of this request") for name in decoded if name not in fields
            ]
        for name, field in fields.items():
            if name not in decoded:
                if field.required:
                    errors.append(FieldError(name, "is required"))
                continue
            try:
                msgspec.convert(decoded[name], type=field.type, strict=True)
            except msgspec.ValidationError as exc:
                errors.append(in_words(body_type, field_error_from_msgspec(str(exc), prefix=name), str(exc)))
    if errors:
        return errors
    error = in_words(body_type, field_error_from_msgspec(str(first)), str(first))
    # A cross-field rule (`__post_init__`) says "<field>: <reason>" so that its refusal can name the field.
    named = _NAMED_RULE.match(error.message) if error.field == "body" else None
    return [FieldError(named["field"], named["reason"]) if named else error]


_TYPE_WORDS = {
    "int": "an integer",
    "float": "a number",
    "str": "a string",
    "bool": "true or false",
    "object": "an object",
    "array": "an array",
    "uuid": "a UUID",
    "date": "a date (YYYY-MM-DD)",
    "datetime": "an RFC 3339 date-time with its offset",
    "time": "a time (HH:MM)",
    "null": "null",
}
_BOUND_WORDS = {"<=": "at most", ">=": "at least", "<": "less than", ">": "more than"}
_BOUND = re.compile(r"^Expected `(?P<type>\w+)` (?P<op><=|>=|<|>) (?P<limit>\S+)$")
_LENGTH = re.compile(r"^Expected `(?P<type>str|array|object)` of length (?P<op><=|>=) (?P<limit>\d+)$")
_WRONG_TYPE = re.compile(r"^Expected `(?P<type>[\w |]+)`, got `\w+`$")
_BAD_VALUE = re.compile(r"^Invalid (?:RFC3339 encoded )?(?P<type>date|datetime|time|uuid|UUID)\b")


def plain(message: str) -> str:
    """msgspec's type talk as a person would say it ("Expected `int` <= 200" → "must be at most 200")."""
    if match := _BOUND.match(message):
        return f"must be {_BOUND_WORDS[match['op']]} {match['limit']}"
    if match := _LENGTH.match(message):
        unit = {"str": "characters", "array": "items", "object": "fields"}[match["type"]]
        return f"must have {_BOUND_WORDS[match['op']]} {match['limit']} {unit}"
    if match := _WRONG_TYPE.match(message):
        kinds = [_TYPE_WORDS.get(kind.strip(), f"`{kind.strip()}`") for kind in match["type"].split("|")]
        return "must be " + " or ".join(kinds)
    if match := _BAD_VALUE.match(message):
        return "must be " + _TYPE_WORDS[match["type"].lower()]
    return message


def in_words(root_type: Any, error: FieldError, raw_message: str, *, path: str | None = None) -> FieldError:
    """The error with msgspec's type talk replaced: allowed values for an enum, words for a pattern and a
    bound. `path` is where in `root_type` the error lies (default: the error's field)."""
    if "Invalid enum value" not in raw_message and "matching regex" not in raw_message:
        return FieldError(error.field, plain(error.message))
    found = type_at(mi.type_info(root_type), error.field if path is None else path)
    if "Invalid enum value" in raw_message:
        values = _enum_values(found)
        if values:
            return FieldError(error.field, "must be one of " + ", ".join(str(value) for value in values))
        return FieldError(error.field, "is not one of the allowed values")
    words = _pattern_words(found)
    return FieldError(error.field, words or _FALLBACK_PATTERN_WORDS)


def type_at(info: mi.Type, path: str) -> mi.Type | None:
    """The msgspec type found at a field path such as `details.category` or `items[0].label`."""
    current: mi.Type | None = info
    for name, index in _PATH_TOKEN.findall(path):
        if current is None:
            return None
        current = _step(current, name if name else None, index if index else None)
    return current


def _step(info: mi.Type, name: str | None, index: str | None) -> mi.Type | None:
    if isinstance(info, mi.Metadata):
        return _step(info.type, name, index)
    if isinstance(info, mi.UnionType):
        for option in info.types:
            found = _step(option, name, index)
            if found is not None:
                return found
        return None
    if name is not None:
        if isinstance(info, mi.StructType):
            return next((field.type for field in info.fields if field.encode_name == name), None)
        if isinstance(info, mi.DictType):
            return info.value_type
        return None
    if isinstance(info, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
        return info.item_type
    return None


def _unwrapped(info: mi.Type | None) -> list[mi.Type]:
    if isinstance(info, mi.Metadata):
        return [*_unwrapped(info.type), info]
    if isinstance(info, mi.UnionType):
        return [inner for option in info.types for inner in _unwrapped(option)]
    return [] if info is None else [info]


def _enum_values(info: mi.Type | None) -> list[Any]:
    for option in _unwrapped(info):
        if isinstance(option, mi.LiteralType):
            return list(option.values)
        if isinstance(option, mi.EnumType):
            return [member.value for member in option.cls]
    return []


def _pattern_words(info: mi.Type | None) -> str | None:
    for option in _unwrapped(info):
        if isinstance(option, mi.Metadata) and option.extra and option.extra.get("pattern_words"):
            return str(option.extra["pattern_words"])
    return None

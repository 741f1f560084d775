"""If-Match on decisions (RFC 9110 §13.1.1, RFC 6585 §3): a handler option, checked after authorization.

A handler that decides on a versioned resource declares `opt={IF_MATCH_OPT: True}` and takes
`precondition: Precondition` (provided by the app from the If-Match header). Parsing never refuses: the
service first finds the resource in the caller's scope (404 outside it, so a stranger learns nothing, not even
that an ETag would be needed) and only then calls `precondition.check(version)`: absent → 428, `*` → 428
(it would accept whatever another officer just did), weak or stale → 412. The OpenAPI schema marks the header
required and documents 412 and 428 for every handler with the option (`core.openapi`).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from core.errors import PreconditionFailed, PreconditionRequired

IF_MATCH_OPT = "if_match"

_STRONG_TAG = re.compile(r'^"(\d{1,9})"$')


class Precondition(msgspec.Struct, frozen=True):
    """What an If-Match header asked for: nothing (None), or the strong versions it names."""

    header: str | None

    def check(self, version: int, *, what: str = "resource") -> None:
        """Refuse unless the header names `version` (strong comparison; weak tags never match)."""
        if self.header is None:
            raise PreconditionRequired(f"Send the {what}'s ETag (from GET) in If-Match")
        tags = [tag.strip() for tag in self.header.split(",") if tag.strip()]
        if "*" in tags:
            raise PreconditionRequired(f"Send the {what}'s ETag in If-Match, not *")
        versions = {int(match.group(1)) for tag in tags if (match := _STRONG_TAG.match(tag))}
        if version not in versions:
            raise PreconditionFailed(f"The {what} has changed: it is at version {version}", headers=etag(version))


def etag(version: int) -> dict[str, str]:
    """The ETag header of a versioned resource: its version, quoted (a strong validator)."""
    return {"ETag": f'"{version}"'}


def precondition_of(headers: Any) -> Precondition:
    """The If-Match header as sent (a repeated header is joined, as RFC 9110 §5.3 allows for lists)."""
    values = headers.getall("if-match", None) if hasattr(headers, "getall") else None
    if values:
        return Precondition(", ".join(values))
    value = headers.get("if-match")
    return Precondition(value)


# What If-Match may hold for a decision to go through, as the schema's pattern: a list of strong ETags ("3",
# "4"). `*` (428) and weak tags (412) are refused; which version is current no schema can say (412).
IF_MATCH_PATTERN = r'^"[0-9]{1,9}"(?:[ \t]*,[ \t]*"[0-9]{1,9}")*$'

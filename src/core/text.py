"""Text fields: which may hold line breaks (free text: notes, reasons) and which may not (everything else).

Every string in a JSON body refuses C0 controls, DEL, bidi controls and zero-width characters
(`core.http_guard`). A free-text field also accepts line breaks (LF, CR): officers write reasons and notes in
paragraphs. The OpenAPI schema carries `x-free-text: true` on such fields, and `core.openapi` gives every
request string the pattern that says which characters it takes.
"""

from __future__ import annotations

from typing import Any

import msgspec

FREE_TEXT_MARK = "x-free-text"


def free_text(max_length: int, *, min_length: int = 1, description: str | None = None, **meta: Any) -> msgspec.Meta:
    """The constraints of a free-text string of at most `max_length` characters, line breaks allowed:
    `reason: Annotated[str, free_text(2000)]`."""
    return msgspec.Meta(
        min_length=min_length,
        max_length=max_length,
        description=description,
        extra_json_schema={FREE_TEXT_MARK: True},
        extra={"free_text": True},
        **meta,
    )


def is_free_text(meta: object) -> bool:
    """Whether a msgspec Meta marks its string as free text."""
    return isinstance(meta, msgspec.Meta) and bool((meta.extra or {}).get("free_text"))


def matching(pattern: str, words: str, **meta: Any) -> msgspec.Meta:
    """A pattern constraint with the words a refusal says instead of the regex: `matching(r"^[0-9]{12}$",
    "must be 12 digits")`."""
    return msgspec.Meta(pattern=pattern, extra={"pattern_words": words}, **meta)

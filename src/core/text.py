"""Text fields: which may hold line breaks (free text: notes, reasons) and which may not (everything else).

Every string in a JSON body refuses C0 controls, DEL, bidi controls and zero-width characters
(`core.http_guard`). A free-text field also accepts line breaks (LF, CR): officers write reasons and notes in
paragraphs. The OpenAPI schema carries `x-free-text: true` on such fields, and `core.openapi` gives every
request string the pattern that says which characters it takes.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

FREE_TEXT_MARK = "x-free-text"


def free_text(max_length: int, *, min_length: int = 1, description: str | None = None, **meta: Any) -> Any:
    """A string type for free text of at most `max_length` characters, line breaks allowed."""
    return Annotated[
        str,
        msgspec.Meta(
            min_length=min_length,
            max_length=max_length,
            description=description,
            extra_json_schema={FREE_TEXT_MARK: True},
            extra={"free_text": True},
            **meta,
        ),
    ]

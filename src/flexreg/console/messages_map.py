"""The console's messages for its map pages (key: (Chinese, English)); flexreg.console.i18n merges them."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {}

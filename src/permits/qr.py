"""The permit's QR code: its verification link (token in the fragment) as PNG or SVG, made by segno.

Error correction M (15 % of the code may be lost: a card worn in a street stall's weather) unless the link fits
a higher level at the same size; a quiet zone of 4 modules, as ISO/IEC 18004 asks. segno's output depends only
on the link and these options, so one permit always gets the same image.
"""

from __future__ import annotations

import io
from typing import Final

import segno

_SCALE_PNG: Final = 6  # pixels per module: a 29 mm code at 300 dpi for a typical token length
_SCALE_SVG: Final = 4
_BORDER: Final = 4


def _code(link: str) -> segno.QRCode:
    return segno.make(link, error="m", micro=False)


def png(link: str) -> bytes:
    """The link as a black-on-white PNG."""
    out = io.BytesIO()
    _code(link).save(out, kind="png", scale=_SCALE_PNG, border=_BORDER)
    return out.getvalue()


def svg(link: str, *, title: str) -> bytes:
    """The link as a standalone SVG document with a title (what a screen reader says of it)."""
    out = io.BytesIO()
    _code(link).save(out, kind="svg", scale=_SCALE_SVG, border=_BORDER, xmldecl=True, title=title, encoding="utf-8")
    return out.getvalue()

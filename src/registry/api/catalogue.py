"""Placeholder until this resource lands."""

from __future__ import annotations

from litestar import Controller


class CatalogueController(Controller):
    path = "/"

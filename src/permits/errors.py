"""The refusals of permits, each a stable `code` (API.md conventions)."""

from __future__ import annotations

from core.errors import NotFound


class ExemptionCheckNotFound(NotFound):
    code = "exemption_check_not_found"
    title = "No such exemption check"


class ExemptionReferenceNotFound(NotFound):
    code = "exemption_reference_not_found"
    title = "No such exemption reference"

"""Who may do what with venues: places are public to read; staff manage only their own jurisdiction's.

One predicate per resource, used by every service that finds the resource for a change, so a street office
never learns that another jurisdiction's venue, pitch, feature or round exists (404, before any precondition
or state check).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, true
from sqlalchemy.orm import InstrumentedAttribute

from core.auth import Principal, require_role


def managed_by(principal: Principal, jurisdiction_code: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    """Rows a caller may manage: their own jurisdiction's (street office) or any (admin); others 403."""
    require_role(principal, "street_office", "admin")
    if principal.role == "street_office":
        return jurisdiction_code == principal.jurisdiction_code
    return true()

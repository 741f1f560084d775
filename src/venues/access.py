"""Who may do what with venues: places are public to read; staff manage only their own jurisdiction's.

One predicate per resource, used by every service that finds the resource for a change, so a street office
never learns that another jurisdiction's venue, pitch, feature or round exists (404, before any precondition
or state check).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import InstrumentedAttribute

from core.auth import Principal, require_role
from venues.models import RoadOccupancy, Venue


def managed_by(principal: Principal, jurisdiction_code: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    """Rows a caller may manage: their own jurisdiction's (street office) or any (admin); others 403."""
    require_role(principal, "street_office", "admin")
    if principal.role == "street_office":
        return jurisdiction_code == principal.jurisdiction_code
    return true()


def readable_occupancies(principal: Principal) -> ColumnElement[bool]:
    """Road occupancies a caller may see: their own (vendor), those of their jurisdiction's zones (street office),
    all (admin); others 403. Used by get, list and withdraw alike, so outside it is always 404."""
    require_role(principal, "vendor", "street_office", "admin")
    if principal.role == "vendor":
        return RoadOccupancy.vendor_id == principal.vendor_id if principal.vendor_id else false()
    if principal.role == "street_office":
        zones = select(Venue.id).where(Venue.jurisdiction_code == principal.jurisdiction_code)
        return RoadOccupancy.zone_id.in_(zones)
    return true()

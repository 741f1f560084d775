"""The refusals of venues: places, pitches, restricted features, allocation rounds and road occupancy."""

from __future__ import annotations

from core.errors import DomainError, NotFound


class VenueNotFound(NotFound):
    code = "venue_not_found"
    title = "No such venue"


class PitchNotFound(NotFound):
    code = "pitch_not_found"
    title = "No such pitch"


class RestrictedFeatureNotFound(NotFound):
    code = "restricted_feature_not_found"
    title = "No such restricted feature"


class RoundNotFound(NotFound):
    code = "round_not_found"
    title = "No such allocation round"


class AllocationNotFound(NotFound):
    code = "allocation_not_found"
    title = "No such allocation"


class RoadOccupancyNotFound(NotFound):
    code = "road_occupancy_not_found"
    title = "No such road-occupancy request"


class GeometryOutsideJurisdiction(DomainError):
    status = 422
    code = "outside_jurisdiction"
    title = "The geometry lies outside the jurisdiction"


class PitchRejected(DomainError):
    """422 with `checks`: every siting check, failed ones with their numbers (API.md)."""

    status = 422
    code = "pitch_rejected"
    title = "The pitch fails the siting rules"


class VenueNotOpen(DomainError):
    status = 409
    code = "venue_not_open"
    title = "The venue is closed or suspended"


class PitchNotOpen(DomainError):
    status = 409
    code = "pitch_not_open"
    title = "The pitch is closed or suspended"


class PitchInAnotherRound(DomainError):
    status = 409
    code = "pitch_in_another_round"
    title = "A pitch is already offered in another round for an overlapping term"


class ApplicationsClosed(DomainError):
    status = 409
    code = "applications_closed"
    title = "The round no longer takes applications"


class AlreadyApplied(DomainError):
    status = 409
    code = "already_applied"
    title = "You have already applied to this round"


class RoundStillOpen(DomainError):
    status = 409
    code = "round_still_open"
    title = "The round takes applications until its close"


class RoundAlreadyDrawn(DomainError):
    status = 409
    code = "round_already_drawn"
    title = "The round has already been drawn"


class RoundNotDrawn(DomainError):
    status = 409
    code = "round_not_drawn"
    title = "The round has not been drawn yet"


class ClaimsPending(DomainError):
    """A key-group claim filed before the close is undecided: deciding it later would change tiers."""

    status = 409
    code = "claims_pending"
    title = "Key-group claims filed before the close are still undecided"


class BeaconNotYetAvailable(DomainError):
    status = 409
    code = "beacon_not_available"
    title = "The beacon's value does not exist yet"


class AlreadyHoldsPitch(DomainError):
    status = 409
    code = "already_holds_pitch"
    title = "You already hold a pitch for an overlapping term"


class AllocationReleased(DomainError):
    status = 409
    code = "allocation_released"
    title = "The allocation has already been released"


class NotARoadZone(DomainError):
    status = 422
    code = "not_a_road_zone"
    title = "Road occupancy is requested on road zones only"


class RoadOccupancyRefused(DomainError):
    """422 with `checks`, like a rejected pitch; an overlap with an approved occupancy is one of them."""

    status = 422
    code = "road_occupancy_refused"
    title = "The road occupancy fails its checks"


class RoadOccupancyConflict(DomainError):
    """A request that lost a race for the same footprint and time to one decided a moment before."""

    status = 409
    code = "road_occupancy_conflict"
    title = "Another occupancy took that place and time first"


class RoadOccupancyNotActive(DomainError):
    """Withdrawing an occupancy already refused, withdrawn or revoked (also the loser of two withdrawals at once)."""

    status = 409
    code = "road_occupancy_not_active"
    title = "The road occupancy is no longer approved or pending"


class ZoneBusy(DomainError):
    """The zone's lock was not free in time: requests for one zone are decided one at a time."""

    status = 409
    code = "zone_busy"
    title = "Other requests for this zone are being decided; try again shortly"


class PermitFlowUnavailable(DomainError):
    """The zone's requests need a road-occupancy permit and no permit flow is wired in: nothing is approved."""

    status = 409
    code = "permit_flow_unavailable"
    title = "This request needs a road-occupancy permit, which cannot be applied for yet"


class PitchLabelTaken(DomainError):
    status = 409
    code = "pitch_label_taken"
    title = "The venue already has a pitch with that label"


class ApplicationNotFound(NotFound):
    code = "application_not_found"
    title = "You have not applied to this round"


class PitchOccupied(DomainError):
    """A road-zone pitch offered in a round while a road occupancy holds a footprint meeting it during the term."""

    status = 409
    code = "pitch_occupied"
    title = "A road occupancy holds part of the pitch during the term"

"""Named enums and examples of places: venues, pitches, restricted features and the map.

One story, at real Dongcheng coordinates: 东华门街道 (110101001000) runs the 东华门早市, a morning market
the district government designated (京东政发〔2026〕12号); its office draws pitch A-01 there, 43 m from a
hydrant on 东华门大街, and records the hydrant. The checks and the buffer shown are computed by the siting
rules themselves, so the examples cannot drift from what the service answers.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Final

import msgspec
import shapely

from core.geojson import Point, Polygon
from venues import geo, siting
from venues.api.features import (
    AmendRestrictedFeature,
    RecordedFeatureOut,
    RecordRestrictedFeature,
    RestrictedFeatureOut,
)
from venues.api.pitches import AmendPitch, MarkPitch, PitchOut
from venues.api.venues import (
    AmendVenue,
    BufferProperties,
    ChangeStatus,
    EstablishVenue,
    MapFeature,
    MapLayer,
    PitchMapStatus,
    PitchProperties,
    RestrictedFeatureProperties,
    VenueMapOut,
    VenueOut,
    VenueProperties,
)
from venues.features import AffectedPitch
from venues.models import PlaceStatus
from venues.schedule import Window
from venues.siting import CheckName, FeatureKind, VenueKind
from venues.venues import Designation, DesignationStatus, JointApproval, RoadRequests

PLACES_ENUMS: dict[str, Any] = {
    "VenueKind": VenueKind,
    "PlaceStatus": PlaceStatus,
    "FeatureKind": FeatureKind,
    "CheckName": CheckName,
    "DesignationStatus": DesignationStatus,
    "RoadRequests": RoadRequests,
    "MapLayer": MapLayer,
    "PitchMapStatus": PitchMapStatus,
}

_BEIJING = dt.timezone(dt.timedelta(hours=8))
_DONGHUAMEN: Final = "110101001000"
_VENUE_ID = uuid.UUID("5b0e9c47-1d2a-4f63-8e7b-a4c91d3f6e20")
_PITCH_ID = uuid.UUID("c83a2f10-6e4d-4b97-9a15-0d7e2b5c8f41")
_FEATURE_ID = uuid.UUID("2e7d4a96-b1c3-4f08-a5e2-93f6c0d1b874")
_VENUE_RING = [
    [116.4050, 39.9150],
    [116.4057, 39.9150],
    [116.4057, 39.91536],
    [116.4050, 39.91536],
    [116.4050, 39.9150],
]
_PITCH_RING = [
    [116.40510, 39.91510],
    [116.405114, 39.91510],
    [116.405114, 39.9151135],
    [116.40510, 39.9151135],
    [116.40510, 39.91510],
]
_HYDRANT = [116.4062, 39.9152]
_SCHEDULE = [Window(days=[1, 2, 3, 4, 5, 6, 7], start="05:30", end="09:00")]
_CATEGORIES: Final = ["agricultural_products", "daily_necessities"]
_DESIGNATION = Designation(
    authority="北京市东城区人民政府", document_number="京东政发〔2026〕12号", designated_on=dt.date(2026, 2, 10)
)


def places_examples() -> list[msgspec.Struct]:
    """One realistic instance of each request and response Struct of places."""
    established = dt.datetime(2026, 3, 1, 9, 12, 40, tzinfo=_BEIJING)
    drawn = dt.datetime(2026, 3, 3, 14, 5, 11, tzinfo=_BEIJING)
    venue_shape = shapely.Polygon(_VENUE_RING)
    pitch_shape = shapely.Polygon(_PITCH_RING)
    hydrant = siting.Feature(ref=str(_FEATURE_ID), kind="fire_hydrant", shape=shapely.Point(*_HYDRANT))
    checks = siting.check_pitch(
        pitch_shape,
        venue=siting.Site(kind="designated_zone", shape=venue_shape),
        features=[hydrant],
        categories=_CATEGORIES,  # type: ignore[arg-type]
    )
    buffer_m = siting.load_siting_rules().buffer_m("fire_hydrant", _CATEGORIES)
    buffer_area = geo.to_geojson(geo.buffer_m(hydrant.shape, buffer_m))
    venue_geometry = Polygon(coordinates=[_VENUE_RING])
    pitch_geometry = Polygon(coordinates=[_PITCH_RING])
    venue = VenueOut(
        id=_VENUE_ID,
        name="东华门早市",
        kind="designated_zone",
        jurisdiction_code=_DONGHUAMEN,
        geometry=venue_geometry,
        area_m2=round(geo.area_m2(venue_shape), 3),
        schedule=_SCHEDULE,
        closed_dates=[dt.date(2026, 10, 1)],
        valid_from=dt.date(2026, 3, 1),
        valid_to=dt.date(2026, 12, 31),
        allowed_categories=["agricultural_products", "daily_necessities"],
        carriageway=False,
        min_clearance_m=None,
        sidewalk_width_m=None,
        capacity=None,
        designation=_DESIGNATION,
        designation_status="designated",
        joint_approval=None,
        road_requests=None,
        status="open",
        current_status="open",
        status_reason=None,
        status_from=None,
        status_until=None,
        version=1,
        created_at=established,
        updated_at=established,
    )
    pitch = PitchOut(
        id=_PITCH_ID,
        venue_id=_VENUE_ID,
        label="A-01",
        geometry=pitch_geometry,
        area_m2=round(geo.area_m2(pitch_shape), 3),
        status="open",
        current_status="open",
        status_reason=None,
        status_from=None,
        status_until=None,
        checks=checks,
        rules_version=siting.load_siting_rules().version,
        venue_revision=1,
        version=1,
        created_at=drawn,
        updated_at=drawn,
    )
    feature = RestrictedFeatureOut(
        id=_FEATURE_ID,
        jurisdiction_code=_DONGHUAMEN,
        kind="fire_hydrant",
        name="东华门大街12号门前消火栓",
        geometry=Point(coordinates=_HYDRANT),
        buffer_m=None,
        version=1,
        created_at=drawn,
        updated_at=drawn,
    )
    return [
        EstablishVenue(
            name="东华门早市",
            kind="designated_zone",
            jurisdiction_code=_DONGHUAMEN,
            geometry=venue_geometry,
            schedule=_SCHEDULE,
            valid_from=dt.date(2026, 3, 1),
            valid_to=dt.date(2026, 12, 31),
            closed_dates=[dt.date(2026, 10, 1)],
            allowed_categories=["agricultural_products", "daily_necessities"],
            designation=_DESIGNATION,
        ),
        AmendVenue(
            schedule=[Window(days=[1, 2, 3, 4, 5, 6, 7], start="05:00", end="09:30")],
            reason="夏季早市提前半小时开市",
        ),
        ChangeStatus(
            status="suspended",
            reason="东华门大街管线施工，暂停早市",
            status_from=dt.datetime(2026, 7, 6, 0, 0, tzinfo=_BEIJING),
            until=dt.datetime(2026, 7, 20, 0, 0, tzinfo=_BEIJING),
        ),
        venue,
        _DESIGNATION,
        JointApproval(
            road_authority_document="东城城管审〔2026〕31号",
            traffic_police_document="京公交东审〔2026〕17号",
            valid_to=dt.date(2026, 12, 31),
        ),
        MarkPitch(label="A-01", geometry=pitch_geometry),
        AmendPitch(label="A-01东", reason="与摊位编号牌一致"),
        pitch,
        RecordRestrictedFeature(
            kind="fire_hydrant", geometry=Point(coordinates=_HYDRANT), name="东华门大街12号门前消火栓"
        ),
        AmendRestrictedFeature(buffer_m=40.0),
        feature,
        RecordedFeatureOut(**msgspec.structs.asdict(feature), affected_pitches=[]),
        AffectedPitch(pitch_id=_PITCH_ID, venue_id=_VENUE_ID, label="A-01", distance_m=38.412, required_m=40.0),
        VenueMapOut(
            features=[
                MapFeature(
                    id=f"venue/{_VENUE_ID}",
                    geometry=venue_geometry,
                    properties=VenueProperties(
                        name="东华门早市",
                        kind="designated_zone",
                        status="open",
                        designation_status="designated",
                        road_requests=None,
                        allowed_categories=["agricultural_products", "daily_necessities"],
                    ),
                ),
                MapFeature(
                    id=f"pitch/{_PITCH_ID}",
                    geometry=pitch_geometry,
                    properties=PitchProperties(label="A-01", status="allocated", area_m2=pitch.area_m2),
                ),
                MapFeature(
                    id=f"restricted-feature/{_FEATURE_ID}",
                    geometry=Point(coordinates=_HYDRANT),
                    properties=RestrictedFeatureProperties(
                        kind="fire_hydrant", name=feature.name, buffer_m=buffer_m, overlap_forbidden=False
                    ),
                ),
                MapFeature(
                    id=f"buffer/{_FEATURE_ID}",
                    geometry=buffer_area,
                    properties=BufferProperties(feature_id=_FEATURE_ID, kind="fire_hydrant", buffer_m=buffer_m),
                ),
            ]
        ),
    ]

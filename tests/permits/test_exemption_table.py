"""Every activity code of API.md at four places, against DOMAIN §1.5 (national default configuration):
inside a designated place in its hours, inside it out of hours, outside any designated place, in a proposed zone.

Read from §1.5: the Art. 3(1) activities are exempt at a designated place and time and need a business licence
anywhere else; food stalls file under the provincial regime with a health certificate (plus the licence
outside a designated place and time); online, platform and home services do not depend on the place; the hard
blocks are not allowed anywhere; books need a publication permit and a licence; ride-hailing needs its two
transport permits and no licence; live poultry needs its quarantine certificate.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.permits.exemption_world import (
    IN_HOURS,
    IN_PROPOSED,
    INSIDE,
    OUT_OF_HOURS,
    OUTSIDE,
    Places,
    body,
    check,
    permits_of,
)

LICENCE = ("business_license", "market_regulation")
FOOD = [("food_stall_filing", "market_regulation"), ("health_certificate", "health")]
ART_3 = [
    "vegetables_fruit",
    "shoe_repair",
    "key_cutting",
    "tailoring",
    "street_barber",
    "phone_film",
    "knife_sharpening",
    "bicycle_repair",
    "prepackaged_snacks",
    "flowers_plants",
    "toys",
    "clothing_small_goods",
    "portrait_sketching",
]
NO_PLACE = ["own_farm_produce_online", "housekeeping", "live_streaming_sales", "food_delivery"]
BLOCKED = ["school_tutoring", "cigarettes", "fireworks", "medicine"]
# Online, platform and home-service activities: no street place, so no place is ever matched.
PLACE_LESS = {*NO_PLACE, "ride_hailing", "school_tutoring"}

# activity -> (outcome, permits) at a designated place in its hours, and elsewhere (out of hours, outside, proposed)
Expected = tuple[str, list[tuple[str, str]]]
TABLE: dict[str, tuple[Expected, Expected]] = {
    **{a: (("exempt", []), ("permits_required", [LICENCE])) for a in ART_3},
    **{a: (("exempt", []), ("exempt", [])) for a in NO_PLACE},
    **{
        a: (("permits_required", FOOD), ("permits_required", [LICENCE, *FOOD]))
        for a in ["cooked_snacks", "bubble_tea", "barbecue"]
    },
    **{a: (("not_allowed", []), ("not_allowed", [])) for a in BLOCKED},
    "books_magazines": (
        ("permits_required", [LICENCE, ("publication_retail_permit", "press_publication")]),
        ("permits_required", [LICENCE, ("publication_retail_permit", "press_publication")]),
    ),
    "ride_hailing": (
        (
            "permits_required",
            [("ride_hailing_driver_permit", "transport"), ("ride_hailing_vehicle_permit", "transport")],
        ),
        (
            "permits_required",
            [("ride_hailing_driver_permit", "transport"), ("ride_hailing_vehicle_permit", "transport")],
        ),
    ),
    "live_poultry": (
        ("permits_required", [("animal_quarantine_certificate", "agriculture_rural")]),
        ("permits_required", [LICENCE, ("animal_quarantine_certificate", "agriculture_rural")]),
    ),
}
API_ACTIVITIES = {
    "vegetables_fruit", "own_farm_produce_online", "shoe_repair", "key_cutting", "tailoring", "street_barber",
    "phone_film", "knife_sharpening", "bicycle_repair", "cooked_snacks", "bubble_tea", "barbecue",
    "prepackaged_snacks", "flowers_plants", "toys", "clothing_small_goods", "portrait_sketching", "books_magazines",
    "housekeeping", "live_streaming_sales", "ride_hailing", "food_delivery", "school_tutoring", "cigarettes",
    "fireworks", "medicine", "live_poultry",
}  # fmt: skip
PLACES: dict[str, tuple[dict[str, Any], tuple[Any, Any], bool]] = {
    "inside, in hours": (INSIDE, IN_HOURS, True),
    "inside, out of hours": (INSIDE, OUT_OF_HOURS, False),
    "outside any designated place": (OUTSIDE, IN_HOURS, False),
    "in a proposed zone": (IN_PROPOSED, IN_HOURS, False),
}


def test_the_table_covers_every_activity_code_of_api_md() -> None:
    assert set(TABLE) == API_ACTIVITIES


@pytest.mark.parametrize("where", list(PLACES))
@pytest.mark.parametrize("activity", sorted(API_ACTIVITIES))
async def test_outcome_by_place_and_time(client: httpx.AsyncClient, places: Places, activity: str, where: str) -> None:
    location, span, designated_in_hours = PLACES[where]
    decision = await check(client, body(activity, location, periods=[span]))
    outcome, permits = TABLE[activity][0 if designated_in_hours else 1]
    assert (decision["outcome"], permits_of(decision)) == (outcome, permits), decision["reasons"]
    assert (decision["matched_place"] is not None) == (designated_in_hours and activity not in PLACE_LESS)

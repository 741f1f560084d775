"""The packaged activity catalogue: API codes present, references consistent, broken files refused clearly."""

from __future__ import annotations

from importlib import resources

import msgspec
import pytest

from registry import catalogue
from registry.catalogue import ActivityListOut, CatalogueError, DepartmentListOut, PermitTypeListOut, parse_catalogue
from registry.errors import ActivityNotFound

API_ACTIVITIES = {
    "vegetables_fruit",
    "own_farm_produce_online",
    "shoe_repair",
    "key_cutting",
    "tailoring",
    "street_barber",
    "phone_film",
    "knife_sharpening",
    "bicycle_repair",
    "cooked_snacks",
    "bubble_tea",
    "barbecue",
    "prepackaged_snacks",
    "flowers_plants",
    "toys",
    "clothing_small_goods",
    "portrait_sketching",
    "books_magazines",
    "housekeeping",
    "live_streaming_sales",
    "ride_hailing",
    "food_delivery",
    "school_tutoring",
    "cigarettes",
    "fireworks",
    "medicine",
    "live_poultry",
}
API_CATEGORIES = {
    "agricultural_products",
    "daily_necessities",
    "convenience_services",
    "prepared_food",
    "prepackaged_food",
    "restricted",
}
API_DEPARTMENTS = {
    "market_regulation",
    "urban_management",
    "traffic_police",
    "health",
    "fire_rescue",
    "ecology_environment",
    "tobacco",
    "emergency_management",
    "drug_administration",
    "education",
    "transport",
    "human_resources",
    "agriculture_rural",
    "press_publication",
    "public_security",
    "housing_construction",
}
PERMIT_TYPES = {
    "business_license",
    "food_stall_filing",
    "road_occupancy",
    "prepackaged_food_filing",
    "food_business_permit",
    "public_place_hygiene_permit",
    "health_certificate",
    "tobacco_retail_permit",
    "fireworks_retail_permit",
    "drug_business_permit",
    "publication_retail_permit",
    "ride_hailing_driver_permit",
    "ride_hailing_vehicle_permit",
    "tutoring_approval",
    "animal_quarantine_certificate",
}

TEXT = resources.files("registry").joinpath("data", "activities.toml").read_text(encoding="utf-8")


def _broken(old: str, new: str) -> str:
    assert old in TEXT, f"fixture text {old!r} is no longer in activities.toml"
    return TEXT.replace(old, new, 1)


def test_catalogue_has_every_api_activity() -> None:
    assert set(catalogue.load_catalogue().activities) >= API_ACTIVITIES


def test_catalogue_has_extra_activities_domain_suggests() -> None:
    assert {"lock_opening", "homemade_processed_food"} <= set(catalogue.load_catalogue().activities)


def test_catalogue_departments_are_exactly_the_api_list() -> None:
    cat = catalogue.load_catalogue()
    assert set(cat.departments) == API_DEPARTMENTS
    assert cat.department_codes == API_DEPARTMENTS
    assert catalogue.DEPARTMENT_CODES == API_DEPARTMENTS


def test_catalogue_categories_are_the_api_list() -> None:
    assert catalogue.CATEGORIES == API_CATEGORIES
    assert {a.category for a in catalogue.load_catalogue().activities.values()} <= API_CATEGORIES


def test_catalogue_has_the_permit_types_activities_need() -> None:
    assert set(catalogue.load_catalogue().permit_types) >= PERMIT_TYPES


def test_every_reference_resolves() -> None:
    cat = catalogue.load_catalogue()
    for permit in cat.permit_types.values():
        assert permit.departments
        assert set(permit.departments) <= set(cat.departments), permit.code
    for activity in cat.activities.values():
        for req in activity.required_permits:
            assert req.permit_type in cat.permit_types, (activity.code, req.permit_type)
            assert req.department in cat.permit_type(req.permit_type).departments, (activity.code, req.permit_type)


def test_road_occupancy_needs_both_road_authority_and_traffic_police() -> None:
    road = catalogue.load_catalogue().permit_type("road_occupancy")
    # Either road authority (configured per jurisdiction) and the traffic police (城市道路管理条例 Art. 31).
    assert set(road.departments) == {"urban_management", "housing_construction", "traffic_police"}
    limits = {(lim.scope, lim.days, lim.unit) for lim in road.statutory_limits}
    assert ("Jinan", 10, "working_day") in limits
    assert ("Shanghai", 15, "calendar_day") in limits


@pytest.mark.parametrize("code", ["cigarettes", "fireworks", "medicine", "school_tutoring"])
def test_hard_blocked_activities(code: str) -> None:
    activity = catalogue.load_catalogue().activity(code)
    assert activity.stall_allowed == "blocked"
    assert activity.licence == "not_possible"


def test_licence_exempt_activity_needs_nothing() -> None:
    shoe = catalogue.load_catalogue().activity("shoe_repair")
    assert (shoe.licence, shoe.stall_allowed, shoe.required_permits) == ("exempt", "allowed", [])


def test_food_stall_needs_filing_and_health_certificate() -> None:
    snacks = catalogue.load_catalogue().activity("cooked_snacks")
    assert {"food_stall_filing", "health_certificate"} <= set(snacks.permit_codes)
    assert snacks.flags.gas
    assert snacks.flags.needs_health_certificate


def test_unknown_activity_is_not_found() -> None:
    cat = catalogue.load_catalogue()
    assert cat.find_activity("juggling_chainsaws") is None
    with pytest.raises(ActivityNotFound):
        cat.activity("juggling_chainsaws")


def test_load_catalogue_is_cached() -> None:
    assert catalogue.load_catalogue() is catalogue.load_catalogue()
    assert catalogue.activity_list_json() is catalogue.activity_list_json()


def test_parse_catalogue_accepts_text_and_bytes() -> None:
    from_text = parse_catalogue(TEXT)
    from_bytes = parse_catalogue(TEXT.encode())
    assert from_text.version == from_bytes.version == "2026.2"
    assert from_text.digest == from_bytes.digest == catalogue.load_catalogue().digest


def test_activity_list_json_is_the_served_shape() -> None:
    cat = catalogue.load_catalogue()
    body = msgspec.json.decode(catalogue.activity_list_json(), type=ActivityListOut)
    assert body.version == cat.version
    assert [a.code for a in body.items] == list(cat.activities)
    snacks = next(a for a in body.items if a.code == "cooked_snacks")
    assert snacks.permits == ["food_stall_filing", "health_certificate"]
    assert [(p.permit_type, p.department) for p in snacks.required_permits] == [
        ("food_stall_filing", "market_regulation"),
        ("health_certificate", "health"),
    ]


def test_conditional_permits_are_not_listed_as_always_needed() -> None:
    body = msgspec.json.decode(catalogue.activity_list_json(), type=ActivityListOut)
    streaming = next(a for a in body.items if a.code == "live_streaming_sales")
    assert streaming.permits == []
    assert [(p.permit_type, p.condition is not None) for p in streaming.required_permits] == [
        ("business_license", True)
    ]


def test_department_and_permit_type_lists_json() -> None:
    departments = msgspec.json.decode(catalogue.department_list_json(), type=DepartmentListOut)
    permit_types = msgspec.json.decode(catalogue.permit_type_list_json(), type=PermitTypeListOut)
    assert {d.code for d in departments.items} == API_DEPARTMENTS
    assert {p.code for p in permit_types.items} >= PERMIT_TYPES
    assert departments.version == permit_types.version == "2026.2"


def test_unknown_category_is_refused_naming_the_field() -> None:
    with pytest.raises(CatalogueError, match=r"Invalid enum value 'weapons' - at `\$\.activities\[\d+\]\.category`"):
        parse_catalogue(_broken('category = "restricted"', 'category = "weapons"'))


def test_misspelt_field_is_refused() -> None:
    with pytest.raises(CatalogueError, match=r"unknown field `stall_alowed` - at `\$\.activities\[\d+\]`"):
        parse_catalogue(_broken("stall_allowed =", "stall_alowed ="))


def test_unknown_permit_type_reference_is_refused() -> None:
    text = _broken('permit_type = "tobacco_retail_permit"', 'permit_type = "tobaco_retail_permit"')
    with pytest.raises(CatalogueError, match=r"activity 'cigarettes': unknown permit type 'tobaco_retail_permit'"):
        parse_catalogue(text)


def test_department_that_does_not_handle_the_permit_is_refused() -> None:
    text = _broken('department = "tobacco"', 'department = "health"')
    with pytest.raises(CatalogueError, match=r"department 'health' does not handle 'tobacco_retail_permit'"):
        parse_catalogue(text)


def test_department_outside_the_api_list_is_refused() -> None:
    with pytest.raises(
        CatalogueError, match=r"Invalid enum value 'civil_affairs' - at `\$\.permit_types\[\d+\]\.departments\[0\]`"
    ):
        parse_catalogue(_broken('departments = ["tobacco"]', 'departments = ["civil_affairs"]'))


def test_permit_types_are_licences_or_filings_with_their_instrument() -> None:
    cat = catalogue.load_catalogue()
    assert {p.kind for p in cat.permit_types.values()} == {"licence", "filing"}
    assert (cat.permit_type("food_stall_filing").kind, cat.permit_type("food_stall_filing").instrument) == (
        "filing",
        "filing",
    )
    business = cat.permit_type("business_license")
    assert (business.kind, business.instrument) == ("licence", "registration")
    assert cat.permit_type("health_certificate").instrument == "certificate"


def test_issuers_with_their_own_department_code_are_routed_to_it() -> None:
    cat = catalogue.load_catalogue()
    assert cat.permit_type("publication_retail_permit").departments == ["press_publication"]
    assert cat.permit_type("animal_quarantine_certificate").departments == ["agriculture_rural"]
    books = cat.activity("books_magazines")
    assert ("publication_retail_permit", "press_publication") in [
        (p.permit_type, p.department) for p in books.required_permits
    ]


def test_a_filing_kind_must_match_its_instrument() -> None:
    text = _broken('kind = "filing"\ninstrument = "filing"', 'kind = "licence"\ninstrument = "filing"')
    with pytest.raises(CatalogueError, match=r"a filing instrument is exactly a filing kind"):
        parse_catalogue(text)


def test_duplicate_activity_code_is_refused() -> None:
    extra = '\n[[activities]]\ncode = "shoe_repair"\nname_zh = "修鞋"\nname_en = "Shoe repair"\n'
    extra += 'category = "convenience_services"\nsetting = "street"\nlicence = "exempt"\n'
    extra += 'licence_basis = "x"\nstall_allowed = "allowed"\n'
    with pytest.raises(CatalogueError, match=r"duplicate activity code 'shoe_repair'"):
        parse_catalogue(TEXT + extra)


def test_unblocking_an_impossible_activity_is_refused() -> None:
    start = TEXT.index('code = "cigarettes"')
    end = TEXT.index("[[activities", start)
    block = TEXT[start:end].replace('stall_allowed = "blocked"', 'stall_allowed = "allowed"')
    with pytest.raises(CatalogueError, match=r"activity 'cigarettes': licence is not possible"):
        parse_catalogue(TEXT[:start] + block + TEXT[end:])


def test_exempt_activity_listing_a_business_licence_is_refused() -> None:
    start = TEXT.index('code = "books_magazines"')
    end = TEXT.index("# Row 20", start)
    block = TEXT[start:end].replace('licence = "required"', 'licence = "exempt"')
    with pytest.raises(CatalogueError, match=r"licence is exempt but 'business_license' is required"):
        parse_catalogue(TEXT[:start] + block + TEXT[end:])


def test_toml_syntax_error_is_refused() -> None:
    with pytest.raises(CatalogueError, match=r"activities\.toml: Expected '\]\]' at the end of an array declaration"):
        parse_catalogue(TEXT + "\n[[activities]\n")


def test_every_problem_is_reported_at_once() -> None:
    text = _broken('permit_type = "drug_business_permit"', 'permit_type = "no_such_permit"')
    text = text.replace('permit_type = "fireworks_retail_permit"', 'permit_type = "no_such_permit_either"', 1)
    with pytest.raises(CatalogueError) as excinfo:
        parse_catalogue(text)
    assert "no_such_permit'" in str(excinfo.value)
    assert "no_such_permit_either" in str(excinfo.value)

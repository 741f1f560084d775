"""The decision as the lead calls it (permits.exemption.decide_exemption): deterministic, configured per
jurisdiction (school gates, bans, road authority), judged per day under the rules version then in force."""

from __future__ import annotations

import datetime as dt
from importlib import resources

import httpx
import msgspec
import pytest
import shapely
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from permits.exemption import decide_exemption
from permits.exemption_rules import ExemptionRulesError, load_exemption_rules, parse_exemption_rules
from permits.exemption_types import decision_digest
from tests.clock import CITY
from tests.permits.exemption_world import IN_HOURS, INSIDE, OUTSIDE, at, body, check, make_places, permits_of, reason
from tests.venues.builders import box, make_feature, make_venue, point, wgs
from venues.designated import DesignatedIndex

CENTRE = wgs(shapely.Point(0, 0))
WEST = wgs(shapely.Point(-500, 0))
TEXT = resources.files("permits").joinpath("data", "exemption-rules.toml").read_text(encoding="utf-8")


async def test_same_input_and_versions_give_the_same_decision(session: AsyncSession, settings: Settings) -> None:
    await make_places(session, settings)
    decisions = []
    for index in (DesignatedIndex(CITY), DesignatedIndex(CITY)):  # a fresh index each time: rebuilt, same answer
        for _ in range(2):
            decisions.append(
                await decide_exemption(
                    session,
                    index,
                    activity_code="cooked_snacks",
                    point=CENTRE,
                    periods=[IN_HOURS, (at(16, 10), at(16, 11))],
                )
            )
    encoded = {msgspec.json.encode(d, order="deterministic") for d in decisions}
    assert len(encoded) == 1
    assert len({decision_digest(d) for d in decisions}) == 1


async def test_two_stored_checks_of_one_input_share_their_digests(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    await make_places(session, settings)
    first, second = [await check(client, body("barbecue", OUTSIDE)) for _ in range(2)]
    assert first["id"] != second["id"]
    assert (first["input_digest"], first["decision_digest"]) == (second["input_digest"], second["decision_digest"])


@pytest.mark.parametrize(
    ("prefix", "gate_m", "outcome"),
    [
        ("110101", 150.0, "not_allowed"),  # Beijing: food stalls outside 200 m of school gates
        ("110101", 200.0, "not_allowed"),  # 以内 includes the figure (民法典 Art. 1259)
        ("110101", 201.0, "permits_required"),
        ("310101", 150.0, "permits_required"),  # Shanghai: 100 m
        ("310101", 100.0, "not_allowed"),
        ("130102", 20.0, "permits_required"),  # the national default has no school-gate figure
    ],
)
async def test_school_gate_distance_is_the_jurisdictions(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, prefix: str, gate_m: float, outcome: str
) -> None:
    places = await make_places(session, settings, prefix)
    await make_feature(
        session,
        jurisdiction_code=places.jurisdiction.code,
        created_by=places.office,
        kind="school_gate",
        geometry=point(0, gate_m),
    )
    await session.commit()
    decision = await check(client, body("cooked_snacks", INSIDE))
    assert decision["outcome"] == outcome
    rule = reason(decision, "school_gate_distance")
    assert rule["passed"] is (outcome != "not_allowed")
    if outcome == "not_allowed":
        assert rule["facts"]["nearest_gate"]["distance_m"] == pytest.approx(gate_m, abs=0.01)
    assert reason(decision, "food_stall_regime")["facts"]["rows"][-1:] == ([prefix[:2]] if prefix != "130102" else [""])


@pytest.mark.parametrize(
    ("prefix", "activity", "outcome"),
    [
        ("110101", "live_poultry", "not_allowed"),  # Beijing's configured ban
        ("130102", "live_poultry", "permits_required"),
        ("340102", "barbecue", "not_allowed"),  # Hefei: no smoky barbecue at stall points
        ("130102", "barbecue", "permits_required"),
    ],
)
async def test_a_local_ban_is_a_hard_block(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, prefix: str, activity: str, outcome: str
) -> None:
    await make_places(session, settings, prefix)
    decision = await check(client, body(activity, INSIDE))
    assert decision["outcome"] == outcome
    assert reason(decision, "local_ban")["passed"] is (outcome != "not_allowed")
    if outcome == "not_allowed":
        assert decision["required_permits"] == []


@pytest.mark.parametrize(("prefix", "authority"), [("310101", "housing_construction"), ("130102", "urban_management")])
async def test_a_road_zone_outside_designated_places_needs_the_road_authority_and_the_traffic_police(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, prefix: str, authority: str
) -> None:
    places = await make_places(session, settings, prefix)
    road = await make_venue(
        session,
        jurisdiction_code=places.jurisdiction.code,
        created_by=places.office,
        kind="road_zone",
        name="东华门大街",
        geometry=box(-520, -10, -480, 10),
        is_carriageway=True,
    )
    await session.commit()
    decision = await check(client, body("shoe_repair", OUTSIDE))
    assert permits_of(decision) == [
        ("business_license", "market_regulation"),
        ("road_occupancy", authority),
        ("road_occupancy", "traffic_police"),
    ]
    assert {"venue_id": str(road.id), "revision": 1, "role": "road_zone"} in decision["venue_revisions"]


async def test_a_sidewalk_with_a_standing_joint_approval_needs_no_road_permit(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    places = await make_places(session, settings)
    await make_venue(
        session,
        jurisdiction_code=places.jurisdiction.code,
        created_by=places.office,
        kind="road_zone",
        geometry=box(-520, -10, -480, 10),
        joint_approval_road_document="京东城市政〔2026〕12号",
        joint_approval_police_document="京公交东〔2026〕7号",
        joint_approval_valid_to=dt.date(2026, 12, 31),
    )
    await session.commit()
    decision = await check(client, body("shoe_repair", OUTSIDE))
    assert permits_of(decision) == [("business_license", "market_regulation")]
    assert reason(decision, "road_occupancy")["passed"] is True


# --- rule versions ----------------------------------------------------------------------------------------

_SECOND = """
[[versions]]
version = "2026.2"
effective_from = 2026-06-17
"""


def _two_versions() -> str:
    """The packaged version ending on 16 June, and a copy from 17 June that bans shoe repair in Hebei."""
    first = TEXT.replace("effective_from = 2026-01-01\n", "effective_from = 2026-01-01\neffective_to = 2026-06-16\n", 1)
    body_start = TEXT.index("[versions.basis]")
    copy = TEXT[body_start:].split("# --- Beijing")[0]
    ban = "\n".join(
        [
            "[[versions.jurisdictions]]",
            'prefix = "13"',
            'name = "河北省"',
            "[[versions.jurisdictions.bans]]",
            'activity = "shoe_repair"',
            'scope = "everywhere"',
            'basis = "A test ban"',
            "",
        ]
    )
    return first + _SECOND + copy + ban


async def test_each_period_is_judged_under_the_version_in_force_that_day(
    session: AsyncSession, settings: Settings
) -> None:
    await make_places(session, settings)
    rules = parse_exemption_rules(_two_versions())
    decision = await decide_exemption(
        session,
        DesignatedIndex(CITY),
        activity_code="shoe_repair",
        point=CENTRE,
        periods=[IN_HOURS, (at(17, 7), at(17, 8))],
        rules=rules,
    )
    assert decision.outcome == "not_allowed"
    labels = [d.rule_version.split("+")[0] for d in decision.rule_versions]
    assert labels == ["2026.1", "2026.2"]
    bans = [(r.rule_version.split("+")[0], r.passed) for r in decision.reasons if r.rule == "local_ban"]
    assert bans == [("2026.1", True), ("2026.2", False)]
    assert decision.rule_version.startswith("2026.1+")


def test_the_packaged_rules_load_and_cite_every_rule() -> None:
    rules = load_exemption_rules()
    assert rules is load_exemption_rules()
    version = rules.version_on(dt.date(2026, 6, 15))
    assert version is not None
    assert version.version == "2026.1"
    assert rules.version_on(dt.date(2025, 12, 31)) is None
    assert rules.road_authority("310115001001", dt.date(2026, 6, 15)) == "housing_construction"
    assert rules.road_authority(None, dt.date(2026, 6, 15)) == "urban_management"


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            'road_authority = "housing_construction"',
            'road_authority = "traffic_police"',
            "road authority 'traffic_police'",
        ),
        ('activity = "live_poultry"', 'activity = "live_dragons"', "ban of unknown activity 'live_dragons'"),
        ('prefix = "31"', 'prefix = "11"', "duplicate jurisdiction prefix '11'"),
        ('local_ban = "', 'locale_ban = "', "Invalid enum value 'locale_ban'"),
        ("distance_m = 200.0", "distance_m = 2000.0", "Expected `float` <= 1000"),
    ],
)
def test_a_broken_rules_file_is_refused_naming_the_problem(old: str, new: str, problem: str) -> None:
    assert old in TEXT
    with pytest.raises(ExemptionRulesError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        parse_exemption_rules(TEXT.replace(old, new, 1))


def test_overlapping_versions_are_refused() -> None:
    text = TEXT + _SECOND + TEXT[TEXT.index("[versions.basis]") :].split("# --- Beijing")[0]
    with pytest.raises(ExemptionRulesError, match=r"versions '2026\.1' and '2026\.2' overlap"):
        parse_exemption_rules(text)

from __future__ import annotations

from importlib import resources

import pytest

from registry.catalogue import CATEGORIES
from tests.venues.helpers import box, point
from venues import siting
from venues.siting import Feature, Footprint, Site

RULES = siting.load_siting_rules()
SQUARE_VENUE = Site(kind="designated_zone", shape=box(-200, -200, 200, 200))
PITCH = box(0, 0, 1, 1)  # 1 m², well inside the venue


def _by_name(checks: list[siting.Check], name: str) -> list[siting.Check]:
    return [c for c in checks if c.check == name]


def _one(checks: list[siting.Check], name: str) -> siting.Check:
    (check,) = _by_name(checks, name)
    return check


def _hydrant(x: float, y: float = 0.5, **kw: float) -> Feature:
    return Feature(ref="h1", kind="fire_hydrant", shape=point(x, y), **kw)


def test_packaged_rules_load_once_with_a_rule_for_every_kind() -> None:
    assert siting.load_siting_rules() is RULES
    assert set(RULES.kinds) == set(siting.FEATURE_KINDS)
    assert RULES.max_stall_area_m2 == 2.0
    assert RULES.min_walkway_m == 1.8
    assert all(RULES.kinds[k].overlap_forbidden for k in ("fire_lane", "blind_lane", "highway_land"))


def test_a_good_pitch_passes_every_check_and_each_is_reported() -> None:
    checks = siting.check_pitch(PITCH, venue=SQUARE_VENUE, features=[_hydrant(100)])
    assert [c.check for c in checks] == ["inside_venue", "no_overlap", "clear_of_restricted", "area_cap"]
    assert all(c.passed for c in checks)
    assert _one(checks, "clear_of_restricted").required_m == 30.0


def test_pitch_outside_its_venue_fails_with_the_area_outside() -> None:
    check = _one(siting.check_pitch(box(199.5, 0, 200.5, 1), venue=SQUARE_VENUE), "inside_venue")
    assert not check.passed
    assert check.measured == pytest.approx(0.5, abs=0.001)
    assert _one(siting.check_pitch(box(199, 0, 200, 1), venue=SQUARE_VENUE), "inside_venue").passed  # on the edge


def test_overlapping_another_pitch_fails_and_names_it_touching_does_not() -> None:
    others = [Footprint(ref="p2", shape=box(0.5, 0, 1.5, 1)), Footprint(ref="p3", shape=box(1, 0, 2, 1))]
    check = _one(siting.check_pitch(PITCH, venue=SQUARE_VENUE, others=others), "no_overlap")
    assert not check.passed
    assert check.refs == ["p2"]
    assert _one(siting.check_pitch(PITCH, venue=SQUARE_VENUE, others=others[1:]), "no_overlap").passed


def test_exactly_at_the_buffer_is_within_it_and_fails() -> None:
    # "30米以内" includes 30 m (民法典 Art. 1259; DOMAIN §2.3): only more than 30 m passes.
    check = _one(siting.check_pitch(PITCH, venue=SQUARE_VENUE, features=[_hydrant(31)]), "clear_of_restricted")
    assert not check.passed
    assert (check.feature, check.kind, check.distance_m, check.required_m) == ("h1", "fire_hydrant", 30.0, 30.0)


def test_one_centimetre_beyond_the_buffer_passes() -> None:
    check = _one(siting.check_pitch(PITCH, venue=SQUARE_VENUE, features=[_hydrant(31.01)]), "clear_of_restricted")
    assert check.passed
    assert check.distance_m == pytest.approx(30.01, abs=0.001)


def test_one_centimetre_inside_the_buffer_fails() -> None:
    check = _one(siting.check_pitch(PITCH, venue=SQUARE_VENUE, features=[_hydrant(30.99)]), "clear_of_restricted")
    assert not check.passed
    assert check.distance_m == pytest.approx(29.99, abs=0.001)


def test_school_gate_buffer_depends_on_the_categories_the_venue_allows() -> None:
    gate = Feature(ref="g1", kind="school_gate", shape=point(1 + 60, 0.5))  # 60 m away
    other = siting.check_pitch(PITCH, venue=SQUARE_VENUE, features=[gate], categories=["daily_necessities"])
    food = siting.check_pitch(
        PITCH, venue=SQUARE_VENUE, features=[gate], categories=["daily_necessities", "prepared_food"]
    )
    assert _one(other, "clear_of_restricted").passed
    assert _one(other, "clear_of_restricted").required_m == 50.0
    assert not _one(food, "clear_of_restricted").passed
    assert _one(food, "clear_of_restricted").required_m == 100.0
    no_categories = siting.check_pitch(PITCH, venue=SQUARE_VENUE, features=[gate])
    assert _one(no_categories, "clear_of_restricted").required_m == 50.0


def test_pollution_sources_matter_for_food_only() -> None:
    toilet = Feature(ref="t1", kind="pollution_source", shape=point(1 + 10, 0.5))
    assert _one(
        siting.check_pitch(PITCH, venue=SQUARE_VENUE, features=[toilet], categories=["convenience_services"]),
        "clear_of_restricted",
    ).passed
    assert not _one(
        siting.check_pitch(PITCH, venue=SQUARE_VENUE, features=[toilet], categories=["prepackaged_food"]),
        "clear_of_restricted",
    ).passed


def test_a_feature_can_override_its_buffer() -> None:
    check = _one(
        siting.check_pitch(PITCH, venue=SQUARE_VENUE, features=[_hydrant(41, buffer_m=45.0)]), "clear_of_restricted"
    )
    assert not check.passed
    assert check.required_m == 45.0


@pytest.mark.parametrize("kind", ["fire_lane", "blind_lane", "highway_land"])
def test_overlap_forbidden_kinds_refuse_any_overlap_but_not_a_shared_edge(kind: siting.FeatureKind) -> None:
    lane = Feature(ref="l1", kind=kind, shape=box(0.9, -10, 4, 10))
    check = _one(siting.check_pitch(PITCH, venue=SQUARE_VENUE, features=[lane]), "clear_of_restricted")
    assert not check.passed
    assert check.overlap_forbidden
    assert check.distance_m == 0.0
    beside = Feature(ref="l2", kind=kind, shape=box(1, -10, 4, 10))
    assert _one(siting.check_pitch(PITCH, venue=SQUARE_VENUE, features=[beside]), "clear_of_restricted").passed


def test_every_feature_is_reported_and_many_features_use_the_index_with_the_same_answer() -> None:
    far = [Feature(ref=f"f{i}", kind="bus_stop", shape=point(150, -150 + i)) for i in range(40)]
    near = Feature(ref="near", kind="bus_stop", shape=point(20, 0.5))
    checks = _by_name(siting.check_pitch(PITCH, venue=SQUARE_VENUE, features=[*far, near]), "clear_of_restricted")
    assert len(checks) == 41
    assert [c.feature for c in checks if not c.passed] == ["near"]
    assert _one(checks[-1:], "clear_of_restricted").distance_m == pytest.approx(19.0, abs=0.001)
    few = siting.check_pitch(PITCH, venue=SQUARE_VENUE, features=[near])
    assert _one(few, "clear_of_restricted").distance_m == checks[-1].distance_m


def test_many_other_pitches_use_the_index() -> None:
    others = [Footprint(ref=f"p{i}", shape=box(5 + 2 * i, 5, 6 + 2 * i, 6)) for i in range(30)]
    others.append(Footprint(ref="hit", shape=box(0.5, 0.5, 1.5, 1.5)))
    check = _one(siting.check_pitch(PITCH, venue=SQUARE_VENUE, others=others), "no_overlap")
    assert not check.passed
    assert check.refs == ["hit"]


def test_stall_area_cap_includes_the_cap() -> None:
    assert _one(siting.check_pitch(box(0, 0, 1, 2), venue=SQUARE_VENUE), "area_cap").passed
    check = _one(siting.check_pitch(box(0, 0, 1, 2.01), venue=SQUARE_VENUE), "area_cap")
    assert not check.passed
    assert check.measured == pytest.approx(2.01, abs=0.001)
    assert check.limit == 2.0


# A sidewalk 3.0 m deep (y 0..3, kerb at y=0) and 40 m long.
SIDEWALK = Site(kind="road_zone", shape=box(0, 0, 40, 3))


def test_walkway_left_of_exactly_the_minimum_passes() -> None:
    check = _one(siting.check_pitch(box(10, 0, 11.5, 1.2), venue=SIDEWALK), "walkway_clear")
    assert check.passed
    assert check.limit == 1.8
    assert check.measured == pytest.approx(1.8, abs=0.02)


def test_walkway_narrowed_below_the_minimum_fails() -> None:
    check = _one(siting.check_pitch(box(10, 0, 11.5, 1.3), venue=SIDEWALK), "walkway_clear")
    assert not check.passed
    assert check.measured == pytest.approx(1.7, abs=0.02)


def test_walkway_counts_every_footprint_not_one_stall_depth() -> None:
    pitch = box(10, 0, 11, 0.8)  # alone it leaves 2.2 m
    assert _one(siting.check_pitch(pitch, venue=SIDEWALK), "walkway_clear").passed
    across = [Footprint(ref="opposite", shape=box(10.5, 2.4, 11.5, 3))]  # leaves 1.6 m between them
    check = _one(siting.check_pitch(pitch, venue=SIDEWALK, others=across), "walkway_clear")
    assert not check.passed
    assert check.measured == pytest.approx(1.6, abs=0.02)
    staggered = [Footprint(ref="later", shape=box(20, 2.4, 21, 3))]  # far along: each leaves enough
    assert _one(siting.check_pitch(pitch, venue=SIDEWALK, others=staggered), "walkway_clear").passed


def test_walkway_is_only_checked_on_road_zones() -> None:
    checks = siting.check_pitch(box(10, 0, 11.5, 1.3), venue=Site(kind="community_space", shape=SIDEWALK.shape))
    assert not _by_name(checks, "walkway_clear")


def test_unknown_category_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="unknown activity categories: food"):
        siting.check_pitch(PITCH, venue=SQUARE_VENUE, categories=["food"])  # type: ignore[list-item]


# --- The rules file ---------------------------------------------------------------------------------------

PACKAGED = resources.files("venues").joinpath("data", "siting-rules.toml").read_text()


def _edited(old: str, new: str) -> str:
    assert old in PACKAGED
    return PACKAGED.replace(old, new, 1)


def _table_edited(kind: str, old: str | None, new: str = "") -> str:
    """The packaged file with `old` replaced inside the `[kinds.<kind>]` table (None: the whole table)."""
    start = PACKAGED.index(f"[kinds.{kind}]\n")
    end = PACKAGED.find("\n\n", start)
    end = len(PACKAGED) if end < 0 else end + 1
    table = PACKAGED[start:end]
    if old is None:
        return PACKAGED[:start] + PACKAGED[end:]
    assert old in table
    return PACKAGED[:start] + table.replace(old, new, 1) + PACKAGED[end:]


def test_rule_structs_match_the_kinds_and_the_registry_categories() -> None:
    assert siting._Kinds.__struct_fields__ == siting.FEATURE_KINDS
    assert set(siting.CategoryBuffers.__struct_fields__) == CATEGORIES


def test_packaged_file_parses() -> None:
    assert siting.parse_siting_rules(PACKAGED).version == RULES.version


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            _edited("[kinds.bus_stop]\n", "[kinds.bus_stop]\nradius_m = 3\n"),
            "Object contains unknown field `radius_m` - at `$.kinds.bus_stop`",
        ),
        (
            _table_edited("bus_stop", "default_m = 30.0\n"),
            "Object missing required field `default_m` - at `$.kinds.bus_stop`",
        ),
        (
            _edited("default_m = 30.0", "default_m = -1.0"),
            "Expected `float` >= 0.0 - at `$.kinds.fire_hydrant.default_m`",
        ),
        (
            _edited("default_m = 30.0", "default_m = 5000.0"),
            "Expected `float` <= 1000.0 - at `$.kinds.fire_hydrant.default_m`",
        ),
        (_edited("default_m = 30.0", "default_m = nan"), "at `$.kinds.fire_hydrant.default_m`"),
        (
            _edited("prepared_food = 25.0", "street_food = 25.0"),
            "Object contains unknown field `street_food` - at `$.kinds.pollution_source.by_category`",
        ),
        (
            _edited("[kinds.metro_exit]", "[kinds.subway_exit]"),
            "Object contains unknown field `subway_exit` - at `$.kinds`",
        ),
        (_edited('version = "2026.1"', 'version = "1"'), "at `$.version`"),
        (_edited("min_clear_m = 1.8", "min_clear_m = 0"), "Expected `float` > 0.0 - at `$.walkway.min_clear_m`"),
        (
            _table_edited("fire_lane", None),
            "siting-rules.toml: Object missing required field `fire_lane` - at `$.kinds`",
        ),
        (
            _table_edited("fire_lane", "overlap_forbidden = true\n"),
            "kinds.fire_lane: overlap_forbidden must be true",
        ),
        ("version = ", "siting-rules.toml: "),
    ],
)
def test_rules_file_errors_are_named_precisely(text: str, message: str) -> None:
    with pytest.raises(siting.SitingRulesError) as info:
        siting.parse_siting_rules(text)
    assert message in str(info.value)
    assert str(info.value).startswith("siting-rules.toml: ")

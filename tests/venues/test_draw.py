"""The pure draw (venues.draw): the documented test vector, tier priority, serial dictatorship, waiting list."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

from venues.draw import (
    ALGORITHM,
    Application,
    Assignment,
    applications_digest,
    applications_preimage,
    commitment,
    draw,
    lottery_key,
    lottery_key_preimage,
)

ROOT = Path(__file__).resolve().parents[2]
VECTOR_PATH = Path(__file__).with_name("draw_vector.json")
DOC_PATH = ROOT / "docs" / "draw.md"
SEED = bytes(range(32))
PITCHES = ("p1", "p2", "p3")


def load_vector() -> dict[str, Any]:
    vector: dict[str, Any] = json.loads(VECTOR_PATH.read_text(encoding="utf-8"))
    return vector


def vector_applications(vector: dict[str, Any]) -> list[Application]:
    return [
        Application(applicant_ref=a["applicant_ref"], tier=a["tier"], choices=tuple(a["choices"]))
        for a in vector["inputs"]["applications"]
    ]


def run(applications: list[Application], *, beacon: str | None = None, pitches: tuple[str, ...] = PITCHES) -> Any:
    return draw(round_id="round-1", seed=SEED, beacon_value=beacon, pitch_ids=pitches, applications=applications)


def app(ref: str, *choices: str, tier: int = 1) -> Application:
    return Application(applicant_ref=ref, tier=tier, choices=choices)


def test_draw_reproduces_the_documented_vector_exactly() -> None:
    vector = load_vector()
    inputs = vector["inputs"]
    result = draw(
        round_id=inputs["round_id"],
        seed=bytes.fromhex(inputs["seed"]),
        beacon_value=inputs["beacon_value"],
        pitch_ids=inputs["pitch_ids"],
        applications=vector_applications(vector),
    )
    assert json.loads(msgspec.json.encode(result)) == vector["results"]


def test_draw_vector_intermediates_match_the_preimages() -> None:
    vector = load_vector()
    inputs, results = vector["inputs"], vector["results"]
    seed = bytes.fromhex(inputs["seed"])
    for ref, preimage in vector["intermediate"]["lottery_key_preimage_hex"].items():
        assert lottery_key_preimage(inputs["round_id"], seed, inputs["beacon_value"], ref).hex() == preimage
    assert (
        applications_preimage(inputs["round_id"], vector_applications(vector)).hex()
        == vector["intermediate"]["applications_preimage_hex"]
    )
    assert commitment(seed) == results["seed_commitment"]
    assert applications_digest(inputs["round_id"], vector_applications(vector)) == results["applications_digest"]


def test_draw_doc_shows_the_fixture_verbatim() -> None:
    """docs/draw.md and tests/venues/draw_vector.json cannot drift: the doc's JSON blocks are the fixture's."""
    doc = DOC_PATH.read_text(encoding="utf-8")
    vector = load_vector()
    blocks = [json.loads(block) for block in re.findall(r"```json\n(.*?)\n```", doc, flags=re.DOTALL)]
    assert vector["inputs"] in blocks
    assert vector["results"] in blocks
    for preimage in vector["intermediate"]["lottery_key_preimage_hex"].values():
        assert preimage in doc
    assert vector["intermediate"]["applications_preimage_hex"] in doc
    for entry in vector["results"]["order"]:
        assert f"| `{entry['applicant_ref']}` | {entry['tier']} | `{entry['lottery_key']}` |" in doc
    assert f"`{ALGORITHM}`" in doc


def test_draw_commitment_is_the_sha256_of_the_seed_bytes() -> None:
    assert commitment(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert run([app("a", "p1")]).seed_commitment == commitment(SEED)
    assert run([app("a", "p1")]).seed == SEED.hex()


def test_draw_serves_tier_one_before_tier_two_whatever_the_keys() -> None:
    applications = [app(f"general-{i}", "p1", tier=2) for i in range(20)] + [app("priority", "p1", tier=1)]
    result = run(applications)
    assert result.order[0].applicant_ref == "priority"
    assert result.assignments == (Assignment(applicant_ref="priority", pitch_id="p1", choice_rank=1),)
    assert [entry.tier for entry in result.order] == [1] + [2] * 20


def test_draw_orders_by_key_within_a_tier() -> None:
    result = run([app(f"ref-{i}", "p1", tier=1 + i % 2) for i in range(30)])
    for tier in (1, 2):
        keys = [entry.lottery_key for entry in result.order if entry.tier == tier]
        assert keys == sorted(keys)
    assert all(e.lottery_key == lottery_key("round-1", SEED, None, e.applicant_ref) for e in result.order)


def _served_in(result: Any, refs: list[str]) -> Any:
    assert [entry.applicant_ref for entry in result.order] == refs
    return result


def test_draw_serial_dictatorship_takes_the_highest_ranked_free_choice() -> None:
    """Rank order, not pitch-list order: a later applicant skips only the taken choices."""
    applications = [
        app("first", "p2", tier=1),
        app("second", "p2", "p3", "p1", tier=2),
        app("third", "p3", "p2", "p1", tier=3),
    ]
    result = _served_in(run(applications), ["first", "second", "third"])
    assert result.assignments == (
        Assignment(applicant_ref="first", pitch_id="p2", choice_rank=1),
        Assignment(applicant_ref="second", pitch_id="p3", choice_rank=2),
        Assignment(applicant_ref="third", pitch_id="p1", choice_rank=3),
    )
    assert result.waiting_list == ()


def test_draw_hand_case_with_tiers_fixes_the_order() -> None:
    applications = [
        app("c", "p2", "p1", tier=3),
        app("a", "p1", tier=1),
        app("b", "p1", "p2", tier=2),
        app("d", "p1", "p2", "p3", tier=4),
    ]
    result = _served_in(run(applications), ["a", "b", "c", "d"])
    assert result.assignments == (
        Assignment(applicant_ref="a", pitch_id="p1", choice_rank=1),
        Assignment(applicant_ref="b", pitch_id="p2", choice_rank=2),
        Assignment(applicant_ref="d", pitch_id="p3", choice_rank=3),
    )
    assert result.waiting_list == ("c",)


def test_draw_waiting_list_is_in_draw_order_and_everyone_is_accounted_for() -> None:
    applications = [app(f"r{i}", "p1", "p2", tier=1 + i % 3) for i in range(12)]
    result = run(applications)
    refs = [entry.applicant_ref for entry in result.order]
    assert [a.applicant_ref for a in result.assignments] == refs[:2]
    assert list(result.waiting_list) == refs[2:]
    assert sorted(refs) == sorted(a.applicant_ref for a in applications)


def test_draw_an_unwanted_pitch_stays_free() -> None:
    result = run([app("a", "p1"), app("b", "p1")])
    assert {a.pitch_id for a in result.assignments} == {"p1"}
    assert len(result.waiting_list) == 1


def test_draw_beacon_changes_every_key() -> None:
    applications = [app(f"r{i}", "p1") for i in range(10)]
    plain, beaconed, other = run(applications), run(applications, beacon="7 3 9"), run(applications, beacon="7 3 8")
    keys = {e.applicant_ref: e.lottery_key for e in plain.order}
    with_beacon = {e.applicant_ref: e.lottery_key for e in beaconed.order}
    with_other = {e.applicant_ref: e.lottery_key for e in other.order}
    assert all(keys[ref] != with_beacon[ref] != with_other[ref] for ref in keys)
    # An empty beacon is not the same as none: the presence byte tells them apart.
    assert lottery_key("round-1", SEED, "", "r0") != lottery_key("round-1", SEED, None, "r0")
    assert beaconed.beacon_value == "7 3 9"
    assert "beacon_value" not in json.loads(msgspec.json.encode(plain))


def test_draw_keys_depend_on_round_and_seed() -> None:
    base = lottery_key("round-1", SEED, None, "r")
    assert lottery_key("round-2", SEED, None, "r") != base
    assert lottery_key("round-1", SEED[::-1], None, "r") != base
    # Length prefixes: moving a byte between fields changes the key.
    assert lottery_key("round-1", SEED, "x", "r") != lottery_key("round-1", SEED, "", "xr")


def test_draw_digest_ignores_filing_order_but_not_content() -> None:
    applications = [app("a", "p1", "p2"), app("b", "p2", tier=2)]
    digest = applications_digest("round-1", applications)
    assert applications_digest("round-1", applications[::-1]) == digest
    assert applications_digest("round-1", [app("a", "p2", "p1"), app("b", "p2", tier=2)]) != digest
    assert applications_digest("round-1", [app("a", "p1", "p2"), app("b", "p2", tier=1)]) != digest
    assert applications_digest("round-2", applications) != digest


@pytest.mark.parametrize(
    ("applications", "message"),
    [
        ([app("a", "p1"), app("a", "p2")], "appears twice"),
        ([app("a", "p1", "p1")], "repeats a choice"),
        ([app("a", "p9")], "outside the round"),
        ([app("a")], "no choices"),
        ([app("a", "p1", "p2", "p3", "p4", "p5", "p6")], "more than 5"),
        ([app("a", "p1", tier=0)], "tier"),
        ([app("", "p1")], "empty"),
    ],
)
def test_draw_refuses_malformed_applications(applications: list[Application], message: str) -> None:
    pitches = ("p1", "p2", "p3", "p4", "p5", "p6")
    with pytest.raises(ValueError, match=message):
        run(applications, pitches=pitches)


def test_draw_refuses_an_empty_seed_and_repeated_pitches() -> None:
    with pytest.raises(ValueError, match="seed"):
        draw(round_id="r", seed=b"", beacon_value=None, pitch_ids=["p1"], applications=[])
    with pytest.raises(ValueError, match="repeat"):
        draw(round_id="r", seed=SEED, beacon_value=None, pitch_ids=["p1", "p1"], applications=[])


def test_draw_with_no_applications() -> None:
    result = run([])
    assert result.order == ()
    assert result.assignments == ()
    assert result.waiting_list == ()

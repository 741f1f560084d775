"""POST /exemption-checks, GET /exemption-checks/{id}, GET /exemption-references/{reference}: the facts each
reason reports, refusals naming their field, who may name a vendor and read a check, references that lapse."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from permits.exemption_models import ExemptionCheck
from tests.builders import auth_headers
from tests.clock import city_time
from tests.permits.exemption_world import (
    CHECKS,
    IN_HOURS,
    IN_PROPOSED,
    OUT_OF_HOURS,
    OUTSIDE,
    Places,
    at,
    body,
    check,
    reason,
)
from tests.problems import assert_problem
from tests.registry.builders import make_account
from tests.venues.builders import bump_change_counter
from venues.models import Venue


async def _stored(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(ExemptionCheck)) or 0)


async def test_inside_in_hours_names_the_place_its_designation_and_session(
    client: httpx.AsyncClient, places: Places
) -> None:
    decision = await check(client, body("vegetables_fruit"))
    place = decision["matched_place"]
    assert place["venue_id"] == str(places.market.id)
    assert place["venue_revision"] == places.market.version
    assert place["designation"] == {
        "authority": "东城区人民政府",
        "document_number": "东政发〔2026〕12号",
        "designated_on": "2026-03-01",
    }
    assert (place["opens_at"], place["closes_at"]) == ("2026-06-16T06:00:00+08:00", "2026-06-16T09:00:00+08:00")
    rule = reason(decision, "designated_place_and_time")
    assert rule["passed"] is True
    assert "无证无照经营查处办法 Art. 3(1)" in rule["basis"]
    assert decision["venue_revisions"] == [{"venue_id": str(places.market.id), "revision": 1, "role": "matched"}]
    assert decision["rule_versions"] == [{"day": "2026-06-16", "rule_version": decision["rule_version"]}]
    assert decision["rule_version"].startswith("2026.1+")


async def test_every_rule_applied_is_listed_with_its_result_and_basis(
    client: httpx.AsyncClient, places: Places
) -> None:
    decision = await check(client, body("cooked_snacks", periods=[OUT_OF_HOURS]))
    results = {r["rule"]: r["passed"] for r in decision["reasons"]}
    assert results == {
        "activity_allowed": True,
        "local_ban": True,
        "designated_place_and_time": False,
        "licence_exemption": True,
        "no_other_licence": True,
        "food_stall_regime": True,
        "school_gate_distance": True,
        "road_occupancy": True,
    }
    assert all(r["basis"] for r in decision["reasons"])


async def test_out_of_hours_says_which_window_failed(client: httpx.AsyncClient, places: Places) -> None:
    decision = await check(client, body("shoe_repair", periods=[OUT_OF_HOURS]))
    [failed] = reason(decision, "designated_place_and_time")["facts"]["periods"]
    [miss] = failed["misses"]
    assert (miss["name"], miss["designated"], miss["hours"]) == ("东华门早市", True, ["06:00–09:00"])
    assert miss["why"] == "open 06:00–09:00 on 2026-06-16, not 10:00–11:00"
    assert {"venue_id": str(places.market.id), "revision": 1, "role": "covering"} in decision["venue_revisions"]


async def test_a_period_running_past_closing_time_is_not_held(client: httpx.AsyncClient, places: Places) -> None:
    decision = await check(client, body("shoe_repair", periods=[(at(16, 8), at(16, 9, 30))]))
    assert decision["outcome"] == "permits_required"
    [failed] = reason(decision, "designated_place_and_time")["facts"]["periods"]
    assert "does not hold the whole period" in failed["misses"][0]["why"]


async def test_every_period_must_be_held_and_each_day_records_its_version(
    client: httpx.AsyncClient, places: Places
) -> None:
    decision = await check(client, body("toys", periods=[IN_HOURS, (at(17, 7), at(17, 8)), (at(18, 10), at(18, 11))]))
    assert decision["outcome"] == "permits_required"
    assert [p["matched"] is not None for p in reason(decision, "designated_place_and_time")["facts"]["periods"]] == [
        True,
        True,
        False,
    ]
    assert [d["day"] for d in decision["rule_versions"]] == ["2026-06-16", "2026-06-17", "2026-06-18"]


async def test_outside_reports_the_nearest_designated_place_in_metres(
    client: httpx.AsyncClient, places: Places
) -> None:
    decision = await check(client, body("shoe_repair", OUTSIDE))
    nearest = reason(decision, "designated_place_and_time")["facts"]["nearest"]
    assert nearest["venue_id"] == str(places.market.id)
    assert nearest["distance_m"] == pytest.approx(480.0, abs=0.05)  # west edge at x = -20 m, point at -500 m


async def test_a_proposed_zone_exempts_nothing_and_says_so(client: httpx.AsyncClient, places: Places) -> None:
    decision = await check(client, body("shoe_repair", IN_PROPOSED))
    [failed] = reason(decision, "designated_place_and_time")["facts"]["periods"]
    [miss] = failed["misses"]
    assert (miss["venue_id"], miss["designated"]) == (str(places.proposed.id), False)
    assert "proposed" in miss["why"]
    assert decision["outcome"] == "permits_required"


async def test_gcj02_locations_are_converted(client: httpx.AsyncClient, places: Places) -> None:
    from core import coords
    from tests.permits.exemption_world import INSIDE

    lon, lat = coords.wgs84_to_gcj02(*INSIDE["coordinates"])
    gcj = {"type": "Point", "coordinates": [lon, lat]}
    assert (await check(client, body("toys", gcj, coordinate_system="gcj02")))["outcome"] == "exempt"
    # The same numbers read as WGS84 lie hundreds of metres off, outside the market.
    assert (await check(client, body("toys", gcj)))["outcome"] == "permits_required"


async def test_online_activity_needs_no_location(client: httpx.AsyncClient, places: Places) -> None:
    decision = await check(client, body("own_farm_produce_online", None))
    assert decision["outcome"] == "exempt"
    assert reason(decision, "place_not_needed")["passed"] is True
    assert "电子商务法 Art. 10" in reason(decision, "place_not_needed")["basis"]
    assert decision["venue_revisions"] == []
    assert decision["matched_place"] is None


# --- refusals --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "status", "fields"),
    [
        (body("juggling_chainsaws"), 422, ["activity_code"]),
        (body("shoe_repair", None), 422, ["location"]),
        (body("shoe_repair", periods=[(at(16, 8), at(16, 7))]), 422, ["periods[0]"]),
        (body("shoe_repair", periods=[(at(16, 8), at(16, 8))]), 422, ["periods[0]"]),
        (
            {**body("shoe_repair"), "periods": [{"start": "2026-06-16T07:00:00", "end": "2026-06-16T08:00:00"}]},
            422,
            ["periods[0].start"],
        ),
        ({**body("shoe_repair"), "periods": []}, 422, ["periods"]),
        (
            body("shoe_repair", periods=[(at(16, 7).replace(year=2025), at(16, 8).replace(year=2025))]),
            422,
            ["periods[0].start"],
        ),
        (body("shoe_repair", jurisdiction_code="110101"), 422, ["jurisdiction_code"]),
        (body("shoe_repair", {"type": "Point", "coordinates": [39.93, 116.41]}), 422, ["location.coordinates"]),
        ({**body("shoe_repair"), "colour": "red"}, 422, ["colour"]),
    ],
    ids=[
        "unknown activity",
        "street activity without location",
        "period ending before it starts",
        "empty period",
        "period without an offset",
        "no periods",
        "a day with no rules in force",
        "jurisdiction with a location",
        "swapped coordinates",
        "unknown field",
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    client: httpx.AsyncClient,
    session: AsyncSession,
    places: Places,
    payload: dict[str, object],
    status: int,
    fields: list[str],
) -> None:
    before = await _stored(session)
    assert_problem(await client.post(CHECKS, json=payload), status, "validation_failed", fields=fields)
    assert await _stored(session) == before


async def test_a_vendor_id_must_be_the_callers_own(
    client: httpx.AsyncClient, session: AsyncSession, places: Places
) -> None:
    mine = body("shoe_repair", vendor_id=str(places.vendor.id))
    before = await _stored(session)
    assert_problem(await client.post(CHECKS, json=mine), 422, "validation_failed", fields=["vendor_id"])  # anonymous
    theirs = await client.post(CHECKS, json=mine, headers=places.as_vendor(places.other_vendor))
    assert_problem(theirs, 422, "validation_failed", fields=["vendor_id"])
    unknown = body("shoe_repair", vendor_id=str(uuid.uuid4()))
    assert_problem(
        await client.post(CHECKS, json=unknown, headers=places.as_vendor()),
        422,
        "validation_failed",
        fields=["vendor_id"],
    )
    assert await _stored(session) == before
    assert (await check(client, mine, places.as_vendor()))["vendor_id"] == str(places.vendor.id)
    office = auth_headers(places.settings, places.office)  # the residence's street office may name its resident
    assert (await check(client, mine, office))["vendor_id"] == str(places.vendor.id)


# --- reading checks and references -----------------------------------------------------------------------


async def test_a_check_naming_a_vendor_is_theirs_and_an_anonymous_one_anyones(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, places: Places
) -> None:
    named = await check(client, body("shoe_repair", vendor_id=str(places.vendor.id)), places.as_vendor())
    path = f"{CHECKS}/{named['id']}"
    assert (await client.get(path, headers=places.as_vendor())).json() == named
    assert_problem(
        await client.get(path, headers=places.as_vendor(places.other_vendor)), 404, "exemption_check_not_found"
    )
    assert_problem(await client.get(path), 404, "exemption_check_not_found")
    admin = await make_account(session, "admin")
    assert (await client.get(path, headers=auth_headers(settings, admin))).status_code == 200
    anonymous = await check(client, body("shoe_repair"))
    assert (await client.get(f"{CHECKS}/{anonymous['id']}")).json() == anonymous
    assert_problem(await client.get(f"{CHECKS}/{uuid.uuid4()}"), 404, "exemption_check_not_found")


async def test_an_exempt_decision_for_a_vendor_gets_a_reference_that_lapses_with_the_designation(
    client: httpx.AsyncClient, session: AsyncSession, places: Places
) -> None:
    decision = await check(client, body("shoe_repair", vendor_id=str(places.vendor.id)), places.as_vendor())
    reference = decision["reference"]
    assert reference.startswith("EX-")
    answer = (await client.get(f"/api/v1/exemption-references/{reference}")).json()
    assert (answer["status"], answer["holder_masked"], answer["activity_code"]) == ("valid", "张*", "shoe_repair")
    assert answer["places"][0]["designation_document_number"] == "东政发〔2026〕12号"
    assert answer["hours"] == [{"start": "2026-06-16T07:00:00+08:00", "end": "2026-06-16T08:00:00+08:00"}]
    assert set(answer) == {
        "reference", "status", "lapsed_because", "holder_masked", "activity_code", "activity_name_zh", "places",
        "hours", "rule_version", "decided_at", "checked_at", "token",
    }  # fmt: skip
    await session.execute(
        update(Venue).where(Venue.id == places.market.id).values(designation_document_number="东政发〔2026〕99号")
    )
    await bump_change_counter(session)
    await session.commit()
    lapsed = (await client.get(f"/api/v1/exemption-references/{reference}")).json()
    assert lapsed["status"] == "lapsed"
    assert lapsed["lapsed_because"] == ["东华门早市: its designation has changed"]
    assert lapsed["token"] is None


async def test_a_reference_lapses_when_its_last_period_is_over(
    client: httpx.AsyncClient, clock: object, places: Places
) -> None:
    decision = await check(client, body("shoe_repair", vendor_id=str(places.vendor.id)), places.as_vendor())
    clock.set(city_time(2026, 6, 16, 8))  # type: ignore[attr-defined]
    answer = (await client.get(f"/api/v1/exemption-references/{decision['reference']}")).json()
    assert (answer["status"], answer["lapsed_because"]) == ("lapsed", ["its last period is over"])


async def test_no_reference_without_a_vendor_or_an_exemption(client: httpx.AsyncClient, places: Places) -> None:
    assert (await check(client, body("shoe_repair")))["reference"] is None
    refused = await check(client, body("shoe_repair", OUTSIDE, vendor_id=str(places.vendor.id)), places.as_vendor())
    assert refused["reference"] is None
    assert_problem(
        await client.get("/api/v1/exemption-references/EX-AAAAAAAAAAAA"), 404, "exemption_reference_not_found"
    )


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated:joserfc.errors.SecurityWarning")
async def test_a_valid_reference_carries_a_token_an_inspector_verifies_offline(
    client: httpx.AsyncClient, places: Places
) -> None:
    """Checked the same way as a permit: the JWKS alone and a JOSE library the service does not use."""
    from joserfc import jwt as jose_jwt
    from joserfc.errors import BadSignatureError
    from joserfc.jwk import KeySet

    decision = await check(client, body("shoe_repair", vendor_id=str(places.vendor.id)), places.as_vendor())
    answer = (await client.get(f"/api/v1/exemption-references/{decision['reference']}")).json()
    keys = KeySet.import_key_set((await client.get("/api/v1/permit-signing-keys")).json())
    decoded = jose_jwt.decode(answer["token"], keys, algorithms=["EdDSA"])
    assert decoded.header["typ"] == "exemption+jwt"
    assert decoded.claims["sub"] == decision["reference"]
    assert decoded.claims["aud"] == "flexreg-exemption"
    assert decoded.claims["holder"] == "张*"
    assert decoded.claims["exp"] == int(city_time(2026, 6, 16, 8).timestamp())
    assert decoded.claims["places"][0]["designation_document_number"] == "东政发〔2026〕12号"
    header, payload, signature = answer["token"].split(".")
    with pytest.raises(BadSignatureError):
        jose_jwt.decode(f"{header}.{payload[:-2]}AA.{signature}", keys, algorithms=["EdDSA"])

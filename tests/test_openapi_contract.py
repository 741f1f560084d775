"""The OpenAPI schema a client team builds from: verbs for operations, named enums, every refusal listed."""

from __future__ import annotations

import re
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import async_sessionmaker

from core import errors as core_errors
from core.conditional import IF_MATCH_OPT
from core.errors import PROBLEM_MEDIA_TYPE, DomainError
from core.openapi import documented_problems, handler_operations
from core.settings import Settings
from flexreg.app import create_app
from registry import errors as registry_errors
from registry import id_numbers
from registry.api.openapi import examples

METHODS = ("get", "post", "put", "patch", "delete")
VERBS = {"get", "list", "register", "request", "open", "establish", "upload", "download", "submit", "decide"}
VERBS |= {"withdraw"}
VERBS |= {"find"}  # venues: findDesignatedPlaces (a lookup by point and instant, not a paginated list)
# Places (venues): amend a venue/pitch/feature, change a status, mark a pitch, record a restricted feature.
VERBS |= {"amend", "change", "mark", "record"}
VERBS |= {"apply", "draw", "release"}  # allocation rounds
VERBS |= {"extend", "pause"}  # permits: a task's clock (行政许可法 Art. 42 extension, Art. 45 pause)
VERBS |= {"reveal"}  # registry: revealVendorIdNumber (a staff read of the full ID number, logged)
VERBS |= {"check"}  # permits: checkExemption (a decision, stored; not a creation)
VERBS |= {"refresh", "sign"}  # sessions: refreshToken, signOut

# Refusals the registry's services raise, by the operation whose handler reaches them (status, code).
KNOWN_REFUSALS: list[tuple[str, int, str]] = [
    # Rate limits (core.rate_limits; the table in flexreg.limits).
    *(
        (operation, 429, "rate_limited")
        for operation in (
            "registerVendor",
            "requestToken",
            "uploadDocument",
            "checkExemption",
            "getPermit",
            "getExemptionReference",
        )
    ),
    ("submitApplication", 422, "no_permit_needed"),
    ("submitApplication", 422, "activity_not_allowed"),
    ("submitApplication", 422, "validation_failed"),
    ("getApplication", 404, "application_not_found"),
    ("getApplicationHistory", 404, "application_not_found"),
    ("getCommitmentText", 404, "commitment_not_offered"),
    ("submitSupplement", 404, "application_not_found"),
    ("submitSupplement", 409, "invalid_transition"),
    ("withdrawApplication", 409, "invalid_transition"),
    ("getTask", 404, "task_not_found"),
    ("decideTask", 404, "task_not_found"),
    ("decideTask", 409, "invalid_transition"),
    ("decideTask", 412, "precondition_failed"),
    ("decideTask", 428, "precondition_required"),
    ("decideTask", 422, "filing_not_refusable"),
    ("extendTask", 404, "task_not_found"),
    ("extendTask", 409, "invalid_transition"),
    ("extendTask", 428, "precondition_required"),
    ("pauseTask", 404, "task_not_found"),
    ("pauseTask", 409, "invalid_transition"),
    ("pauseTask", 412, "precondition_failed"),
    ("requestToken", 401, "invalid_credentials"),
    ("requestToken", 429, "too_many_login_attempts"),
    ("refreshToken", 401, "invalid_refresh_token"),
    ("refreshToken", 401, "refresh_token_reused"),
    ("signOut", 401, "not_authenticated"),
    ("changePassword", 422, "wrong_current_password"),
    ("changePassword", 422, "validation_failed"),
    ("changePassword", 429, "too_many_login_attempts"),
    ("amendAccount", 404, "account_not_found"),
    ("amendAccount", 409, "cannot_deactivate_self"),
    ("amendAccount", 403, "forbidden"),
    ("openAccount", 409, "username_taken"),
    ("openAccount", 422, "unknown_department"),
    ("openAccount", 422, "validation_failed"),
    ("getAccount", 404, "account_not_found"),
    ("establishJurisdiction", 409, "jurisdiction_exists"),
    ("establishJurisdiction", 422, "validation_failed"),
    ("getJurisdiction", 404, "jurisdiction_not_found"),
    ("registerVendor", 401, "not_authenticated"),
    ("registerVendor", 403, "forbidden"),
    ("registerVendor", 409, "vendor_exists"),
    ("registerVendor", 409, "already_registered"),
    ("registerVendor", 409, "username_taken"),
    ("registerVendor", 422, "invalid_id_number"),
    ("registerVendor", 422, "invalid_name"),
    ("registerVendor", 422, "invalid_phone"),
    ("registerVendor", 422, "outside_jurisdiction"),
    ("registerVendor", 422, "validation_failed"),
    ("getOwnVendor", 404, "vendor_not_found"),
    ("getVendor", 404, "vendor_not_found"),
    ("revealVendorIdNumber", 403, "forbidden"),
    ("revealVendorIdNumber", 404, "vendor_not_found"),
    ("revealVendorIdNumber", 422, "validation_failed"),
    ("uploadDocument", 413, "document_too_large"),
    ("uploadDocument", 415, "unsupported_media_type"),
    ("uploadDocument", 422, "unsupported_document_type"),
    ("uploadDocument", 422, "validation_failed"),
    ("getDocument", 404, "document_not_found"),
    ("downloadDocument", 404, "document_not_found"),
    ("submitClaim", 404, "vendor_not_found"),
    ("submitClaim", 409, "claim_pending"),
    ("submitClaim", 422, "validation_failed"),
    ("getClaim", 404, "claim_not_found"),
    ("decideClaim", 403, "forbidden"),
    ("decideClaim", 404, "claim_not_found"),
    ("decideClaim", 409, "claim_already_decided"),
    ("decideClaim", 412, "precondition_failed"),
    ("decideClaim", 422, "validation_failed"),
    ("decideClaim", 428, "precondition_required"),
    ("getEntitlements", 404, "vendor_not_found"),
    ("getActivity", 404, "activity_not_found"),
    ("listClaims", 400, "invalid_parameter"),
    ("registerVendor", 400, "malformed_json"),
    ("registerVendor", 422, "idempotency_key_reused"),
    ("registerVendor", 409, "idempotency_key_in_progress"),
    ("requestRoadOccupancy", 403, "forbidden"),
    ("requestRoadOccupancy", 404, "venue_not_found"),
    ("requestRoadOccupancy", 409, "permit_flow_unavailable"),
    ("requestRoadOccupancy", 409, "zone_busy"),
    ("requestRoadOccupancy", 422, "not_a_road_zone"),
    ("requestRoadOccupancy", 422, "road_occupancy_refused"),
    ("requestRoadOccupancy", 422, "validation_failed"),
    ("listRoadOccupancyRequests", 400, "invalid_parameter"),
    ("getRoadOccupancyRequest", 404, "road_occupancy_not_found"),
    ("withdrawRoadOccupancyRequest", 403, "forbidden"),
    ("withdrawRoadOccupancyRequest", 404, "road_occupancy_not_found"),
    ("withdrawRoadOccupancyRequest", 409, "road_occupancy_not_active"),
    ("findDesignatedPlaces", 400, "invalid_parameter"),
    ("findDesignatedPlaces", 422, "validation_failed"),
    # Places: venues, pitches, restricted features.
    ("establishVenue", 403, "forbidden"),
    ("establishVenue", 404, "jurisdiction_not_found"),
    ("establishVenue", 422, "outside_jurisdiction"),
    ("establishVenue", 422, "validation_failed"),
    ("listVenues", 400, "invalid_parameter"),
    ("listVenues", 422, "validation_failed"),
    ("getVenue", 404, "venue_not_found"),
    ("amendVenue", 404, "venue_not_found"),
    ("amendVenue", 412, "precondition_failed"),
    ("amendVenue", 428, "precondition_required"),
    ("amendVenue", 422, "outside_jurisdiction"),
    ("amendVenue", 422, "validation_failed"),
    ("changeVenueStatus", 404, "venue_not_found"),
    ("changeVenueStatus", 412, "precondition_failed"),
    ("changeVenueStatus", 428, "precondition_required"),
    ("changeVenueStatus", 422, "validation_failed"),
    ("getVenueMap", 404, "venue_not_found"),
    ("markPitch", 403, "forbidden"),
    ("markPitch", 404, "venue_not_found"),
    ("markPitch", 409, "venue_not_open"),
    ("markPitch", 409, "pitch_label_taken"),
    ("markPitch", 422, "pitch_rejected"),
    ("markPitch", 422, "validation_failed"),
    ("listPitches", 404, "venue_not_found"),
    ("getPitch", 404, "pitch_not_found"),
    ("amendPitch", 404, "pitch_not_found"),
    ("amendPitch", 409, "pitch_label_taken"),
    ("amendPitch", 412, "precondition_failed"),
    ("amendPitch", 422, "pitch_rejected"),
    ("amendPitch", 428, "precondition_required"),
    ("changePitchStatus", 404, "pitch_not_found"),
    ("changePitchStatus", 409, "venue_not_open"),
    ("changePitchStatus", 422, "pitch_rejected"),
    ("changePitchStatus", 428, "precondition_required"),
    ("recordRestrictedFeature", 403, "forbidden"),
    ("recordRestrictedFeature", 404, "jurisdiction_not_found"),
    ("recordRestrictedFeature", 422, "outside_jurisdiction"),
    ("recordRestrictedFeature", 422, "validation_failed"),
    ("listRestrictedFeatures", 400, "invalid_parameter"),
    ("getRestrictedFeature", 404, "restricted_feature_not_found"),
    ("amendRestrictedFeature", 404, "restricted_feature_not_found"),
    ("amendRestrictedFeature", 412, "precondition_failed"),
    ("amendRestrictedFeature", 422, "outside_jurisdiction"),
    ("amendRestrictedFeature", 428, "precondition_required"),
    # Allocation rounds
    ("openRound", 403, "forbidden"),
    ("openRound", 409, "venue_not_open"),
    ("openRound", 409, "pitch_not_open"),
    ("openRound", 409, "pitch_in_another_round"),
    ("openRound", 409, "pitch_occupied"),
    ("openRound", 422, "validation_failed"),
    ("listRounds", 400, "invalid_parameter"),
    ("listHistoryAnchors", 400, "invalid_parameter"),
    ("listAccessLogAnchors", 400, "invalid_parameter"),
    ("getRound", 404, "round_not_found"),
    ("applyToRound", 403, "forbidden"),
    ("applyToRound", 404, "round_not_found"),
    ("applyToRound", 409, "applications_closed"),
    ("applyToRound", 409, "already_applied"),
    ("applyToRound", 409, "already_holds_pitch"),
    ("applyToRound", 409, "venue_not_open"),
    ("applyToRound", 409, "pitch_not_open"),
    ("applyToRound", 422, "validation_failed"),
    ("drawRound", 403, "forbidden"),
    ("drawRound", 404, "round_not_found"),
    ("drawRound", 409, "round_still_open"),
    ("drawRound", 409, "round_already_drawn"),
    ("drawRound", 409, "beacon_not_available"),
    ("drawRound", 409, "claims_pending"),
    ("drawRound", 422, "validation_failed"),
    ("getRoundResults", 404, "round_not_found"),
    ("getRoundResults", 409, "round_not_drawn"),
    ("getMyRoundResult", 403, "forbidden"),
    ("getMyRoundResult", 404, "round_not_found"),
    ("getMyRoundResult", 404, "application_not_found"),
    ("listAllocations", 403, "forbidden"),
    ("getAllocation", 404, "allocation_not_found"),
    ("releaseAllocation", 403, "forbidden"),
    ("releaseAllocation", 404, "allocation_not_found"),
    ("releaseAllocation", 409, "allocation_released"),
    # Issued permits
    ("getPermit", 404, "permit_not_found"),
    ("getPermitQrPng", 404, "permit_not_found"),
    ("getPermitQrSvg", 404, "permit_not_found"),
    ("changePermitStatus", 401, "not_authenticated"),
    ("changePermitStatus", 403, "forbidden"),
    ("changePermitStatus", 404, "permit_not_found"),
    ("changePermitStatus", 409, "permit_status_conflict"),
    ("changePermitStatus", 412, "precondition_failed"),
    ("changePermitStatus", 422, "validation_failed"),
    ("changePermitStatus", 428, "precondition_required"),
    # Permits: exemption checks
    ("checkExemption", 401, "not_authenticated"),
    ("checkExemption", 422, "validation_failed"),
    ("checkExemption", 400, "malformed_json"),
    ("getExemptionCheck", 404, "exemption_check_not_found"),
    ("getExemptionReference", 404, "exemption_reference_not_found"),
]


@pytest.fixture(scope="module")
def app(settings: Settings) -> Litestar:
    # The schema needs no database: an unbound sessionmaker keeps the app from opening an engine.
    return create_app(settings, sessionmaker=async_sessionmaker())


@pytest.fixture(scope="module")
async def served(app: Litestar) -> dict[str, Any]:
    """The schema as clients download it."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        answer = await client.get("/schema/openapi.json")
    assert answer.status_code == 200
    return answer.json()


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_operation_is_named_by_its_verb(served: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in _operations(served)]
    assert len(ids) == len(set(ids))
    for operation_id in ids:
        assert re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)+", operation_id), operation_id
        assert re.match(r"[a-z]+", operation_id).group() in VERBS, operation_id  # type: ignore[union-attr]


def test_every_operation_says_who_may_call_it(served: dict[str, Any]) -> None:
    for method, path, operation in _operations(served):
        description = operation.get("description") or ""
        assert len(description) >= 40, (method, path)


@pytest.mark.parametrize(("operation_id", "status", "code"), KNOWN_REFUSALS)
def test_known_refusals_are_documented(app: Litestar, operation_id: str, status: int, code: str) -> None:
    documented = documented_problems(app.openapi_schema)
    assert code in documented[operation_id].get(status, set()), documented[operation_id]


def test_every_refusal_the_services_define_is_documented_somewhere(app: Litestar) -> None:
    listed = {
        code
        for statuses in documented_problems(app.openapi_schema).values()
        for codes in statuses.values()
        for code in codes
    }
    defined = {
        error.code
        for module in (registry_errors, core_errors)
        for error in vars(module).values()
        if isinstance(error, type) and issubclass(error, DomainError) and error.__module__ == module.__name__
    }
    # Base classes nothing raises as such.
    defined -= {"bad_request", "malformed_request"}
    assert defined - listed == set()


def test_problem_examples_are_named_by_their_code(served: dict[str, Any]) -> None:
    for _, _, operation in _operations(served):
        for status, response in operation["responses"].items():
            media = response.get("content", {}).get(PROBLEM_MEDIA_TYPE)
            if media is None:
                continue
            assert media["schema"] == {"$ref": "#/components/schemas/Problem"}
            assert media["examples"], (operation["operationId"], status)
            for code, example in media["examples"].items():
                assert example["value"]["code"] == code
                assert example["value"]["status"] == int(status)
                assert f"`{code}`" in response["description"]


def test_every_201_documents_its_location(served: dict[str, Any]) -> None:
    created = [operation for _, _, operation in _operations(served) if "201" in operation["responses"]]
    assert len(created) >= 5
    for operation in created:
        assert "Location" in operation["responses"]["201"]["headers"], operation["operationId"]


def test_etags_are_documented_where_returned(served: dict[str, Any]) -> None:
    by_id = {operation["operationId"]: operation for _, _, operation in _operations(served)}
    assert "ETag" in by_id["submitClaim"]["responses"]["201"]["headers"]
    assert "ETag" in by_id["getClaim"]["responses"]["200"]["headers"]
    assert "ETag" in by_id["decideClaim"]["responses"]["200"]["headers"]


def test_handlers_with_the_if_match_option_require_it(app: Litestar, served: dict[str, Any]) -> None:
    deciding = {
        operation.operation_id for _, _, handler, operation in handler_operations(app) if handler.opt.get(IF_MATCH_OPT)
    }
    assert "decideClaim" in deciding
    for _, _, operation in _operations(served):
        headers = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}
        if operation["operationId"] in deciding:
            assert headers["If-Match"]["required"] is True
            assert {"412", "428"} <= set(operation["responses"])
        else:
            assert "If-Match" not in headers
            assert "428" not in operation["responses"]


def test_optional_authentication_is_declared_optional(served: dict[str, Any]) -> None:
    assert served["paths"]["/api/v1/vendors"]["post"]["security"] == [{}, {"bearer": []}]
    assert served["paths"]["/api/v1/activities"]["get"].get("security") in (None, [])


def test_enums_are_named_components(served: dict[str, Any]) -> None:
    components = served["components"]["schemas"]
    for name in ("KeyGroup", "Role", "ClaimStatus", "ClaimDecision", "DifficultyCategory", "ActivityCategory"):
        assert components[name]["enum"], name
    for name in ("VenueKind", "PlaceStatus", "FeatureKind", "CheckName", "DesignationStatus", "RoadRequests"):
        assert components[name]["enum"], name

    inline: list[str] = []

    def walk(node: Any, where: str, top: bool) -> None:
        if isinstance(node, dict):
            if "enum" in node and not top:
                inline.append(where)
            for key, child in node.items():
                walk(child, f"{where}/{key}", False)
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, f"{where}/{index}", False)

    walk(served["paths"], "#/paths", False)
    for name, component in components.items():
        walk(component, f"#/components/schemas/{name}", True)
    assert inline == []


def test_claim_details_are_one_of_the_group_shapes(served: dict[str, Any]) -> None:
    components = served["components"]["schemas"]
    shapes = {
        "#/components/schemas/LaidOffUnemployedDetails",
        "#/components/schemas/CollegeGraduateDetails",
        "#/components/schemas/EmploymentDifficultyDetails",
        "#/components/schemas/MigrantWorkerDetails",
    }
    for name in ("SubmitClaim", "ClaimOut"):
        details = components[name]["properties"]["details"]
        assert {ref["$ref"] for ref in details["oneOf"]} == shapes
    for ref in shapes:
        shape = components[ref.rsplit("/", 1)[-1]]
        assert shape["additionalProperties"] is False
    assert components["EmploymentDifficultyDetails"]["properties"]["category"] == {
        "$ref": "#/components/schemas/DifficultyCategory"
    }
    assert components["EmploymentDifficultyDetails"]["required"] == ["category", "since"]


def test_upload_requires_its_file(served: dict[str, Any]) -> None:
    form = served["paths"]["/api/v1/documents"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    upload = served["components"]["schemas"][form["$ref"].rsplit("/", 1)[-1]]
    assert upload["required"] == ["file"]
    assert upload["properties"]["file"]["format"] == "binary"


def test_request_schemas_are_closed(served: dict[str, Any]) -> None:
    components = served["components"]["schemas"]
    for name in ("RegisterVendor", "SubmitClaim", "DecideClaim", "OpenAccount", "RequestToken", "UploadDocument"):
        assert components[name]["additionalProperties"] is False, name


def test_json_bodies_and_answers_carry_examples(served: dict[str, Any]) -> None:
    missing = []
    for _, _, operation in _operations(served):
        media = [operation.get("requestBody", {}).get("content", {}).get("application/json")]
        media += [
            response.get("content", {}).get("application/json")
            for status, response in operation["responses"].items()
            if status.startswith("2")
        ]
        for item in media:
            if item is not None and not item.get("examples"):
                missing.append(operation["operationId"])
    assert missing == []


def test_examples_fit_their_types_and_tell_one_story() -> None:
    by_type = {}
    for example in examples():
        encoded = msgspec.json.encode(example)
        assert msgspec.json.decode(encoded, type=type(example)) == example
        by_type[type(example).__name__] = example
    signing_up: Any = by_type["RegisterVendor"]
    signed_up: Any = by_type["VendorOut"]
    number = id_numbers.normalise_id_number(signing_up.id_number, today=signed_up.created_at.date())
    assert id_numbers.mask_id_number(number) == signed_up.id_number_masked == "110101********002X"
    assert id_numbers.mask_phone(id_numbers.normalise_phone(signing_up.phone)) == signed_up.phone_masked
    assert id_numbers.normalise_name(signing_up.name) == signed_up.name
    assert signing_up.residence_jurisdiction == signed_up.residence_jurisdiction == "110101001000"


def test_problem_headers_are_documented(served: dict[str, Any]) -> None:
    token = served["paths"]["/api/v1/auth/token"]["post"]["responses"]
    assert "Retry-After" in token["429"]["headers"]
    password = served["paths"]["/api/v1/auth/password"]["post"]["responses"]
    assert "Retry-After" in password["429"]["headers"]
    decide = served["paths"]["/api/v1/key-group-claims/{claim_id}/decision"]["post"]["responses"]
    assert "ETag" in decide["412"]["headers"]
    assert "WWW-Authenticate" in decide["401"]["headers"]


def test_served_examples_carry_every_required_field(served: dict[str, Any]) -> None:
    for name, component in served["components"]["schemas"].items():
        for example in component.get("examples", []):
            if isinstance(example, dict):
                assert set(component.get("required", [])) <= set(example), name


def test_no_generated_filler_examples(served: dict[str, Any]) -> None:
    """Examples are ours (whole objects, telling one story), never Litestar's random ones (`"FVeKbbatlyDIWfXQ"`):
    those land on properties and array items, so no `examples` may appear below a component's top level."""

    def nested_examples(node: Any, path: str) -> list[str]:
        found: list[str] = []
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("example", "examples"):
                    found.append(path)
                found += nested_examples(value, f"{path}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                found += nested_examples(value, f"{path}/{index}")
        return found

    filler = []
    for name, component in served["components"]["schemas"].items():
        for key, value in component.items():
            if key not in ("examples", "example"):
                filler += nested_examples(value, f"{name}/{key}")
    assert filler == []

"""What the registry's OpenAPI schema says beyond its handlers' signatures: named enums, examples, claim details.

The examples are instances of the Structs they illustrate (mypy checks their fields, the contract test
decodes them with the Structs' own constraints), in one realistic story: 王秀英, resident of 东华门街道
(110101001000), signs up, uploads her 就业创业证 scan and claims the employment-difficulty group, which the
street office verifies.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
from litestar.openapi.spec import OpenAPI, OpenAPIFormat, OpenAPIType, Schema

from core.geojson import Polygon
from core.openapi_components import add_struct_components
from registry import catalogue, models
from registry import entitlements as rules
from registry.api.access_log import AccessLogAnchorOut
from registry.api.accounts import (
    AccountChange,
    AccountOut,
    ChangePassword,
    OpenAccount,
    RefreshRequest,
    RequestToken,
    SignOut,
    TokenOut,
)
from registry.api.claims import ClaimOut, DecideClaim, EntitlementsOut, SubmitClaim
from registry.api.documents import DocumentOut
from registry.api.jurisdictions import EstablishJurisdiction, JurisdictionOut
from registry.api.vendors import IdNumberRevealOut, RegisterVendor, RevealIdNumber, VendorOut, VendorSummaryOut

# Each Literal enum the registry speaks, by the name clients see (core.openapi_components.name_enums).
NAMED_ENUMS: dict[str, Any] = {
    "KeyGroup": rules.KeyGroup,
    "DifficultyCategory": rules.DifficultyCategory,
    "ReasonCode": rules.ReasonCode,
    "ClaimStatus": models.ClaimStatus,
    "ClaimDecision": models.ClaimDecision,
    "ActivityCategory": catalogue.Category,
    "DepartmentCode": catalogue.DepartmentCode,
    "LicenceRequirement": catalogue.Licence,
    "StallAllowed": catalogue.StallAllowed,
    "ActivitySetting": catalogue.Setting,
    "PermitKind": catalogue.PermitKind,
    "PermitInstrument": catalogue.Instrument,
    "DayUnit": catalogue.DayUnit,
    "SourceTag": catalogue.SourceTag,
}

# Members of every claim's `details`, one shape per group (API.md); the last is tried last by clients that
# try each shape in turn, so the one whose fields are all optional goes there.
_DETAILS_SHAPES: tuple[type[msgspec.Struct], ...] = (
    rules.LaidOffUnemployedDetails,
    rules.CollegeGraduateDetails,
    rules.EmploymentDifficultyDetails,
    rules.MigrantWorkerDetails,
)
_DETAILS_DOC = (
    "One shape per `group`, unknown fields refused: laid_off_unemployed → LaidOffUnemployedDetails, "
    "college_graduate → CollegeGraduateDetails, employment_difficulty → EmploymentDifficultyDetails, "
    "migrant_worker → MigrantWorkerDetails. Certificate numbers (就业创业证) are not taken: they are ID numbers "
    "in practice, and the evidence carries them."
)


def document_claim_details(schema: OpenAPI) -> None:
    """`details` of a claim as `oneOf` the four group shapes (the Structs decode it by group, after the body)."""
    refs = add_struct_components(schema, _DETAILS_SHAPES)
    for name in ("SubmitClaim", "ClaimOut"):
        target = (schema.components.schemas or {}).get(name)
        if target is not None and target.properties is not None:
            target.properties["details"] = Schema(one_of=list(refs), description=_DETAILS_DOC)


def document_upload_form(schema: OpenAPI) -> None:
    """The upload's `file` part is required (the handler names it in a 422 when missing, not a framework 400)."""
    form = (schema.components.schemas or {}).get("UploadDocument")
    if form is None:
        return
    form.properties = {
        "file": Schema(
            type=OpenAPIType.STRING,
            format=OpenAPIFormat.BINARY,
            description="The document: PDF, JPEG or PNG (judged by content), at most 5 MB",
        )
    }
    form.required = ["file"]


_BEIJING = dt.timezone(dt.timedelta(hours=8))
_VENDOR_ID = uuid.UUID("6f1d3c2a-8b4e-4f7a-9c51-2e0b7d9a4c13")
_CLAIM_ID = uuid.UUID("0c9e5b7d-3a21-4e68-b0f4-91d2c6a8e705")
_DOCUMENT_ID = uuid.UUID("a4b7e2d1-5c39-4f08-8e6a-7d13b9c0f254")
_ACCOUNT_ID = uuid.UUID("3e8a1f6c-2d47-4b95-a0c8-5f9e7b2d1a36")
_DONGHUAMEN = "110101001000"  # 东华门街道, 东城区, 北京市
# Documentation examples, not credentials.
_VENDOR_PASSWORD = "Donghua-Men-1978"  # noqa: S105
_OFFICE_PASSWORD = "Jiedao-Ban-2026"  # noqa: S105
_TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIzZThhMWY2YyIsInJvbGUiOiJ2ZW5kb3IifQ.q3Xr9mC2bV0"  # noqa: S105
_DETAILS = rules.EmploymentDifficultyDetails(category="over_40_female_over_50_male", since=dt.date(2026, 1, 5))


def examples() -> list[msgspec.Struct]:
    """One realistic instance of each request and response Struct (pages compose theirs from their items)."""
    signed_up = dt.datetime(2026, 3, 2, 9, 41, 7, tzinfo=_BEIJING)
    submitted = dt.datetime(2026, 3, 2, 9, 52, 30, tzinfo=_BEIJING)
    activities = catalogue.load_catalogue()
    shoe_repair = catalogue.to_activity_out(activities.activity("shoe_repair"))
    department = activities.departments["market_regulation"]
    permit_type = activities.permit_types["business_license"]
    return [
        RequestToken(username="wangxiuying", password=_VENDOR_PASSWORD),
        TokenOut(
            access_token=_TOKEN,
            token_type="bearer",  # noqa: S106 (the scheme's name)
            expires_in=900,
            role="vendor",
            refresh_token="Jm3q8xQ0v4n2rT7kYc1pLzW9sHfA6uEoBdGiK5aMtNw",  # noqa: S106 (an example)
            refresh_expires_in=2592000,
        ),
        RefreshRequest(refresh_token="Jm3q8xQ0v4n2rT7kYc1pLzW9sHfA6uEoBdGiK5aMtNw"),  # noqa: S106 (an example)
        SignOut(everywhere=False),
        ChangePassword(current_password=_OFFICE_PASSWORD, new_password="Qianmen-Autumn-2026"),  # noqa: S106
        AccountChange(is_active=False),
        OpenAccount(
            username="donghuamen.office",
            password=_OFFICE_PASSWORD,
            role="street_office",
            jurisdiction_code=_DONGHUAMEN,
        ),
        AccountOut(
            id=_ACCOUNT_ID,
            username="donghuamen.office",
            role="street_office",
            jurisdiction_code=_DONGHUAMEN,
            department_code=None,
            is_active=True,
            created_at=dt.datetime(2026, 2, 27, 15, 3, 12, tzinfo=_BEIJING),
        ),
        EstablishJurisdiction(
            code=_DONGHUAMEN,
            name="东华门街道",
            parent_code="110101000000",
            boundary=Polygon(
                coordinates=[
                    [
                        [116.3915, 39.9087],
                        [116.4102, 39.9087],
                        [116.4102, 39.9281],
                        [116.3915, 39.9281],
                        [116.3915, 39.9087],
                    ]
                ]
            ),
        ),
        JurisdictionOut(
            code=_DONGHUAMEN,
            name="东华门街道",
            parent_code="110101000000",
            boundary={
                "type": "Polygon",
                "coordinates": [
                    [
                        [116.3915, 39.9087],
                        [116.4102, 39.9087],
                        [116.4102, 39.9281],
                        [116.3915, 39.9281],
                        [116.3915, 39.9087],
                    ]
                ],
            },
        ),
        RegisterVendor(
            username="wangxiuying",
            password=_VENDOR_PASSWORD,
            name="王秀英",
            id_number="11010119780528002X",
            phone="13910427765",
            residence_jurisdiction=_DONGHUAMEN,
        ),
        VendorOut(
            id=_VENDOR_ID,
            name="王秀英",
            id_number_masked="110101********002X",
            phone_masked="139****7765",
            residence_jurisdiction=_DONGHUAMEN,
            key_groups=["employment_difficulty"],
            created_at=signed_up,
        ),
        VendorSummaryOut(
            id=_VENDOR_ID,
            name="王秀英",
            id_number_masked="110101********002X",
            residence_jurisdiction=_DONGHUAMEN,
            key_groups=["employment_difficulty"],
            created_at=signed_up,
        ),
        RevealIdNumber(purpose="核对就业困难人员认定申请（东华门街道 2026-0318 号）"),
        IdNumberRevealOut(
            vendor_id=_VENDOR_ID,
            id_number="11010119780528002X",
            revealed_at=dt.datetime(2026, 3, 4, 10, 12, 40, tzinfo=_BEIJING),
            access_seq=1287,
        ),
        DocumentOut(
            id=_DOCUMENT_ID,
            sha256="9b2f4e51c07a8d3e6f1b0a94c2d8e7f35a61b09c4e2d7f8a1b3c5e9d0f2a4b6c",
            size=284113,
            media_type="application/pdf",
            created_at=dt.datetime(2026, 3, 2, 9, 50, 44, tzinfo=_BEIJING),
        ),
        SubmitClaim(
            group="employment_difficulty",
            details=msgspec.to_builtins(_DETAILS),
            evidence_document_ids=[_DOCUMENT_ID],
        ),
        DecideClaim(decision="verified", valid_until=dt.date(2028, 3, 1)),
        ClaimOut(
            id=_CLAIM_ID,
            vendor_id=_VENDOR_ID,
            vendor_name="王秀英",
            vendor_id_number_masked="110101********002X",
            jurisdiction_code=_DONGHUAMEN,
            group="employment_difficulty",
            status="verified",
            details=msgspec.to_builtins(_DETAILS),
            evidence_document_ids=[_DOCUMENT_ID],
            submitted_at=submitted,
            valid_until=dt.date(2028, 3, 1),
            version=2,
            decided_at=dt.datetime(2026, 3, 4, 10, 15, 2, tzinfo=_BEIJING),
            decision_reason=None,
        ),
        EntitlementsOut(
            on=dt.date(2026, 3, 4),
            items=[
                rules.Entitlement(
                    policy_code="guaranteed_loan",
                    name="创业担保贷款",
                    name_en="Guaranteed entrepreneurship loan",
                    legal_basis="财金〔2020〕21号 [K]",
                    conditions=["Up to ¥200,000 per person, interest subsidised"],
                    eligible=True,
                    amount_cny=200000,
                    amount_period="loan_cap_per_person",
                    qualifying_groups=["employment_difficulty"],
                    verified_until=dt.date(2028, 3, 1),
                )
            ],
            not_yet_eligible=[],
        ),
        shoe_repair,
        catalogue.ActivityListOut(items=[shoe_repair], version=activities.version),
        department,
        catalogue.DepartmentListOut(items=[department], version=activities.version),
        permit_type,
        catalogue.PermitTypeListOut(items=[permit_type], version=activities.version),
        AccessLogAnchorOut(
            day=dt.date(2026, 3, 2),
            seq=318,
            row_hash="c4a1e9f07b2d5e8a3f6c9b0d2e4f7a1c3b5d8e0f2a4c6e9b1d3f5a7c9e0b2d4f",
            signature="Vh3kQ9m2Xc7LpR0tYw5nB8sJ1dFzA4uEoGiK6aMqT2vN9xC3yH7bW0rU5eS8lPjD1gZfO4kM6nQ2tV9wX3cAQw",
            kid="Kz2ahJfzZpdjqOBMUm_rON7KjjuD9l83wXrM7Ed7U30",  # the permits signing key's RFC 7638 thumbprint
            created_at=signed_up.replace(hour=23, minute=56, second=0),
        ),
    ]

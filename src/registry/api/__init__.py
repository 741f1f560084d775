"""The registry's HTTP layer: one module per resource, each a Controller plus the Structs it speaks."""

from __future__ import annotations

from litestar.openapi.spec import OpenAPI, Parameter

from registry.api.accounts import AccountController, AuthController
from registry.api.catalogue import CatalogueController, document_catalogue_parameters
from registry.api.claims import ClaimController
from registry.api.documents import DocumentController, document_content_types, document_upload_required
from registry.api.jurisdictions import JurisdictionController
from registry.api.vendors import VendorController

CONTROLLERS = [
    AuthController,
    AccountController,
    JurisdictionController,
    VendorController,
    DocumentController,
    ClaimController,
    CatalogueController,
]

# Statuses particular operations give beyond those core.openapi documents for every operation.
EXTRA_PROBLEMS: dict[tuple[str, str], list[str]] = {
    ("post", "/api/v1/auth/token"): ["401", "429"],
    ("post", "/api/v1/key-group-claims/{claim_id}/decision"): ["412", "428"],
}


def refine_openapi(schema: OpenAPI) -> None:
    """What the generated schema cannot know: hand-read parameters and stored media types."""
    document_catalogue_parameters(schema)
    document_content_types(schema)
    document_upload_required(schema)
    _if_match_required(schema)


def _if_match_required(schema: OpenAPI) -> None:
    """Litestar documents an optional header as optional; the decision refuses to run without it (428)."""
    item = (schema.paths or {}).get("/api/v1/key-group-claims/{claim_id}/decision")
    if item is None or item.post is None:
        return
    for parameter in item.post.parameters or []:
        if isinstance(parameter, Parameter) and parameter.name == "If-Match":
            parameter.required = True

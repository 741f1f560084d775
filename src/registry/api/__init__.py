"""The registry's HTTP layer: one module per resource, each a Controller plus the Structs it speaks."""

from __future__ import annotations

from litestar.openapi.spec import OpenAPI

from registry.api.access_log import AccessLogAnchorController
from registry.api.accounts import AccountController, AuthController, document_sessions
from registry.api.catalogue import CatalogueController, document_catalogue_parameters
from registry.api.claims import ClaimController
from registry.api.documents import DocumentController, document_content_types
from registry.api.jurisdictions import JurisdictionController
from registry.api.openapi import NAMED_ENUMS, document_claim_details, document_upload_form, examples
from registry.api.vendors import VendorController

__all__ = ["CONTROLLERS", "NAMED_ENUMS", "examples", "refine_openapi"]

CONTROLLERS = [
    AuthController,
    AccountController,
    JurisdictionController,
    VendorController,
    DocumentController,
    ClaimController,
    CatalogueController,
    AccessLogAnchorController,
]


def refine_openapi(schema: OpenAPI) -> None:
    """What the generated schema cannot know: hand-read parameters, stored media types, claim details."""
    document_catalogue_parameters(schema)
    document_content_types(schema)
    document_claim_details(schema)
    document_upload_form(schema)
    document_sessions(schema)

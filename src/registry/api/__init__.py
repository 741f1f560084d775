"""The registry's HTTP layer: one module per resource, each a Controller plus the Structs it speaks."""

from __future__ import annotations

from registry.api.accounts import AccountController, AuthController
from registry.api.catalogue import CatalogueController
from registry.api.claims import ClaimController
from registry.api.documents import DocumentController
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

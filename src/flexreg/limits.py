"""Which handlers are rate limited, and by which limit (core.rate_limits; values: core.rate_limit_rules).

The app factory's to say, not the domains': a limit is an operational policy over routes of several domains, and
one table shows all of them. Keyed by the handler's function, so a renamed handler fails here at import.
"""

from __future__ import annotations

from typing import Final

from core.rate_limits import Limited, LimitTable
from flexreg.console.pages import ConsolePages
from flexreg.console.verify import VerifyPage
from permits.api.exemption import ExemptionCheckController, ExemptionReferenceController
from permits.api.permits import PermitController
from registry.api.accounts import AuthController
from registry.api.documents import DocumentController
from registry.api.vendors import VendorController

# Sign-in counts per address even with a token: guessing passwords is what it limits, whoever's token is sent.
_SIGN_IN: Final = Limited("sign_in", per_account=False)
# A vendor's token counts against its address as well: anyone may open vendor accounts, each a bucket of its own.
_VERIFY: Final = Limited("verify", vendors_per_address="verify_per_address")

RATE_LIMITED: Final[LimitTable] = {
    # A vendor's token is refused here (409 already_registered): counted per account, it buys nothing.
    VendorController.register.fn: Limited("sign_up"),
    AuthController.request_token.fn: _SIGN_IN,
    ConsolePages.sign_in.fn: _SIGN_IN,
    DocumentController.upload.fn: Limited("upload", vendors_per_address="upload_per_address"),
    ExemptionCheckController.check_exemption.fn: Limited(
        "exemption_check", vendors_per_address="exemption_check_per_address"
    ),
    PermitController.get_permit.fn: _VERIFY,
    VerifyPage.verify.fn: _VERIFY,
    ExemptionReferenceController.get_exemption_reference.fn: _VERIFY,
}

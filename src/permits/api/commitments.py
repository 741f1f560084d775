"""GET /commitment-texts/{permit_type}: the text an applicant signs for commitment mode (告知承诺制), public."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import FromPath, QueryParameter

from core.openapi import PROBLEMS_OPT
from core.text import matching
from permits import commitments
from permits.commitments import CommitmentText
from permits.errors import CommitmentNotOffered
from registry.api.params import JurisdictionCode

PermitTypeCode = Annotated[
    str,
    matching(r"^[a-z][a-z0-9_]{0,63}$", "must be a permit type code", description="A permit type of GET /permit-types"),
]


class CommitmentTextController(Controller):
    path = "/commitment-texts"
    tags = ["applications"]

    @get(
        "/{permit_type:str}",
        operation_id="getCommitmentText",
        summary="The commitment text to sign for a permit type where commitment mode is offered (public)",
        description=(
            "Anyone. Where the jurisdiction (`jurisdiction_code`, the application's) offers commitment mode "
            "(告知承诺制, 优化营商环境条例 Art. 19, 40) for the permit type: the text, its version and SHA-256 "
            "(sign these in POST /applications `commitments`), and the working days within which the inspection "
            "follows an approval on it. Elsewhere 404 `commitment_not_offered`."
        ),
        opt={PROBLEMS_OPT: (CommitmentNotOffered,)},
    )
    async def get_commitment_text(
        self,
        permit_type: FromPath[PermitTypeCode],
        jurisdiction_code: Annotated[JurisdictionCode, QueryParameter(description="Where the application is handled")],
    ) -> CommitmentText:
        return commitments.commitment_text(permit_type, jurisdiction_code)


def examples() -> list[CommitmentText]:
    return [commitments.commitment_text("food_stall_filing", "110101001001")]

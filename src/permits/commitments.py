"""Commitment mode (告知承诺制, 优化营商环境条例 Art. 19, 40) where a jurisdiction configures it for a permit type.

The authority publishes the conditions as a text; the applicant signs that text (its version and SHA-256, as
`GET /commitment-texts/{permit_type}` gives them); the task is approved at once on the signed commitment, which
is stored with the signer and the time, and an inspection is due within the configured working days. A false
commitment is a ground for revocation (撤销, 行政许可法 Art. 69) after that inspection.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import FieldError, InvalidInput
from permits import time_limits, workdays
from permits.errors import CommitmentNotOffered
from permits.models import Commitment, Task
from permits.tasks import decision_number


class CommitmentText(msgspec.Struct, frozen=True, kw_only=True):
    """The text an applicant signs for a permit type where commitment mode is configured."""

    permit_type: str
    scope: str
    text_version: str
    text_sha256: str
    text: str
    inspection_working_days: int
    basis: str


@dataclass(frozen=True, slots=True)
class Signed:
    """What the applicant signed: the permit type, and the text's version and SHA-256."""

    permit_type: str
    text_version: str
    text_sha256: str


def _text(permit_type: str, version: str) -> str:
    name = f"{permit_type}-{version}.txt"
    return resources.files("permits").joinpath("data", "commitments", name).read_text(encoding="utf-8")


def commitment_text(permit_type: str, jurisdiction_code: str) -> CommitmentText:
    """The configured text for the type where the application is handled, or 404 `commitment_not_offered`."""
    entry = time_limits.load_time_limits().commitment_for(permit_type, jurisdiction_code)
    if entry is None:
        raise CommitmentNotOffered()
    return CommitmentText(
        permit_type=entry.permit_type,
        scope=entry.scope,
        text_version=entry.text_version,
        text_sha256=entry.text_sha256,
        text=_text(entry.permit_type, entry.text_version),
        inspection_working_days=entry.inspection_working_days,
        basis=entry.basis,
    )


def check_signed(signed: Sequence[Signed], permit_types: Sequence[str], jurisdiction_code: str) -> dict[str, Signed]:
    """Each commitment must be for a permit the application needs, offered where it is handled, and signed over
    the text as published (version and hash): else 422 naming `commitments[i]`."""
    limits = time_limits.load_time_limits()
    problems: list[FieldError] = []
    accepted: dict[str, Signed] = {}
    for i, commitment in enumerate(signed):
        entry = limits.commitment_for(commitment.permit_type, jurisdiction_code)
        where = f"commitments[{i}]"
        if commitment.permit_type not in permit_types:
            problems.append(FieldError(f"{where}.permit_type", "the application does not need this permit"))
        elif entry is None:
            problems.append(FieldError(f"{where}.permit_type", "commitment mode is not offered for it here"))
        elif (commitment.text_version, commitment.text_sha256) != (entry.text_version, entry.text_sha256):
            problems.append(
                FieldError(f"{where}.text_sha256", "sign the text as published (GET /commitment-texts/{permit_type})")
            )
        elif commitment.permit_type in accepted:
            problems.append(FieldError(f"{where}.permit_type", "one commitment per permit type"))
        else:
            accepted[commitment.permit_type] = commitment
    if problems:
        raise InvalidInput(problems[0].field + ": " + problems[0].message, errors=problems)
    return accepted


async def approve_on_commitments(
    session: AsyncSession,
    tasks: Sequence[Task],
    signed: Mapping[str, Signed],
    *,
    jurisdiction_code: str,
    signer: uuid.UUID,
    calendar: workdays.WorkCalendar,
    now: dt.datetime,
    today: dt.date,
) -> None:
    """Approve at once the tasks whose permit type the applicant signed a commitment for; each gets its
    inspection due day."""
    limits = time_limits.load_time_limits()
    for task in tasks:
        commitment = signed.get(task.permit_type)
        entry = limits.commitment_for(task.permit_type, jurisdiction_code)
        if commitment is None or entry is None:
            continue
        inspection = workdays.add_workdays(calendar, today, entry.inspection_working_days)
        task.mode, task.status = "commitment", "approved"
        task.decided_at, task.decided_by = now, None
        task.decision_number = await decision_number(session, task.department, today.year)
        task.note = f"告知承诺制: approved on the applicant's signed commitment ({entry.basis})"
        task.version += 1
        session.add(
            Commitment(
                task_id=task.id,
                text_version=commitment.text_version,
                text_sha256=commitment.text_sha256,
                signed_by=signer,
                signed_at=now,
                inspection_due_on=inspection.on,
                inspection_due_provisional=inspection.provisional,
            )
        )
    await session.flush()


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

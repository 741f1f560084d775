"""The registry's `DocumentReaders`, implemented by the permit flow: who reviews an application reads its materials.

An application cites documents (`permits_application_document`: those handed in with the submission, round 0,
and those a supplement's answer brought, its notice's round). A department with a task on the application, in
any status, may read them, as it may read the task and the application; the app factory wires this in.
"""

from __future__ import annotations

import uuid
from typing import Final

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from permits.models import ApplicationDocument, Task

PERMIT_REVIEW: Final = "permit_review"


class ReviewingDepartments:
    """`registry.documents.DocumentReaders`: a department reads the documents of an application it has a task on."""

    purpose = PERMIT_REVIEW

    async def may_read(self, session: AsyncSession, principal: Principal, document_id: uuid.UUID) -> bool:
        if principal.role != "department" or not principal.department_code:
            return False
        query = select(
            exists().where(
                ApplicationDocument.document_id == document_id,
                Task.application_id == ApplicationDocument.application_id,
                Task.department == principal.department_code,
            )
        )
        return bool(await session.scalar(query))

"""The refusals of permits."""

from __future__ import annotations

from core.errors import DomainError, NotFound


class PermitNotFound(NotFound):
    code = "permit_not_found"
    title = "No such permit"


class PermitStatusConflict(DomainError):
    """The permit (component) cannot move to the asked status from where it is; `allowed` lists where it can."""

    status = 409
    code = "permit_status_conflict"
    title = "The permit cannot change to that status from its current one"

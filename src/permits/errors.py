"""The refusals of permits: exemption checks, one-stop applications, department tasks and issued permits."""

from __future__ import annotations

from collections.abc import Iterable

from core.errors import DomainError, NotFound


class ApplicationNotFound(NotFound):
    code = "application_not_found"
    title = "No such application"


class TaskNotFound(NotFound):
    code = "task_not_found"
    title = "No such task"


class NoPermitNeeded(DomainError):
    """The activity needs nothing at that place and time: there is nothing to apply for (API.md)."""

    status = 422
    code = "no_permit_needed"
    title = "No permit is needed for this activity here and then"


class ActivityNotAllowed(DomainError):
    status = 422
    code = "activity_not_allowed"
    title = "This activity cannot be carried on here by an individual"


class InvalidTransition(DomainError):
    """409 naming the transitions that are possible from where the resource stands (`allowed_transitions`)."""

    status = 409
    code = "invalid_transition"
    title = "That step is not possible now"

    def __init__(self, detail: str, *, allowed: Iterable[str]) -> None:
        super().__init__(detail, allowed_transitions=sorted(allowed))


class FilingNotRefusable(DomainError):
    """A filing (备案) is recorded once its materials are complete; it is never refused on the merits."""

    status = 422
    code = "filing_not_refusable"
    title = "A filing cannot be refused"


class PermitNotFound(NotFound):
    code = "permit_not_found"
    title = "No such permit"


class PermitStatusConflict(DomainError):
    """The permit (component) cannot move to the asked status from where it is; `allowed_transitions` lists where
    it can (the same word as every other 409 of a state machine here)."""

    status = 409
    code = "permit_status_conflict"
    title = "The permit cannot change to that status from its current one"


class ExemptionCheckNotFound(NotFound):
    code = "exemption_check_not_found"
    title = "No such exemption check"


class ExemptionReferenceNotFound(NotFound):
    code = "exemption_reference_not_found"
    title = "No such exemption reference"


class CommitmentNotOffered(NotFound):
    code = "commitment_not_offered"
    title = "Commitment mode is not offered for this permit type here"

"""The registry's refusals."""

from __future__ import annotations

from core.errors import DomainError, NotFound


class InvalidCredentials(DomainError):
    status = 401
    code = "invalid_credentials"
    title = "Username or password is wrong"


class UsernameTaken(DomainError):
    status = 409
    code = "username_taken"
    title = "That username is already in use"


class JurisdictionExists(DomainError):
    status = 409
    code = "jurisdiction_exists"
    title = "A jurisdiction with that code already exists"


class JurisdictionNotFound(NotFound):
    code = "jurisdiction_not_found"
    title = "No such jurisdiction"


class UnknownDepartment(DomainError):
    status = 422
    code = "unknown_department"
    title = "No such department"


class VendorExists(DomainError):
    status = 409
    code = "vendor_exists"
    title = "This person is already registered"


class AlreadyRegistered(DomainError):
    status = 409
    code = "already_registered"
    title = "You are signed in as a vendor and already have a vendor profile"


class OutsideJurisdiction(DomainError):
    status = 422
    code = "outside_jurisdiction"
    title = "Staff may register only residents of their own jurisdiction"


class AccountNotFound(NotFound):
    code = "account_not_found"
    title = "No such account"


class VendorNotFound(NotFound):
    code = "vendor_not_found"
    title = "No such vendor"


class DocumentNotFound(NotFound):
    code = "document_not_found"
    title = "No such document"


class ClaimNotFound(NotFound):
    code = "claim_not_found"
    title = "No such key-group claim"


class ClaimPending(DomainError):
    status = 409
    code = "claim_pending"
    title = "This vendor already has a pending claim to that key group"


class ClaimAlreadyDecided(DomainError):
    status = 409
    code = "claim_already_decided"
    title = "This claim has already been decided"


class ActivityNotFound(NotFound):
    code = "activity_not_found"
    title = "No such activity"


class IdNumberRejected(DomainError):
    status = 422
    code = "invalid_id_number"
    title = "The ID number is not valid"


class NameRejected(DomainError):
    status = 422
    code = "invalid_name"
    title = "The name is not valid"


class PhoneRejected(DomainError):
    status = 422
    code = "invalid_phone"
    title = "The phone number is not valid"


class UnsupportedDocumentType(DomainError):
    status = 422
    code = "unsupported_document_type"
    title = "Only PDF, JPEG and PNG files are accepted"


class DocumentTooLarge(DomainError):
    status = 413
    code = "document_too_large"
    title = "The document is too large"


class TooManyLoginAttempts(DomainError):
    status = 429
    code = "too_many_login_attempts"
    title = "Too many failed sign-ins; try again later"


class InvalidRefreshToken(DomainError):
    status = 401
    code = "invalid_refresh_token"
    title = "The refresh token is unknown, expired or its sign-in has ended"


class RefreshTokenReused(DomainError):
    status = 401
    code = "refresh_token_reused"
    title = "This refresh token was already used: the sign-in it belongs to has been ended"


class CannotDeactivateSelf(DomainError):
    status = 409
    code = "cannot_deactivate_self"
    title = "An admin cannot deactivate their own account"


class WrongCurrentPassword(DomainError):
    status = 422
    code = "wrong_current_password"
    title = "The current password is wrong"

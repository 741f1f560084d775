"""Evidence documents: uploads checked by their content, stored behind DocumentStore, read only in scope."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, Protocol

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, require_role
from core.errors import FieldError
from registry.access import record_personal_data_access
from registry.errors import DocumentNotFound, DocumentTooLarge, UnsupportedDocumentType
from registry.models import Document, DocumentContent, DocumentMediaType, KeyGroupClaim, KeyGroupClaimEvidence, Vendor

# Leading bytes of each accepted format. The declared Content-Type and the file name are never trusted.
_SIGNATURES: tuple[tuple[bytes, DocumentMediaType], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


class DocumentStore(Protocol):
    """Where the bytes of a document live; metadata stays in registry_document."""

    async def put(self, session: AsyncSession, document_id: uuid.UUID, content: bytes) -> None: ...

    async def get(self, session: AsyncSession, document_id: uuid.UUID) -> bytes: ...


class PostgresDocumentStore:
    """Bytes in registry_document_content, in the same transaction as the metadata."""

    async def put(self, session: AsyncSession, document_id: uuid.UUID, content: bytes) -> None:
        session.add(DocumentContent(document_id=document_id, content=content))
        await session.flush()

    async def get(self, session: AsyncSession, document_id: uuid.UUID) -> bytes:
        query = select(DocumentContent.content).where(DocumentContent.document_id == document_id)
        content = await session.scalar(query)
        if content is None:
            raise DocumentNotFound()
        return content


class DocumentReaders(Protocol):
    """Readers another domain vouches for, consulted last for a caller the registry's own rules refuse.

    The registry imports no later domain (core ← registry ← venues ← permits): permits implements this (a
    reviewing department reads the documents of an application it has a task on) and the app factory wires
    it in. `may_read` runs on the request's session and writes nothing.
    """

    # What the personal-data access log records as the purpose of such a read when the caller names none.
    purpose: str

    async def may_read(self, session: AsyncSession, principal: Principal, document_id: uuid.UUID) -> bool: ...


class NoDocumentReaders:
    """No other domain's readers: only the registry's own rules let anyone read a document."""

    purpose = "case_handling"

    async def may_read(self, session: AsyncSession, principal: Principal, document_id: uuid.UUID) -> bool:
        return False


NO_READERS: DocumentReaders = NoDocumentReaders()


def sniff_media_type(content: bytes) -> str | None:
    """The media type the content's magic bytes announce, if it is one we accept."""
    for signature, media_type in _SIGNATURES:
        if content.startswith(signature):
            return media_type
    return None


async def store_document(
    session: AsyncSession,
    store: DocumentStore,
    *,
    owner: Principal,
    content: bytes,
    max_bytes: int,
) -> Document:
    """Keep an uploaded PDF, JPEG or PNG (recognised by content) of at most `max_bytes`, owned by the caller.

    Evidence comes from vendors and from street offices acting for them; departments and admins upload none
    (RELIABILITY.md §5).
    """
    require_role(owner, "vendor", "street_office")
    if len(content) > max_bytes:
        raise DocumentTooLarge(
            f"file: at most {max_bytes} bytes are accepted",
            errors=[FieldError("file", f"must be at most {max_bytes} bytes")],
        )
    media_type = sniff_media_type(content)
    if media_type is None:
        message = "is empty" if not content else "must be a PDF, JPEG or PNG file (checked by its content)"
        raise UnsupportedDocumentType(f"file: {message}", errors=[FieldError("file", message)])
    document = Document(
        id=uuid.uuid4(),
        owner_account_id=owner.account_id,
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        media_type=media_type,
    )
    session.add(document)
    await session.flush()
    await store.put(session, document.id, content)
    await session.refresh(document, ["created_at"])
    return document


async def get_document_in_scope(
    session: AsyncSession,
    principal: Principal,
    document_id: uuid.UUID,
    *,
    readers: DocumentReaders = NO_READERS,
) -> Document:
    """The document if the caller may see it; anyone else gets 404, so its existence is not revealed.

    Who may: its uploader; an admin; staff of the jurisdiction where its vendor uploader lives; for a
    document cited as evidence by a key-group claim, the claim's vendor and staff of the claim's jurisdiction
    (so evidence a street-office member uploaded is seen by their colleagues and by the vendor concerned);
    and, last, whoever `readers` vouches for (permits: the departments reviewing an application citing it).
    """
    document, _ = await _document_in_scope(session, principal, document_id, readers)
    return document


async def _document_in_scope(
    session: AsyncSession, principal: Principal, document_id: uuid.UUID, readers: DocumentReaders
) -> tuple[Document, bool]:
    """The document, and whether it was `readers` (not the registry's own rules) that let the caller read it."""
    document = await session.get(Document, document_id)
    if document is None:
        raise DocumentNotFound()
    if document.owner_account_id == principal.account_id or principal.role == "admin":
        return document, False
    if principal.role == "street_office":
        residence = await session.scalar(
            select(Vendor.residence_jurisdiction_code).where(Vendor.account_id == document.owner_account_id)
        )
        if residence is not None and residence == principal.jurisdiction_code:
            return document, False
        if await _cited_by_claim(session, document_id, KeyGroupClaim.jurisdiction_code == principal.jurisdiction_code):
            return document, False
    if (
        principal.role == "vendor"
        and principal.vendor_id is not None
        and await _cited_by_claim(session, document_id, KeyGroupClaim.vendor_id == principal.vendor_id)
    ):
        return document, False
    if await readers.may_read(session, principal, document_id):
        return document, True
    raise DocumentNotFound()


async def _cited_by_claim(session: AsyncSession, document_id: uuid.UUID, claim_filter: Any) -> bool:
    """Whether a key-group claim matching `claim_filter` cites this document as evidence."""
    query = select(
        exists()
        .where(KeyGroupClaimEvidence.document_id == document_id, KeyGroupClaimEvidence.claim_id == KeyGroupClaim.id)
        .where(claim_filter)
    )
    return bool(await session.scalar(query))


async def _vendors_concerned(session: AsyncSession, document: Document) -> list[uuid.UUID]:
    """The vendors whose personal data a document is: its vendor uploader, and the vendors of claims citing it."""
    uploader = select(Vendor.id).where(Vendor.account_id == document.owner_account_id)
    claimants = (
        select(KeyGroupClaim.vendor_id)
        .join(KeyGroupClaimEvidence, KeyGroupClaimEvidence.claim_id == KeyGroupClaim.id)
        .where(KeyGroupClaimEvidence.document_id == document.id)
    )
    return list((await session.scalars(uploader.union(claimants))).all())


async def read_document_content(
    session: AsyncSession,
    store: DocumentStore,
    principal: Principal,
    document_id: uuid.UUID,
    *,
    purpose: str | None,
    request_path: str,
    readers: DocumentReaders = NO_READERS,
) -> tuple[Document, bytes]:
    """The document and its bytes; a staff, department or admin read of someone else's upload is written to the
    access log, with the reader's purpose when the caller names none."""
    document, vouched = await _document_in_scope(session, principal, document_id, readers)
    if document.owner_account_id != principal.account_id and principal.role != "vendor":
        await record_personal_data_access(
            session,
            principal=principal,
            vendor_ids=await _vendors_concerned(session, document),
            fields=["document"],
            purpose=purpose or (readers.purpose if vouched else "case_handling"),
            request_path=request_path,
        )
    return document, await store.get(session, document.id)

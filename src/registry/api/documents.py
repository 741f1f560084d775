"""POST /documents (multipart upload), GET /documents/{id} and /documents/{id}/content."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.openapi.spec import OpenAPI, OpenAPIFormat, OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Schema
from litestar.params import FromPath, MultipartBody

from core.auth import authenticated, requires
from core.deps import CurrentPrincipal, DbSession
from core.errors import InvalidInput, shown
from core.openapi import PROBLEMS_OPT
from core.settings import HttpSettings, Settings
from registry import documents as service
from registry.api.params import Purpose
from registry.errors import DocumentNotFound, DocumentTooLarge, UnsupportedDocumentType

# The route's body limit is fixed when the handler is declared: the document limit plus room for the multipart
# envelope (boundaries, part headers). The handler then enforces settings.http.max_document_bytes exactly.
_MULTIPART_OVERHEAD = 64 * 1024
_UPLOAD_BODY_LIMIT = HttpSettings().max_document_bytes + _MULTIPART_OVERHEAD
_EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}

_store = service.PostgresDocumentStore()


@dataclass
class UploadDocument:
    # Optional here so a missing part is our 422 naming `file`, not the framework's 400 naming `data`.
    file: UploadFile | None = None


MultipartUpload = MultipartBody[UploadDocument]


def document_content_types(schema: OpenAPI) -> None:
    """Document that a document's content comes back as the type it was stored with."""
    item = (schema.paths or {}).get("/api/v1/documents/{document_id}/content")
    if item is None or item.get is None or item.get.responses is None:
        return
    item.get.responses["200"] = OpenAPIResponse(
        description="The stored bytes, as an attachment",
        content={
            media: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY))
            for media in _EXTENSIONS
        },
    )


class DocumentOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    sha256: str
    size: int
    media_type: str
    created_at: dt.datetime


def _store_for(request: Request[Any, Any, Any]) -> service.DocumentStore:
    """The app's document store if one was configured, else the PostgreSQL one."""
    store: service.DocumentStore = request.app.state.get("document_store") or _store
    return store


def readers_for(request: Request[Any, Any, Any]) -> service.DocumentReaders:
    """Who else the app lets read documents (permits' reviewing departments), else only the registry's rules."""
    readers: service.DocumentReaders = request.app.state.get("document_readers") or service.NO_READERS
    return readers


class DocumentController(Controller):
    path = "/documents"
    tags = ("documents",)
    security = ({"bearer": []},)

    @post(
        "/",
        operation_id="uploadDocument",
        summary="Upload an evidence document (vendor, or street office for a resident; PDF/JPEG/PNG, at most 5 MB)",
        guards=[requires("vendor", "street_office")],
        request_max_body_size=_UPLOAD_BODY_LIMIT,
        description=(
            "Vendors (their own evidence) and street offices (evidence for a resident); others 403. Send the "
            "document as the multipart field `file`: PDF, JPEG or PNG, judged by its bytes, at most 5 MB. Refuses"
            " a missing `file` (422 `validation_failed`), any other kind of file (422 "
            "`unsupported_document_type`) and a larger one (413 `document_too_large`). Cite the answer's `id` as "
            "evidence in a key-group claim."
        ),
        opt={PROBLEMS_OPT: (UnsupportedDocumentType, DocumentTooLarge)},
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        data: MultipartUpload,
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> Response[DocumentOut]:
        settings: Settings = request.app.state.settings
        if data.file is None:
            raise InvalidInput.for_field("file", "is required: send the document as the multipart field `file`")
        # Other parts are refused, as unknown fields of a JSON body are (the schema says so).
        unknown = sorted(set((await request.form()).keys()) - {"file"})
        if unknown:
            # The part's name is the client's: shown escaped and capped, like any client-chosen key.
            raise InvalidInput.for_field(shown(unknown[0]), "is not a part of this upload; send only `file`")
        content = await data.file.read()
        document = await service.store_document(
            session,
            _store_for(request),
            owner=principal,
            content=content,
            max_bytes=settings.http.max_document_bytes,
        )
        out = msgspec.convert(document, DocumentOut, from_attributes=True)
        return Response(out, status_code=201, headers={"Location": f"/api/v1/documents/{document.id}"})

    @get(
        "/{document_id:uuid}",
        operation_id="getDocument",
        summary="A document's metadata",
        guards=[authenticated],
        description=(
            "Its uploader, admins, staff of the uploader's residence jurisdiction, for evidence the claim's "
            "vendor and staff of the claim's jurisdiction, and for a document an application cites (with the "
            "submission or a supplement's answer) every department with a task on that application. Anyone else "
            "gets 404 `document_not_found`, as for an unknown id."
        ),
        opt={PROBLEMS_OPT: (DocumentNotFound,)},
    )
    async def get_document(
        self,
        request: Request[Any, Any, Any],
        document_id: FromPath[uuid.UUID],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> DocumentOut:
        document = await service.get_document_in_scope(session, principal, document_id, readers=readers_for(request))
        return msgspec.convert(document, DocumentOut, from_attributes=True)

    @get(
        "/{document_id:uuid}/content",
        operation_id="downloadDocument",
        summary="Download a document",
        guards=[authenticated],
        description=(
            "Who may see the document (see getDocument) downloads its bytes, as the type it was stored with; "
            "others get 404 `document_not_found`. Downloads by staff, reviewing departments and admins of "
            "someone else's document are written to the personal-data access log with their `purpose` (a "
            "department's defaults to `permit_review`)."
        ),
        opt={PROBLEMS_OPT: (DocumentNotFound,)},
    )
    async def get_content(
        self,
        request: Request[Any, Any, Any],
        document_id: FromPath[uuid.UUID],
        principal: CurrentPrincipal,
        session: DbSession,
        purpose: Purpose = None,
    ) -> Response[bytes]:
        document, content = await service.read_document_content(
            session,
            _store_for(request),
            principal,
            document_id,
            purpose=purpose,
            request_path=request.url.path,
            readers=readers_for(request),
        )
        filename = f"{document.id}.{_EXTENSIONS.get(document.media_type, 'bin')}"
        return Response(
            content,
            media_type=document.media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store",
            },
        )

"""POST /documents (multipart upload), GET /documents/{id} and /documents/{id}/content."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import BodyKwarg, FromPath

from core.auth import authenticated
from core.deps import CurrentPrincipal, DbSession
from core.settings import HttpSettings, Settings
from registry import documents as service
from registry.api.params import Purpose

# The route's body limit is fixed when the handler is declared: the document limit plus room for the multipart
# envelope (boundaries, part headers). The handler then enforces settings.http.max_document_bytes exactly.
_MULTIPART_OVERHEAD = 64 * 1024
_UPLOAD_BODY_LIMIT = HttpSettings().max_document_bytes + _MULTIPART_OVERHEAD
_EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}

_store = service.PostgresDocumentStore()


@dataclass
class UploadDocument:
    file: UploadFile


# Litestar's MultipartBody, but with the media type as a plain string (equal to RequestEncodingType.MULTI_PART):
# core.http_guard's strict JSON hook recognises multipart by str(media_type), and str() of that enum member is
# "RequestEncodingType.MULTI_PART", so with MultipartBody the hook would try to decode the upload as JSON.
MultipartUpload = Annotated[UploadDocument, BodyKwarg(media_type="multipart/form-data")]


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


class DocumentController(Controller):
    path = "/documents"
    tags = ("documents",)
    security = ({"bearer": []},)

    @post(
        "/",
        summary="Upload an evidence document (PDF, JPEG or PNG by content, at most 5 MB)",
        guards=[authenticated],
        request_max_body_size=_UPLOAD_BODY_LIMIT,
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        data: MultipartUpload,
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> Response[DocumentOut]:
        settings: Settings = request.app.state.settings
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

    @get("/{document_id:uuid}", summary="A document's metadata", guards=[authenticated])
    async def get_document(
        self, document_id: FromPath[uuid.UUID], principal: CurrentPrincipal, session: DbSession
    ) -> DocumentOut:
        document = await service.get_document_in_scope(session, principal, document_id)
        return msgspec.convert(document, DocumentOut, from_attributes=True)

    @get("/{document_id:uuid}/content", summary="Download a document", guards=[authenticated])
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

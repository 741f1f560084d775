"""Evidence for the demo city's pending key-group claims (a small PNG and a small PDF) and for its permit
applications (a PNG answering a supplement notice), uploaded as a vendor would.

Both are made here, not shipped as files: the PNG is a QR code (segno, already a dependency; Pillow is not one)
naming what it stands in for, and the PDF is a minimal hand-written PDF 1.4 (one page, one line of Helvetica
text, a correct cross-reference table) — enough for the registry's content check and a browser's PDF viewer.
Neither is a real certificate: they say "demo" on their face.
"""

from __future__ import annotations

import io
import uuid

import segno
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from registry import documents


def sample_png(text: str) -> bytes:
    """A PNG of a QR code carrying `text` (a few hundred bytes)."""
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=6, border=2, dark="#12335b")
    return buffer.getvalue()


def _pdf_text(text: str) -> str:
    """`text` as a PDF literal string (ASCII only: the standard Helvetica font has no CJK glyphs)."""
    ascii_text = text.encode("ascii", "replace").decode("ascii")
    return "(" + ascii_text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def sample_pdf(lines: list[str]) -> bytes:
    """A minimal one-page PDF (A5) showing `lines`, hand-written: five objects and their byte offsets."""
    shown = "".join(f"{_pdf_text(line)} Tj 0 -22 Td " for line in lines)
    stream = f"BT /F1 14 Tf 40 540 Td {shown}ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 420 595] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


async def upload_evidence(session: AsyncSession, vendor: Principal, *, group: str, max_bytes: int) -> list[uuid.UUID]:
    """Upload the demo's two evidence documents for a claim to `group` as the vendor (POST /documents would)."""
    png = sample_png(f"flexreg demo evidence: {group} (not a real certificate)")
    pdf = sample_pdf(
        [
            "flexreg demo - evidence for a key-group claim",
            f"Group: {group}",
            "A synthetic document: not a real certificate.",
        ]
    )
    store = documents.PostgresDocumentStore()
    ids = []
    for content in (png, pdf):
        document = await documents.store_document(session, store, owner=vendor, content=content, max_bytes=max_bytes)
        ids.append(document.id)
    return ids


async def upload_sample_png(session: AsyncSession, vendor: Principal, *, text: str, max_bytes: int) -> uuid.UUID:
    """Upload one demo PNG carrying `text` as the vendor (POST /documents would); its id."""
    store = documents.PostgresDocumentStore()
    document = await documents.store_document(
        session, store, owner=vendor, content=sample_png(text), max_bytes=max_bytes
    )
    return document.id

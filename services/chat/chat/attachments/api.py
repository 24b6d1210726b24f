"""Routes for attachments: upload, download, thumbnail."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import Response

from parley_common.openapi import errors
from parley_common.schemas import AttachmentRead, Int64
from parley_common.uploads import SAFE_FILE_HEADERS, read_upload

from ..deps import CtxDep
from . import service

router = APIRouter(prefix="/attachments", tags=["attachments"])

_FILE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file's bytes.",
        # The type the bytes were found to be (an image, a PDF, text, ...).
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post("", response_model=AttachmentRead, responses=errors(413, 415, 422))
async def upload_attachment(
    ctx: CtxDep, file: Annotated[UploadFile, File(description="The file (multipart field `file`).")]
) -> AttachmentRead:
    """Upload a file to attach to a message (its type is decided by its bytes)."""
    data = await read_upload(file, ctx.settings.max_upload_bytes)
    return await service.upload(
        ctx.session,
        ctx.storage,
        ctx.settings,
        uploader_id=ctx.user_id,
        filename=file.filename,
        data=data,
    )


@router.get(
    "/{attachment_id:int}",
    response_class=Response,
    responses={**_FILE_RESPONSE, **errors(404)},
)
async def download_attachment(ctx: CtxDep, attachment_id: Int64) -> Response:
    """The file, for members of a conversation it is attached in (and its uploader before)."""
    found = await service.download(
        ctx.session, ctx.storage, user_id=ctx.user_id, attachment_id=attachment_id, thumbnail=False
    )
    return _file(found)


@router.get(
    "/{attachment_id:int}/thumbnail",
    response_class=Response,
    responses={**_FILE_RESPONSE, **errors(404)},
)
async def download_thumbnail(ctx: CtxDep, attachment_id: Int64) -> Response:
    """An image's thumbnail (at most 320 px a side), for whoever may see the image."""
    found = await service.download(
        ctx.session, ctx.storage, user_id=ctx.user_id, attachment_id=attachment_id, thumbnail=True
    )
    return _file(found)


def _file(found: service.Download) -> Response:
    disposition = "inline" if found.inline else "attachment"
    # RFC 6266: an ASCII fallback and the exact name in UTF-8 (the name is sanitised already).
    ascii_name = found.filename.encode("ascii", "replace").decode().replace('"', "_")
    headers = {
        "Content-Disposition": (
            f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(found.filename)}"
        ),
        **SAFE_FILE_HEADERS,
        "Cache-Control": "private, max-age=3600",
    }
    return Response(found.data, media_type=found.content_type, headers=headers)

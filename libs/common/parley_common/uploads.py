"""Reading uploads in routes: the size limit, avatars re-encoded, stored images served.
(Attachments and avatars of users and conversations share them.)"""

from __future__ import annotations

import asyncio

from fastapi import UploadFile
from fastapi.responses import Response

from .errors import InvalidFile, NotFound, UnsupportedMediaType, UploadTooLarge
from .files import IMAGE_TYPES, InvalidImage, sniff, square_avatar
from .storage import ObjectNotFound, Storage

#: How a browser must treat stored bytes it is given: never run them, never sniff them into
#: another type (the route adds Content-Disposition).
SAFE_FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; img-src 'self' data:; "
    "style-src 'unsafe-inline'; sandbox",
}


async def read_upload(file: UploadFile, limit: int) -> bytes:
    """The upload's bytes; 413 past `limit` (read no further than one byte beyond it)."""
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise UploadTooLarge(f"File too large (at most {limit} bytes)")
    return data


async def avatar_from_upload(
    file: UploadFile, *, limit: int, size: int, max_pixels: int
) -> tuple[bytes, str]:
    """The upload re-encoded as a square avatar (no EXIF): 413 over `limit`, 415 unless an
    image, 422 when it does not decode or is a bomb. Pillow runs in a worker thread."""
    data = await read_upload(file, limit)
    content_type = sniff(data)
    if content_type not in IMAGE_TYPES:
        raise UnsupportedMediaType(f"An avatar must be an image, not {content_type}")
    try:
        return await asyncio.to_thread(square_avatar, data, size, max_pixels)
    except InvalidImage as exc:
        raise InvalidFile(f"The image is damaged or too large to decode ({exc})") from None


async def serve_avatar(storage: Storage, key: str) -> Response:
    """A stored avatar (versioned URLs: a long private cache is safe)."""
    try:
        data = await storage.get(key)
    except ObjectNotFound:
        raise NotFound("Avatar not found", code="avatar_not_found") from None
    media_type = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
    headers = {
        **SAFE_FILE_HEADERS,
        "Content-Disposition": "inline",
        "Cache-Control": "private, max-age=86400",
    }
    return Response(data, media_type=media_type, headers=headers)

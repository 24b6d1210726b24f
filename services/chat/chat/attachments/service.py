"""Uploading and downloading attachments."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.errors import InvalidFile, UnsupportedMediaType, UploadTooLarge
from parley_common.files import IMAGE_TYPES, InvalidImage, clean_filename, inspect_image, sniff
from parley_common.schemas import AttachmentRead
from parley_common.storage import ObjectNotFound, Storage

from ..config import Settings
from ..conversations import repository as conv_repo
from ..errors import AttachmentNotFound
from ..models import Attachment
from . import repository as repo
from . import views


async def upload(
    session: AsyncSession,
    storage: Storage,
    settings: Settings,
    *,
    uploader_id: int,
    filename: str | None,
    data: bytes,
) -> AttachmentRead:
    """Stores an upload: its type from its bytes (415 outside the allowlist), images decoded and
    thumbnailed off the event loop (422 when corrupt or a bomb)."""
    if len(data) > settings.max_upload_bytes:
        raise UploadTooLarge(f"File too large (at most {settings.max_upload_bytes} bytes)")
    content_type = sniff(data)
    if content_type not in settings.allowed_upload_types:
        raise UnsupportedMediaType(f"This type of file is not allowed ({content_type})")
    width = height = None
    thumbnail: bytes | None = None
    thumbnail_type: str | None = None
    if content_type in IMAGE_TYPES:
        try:
            info = await asyncio.to_thread(inspect_image, data, settings.max_image_pixels)
        except InvalidImage as exc:
            raise InvalidFile(f"The image is damaged or too large to decode ({exc})") from None
        width, height = info.width, info.height
        thumbnail, thumbnail_type = info.thumbnail, info.thumbnail_type
    key = f"attachments/{uuid.uuid4().hex}"
    await storage.put(key, data, content_type)
    if thumbnail is not None and thumbnail_type is not None:
        await storage.put(key + "-thumb", thumbnail, thumbnail_type)
    row = Attachment(
        uploader_id=uploader_id,
        filename=clean_filename(filename),
        content_type=content_type,
        size=len(data),
        width=width,
        height=height,
        storage_key=key,
        thumbnail_key=key + "-thumb" if thumbnail is not None else None,
        thumbnail_type=thumbnail_type,
    )
    session.add(row)
    await session.flush()
    return views.to_read(row)


@dataclass(frozen=True, slots=True)
class Download:
    data: bytes
    content_type: str
    filename: str
    inline: bool


async def download(
    session: AsyncSession, storage: Storage, *, user_id: int, attachment_id: int, thumbnail: bool
) -> Download:
    """For current members of the conversation it is attached in, or its uploader before it is
    attached; 404 for anyone else (whether it exists is not told)."""
    row = await repo.get(session, attachment_id)
    if row is None or not await _may_see(session, row, user_id):
        raise AttachmentNotFound()
    key, content_type = row.storage_key, row.content_type
    if thumbnail:
        if row.thumbnail_key is None or row.thumbnail_type is None:
            raise AttachmentNotFound()
        key, content_type = row.thumbnail_key, row.thumbnail_type
    try:
        data = await storage.get(key)
    except ObjectNotFound:
        raise AttachmentNotFound() from None
    return Download(data, content_type, row.filename, inline=content_type in IMAGE_TYPES)


async def _may_see(session: AsyncSession, row: Attachment, user_id: int) -> bool:
    if row.message_id is None or row.conversation_id is None:
        return row.uploader_id == user_id
    return await conv_repo.active_member(session, row.conversation_id, user_id) is not None

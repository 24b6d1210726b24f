"""Attachment rows to PROTOCOL.md's attachment object."""

from __future__ import annotations

from typing import Any

from parley_common.files import IMAGE_TYPES
from parley_common.schemas import AttachmentRead


def to_read(row: Any) -> AttachmentRead:
    """From a model or a Core row (the send path reads Core rows)."""
    return AttachmentRead(
        id=row.id,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        width=row.width,
        height=row.height,
        url=f"/attachments/{row.id}",
        thumbnail_url=f"/attachments/{row.id}/thumbnail" if row.thumbnail_key else None,
    )


def message_type(attachments: list[AttachmentRead]) -> str:
    """image when every attachment is an image, file when any is not, text without any."""
    if not attachments:
        return "text"
    return "image" if all(a.content_type in IMAGE_TYPES for a in attachments) else "file"

"""A group's avatar: set and removed by its admins, seen by its members."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import Response

from parley_common.openapi import errors
from parley_common.schemas import ConversationRead, Int64
from parley_common.storage import delete_after_commit
from parley_common.uploads import avatar_from_upload, serve_avatar

from ..deps import Ctx, CtxDep
from ..errors import BadRequest, NotAdmin, NotFound
from . import views
from .service import _member_of, _publish_updated

router = APIRouter(prefix="/conversations", tags=["conversations"])

AVATAR_PX = 256
_IMAGE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The avatar (JPEG or PNG).",
        "content": {
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


async def set_avatar(ctx: Ctx, *, conversation_id: int, key: str | None) -> ConversationRead:
    """A group admin sets (or with None removes) the group's avatar; the replaced object is
    deleted once the change commits."""
    conversation, member = await _member_of(ctx, conversation_id)
    if conversation.type != "group":
        raise BadRequest("Direct conversations have no avatar of their own", code="not_a_group")
    if member.role != "admin":
        raise NotAdmin("Only conversation admin can change the avatar")
    old, conversation.avatar_key = conversation.avatar_key, key
    await ctx.session.flush()
    if old != key:
        await _publish_updated(ctx, conversation)
    if old is not None:
        delete_after_commit(ctx.session, ctx.storage, old)
    return await views.to_read(ctx.session, conversation, ctx.user_id)


@router.put(
    "/{conversation_id:int}/avatar",
    response_model=ConversationRead,
    responses=errors(400, 403, 404, 413, 415, 422),
)
async def put_avatar(
    ctx: CtxDep,
    conversation_id: Int64,
    file: Annotated[UploadFile, File(description="An image (multipart field `file`).")],
) -> ConversationRead:
    """Set the group's avatar (admins; re-encoded square, metadata such as EXIF dropped)."""
    await _member_of(ctx, conversation_id)  # a non-member learns nothing, uploads nothing
    data, content_type = await avatar_from_upload(
        file,
        limit=ctx.settings.max_upload_bytes,
        size=AVATAR_PX,
        max_pixels=ctx.settings.max_image_pixels,
    )
    key = f"avatars/conversations/{conversation_id}/{uuid.uuid4().hex}"
    # The checks first (a refused change stores nothing); a failed store rolls the change back.
    read = await set_avatar(ctx, conversation_id=conversation_id, key=key)
    await ctx.storage.put(key, data, content_type)
    return read


@router.delete(
    "/{conversation_id:int}/avatar",
    response_model=ConversationRead,
    responses=errors(400, 403, 404),
)
async def delete_avatar(ctx: CtxDep, conversation_id: Int64) -> ConversationRead:
    """Remove the group's avatar (admins)."""
    return await set_avatar(ctx, conversation_id=conversation_id, key=None)


@router.get(
    "/{conversation_id:int}/avatar",
    response_class=Response,
    responses={**_IMAGE_RESPONSE, **errors(404)},
)
async def get_avatar(ctx: CtxDep, conversation_id: Int64) -> Response:
    """The group's avatar, for its members."""
    conversation, _ = await _member_of(ctx, conversation_id)
    if conversation.avatar_key is None:
        raise NotFound("Avatar not found", code="avatar_not_found")
    return await serve_avatar(ctx.storage, conversation.avatar_key)

"""Users' avatars: uploaded, re-encoded square without EXIF, served to signed-in users."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import Response

from parley_common.auth_deps import CurrentClaims
from parley_common.errors import NotFound
from parley_common.openapi import errors
from parley_common.schemas import Int64
from parley_common.storage import delete_after_commit
from parley_common.uploads import avatar_from_upload, serve_avatar

from . import repository as repo
from . import service
from .deps import AuthCtx, CurrentUser, SessionDep
from .schemas import UserRead

router = APIRouter(tags=["users"])

_IMAGE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The avatar (JPEG or PNG).",
        "content": {
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@router.put("/users/me/avatar", response_model=UserRead, responses=errors(413, 415, 422))
async def set_my_avatar(
    user: CurrentUser,
    session: SessionDep,
    ctx: AuthCtx,
    file: Annotated[UploadFile, File(description="An image (multipart field `file`).")],
) -> UserRead:
    """Set your avatar (re-encoded square, its metadata such as EXIF location dropped)."""
    settings = ctx.settings
    data, content_type = await avatar_from_upload(
        file,
        limit=settings.max_upload_bytes,
        size=settings.avatar_px,
        max_pixels=settings.max_image_pixels,
    )
    key = f"avatars/users/{user.id}/{uuid.uuid4().hex}"
    await ctx.storage.put(key, data, content_type)
    old = user.avatar_key
    user.avatar_key = key
    await session.flush()
    await service.publish_user_updated(session, ctx, user)
    if old:
        delete_after_commit(session, ctx.storage, old)
    return UserRead.model_validate(user)


@router.delete("/users/me/avatar", response_model=UserRead)
async def delete_my_avatar(user: CurrentUser, session: SessionDep, ctx: AuthCtx) -> UserRead:
    """Remove your avatar (clients then show your initials)."""
    if user.avatar_key is not None:
        old, user.avatar_key = user.avatar_key, None
        await session.flush()
        await service.publish_user_updated(session, ctx, user)
        delete_after_commit(session, ctx.storage, old)
    return UserRead.model_validate(user)


@router.get(
    "/users/{user_id:int}/avatar",
    response_class=Response,
    responses={**_IMAGE_RESPONSE, **errors(404)},
)
async def get_avatar(
    user_id: Int64, claims: CurrentClaims, session: SessionDep, ctx: AuthCtx
) -> Response:
    """A user's avatar, for signed-in users; 404 when the user has none."""
    user = await repo.get_user(session, user_id)
    if user is None or user.avatar_key is None:
        raise NotFound("Avatar not found", code="avatar_not_found")
    return await serve_avatar(ctx.storage, user.avatar_key)

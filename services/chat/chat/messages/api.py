"""Routes for messages: send, page, edit, delete, react, search."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from parley_common.auth_deps import CurrentClaims
from parley_common.schemas import INT64_MAX, Int64, MessageRead, StatusOk

from ..deps import CtxDep
from ..errors import ValidationFailed
from ..runtime import chat_runtime
from . import service

router = APIRouter(prefix="/messages", tags=["messages"])


class MessageCreate(BaseModel):
    conversation_id: Int64 | None = None
    content: str | None = None
    client_msg_id: str | None = None
    reply_to: Int64 | None = None


class MessageUpdate(BaseModel):
    content: str | None = None


@router.post("", response_model=MessageRead)
async def send_message(request: Request, claims: CurrentClaims, body: MessageCreate) -> MessageRead:
    """Send a message; the same client_msg_id again returns the first message."""
    # The hot REST route: no session of its own (the send batcher has its transactions), no
    # other dependency than the caller.
    if body.client_msg_id is not None and len(body.client_msg_id) > 128:
        raise ValidationFailed("client_msg_id", "client_msg_id must be at most 128 characters")
    rt = chat_runtime(request.app.state)
    return await service.send(
        rt.parts.sender,
        sender_id=claims.user_id,
        max_length=rt.settings.max_message_length,
        conversation_id=body.conversation_id,
        content=body.content,
        client_msg_id=body.client_msg_id,
        reply_to=body.reply_to,
    )


@router.get("/search", response_model=list[MessageRead])
async def search_messages(
    ctx: CtxDep,
    q: str = Query(min_length=1, max_length=200),
    conversation_id: Int64 | None = None,
    limit: int = Query(default=50, ge=1, le=100),
) -> list[MessageRead]:
    """Messages you can see that match `q`, best match first."""
    return await service.search(ctx, q=q, conversation_id=conversation_id, limit=limit)


@router.get("/conversation/{conversation_id}", response_model=list[MessageRead])
async def list_messages(
    ctx: CtxDep,
    conversation_id: Int64,
    skip: Int64 = Query(default=0, ge=0, le=INT64_MAX),
    limit: int = Query(default=50, ge=1, le=100),
) -> list[MessageRead]:
    """The newest `limit` messages after skipping `skip`, oldest first."""
    return await service.page_by_offset(
        ctx, conversation_id=conversation_id, skip=skip, limit=limit
    )


@router.patch("/{message_id}", response_model=MessageRead)
async def edit_message(ctx: CtxDep, message_id: Int64, body: MessageUpdate) -> MessageRead:
    """Edit your own message."""
    return await service.edit(ctx, message_id=message_id, content=body.content)


@router.delete("/{message_id}", response_model=StatusOk)
async def delete_message(ctx: CtxDep, message_id: Int64) -> StatusOk:
    """Delete your own message (its row and seq stay, its content goes)."""
    await service.delete(ctx, message_id=message_id)
    return StatusOk()


@router.put("/{message_id}/reactions/{emoji}", response_model=MessageRead)
async def add_reaction(ctx: CtxDep, message_id: Int64, emoji: str) -> MessageRead:
    """React to a message."""
    return await service.react(ctx, message_id=message_id, emoji=emoji, add=True)


@router.delete("/{message_id}/reactions/{emoji}", response_model=MessageRead)
async def remove_reaction(ctx: CtxDep, message_id: Int64, emoji: str) -> MessageRead:
    """Take your reaction back."""
    return await service.react(ctx, message_id=message_id, emoji=emoji, add=False)

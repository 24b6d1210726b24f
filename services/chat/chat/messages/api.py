"""Routes for messages: send, get, page, edit, delete, react, search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from parley_common.auth_deps import CurrentClaims
from parley_common.frame_base import MAX_ATTACHMENTS
from parley_common.openapi import errors
from parley_common.schemas import Int64, MessageRead, Seq64, StatusOk

from ..deps import CtxDep
from ..errors import ValidationFailed
from ..runtime import chat_runtime
from . import direct, service

router = APIRouter(prefix="/messages", tags=["messages"])


# What the send and edit rules take (service.py: not blank after trimming; at most
# PARLEY_MAX_MESSAGE_LENGTH, 4000 by default). Only documented: a missing or blank content is
# refused by the service with PROTOCOL.md's texts, after conversation_id's 400.
Content = Annotated[
    str | None,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"\S",
            "description": "1–4000 characters after trimming (PARLEY_MAX_MESSAGE_LENGTH).",
        }
    ),
]


class MessageCreate(BaseModel):
    # content is required by the rules unless attachment_ids are given (documented so);
    # conversation_id's 400 comes first.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["content"]},
                {"required": ["attachment_ids"], "properties": {"attachment_ids": {"minItems": 1}}},
            ]
        }
    )

    conversation_id: Int64 | None = Field(
        default=None,
        description="Required unless `recipient_id` is given (400 `conversation_id is "
        "required` without either).",
    )
    recipient_id: Int64 | None = Field(
        default=None,
        description="Instead of `conversation_id`: send in your direct conversation with this "
        "user, opened on first use under POST /conversations' rules (friends unless stranger "
        "DMs are on; never when either blocked the other).",
    )
    content: Content = None
    client_msg_id: str | None = Field(default=None, json_schema_extra={"maxLength": 128})
    reply_to: Int64 | None = None
    attachment_ids: list[Int64] = Field(
        default_factory=list,
        # Checked by the service (400 past it), like the other rules of a send.
        json_schema_extra={"maxItems": MAX_ATTACHMENTS},
        description="Your own uploads (POST /attachments) not attached yet; content may then "
        "be empty.",
    )


class MessageUpdate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"required": ["content"]})

    content: Content = None


@router.post("", response_model=MessageRead, responses=errors(400, 403, 404))
async def send_message(request: Request, claims: CurrentClaims, body: MessageCreate) -> MessageRead:
    """Send a message; the same client_msg_id again returns the first message."""
    # The hot REST route: no session of its own (the send batcher has its transactions), no
    # other dependency than the caller.
    if body.client_msg_id is not None and len(body.client_msg_id) > 128:
        raise ValidationFailed("client_msg_id", "client_msg_id must be at most 128 characters")
    rt = chat_runtime(request.app.state)
    conversation_id = body.conversation_id
    if conversation_id is None and body.recipient_id is not None:
        conversation_id = await direct.conversation_with(rt, claims.user_id, body.recipient_id)
    return await service.send(
        rt.parts.sender,
        sender_id=claims.user_id,
        max_length=rt.settings.max_message_length,
        conversation_id=conversation_id,
        content=body.content,
        client_msg_id=body.client_msg_id,
        reply_to=body.reply_to,
        attachment_ids=body.attachment_ids,
    )


@router.get("/search", response_model=list[MessageRead], responses=errors(404))
async def search_messages(
    ctx: CtxDep,
    q: str = Query(min_length=1, max_length=200),
    conversation_id: Int64 | None = None,
    limit: int = Query(default=50, ge=1, le=100),
) -> list[MessageRead]:
    """Messages you can see that match `q`, best match first."""
    return await service.search(ctx, q=q, conversation_id=conversation_id, limit=limit)


@router.get(
    "/conversation/{conversation_id:int}",
    response_model=list[MessageRead],
    responses=errors(404),
)
async def list_messages(
    ctx: CtxDep,
    conversation_id: Int64,
    skip: Seq64 = 0,
    limit: int = Query(default=50, ge=1, le=100),
) -> list[MessageRead]:
    """The newest `limit` messages after skipping `skip`, oldest first."""
    return await service.page_by_offset(
        ctx, conversation_id=conversation_id, skip=skip, limit=limit
    )


@router.get("/{message_id:int}", response_model=MessageRead, responses=errors(404))
async def get_message(ctx: CtxDep, message_id: Int64) -> MessageRead:
    """One message of a conversation you are a member of."""
    return await service.get_one(ctx, message_id=message_id)


@router.patch("/{message_id:int}", response_model=MessageRead, responses=errors(400, 403, 404))
async def edit_message(ctx: CtxDep, message_id: Int64, body: MessageUpdate) -> MessageRead:
    """Edit your own message."""
    return await service.edit(ctx, message_id=message_id, content=body.content)


@router.delete("/{message_id:int}", response_model=StatusOk, responses=errors(403, 404))
async def delete_message(ctx: CtxDep, message_id: Int64) -> StatusOk:
    """Delete your own message (its row and seq stay, its content goes)."""
    await service.delete(ctx, message_id=message_id)
    return StatusOk()


@router.put(
    "/{message_id:int}/reactions/{emoji}",
    response_model=MessageRead,
    responses=errors(400, 403, 404),
)
async def add_reaction(ctx: CtxDep, message_id: Int64, emoji: str) -> MessageRead:
    """React to a message."""
    return await service.react(ctx, message_id=message_id, emoji=emoji, add=True)


@router.delete(
    "/{message_id:int}/reactions/{emoji}",
    response_model=MessageRead,
    responses=errors(400, 403, 404),
)
async def remove_reaction(ctx: CtxDep, message_id: Int64, emoji: str) -> MessageRead:
    """Take your reaction back."""
    return await service.react(ctx, message_id=message_id, emoji=emoji, add=False)

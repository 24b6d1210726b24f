"""Routes for conversations, members and receipts."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from parley_common.openapi import errors
from parley_common.schemas import (
    ConversationRead,
    Int64,
    MessageRead,
    Seq64,
    StatusOk,
    UserPublic,
    UserRef,
)

from ..deps import CtxDep
from ..messages import service as message_service
from . import receipts, removal, service

router = APIRouter(prefix="/conversations", tags=["conversations"])


class ConversationCreate(BaseModel):
    type: Literal["direct", "group"] = "direct"
    name: str | None = None
    member_user_ids: list[Int64] = Field(default_factory=list)


class GroupCreate(BaseModel):
    name: str | None = None
    member_user_ids: list[Int64] = Field(default_factory=list)


class ConversationRename(BaseModel):
    name: str | None = None


class SettingsUpdate(BaseModel):
    allow_member_add: bool | None = None
    allow_member_rename: bool | None = None


class SettingsOut(BaseModel):
    status: str = "success"
    message: str = "Settings updated"
    settings: dict[str, Any]


class MemberRead(BaseModel):
    id: int
    username: str
    email: str | None  # only the caller's own and their friends' (null for the others)
    avatar_url: str | None = None
    role: Literal["admin", "member"]
    is_owner: bool


class MemberAdd(BaseModel):
    user_id: Int64


class MemberAddedOut(BaseModel):
    status: str = "success"
    message: str = "Member added successfully"
    user: UserPublic


class StatusMessage(BaseModel):
    status: str = "success"
    message: str


class AdminTransfer(BaseModel):
    new_admin_id: Int64


class AdminTransferredOut(BaseModel):
    status: str = "success"
    message: str = "Admin role transferred successfully"
    new_admin: UserRef


class CursorMove(BaseModel):
    seq: Seq64


class UnreadCount(BaseModel):
    total: int
    by_conversation: dict[str, int]


@router.get("/unread-count", response_model=UnreadCount)
async def unread_count(ctx: CtxDep) -> Any:
    """Unread messages, in total and per conversation."""
    return await receipts.unread(ctx.session, ctx.user_id)


@router.get("", response_model=list[ConversationRead])
async def list_conversations(
    ctx: CtxDep,
    order: Literal["id", "recent"] = "id",
    limit: int | None = Query(default=None, ge=1, le=200),
    before: Int64 | None = None,
) -> list[ConversationRead]:
    """Your conversations (ascending id, or most recent activity first)."""
    return await service.list_mine(ctx, order=order, limit=limit, before=before)


@router.post("", response_model=ConversationRead, responses=errors(400, 403, 404))
async def create_conversation(ctx: CtxDep, body: ConversationCreate) -> ConversationRead:
    """Open a direct chat (the existing one if there is one) or create a group."""
    if body.type == "direct":
        return await service.create_direct(ctx, member_user_ids=body.member_user_ids)
    return await service.create_group(ctx, name=body.name, member_user_ids=body.member_user_ids)


@router.post("/groups", response_model=ConversationRead, responses=errors(400, 403, 404))
async def create_group(ctx: CtxDep, body: GroupCreate) -> ConversationRead:
    """Create a group; you are its admin."""
    return await service.create_group(ctx, name=body.name, member_user_ids=body.member_user_ids)


@router.get("/direct/{user_id:int}", response_model=ConversationRead, responses=errors(404))
async def get_direct_conversation(ctx: CtxDep, user_id: Int64) -> ConversationRead:
    """Your direct conversation with this user, if you have one."""
    return await service.get_direct(ctx, user_id=user_id)


@router.delete("/{conversation_id:int}", response_model=StatusOk, responses=errors(403, 404))
async def delete_conversation(ctx: CtxDep, conversation_id: Int64) -> StatusOk:
    """A direct chat: hide it from your list until a new message arrives. A group (admins):
    delete it for everyone, with its messages and files."""
    await removal.hide_or_delete(ctx, conversation_id=conversation_id)
    return StatusOk()


@router.get("/{conversation_id:int}", response_model=ConversationRead, responses=errors(404))
async def get_conversation(ctx: CtxDep, conversation_id: Int64) -> ConversationRead:
    """One conversation you are a member of."""
    return await service.get(ctx, conversation_id=conversation_id)


@router.put(
    "/{conversation_id:int}", response_model=ConversationRead, responses=errors(400, 403, 404)
)
async def rename_conversation(
    ctx: CtxDep, conversation_id: Int64, body: ConversationRename
) -> ConversationRead:
    """Rename a group."""
    return await service.rename(ctx, conversation_id=conversation_id, name=body.name)


@router.put(
    "/{conversation_id:int}/settings", response_model=SettingsOut, responses=errors(403, 404)
)
async def update_settings(ctx: CtxDep, conversation_id: Int64, body: SettingsUpdate) -> SettingsOut:
    """Change a group's settings (admins)."""
    settings = await service.update_settings(
        ctx, conversation_id=conversation_id, changes=body.model_dump(exclude_none=True)
    )
    return SettingsOut(settings=settings)


@router.get(
    "/{conversation_id:int}/members", response_model=list[MemberRead], responses=errors(404)
)
async def list_members(ctx: CtxDep, conversation_id: Int64) -> list[MemberRead]:
    """Current members with their roles."""
    rows = await service.list_members(ctx, conversation_id=conversation_id)
    return [MemberRead.model_validate(r) for r in rows]


@router.post(
    "/{conversation_id:int}/members",
    response_model=MemberAddedOut,
    responses=errors(400, 403, 404),
)
async def add_member(ctx: CtxDep, conversation_id: Int64, body: MemberAdd) -> MemberAddedOut:
    """Add a user to a group."""
    user = await service.add_member(ctx, conversation_id=conversation_id, user_id=body.user_id)
    return MemberAddedOut(user=UserPublic.model_validate(user))


@router.delete(
    "/{conversation_id:int}/members/{user_id:int}",
    response_model=StatusMessage,
    responses=errors(400, 403, 404),
)
async def kick_member(ctx: CtxDep, conversation_id: Int64, user_id: Int64) -> StatusMessage:
    """Remove a member from a group (admins)."""
    await service.kick(ctx, conversation_id=conversation_id, user_id=user_id)
    return StatusMessage(message="Member removed successfully")


@router.delete("/{conversation_id:int}/leave", response_model=StatusOk, responses=errors(403, 404))
async def leave(ctx: CtxDep, conversation_id: Int64) -> StatusOk:
    """Leave a group."""
    await service.leave(ctx, conversation_id=conversation_id)
    return StatusOk()


@router.put(
    "/{conversation_id:int}/transfer-admin",
    response_model=AdminTransferredOut,
    responses=errors(400, 403, 404),
)
async def transfer_admin(
    ctx: CtxDep, conversation_id: Int64, body: AdminTransfer
) -> AdminTransferredOut:
    """Hand your admin role to another member."""
    user = await service.transfer_admin(
        ctx, conversation_id=conversation_id, new_admin_id=body.new_admin_id
    )
    return AdminTransferredOut(new_admin=UserRef(id=user.id, username=user.username))


@router.post(
    "/{conversation_id:int}/read", response_model=receipts.ReceiptRead, responses=errors(404)
)
async def mark_read(ctx: CtxDep, conversation_id: Int64, body: CursorMove) -> receipts.ReceiptRead:
    """Move your read cursor forward (a lower seq changes nothing)."""
    return await receipts.move(ctx, conversation_id=conversation_id, seq=body.seq, kind="read")


@router.post(
    "/{conversation_id:int}/delivered",
    response_model=receipts.ReceiptRead,
    responses=errors(404),
)
async def mark_delivered(
    ctx: CtxDep, conversation_id: Int64, body: CursorMove
) -> receipts.ReceiptRead:
    """Move your delivered cursor forward (a lower seq changes nothing)."""
    return await receipts.move(ctx, conversation_id=conversation_id, seq=body.seq, kind="delivered")


@router.get(
    "/{conversation_id:int}/receipts",
    response_model=list[receipts.ReceiptRead],
    responses=errors(404),
)
async def list_receipts(ctx: CtxDep, conversation_id: Int64) -> list[receipts.ReceiptRead]:
    """Every member's read and delivered cursors."""
    return await receipts.list_for(ctx, conversation_id=conversation_id)


@router.get(
    "/{conversation_id:int}/messages", response_model=list[MessageRead], responses=errors(404)
)
async def list_messages(
    ctx: CtxDep,
    conversation_id: Int64,
    before_seq: Seq64 | None = None,
    after_seq: Seq64 | None = None,
    limit: int = Query(default=50, ge=1, le=100),
) -> list[MessageRead]:
    """A page of messages by seq cursor, oldest first."""
    return await message_service.page_by_seq(
        ctx,
        conversation_id=conversation_id,
        before_seq=before_seq,
        after_seq=after_seq,
        limit=limit,
    )

"""Routes for friends and blocks."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel

from parley_common.openapi import errors
from parley_common.schemas import FriendRead, FriendRequestRead, Int64, StatusOk, UserPublic

from ..deps import CtxDep
from ..runtime import chat_runtime
from . import service

router = APIRouter(tags=["friends"])


class FriendRequestCreate(BaseModel):
    username: str | None = None


class MessageOut(BaseModel):
    message: str


class BlockCreate(BaseModel):
    user_id: Int64


class BlockRead(BaseModel):
    id: int
    username: str
    email: str | None  # null: a blocked user is nobody's friend here
    blocked_at: datetime


class SentRequestRead(BaseModel):
    id: int
    receiver: UserPublic
    created_at: datetime
    status: str


@router.get("/friends", response_model=list[FriendRead])
async def list_friends(ctx: CtxDep, request: Request) -> list[FriendRead]:
    """Accepted friends, with whether each is online."""
    return await service.list_friends(
        ctx, presence=chat_runtime(request.app.state).client("notify")
    )


@router.get("/friends/requests", response_model=list[FriendRequestRead])
async def list_requests(ctx: CtxDep) -> list[FriendRequestRead]:
    """Incoming pending friend requests."""
    return await service.list_requests(ctx)


@router.get("/friends/requests/sent", response_model=list[SentRequestRead])
async def list_sent_requests(ctx: CtxDep) -> list[SentRequestRead]:
    """Friend requests you sent that are still pending."""
    return [SentRequestRead.model_validate(r) for r in await service.list_sent_requests(ctx)]


@router.delete("/friends/requests/{request_id:int}", response_model=StatusOk, responses=errors(404))
async def cancel_request(ctx: CtxDep, request_id: Int64) -> StatusOk:
    """Withdraw a friend request you sent."""
    await service.cancel(ctx, request_id=request_id)
    return StatusOk()


@router.post("/friends/request", response_model=MessageOut, responses=errors(400, 403, 404))
async def create_request(ctx: CtxDep, body: FriendRequestCreate) -> MessageOut:
    """Send a friend request by username."""
    await service.send_request(ctx, username=body.username)
    return MessageOut(message="Friend request sent successfully")


@router.put(
    "/friends/requests/{request_id:int}/accept",
    response_model=MessageOut,
    responses=errors(403, 404),
)
async def accept_request(ctx: CtxDep, request_id: Int64) -> MessageOut:
    """Accept a friend request you received."""
    await service.accept(ctx, request_id=request_id)
    return MessageOut(message="Friend request accepted")


@router.put(
    "/friends/requests/{request_id:int}/reject",
    response_model=MessageOut,
    responses=errors(404),
)
async def reject_request(ctx: CtxDep, request_id: Int64) -> MessageOut:
    """Reject a friend request you received."""
    await service.reject(ctx, request_id=request_id)
    return MessageOut(message="Friend request rejected")


@router.delete("/friends/{user_id:int}", response_model=StatusOk, responses=errors(404))
async def delete_friend(ctx: CtxDep, user_id: Int64) -> StatusOk:
    """End a friendship."""
    await service.remove_friend(ctx, friend_id=user_id)
    return StatusOk()


@router.get("/blocks", response_model=list[BlockRead])
async def list_blocks(ctx: CtxDep) -> list[BlockRead]:
    """Users you blocked."""
    return [BlockRead.model_validate(b) for b in await service.list_blocks(ctx)]


@router.post("/blocks", response_model=StatusOk, responses=errors(400, 404))
async def create_block(ctx: CtxDep, body: BlockCreate) -> StatusOk:
    """Block a user: no friendship, no direct messages, no adding you to groups."""
    await service.block(ctx, user_id=body.user_id)
    return StatusOk()


@router.delete("/blocks/{user_id:int}", response_model=StatusOk, responses=errors(404))
async def delete_block(ctx: CtxDep, user_id: Int64) -> StatusOk:
    """Unblock a user."""
    await service.unblock(ctx, user_id=user_id)
    return StatusOk()

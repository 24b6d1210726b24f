"""Friend requests, friendships and blocks: the rules of PROTOCOL.md "Friends and blocks"."""

from __future__ import annotations

import httpx
import structlog
from sqlalchemy import update

from parley_common.db import utcnow
from parley_common.events import (
    BlockCreated,
    BlockRemoved,
    FriendAccepted,
    FriendRemoved,
    FriendRequested,
)
from parley_common.schemas import FriendRead, FriendRequestRead, UserPublic

from .. import publish
from .. import users as user_repo
from ..deps import Ctx
from ..errors import BadRequest, Forbidden, NotFound, UserNotFound
from ..models import Block, FriendRequest, User
from . import repository as repo

log = structlog.get_logger(__name__)


def _public(user: object) -> UserPublic:
    return UserPublic.model_validate(user)


def _stranger(user: User) -> UserPublic:
    """Someone who is not (yet) the reader's friend: no email (ARCHITECTURE.md, consent)."""
    return UserPublic(id=user.id, username=user.username, email=None, avatar_url=user.avatar_url)


async def list_friends(ctx: Ctx, *, presence: httpx.AsyncClient | None) -> list[FriendRead]:
    friends = await repo.friends(ctx.session, ctx.user_id)
    online = await _presence(
        presence, [f.id for f in friends], ctx.settings.presence_timeout_seconds
    )
    return [
        FriendRead(
            id=f.id,
            username=f.username,
            email=f.email,
            avatar_url=f.avatar_url,
            is_online=online.get(f.id, False),
        )
        for f in friends
    ]


async def _presence(
    client: httpx.AsyncClient | None, user_ids: list[int], timeout: float
) -> dict[int, bool]:
    """Who is online, from notify; an unanswered question means offline, never an error."""
    if not user_ids or client is None:
        return {}
    try:
        response = await client.get(
            "/internal/presence",
            params={"user_ids": ",".join(map(str, user_ids))},
            timeout=timeout,
        )
        response.raise_for_status()
        body = response.json()
        return {int(k): bool(v.get("online")) for k, v in body.items() if isinstance(v, dict)}
    except Exception as exc:  # notify down, slow or confused: presence is best effort
        log.info("presence.unavailable", error=str(exc))
        return {}


async def list_requests(ctx: Ctx) -> list[FriendRequestRead]:
    return [
        FriendRequestRead(
            id=r.id, requester=_stranger(u), created_at=r.created_at, status="pending"
        )
        for r, u in await repo.incoming_pending(ctx.session, ctx.user_id)
    ]


async def list_sent_requests(ctx: Ctx) -> list[dict[str, object]]:
    return [
        {"id": r.id, "receiver": _stranger(u), "created_at": r.created_at, "status": "pending"}
        for r, u in await repo.outgoing_pending(ctx.session, ctx.user_id)
    ]


async def cancel(ctx: Ctx, *, request_id: int) -> None:
    """Withdraw a request I sent that is still pending (the receiver's list drops it on reload)."""
    request = await ctx.session.get(FriendRequest, request_id, with_for_update=True)
    if request is None or request.requester_id != ctx.user_id or request.status != "pending":
        raise NotFound("Friend request not found", code="friend_request_not_found")
    request.status, request.responded_at = "cancelled", utcnow()


async def send_request(ctx: Ctx, *, username: str | None) -> None:
    if not username or not username.strip():
        raise BadRequest("Username is required")
    target = await user_repo.get_by_username(ctx.session, username.strip())
    if target is None:
        raise UserNotFound()
    if target.id == ctx.user_id:
        raise BadRequest("Cannot send friend request to yourself")
    if await repo.is_blocked_either_way(ctx.session, ctx.user_id, target.id):
        raise Forbidden("You cannot send a friend request to this user", code="blocked")
    if await repo.are_friends(ctx.session, ctx.user_id, target.id):
        raise BadRequest("Already friends")
    if await repo.pending_between(ctx.session, ctx.user_id, target.id) is not None:
        raise BadRequest("Friend request already sent")
    me = await user_repo.get(ctx.session, ctx.user_id)
    if me is None:
        raise UserNotFound()
    request = FriendRequest(requester_id=ctx.user_id, receiver_id=target.id, status="pending")
    ctx.session.add(request)
    await ctx.session.flush()
    event = FriendRequested(
        request=FriendRequestRead(
            id=request.id, requester=_stranger(me), created_at=request.created_at, status="pending"
        ),
        receiver_id=target.id,
    )
    await publish.to_users(ctx.session, ctx.outbox, [ctx.user_id, target.id], event)


async def _incoming(ctx: Ctx, request_id: int) -> FriendRequest:
    request = await ctx.session.get(FriendRequest, request_id, with_for_update=True)
    if request is None or request.receiver_id != ctx.user_id or request.status != "pending":
        raise NotFound("Friend request not found", code="friend_request_not_found")
    return request


async def accept(ctx: Ctx, *, request_id: int) -> None:
    request = await _incoming(ctx, request_id)
    if await repo.is_blocked_either_way(ctx.session, request.requester_id, ctx.user_id):
        raise Forbidden("You cannot accept a friend request from this user", code="blocked")
    request.status, request.responded_at = "accepted", utcnow()
    await repo.add_friendship(ctx.session, request.requester_id, ctx.user_id)
    people = await user_repo.get_many(ctx.session, [request.requester_id, ctx.user_id])
    event = FriendAccepted(
        request_id=request.id,
        requester_id=request.requester_id,
        accepter=_public(people[ctx.user_id]),
        requester=_public(people[request.requester_id]),
    )
    await publish.to_users(ctx.session, ctx.outbox, [request.requester_id, ctx.user_id], event)


async def reject(ctx: Ctx, *, request_id: int) -> None:
    request = await _incoming(ctx, request_id)
    request.status, request.responded_at = "rejected", utcnow()


async def remove_friend(ctx: Ctx, *, friend_id: int) -> None:
    if not await repo.remove_friendship(ctx.session, ctx.user_id, friend_id):
        raise NotFound("Friend not found", code="friend_not_found")
    event = FriendRemoved(user_id=ctx.user_id, friend_id=friend_id)
    await publish.to_users(ctx.session, ctx.outbox, [ctx.user_id, friend_id], event)


async def list_blocks(ctx: Ctx) -> list[dict[str, object]]:
    return [
        {"id": u.id, "username": u.username, "email": None, "blocked_at": b.created_at}
        for b, u in await repo.blocks_of(ctx.session, ctx.user_id)
    ]


async def block(ctx: Ctx, *, user_id: int) -> None:
    if user_id == ctx.user_id:
        raise BadRequest("Cannot block yourself")
    if await user_repo.get(ctx.session, user_id) is None:
        raise UserNotFound()
    if await ctx.session.get(Block, (ctx.user_id, user_id)) is not None:
        return
    ctx.session.add(Block(blocker_id=ctx.user_id, blocked_id=user_id))
    # Blocking ends the friendship and any pending request between the two.
    pending = await repo.pending_between(ctx.session, ctx.user_id, user_id)
    if pending is not None:
        await ctx.session.execute(
            update(FriendRequest)
            .where(FriendRequest.id == pending.id)
            .values(status="rejected", responded_at=utcnow())
        )
    if await repo.remove_friendship(ctx.session, ctx.user_id, user_id):
        event = FriendRemoved(user_id=ctx.user_id, friend_id=user_id)
        await publish.to_users(ctx.session, ctx.outbox, [ctx.user_id, user_id], event)
    await publish.to_services(
        ctx.session, ctx.outbox, BlockCreated(blocker_id=ctx.user_id, blocked_id=user_id)
    )
    await ctx.session.flush()


async def unblock(ctx: Ctx, *, user_id: int) -> None:
    existing = await ctx.session.get(Block, (ctx.user_id, user_id))
    if existing is None:
        raise NotFound("Block not found", code="block_not_found")
    await ctx.session.delete(existing)
    await publish.to_services(
        ctx.session, ctx.outbox, BlockRemoved(blocker_id=ctx.user_id, blocked_id=user_id)
    )

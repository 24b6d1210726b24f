"""Queries for friend requests, friendships and blocks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import and_, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Block, FriendRequest, Friendship, User


def pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


async def are_friends(session: AsyncSession, a: int, b: int) -> bool:
    low, high = pair(a, b)
    return await session.get(Friendship, (low, high)) is not None


async def friend_ids(session: AsyncSession, user_id: int) -> list[int]:
    rows = await session.execute(
        select(Friendship.user_low, Friendship.user_high).where(
            or_(Friendship.user_low == user_id, Friendship.user_high == user_id)
        )
    )
    return sorted(high if low == user_id else low for low, high in rows)


def friends_by_user(
    user_ids: Iterable[int], pairs: Iterable[Sequence[int]]
) -> dict[int, list[int]]:
    """Each of `user_ids`' friends (sorted), from friendship rows (user_low, user_high)."""
    out: dict[int, list[int]] = {u: [] for u in user_ids}
    for low, high in pairs:
        if low in out:
            out[low].append(high)
        if high in out:
            out[high].append(low)
    return {u: sorted(ids) for u, ids in out.items()}


async def friends(session: AsyncSession, user_id: int) -> list[User]:
    ids = await friend_ids(session, user_id)
    if not ids:
        return []
    return list(await session.scalars(select(User).where(User.id.in_(ids)).order_by(User.id)))


async def add_friendship(session: AsyncSession, a: int, b: int) -> None:
    low, high = pair(a, b)
    if await session.get(Friendship, (low, high)) is None:
        session.add(Friendship(user_low=low, user_high=high))
        await session.flush()


async def remove_friendship(session: AsyncSession, a: int, b: int) -> bool:
    low, high = pair(a, b)
    result = await session.execute(
        delete(Friendship).where(Friendship.user_low == low, Friendship.user_high == high)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def pending_between(session: AsyncSession, a: int, b: int) -> FriendRequest | None:
    return await session.scalar(
        select(FriendRequest)
        .where(
            FriendRequest.status == "pending",
            or_(
                and_(FriendRequest.requester_id == a, FriendRequest.receiver_id == b),
                and_(FriendRequest.requester_id == b, FriendRequest.receiver_id == a),
            ),
        )
        .limit(1)
    )


async def incoming_pending(session: AsyncSession, user_id: int) -> list[tuple[FriendRequest, User]]:
    rows = await session.execute(
        select(FriendRequest, User)
        .join(User, User.id == FriendRequest.requester_id)
        .where(FriendRequest.receiver_id == user_id, FriendRequest.status == "pending")
        .order_by(FriendRequest.id)
    )
    return [(r, u) for r, u in rows]


async def outgoing_pending(session: AsyncSession, user_id: int) -> list[tuple[FriendRequest, User]]:
    rows = await session.execute(
        select(FriendRequest, User)
        .join(User, User.id == FriendRequest.receiver_id)
        .where(FriendRequest.requester_id == user_id, FriendRequest.status == "pending")
        .order_by(FriendRequest.id)
    )
    return [(r, u) for r, u in rows]


async def is_blocked_either_way(session: AsyncSession, a: int, b: int) -> bool:
    return bool(
        await session.scalar(
            select(
                exists().where(
                    or_(
                        and_(Block.blocker_id == a, Block.blocked_id == b),
                        and_(Block.blocker_id == b, Block.blocked_id == a),
                    )
                )
            )
        )
    )


async def blocked_among(session: AsyncSession, user_id: int, others: list[int]) -> bool:
    """Whether any of `others` blocked `user_id` or was blocked by them."""
    if not others:
        return False
    return bool(
        await session.scalar(
            select(
                exists().where(
                    or_(
                        and_(Block.blocker_id == user_id, Block.blocked_id.in_(others)),
                        and_(Block.blocked_id == user_id, Block.blocker_id.in_(others)),
                    )
                )
            )
        )
    )


async def block_touching(session: AsyncSession, users: list[int], group: set[int]) -> bool:
    """Whether any of `users` blocked, or was blocked by, anyone in `group`."""
    if not users:
        return False
    others = sorted(group)
    return bool(
        await session.scalar(
            select(
                exists().where(
                    or_(
                        and_(Block.blocker_id.in_(users), Block.blocked_id.in_(others)),
                        and_(Block.blocked_id.in_(users), Block.blocker_id.in_(others)),
                    )
                )
            )
        )
    )


async def blocks_of(session: AsyncSession, user_id: int) -> list[tuple[Block, User]]:
    rows = await session.execute(
        select(Block, User)
        .join(User, User.id == Block.blocked_id)
        .where(Block.blocker_id == user_id)
        .order_by(Block.created_at, Block.blocked_id)
    )
    return [(b, u) for b, u in rows]

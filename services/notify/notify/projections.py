"""Projections of other services' data, kept from events: users, friendships, memberships.

Every write is an upsert or a delete that tolerates replays and reordering (the broker does
not promise order), so the handlers stay simple.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import insert_for

from .models import Conversation, Friendship, Membership, User


async def upsert_user_txn(
    session: AsyncSession, *, user_id: int, username: str, email: str, email_verified: bool = True
) -> None:
    values = {"username": username, "email": email, "email_verified": email_verified}
    stmt = insert_for(session)(User).values(id=user_id, **values)
    # A deleted user's tombstone stays one, whatever older event of theirs arrives late.
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["id"], set_=values, where=User.deleted_at.is_(None)
        )
    )


async def add_friendship_txn(session: AsyncSession, a: int, b: int) -> None:
    low, high = sorted((a, b))
    stmt = insert_for(session)(Friendship).values(user_low=low, user_high=high)
    await session.execute(stmt.on_conflict_do_nothing())


async def remove_friendship_txn(session: AsyncSession, a: int, b: int) -> None:
    low, high = sorted((a, b))
    await session.execute(
        delete(Friendship).where(Friendship.user_low == low, Friendship.user_high == high)
    )


async def upsert_conversation_txn(
    session: AsyncSession, *, conversation_id: int, name: str | None, type_: str
) -> None:
    stmt = insert_for(session)(Conversation).values(id=conversation_id, name=name, type=type_)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["id"], set_={"name": name, "type": type_})
    )


async def add_members_txn(
    session: AsyncSession, conversation_id: int, user_ids: Iterable[int]
) -> None:
    rows = [{"conversation_id": conversation_id, "user_id": u} for u in set(user_ids)]
    if rows:
        await session.execute(insert_for(session)(Membership).values(rows).on_conflict_do_nothing())


async def remove_member_txn(session: AsyncSession, conversation_id: int, user_id: int) -> None:
    await session.execute(
        delete(Membership).where(
            Membership.conversation_id == conversation_id, Membership.user_id == user_id
        )
    )


async def friend_ids(session: AsyncSession, user_id: int) -> list[int]:
    rows = await session.execute(
        select(Friendship.user_low, Friendship.user_high).where(
            or_(Friendship.user_low == user_id, Friendship.user_high == user_id)
        )
    )
    return sorted({high if low == user_id else low for low, high in rows.all()})


async def co_member_ids(session: AsyncSession, user_id: int) -> set[int]:
    mine = select(Membership.conversation_id).where(Membership.user_id == user_id)
    rows = await session.execute(
        select(Membership.user_id).where(Membership.conversation_id.in_(mine)).distinct()
    )
    return set(rows.scalars())


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def conversation_names(session: AsyncSession, ids: Iterable[int]) -> dict[int, str | None]:
    rows = await session.execute(
        select(Conversation.id, Conversation.name).where(Conversation.id.in_(list(ids)))
    )
    return {cid: name for cid, name in rows.all()}

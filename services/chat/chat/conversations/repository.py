"""Queries for conversations and their members."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Conversation, Member, Message, User


async def get(session: AsyncSession, conversation_id: int) -> Conversation | None:
    return await session.get(Conversation, conversation_id)


async def by_pair_key(session: AsyncSession, key: str) -> Conversation | None:
    return await session.scalar(select(Conversation).where(Conversation.private_pair_key == key))


async def membership(session: AsyncSession, conversation_id: int, user_id: int) -> Member | None:
    """The user's membership row, current or past."""
    return await session.scalar(
        select(Member).where(Member.conversation_id == conversation_id, Member.user_id == user_id)
    )


async def active_member(session: AsyncSession, conversation_id: int, user_id: int) -> Member | None:
    member = await membership(session, conversation_id, user_id)
    return member if member is not None and member.left_at is None else None


async def active_members(session: AsyncSession, conversation_id: int) -> list[tuple[Member, User]]:
    rows = await session.execute(
        select(Member, User)
        .join(User, User.id == Member.user_id)
        .where(Member.conversation_id == conversation_id, Member.left_at.is_(None))
        .order_by(Member.joined_at, Member.id)
    )
    return [(m, u) for m, u in rows]


async def active_member_rows(session: AsyncSession, conversation_id: int) -> list[Any]:
    """One round trip for the send path: current members' ids and names, and the conversation type."""
    rows = await session.execute(
        select(Member.user_id, User.username, User.username_key, Conversation.type)
        .join(User, User.id == Member.user_id)
        .join(Conversation, Conversation.id == Member.conversation_id)
        .where(Member.conversation_id == conversation_id, Member.left_at.is_(None))
    )
    return list(rows)


async def members_of_many(
    session: AsyncSession, conversation_ids: Sequence[int]
) -> dict[int, list[tuple[Member, User]]]:
    out: dict[int, list[tuple[Member, User]]] = {cid: [] for cid in conversation_ids}
    if not conversation_ids:
        return out
    rows = await session.execute(
        select(Member, User)
        .join(User, User.id == Member.user_id)
        .where(Member.conversation_id.in_(conversation_ids), Member.left_at.is_(None))
        .order_by(Member.joined_at, Member.id)
    )
    for m, u in rows:
        out[m.conversation_id].append((m, u))
    return out


async def active_member_ids(session: AsyncSession, conversation_id: int) -> list[int]:
    rows = await session.scalars(
        select(Member.user_id)
        .where(Member.conversation_id == conversation_id, Member.left_at.is_(None))
        .order_by(Member.user_id)
    )
    return list(rows)


async def conversation_ids_of(session: AsyncSession, user_id: int) -> list[int]:
    rows = await session.scalars(
        select(Member.conversation_id)
        .where(Member.user_id == user_id, Member.left_at.is_(None))
        .order_by(Member.conversation_id)
    )
    return list(rows)


def conversations_by_user(
    user_ids: Iterable[int], memberships: Iterable[Sequence[int]]
) -> dict[int, list[int]]:
    """Each of `user_ids`' conversations, from (user_id, conversation_id) rows in order."""
    out: dict[int, list[int]] = {u: [] for u in user_ids}
    for user_id, conversation_id in memberships:
        out[user_id].append(conversation_id)
    return out


async def list_for(
    session: AsyncSession, user_id: int, *, order: str, limit: int | None, before: int | None
) -> list[Conversation]:
    """The user's conversations. `before` is a conversation id: the page holds the ones that come
    after it going back in time (lower ids, or older activity with order=recent)."""
    query = (
        select(Conversation)
        .join(Member, Member.conversation_id == Conversation.id)
        .where(Member.user_id == user_id, Member.left_at.is_(None))
        .where(or_(Member.hidden_seq.is_(None), Conversation.last_seq > Member.hidden_seq))
    )
    if order == "recent":
        if before is not None:
            cursor = await session.get(Conversation, before)
            if cursor is not None:
                query = query.where(
                    or_(
                        Conversation.last_activity_at < cursor.last_activity_at,
                        and_(
                            Conversation.last_activity_at == cursor.last_activity_at,
                            Conversation.id < cursor.id,
                        ),
                    )
                )
        query = query.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        if limit is not None:
            query = query.limit(limit)
        return list(await session.scalars(query))
    if before is not None:
        query = query.where(Conversation.id < before)
    if limit is None:
        return list(await session.scalars(query.order_by(Conversation.id)))
    page = list(await session.scalars(query.order_by(Conversation.id.desc()).limit(limit)))
    return page[::-1]


async def last_messages(
    session: AsyncSession, conversations: Sequence[Conversation]
) -> dict[int, Message]:
    pairs = [(c.id, c.last_seq) for c in conversations if c.last_seq > 0]
    if not pairs:
        return {}
    rows = await session.scalars(
        select(Message).where(tuple_(Message.conversation_id, Message.seq).in_(pairs))
    )
    return {m.conversation_id: m for m in rows}


async def unread_counts(
    session: AsyncSession, user_id: int, conversation_ids: Sequence[int] | None = None
) -> dict[int, int]:
    """Messages after the user's read cursor that others sent (system ones count), not deleted."""
    query = (
        select(Member.conversation_id, func.count(Message.id))
        .join(
            Message,
            and_(
                Message.conversation_id == Member.conversation_id,
                Message.seq > Member.last_read_seq,
            ),
        )
        .where(
            Member.user_id == user_id,
            Member.left_at.is_(None),
            Message.deleted.is_(False),
            or_(Message.sender_id.is_(None), Message.sender_id != user_id),
        )
        .group_by(Member.conversation_id)
    )
    if conversation_ids is not None:
        query = query.where(Member.conversation_id.in_(conversation_ids))
    return {cid: int(n) for cid, n in (await session.execute(query))}

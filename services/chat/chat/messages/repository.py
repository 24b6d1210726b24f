"""Queries for messages and reactions (the send path's statements: send_repository.py)."""

from __future__ import annotations

from sqlalchemy import (
    delete,
    func,
    literal_column,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import insert_for, like_escaped, utcnow

from ..models import Member, Message, Reaction


async def get(session: AsyncSession, message_id: int) -> Message | None:
    return await session.get(Message, message_id)


async def by_ids(session: AsyncSession, message_ids: set[int]) -> list[Message]:
    return list(await session.scalars(select(Message).where(Message.id.in_(message_ids))))


async def page_by_offset(
    session: AsyncSession,
    conversation_id: int,
    *,
    skip: int,
    limit: int,
    max_seq: int | None = None,
) -> list[Message]:
    """The newest `limit` after skipping `skip`, oldest first."""
    query = select(Message).where(Message.conversation_id == conversation_id)
    if max_seq is not None:
        query = query.where(Message.seq <= max_seq)
    rows = list(await session.scalars(query.order_by(Message.seq.desc()).offset(skip).limit(limit)))
    return rows[::-1]


async def page_by_seq(
    session: AsyncSession,
    conversation_id: int,
    *,
    before_seq: int | None,
    after_seq: int | None,
    limit: int,
    max_seq: int | None = None,
) -> list[Message]:
    """Oldest first: the first `limit` after `after_seq`, else the last `limit` before `before_seq`."""
    query = select(Message).where(Message.conversation_id == conversation_id)
    if max_seq is not None:
        query = query.where(Message.seq <= max_seq)
    if before_seq is not None:
        query = query.where(Message.seq < before_seq)
    if after_seq is not None:
        query = query.where(Message.seq > after_seq)
        return list(await session.scalars(query.order_by(Message.seq).limit(limit)))
    rows = list(await session.scalars(query.order_by(Message.seq.desc()).limit(limit)))
    return rows[::-1]


async def search(
    session: AsyncSession, user_id: int, q: str, *, conversation_id: int | None, limit: int
) -> list[Message]:
    """Messages in the user's current conversations matching `q`, best match first."""
    visible = (
        select(Member.conversation_id)
        .where(Member.user_id == user_id, Member.left_at.is_(None))
        .scalar_subquery()
    )
    query = select(Message).where(
        Message.conversation_id.in_(visible), Message.deleted.is_(False), Message.type == "text"
    )
    if conversation_id is not None:
        query = query.where(Message.conversation_id == conversation_id)
    dialect = session.bind.dialect.name if session.bind else "postgresql"
    if dialect == "postgresql":
        # Matches the GIN expression index ix_messages_search (migration 0001).
        vector = func.to_tsvector(literal_column("'simple'"), Message.content)
        tsquery = func.plainto_tsquery(literal_column("'simple'"), q)
        query = query.where(vector.op("@@")(tsquery)).order_by(
            func.ts_rank(vector, tsquery).desc(), Message.id.desc()
        )
    else:
        # SQLite (embedded mode): substring match, newest first.
        escaped = like_escaped(q)
        query = query.where(Message.content.ilike(f"%{escaped}%", escape="\\")).order_by(
            Message.id.desc()
        )
    return list(await session.scalars(query.limit(limit)))


async def add_reaction(session: AsyncSession, message_id: int, user_id: int, emoji: str) -> None:
    await session.execute(
        insert_for(session)(Reaction)
        .values(message_id=message_id, user_id=user_id, emoji=emoji, created_at=utcnow())
        .on_conflict_do_nothing()
    )


async def remove_reaction(session: AsyncSession, message_id: int, user_id: int, emoji: str) -> None:
    await session.execute(
        delete(Reaction).where(
            Reaction.message_id == message_id, Reaction.user_id == user_id, Reaction.emoji == emoji
        )
    )

"""Queries on notifications; every one is scoped to its owner."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Notification


async def list_for_user(
    session: AsyncSession, user_id: int, *, unread_only: bool, limit: int, before: int | None
) -> Sequence[Notification]:
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.is_read.is_(False))
    if before is not None:
        query = query.where(Notification.id < before)
    rows = await session.scalars(query.order_by(Notification.id.desc()).limit(limit))
    return rows.all()


async def count_unread(session: AsyncSession, user_id: int) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.is_read.is_(False))
    )
    return int(count or 0)


async def get_owned(
    session: AsyncSession, user_id: int, notification_id: int
) -> Notification | None:
    return await session.scalar(
        select(Notification).where(
            Notification.id == notification_id, Notification.user_id == user_id
        )
    )


async def mark_all_read(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.is_read.is_(False))
        .values(is_read=True)
    )


async def mark_read_up_to_seq(
    session: AsyncSession, user_id: int, conversation_id: int, seq: int
) -> None:
    await session.execute(
        update(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.conversation_id == conversation_id,
            Notification.seq <= seq,
            Notification.is_read.is_(False),
        )
        .values(is_read=True)
    )


async def delete_owned(session: AsyncSession, user_id: int, notification_id: int) -> bool:
    result = await session.execute(
        delete(Notification).where(
            Notification.id == notification_id, Notification.user_id == user_id
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def has_unread(session: AsyncSession, user_id: int, type_: str, conversation_id: int) -> bool:
    found = await session.scalar(
        select(Notification.id)
        .where(
            Notification.user_id == user_id,
            Notification.type == type_,
            Notification.conversation_id == conversation_id,
            Notification.is_read.is_(False),
        )
        .limit(1)
    )
    return found is not None

"""Queries on notifications; every one is scoped to its owner."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Notification, User


async def list_for_user(
    session: AsyncSession,
    user_id: int,
    *,
    unread_only: bool,
    limit: int,
    before: int | None,
    type_prefix: str | None = None,
) -> Sequence[Notification]:
    query = select(Notification).where(Notification.user_id == user_id)
    if type_prefix:
        # `task.` lists every task.* type; `mention` only mentions.
        query = query.where(
            Notification.type.startswith(type_prefix, autoescape=True)
            if type_prefix.endswith(".")
            else or_(
                Notification.type == type_prefix,
                Notification.type.startswith(type_prefix + ".", autoescape=True),
            )
        )
    if unread_only:
        query = query.where(Notification.is_read.is_(False))
    if before is not None:
        query = query.where(Notification.id < before)
    rows = await session.scalars(query.order_by(Notification.id.desc()).limit(limit))
    return rows.all()


async def count_unread_by_type(session: AsyncSession, user_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(Notification.type, func.count())
        .where(Notification.user_id == user_id, Notification.is_read.is_(False))
        .group_by(Notification.type)
    )
    return {type_: int(n) for type_, n in rows.all()}


async def known_users(session: AsyncSession, user_ids: Iterable[int]) -> list[int]:
    rows = await session.scalars(select(User.id).where(User.id.in_(list(user_ids))))
    return list(rows)


async def users_with_dedupe_key(
    session: AsyncSession, user_ids: Iterable[int], dedupe_key: str
) -> list[int]:
    rows = await session.scalars(
        select(Notification.user_id).where(
            Notification.user_id.in_(list(user_ids)), Notification.dedupe_key == dedupe_key
        )
    )
    return list(rows)


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

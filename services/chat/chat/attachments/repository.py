"""Attachment queries (PostgreSQL and SQLite alike)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from parley_common.db import utcnow

from ..models import Attachment

ATTACHMENTS = cast(Table, Attachment.__table__)


async def get(session: AsyncSession, attachment_id: int) -> Attachment | None:
    found = await session.get(Attachment, attachment_id)
    return None if found is None or found.deleted_at is not None else found


async def for_send(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, Any]:
    """The rows of these attachments, locked until the send's commit (PostgreSQL; SQLite has
    one writer at a time): two sends cannot both claim one upload."""
    if not ids:
        return {}
    query = select(ATTACHMENTS).where(ATTACHMENTS.c.id.in_(sorted(set(ids))))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return {row.id: row for row in await conn.execute(query)}


async def attach(
    conn: AsyncConnection, *, message_id: int, conversation_id: int, ids: Sequence[int]
) -> None:
    for position, attachment_id in enumerate(ids):
        await conn.execute(
            update(ATTACHMENTS)
            .where(ATTACHMENTS.c.id == attachment_id)
            .values(message_id=message_id, conversation_id=conversation_id, position=position)
        )


async def of_messages(session: AsyncSession, message_ids: Sequence[int]) -> list[Attachment]:
    if not message_ids:
        return []
    rows = await session.scalars(
        select(Attachment)
        .where(Attachment.message_id.in_(list(message_ids)), Attachment.deleted_at.is_(None))
        .order_by(Attachment.message_id, Attachment.position)
    )
    return list(rows)


async def remove_with_message(session: AsyncSession, message_id: int) -> int:
    """Marks a deleted message's attachments for the sweeper; how many there were."""
    result = await session.execute(
        update(Attachment)
        .where(Attachment.message_id == message_id, Attachment.deleted_at.is_(None))
        .values(deleted_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def expire_unattached(session: AsyncSession, created_before: datetime) -> None:
    await session.execute(
        update(Attachment)
        .where(
            Attachment.message_id.is_(None),
            Attachment.deleted_at.is_(None),
            Attachment.created_at < created_before,
        )
        .values(deleted_at=utcnow())
    )


async def removed(session: AsyncSession, limit: int) -> list[Attachment]:
    rows = await session.scalars(
        select(Attachment)
        .where(Attachment.deleted_at.is_not(None))
        .order_by(Attachment.id)
        .limit(limit)
    )
    return list(rows)


async def forget(session: AsyncSession, ids: Sequence[int]) -> None:
    await session.execute(delete(Attachment).where(Attachment.id.in_(list(ids))))

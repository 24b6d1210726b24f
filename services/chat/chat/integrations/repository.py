"""Queries for context-bound conversations and their system messages."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Conversation, Message


async def by_context(
    session: AsyncSession, context_type: str, context_id: str, *, lock: bool = False
) -> Conversation | None:
    """The conversation bound to the context; `lock` serialises changes to its participants."""
    query = select(Conversation).where(
        Conversation.context_type == context_type, Conversation.context_id == context_id
    )
    if lock:
        query = query.with_for_update()  # a no-op on SQLite, which has one writer anyway
    return await session.scalar(query.execution_options(populate_existing=True))


async def system_message_by_key(
    session: AsyncSession, conversation_id: int, idempotency_key: str
) -> Message | None:
    return await session.scalar(
        select(Message).where(
            Message.conversation_id == conversation_id,
            Message.sender_id.is_(None),
            Message.client_msg_id == idempotency_key,
        )
    )

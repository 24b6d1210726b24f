"""Conversation rows to PROTOCOL.md's conversation object, batched for lists."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.schemas import (
    ContextRead,
    ConversationRead,
    LastMessage,
    MemberRef,
    MemberUser,
)

from ..models import Conversation
from . import repository as repo


def context_of(conversation: Conversation) -> ContextRead | None:
    if conversation.context_type is None or conversation.context_id is None:
        return None
    return ContextRead(
        type=conversation.context_type,
        id=conversation.context_id,
        metadata=conversation.context_metadata or {},
    )


async def to_reads(
    session: AsyncSession, conversations: Sequence[Conversation], viewer_id: int | None
) -> list[ConversationRead]:
    ids = [c.id for c in conversations]
    members = await repo.members_of_many(session, ids)
    last = await repo.last_messages(session, conversations)
    unread = await repo.unread_counts(session, viewer_id, ids) if viewer_id is not None else {}
    out = []
    for c in conversations:
        rows = members.get(c.id, [])
        message = last.get(c.id)
        out.append(
            ConversationRead(
                id=c.id,
                name=c.name,
                type=c.type,
                private_pair_key=c.private_pair_key,
                member_ids=sorted(m.user_id for m, _ in rows),
                members=[
                    MemberRef(
                        user=MemberUser(id=u.id, username=u.username, avatar_url=u.avatar_url),
                        role=m.role,
                    )
                    for m, u in rows
                ],
                last_message=LastMessage(
                    id=message.id,
                    seq=message.seq,
                    content="" if message.deleted else message.content,
                    sender_id=message.sender_id,
                    created_at=message.created_at,
                    type=message.type,
                    deleted=message.deleted,
                )
                if message
                else None,
                unread_count=unread.get(c.id, 0),
                last_seq=c.last_seq,
                created_at=c.created_at,
                settings=c.settings if c.type == "group" else {},
                context=context_of(c),
                avatar_url=c.avatar_url,
            )
        )
    return out


async def to_read(
    session: AsyncSession, conversation: Conversation, viewer_id: int | None
) -> ConversationRead:
    return (await to_reads(session, [conversation], viewer_id))[0]

"""Message rows to PROTOCOL.md's message object."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.schemas import AttachmentRead, MessageRead

from ..attachments import repository as attachment_repo
from ..attachments import views as attachment_views
from ..models import Message, Reaction


def to_read(
    message: Message,
    reactions: dict[str, list[int]] | None = None,
    attachments: list[AttachmentRead] | None = None,
) -> MessageRead:
    return MessageRead(
        id=message.id,
        conversation_id=message.conversation_id,
        seq=message.seq,
        sender_id=message.sender_id,
        sender_username=message.sender_username,
        content="" if message.deleted else message.content,
        type=message.type,
        client_msg_id=message.client_msg_id,
        reply_to=message.reply_to,
        mentions=list(message.mentions or []),
        attachments=attachments or [],
        reactions=reactions or {},
        created_at=message.created_at,
        edited_at=message.edited_at,
        deleted=message.deleted,
        kind=message.kind,
        metadata=message.extra,
    )


async def to_reads(session: AsyncSession, messages: Sequence[Message]) -> list[MessageRead]:
    ids = [m.id for m in messages]
    by_message: dict[int, dict[str, list[int]]] = {i: {} for i in ids}
    if ids:
        rows = await session.execute(
            select(Reaction.message_id, Reaction.emoji, Reaction.user_id)
            .where(Reaction.message_id.in_(ids))
            .order_by(Reaction.message_id, Reaction.emoji, Reaction.user_id)
        )
        for message_id, emoji, user_id in rows:
            by_message[message_id].setdefault(emoji, []).append(user_id)
    files: dict[int, list[AttachmentRead]] = {}
    for row in await attachment_repo.of_messages(session, ids):
        assert row.message_id is not None
        files.setdefault(row.message_id, []).append(attachment_views.to_read(row))
    return [to_read(m, by_message[m.id], files.get(m.id)) for m in messages]


async def to_read_one(session: AsyncSession, message: Message) -> MessageRead:
    return (await to_reads(session, [message]))[0]

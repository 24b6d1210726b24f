"""Chat's part of a data export (`export.requested`, issue 17; auth's exports.py has the whole
design): the user's friends, the conversations they are or were in, and every message they sent,
stored as JSON under `exports/<export_id>/chat.json`; then `export.contributed`.

The part is written to storage before the transaction that records export.contributed commits;
a redelivered request writes the same key again, so nothing is left half done."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from parley_common.events import Envelope, ExportContributed, ExportRequested
from parley_common.storage import Storage

from .. import publish
from ..deps import Ctx
from ..friends import repository as friend_repo
from ..models import Attachment, Conversation, Member, Message, User

SERVICE = "chat"


def part_key(export_id: int) -> str:
    return f"exports/{export_id}/{SERVICE}.json"


async def on_export_requested(ctx: Ctx, env: Envelope) -> None:
    e = env.parse(ExportRequested)
    user = await ctx.session.get(User, e.user_id)
    if user is None or user.deleted_at is not None:
        return
    part = await gather(ctx, e.user_id)
    await store(ctx.storage, e.export_id, part)
    contributed = ExportContributed(
        export_id=e.export_id, user_id=e.user_id, service=SERVICE, storage_key=part_key(e.export_id)
    )
    await publish.to_services(ctx.session, ctx.outbox, contributed)


async def store(storage: Storage, export_id: int, part: dict[str, Any]) -> None:
    data = json.dumps(part, ensure_ascii=False, default=str).encode()
    await storage.put(part_key(export_id), data, "application/json")


async def gather(ctx: Ctx, user_id: int) -> dict[str, Any]:
    session = ctx.session
    friends = [
        {"id": u.id, "username": u.username} for u in await friend_repo.friends(session, user_id)
    ]
    rows = await session.execute(
        select(Member, Conversation)
        .join(Conversation, Conversation.id == Member.conversation_id)
        .where(Member.user_id == user_id)
        .order_by(Conversation.id)
    )
    conversations = []
    for member, conversation in rows:
        others = await session.execute(
            select(User.id, User.username)
            .join(Member, Member.user_id == User.id)
            .where(Member.conversation_id == conversation.id, Member.left_at.is_(None))
            .order_by(User.id)
        )
        conversations.append(
            {
                "id": conversation.id,
                "type": conversation.type,
                "name": conversation.name,
                "role": member.role,
                "joined_at": member.joined_at,
                "left_at": member.left_at,
                "members": [{"id": i, "username": name} for i, name in others],
            }
        )
    attachments: dict[int, list[dict[str, Any]]] = {}
    for a in await session.scalars(
        select(Attachment)
        .where(Attachment.uploader_id == user_id, Attachment.message_id.is_not(None))
        .order_by(Attachment.message_id, Attachment.position)
    ):
        assert a.message_id is not None
        attachments.setdefault(a.message_id, []).append(
            {"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size}
        )
    messages = [
        {
            "id": m.id,
            "conversation_id": m.conversation_id,
            "seq": m.seq,
            "type": m.type,
            "content": m.content,
            "reply_to": m.reply_to,
            "created_at": m.created_at,
            "edited_at": m.edited_at,
            "deleted": m.deleted,
            "attachments": attachments.get(m.id, []),
        }
        for m in await session.scalars(
            select(Message).where(Message.sender_id == user_id).order_by(Message.id)
        )
    ]
    return {"friends": friends, "conversations": conversations, "messages": messages}

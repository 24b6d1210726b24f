"""Read and delivered cursors: monotonic per member; a move publishes receipt.updated."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import utcnow
from parley_common.events import ReceiptUpdated

from .. import publish
from ..deps import Ctx
from ..errors import ConversationAccessDenied
from ..models import Conversation, Member
from . import repository as repo


class ReceiptRead(BaseModel):
    conversation_id: int
    user_id: int
    last_read_seq: int
    read_at: datetime | None
    last_delivered_seq: int
    delivered_at: datetime | None


def _read(member: Member) -> ReceiptRead:
    return ReceiptRead(
        conversation_id=member.conversation_id,
        user_id=member.user_id,
        last_read_seq=member.last_read_seq,
        read_at=member.read_at,
        last_delivered_seq=member.last_delivered_seq,
        delivered_at=member.delivered_at,
    )


async def move(
    ctx: Ctx, *, conversation_id: int, seq: int, kind: Literal["read", "delivered"]
) -> ReceiptRead:
    session = ctx.session
    member = await repo.active_member(session, conversation_id, ctx.user_id)
    if member is None:
        raise ConversationAccessDenied()
    last_seq = await session.scalar(
        select(Conversation.last_seq).where(Conversation.id == conversation_id)
    )
    seq = min(seq, int(last_seq or 0))
    column = Member.last_read_seq if kind == "read" else Member.last_delivered_seq
    at_column = "read_at" if kind == "read" else "delivered_at"
    now = utcnow()
    # A conditional UPDATE keeps the cursor monotonic even under concurrent moves.
    values: dict[str, object] = {column.key: seq, at_column: now}
    moved = await session.execute(
        update(Member).where(Member.id == member.id, column < seq).values(**values)
    )
    if moved.rowcount:  # type: ignore[attr-defined]
        event = ReceiptUpdated(
            conversation_id=conversation_id, user_id=ctx.user_id, kind=kind, seq=seq, at=now
        )
        await publish.to_conversation(session, ctx.outbox, conversation_id, event)
    await session.refresh(member)
    return _read(member)


async def list_for(ctx: Ctx, *, conversation_id: int) -> list[ReceiptRead]:
    if await repo.active_member(ctx.session, conversation_id, ctx.user_id) is None:
        raise ConversationAccessDenied()
    return [_read(m) for m, _ in await repo.active_members(ctx.session, conversation_id)]


async def unread(session: AsyncSession, user_id: int) -> dict[str, object]:
    counts = await repo.unread_counts(session, user_id)
    return {
        "total": sum(counts.values()),
        "by_conversation": {str(k): v for k, v in sorted(counts.items())},
    }

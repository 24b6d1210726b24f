"""Writing to a user rather than to a conversation: the sender's direct conversation with
them, opened on first use exactly as `POST /conversations` would (issue 17)."""

from __future__ import annotations

from parley_common.db import unit_of_work

from ..conversations import service as conversations
from ..deps import Ctx
from ..runtime import ChatRuntime


async def conversation_with(rt: ChatRuntime, sender_id: int, recipient_id: int) -> int:
    """The conversation's id; its creation (and conversation.created) is committed first, so
    the message that follows is in a conversation everyone can already see."""
    async with unit_of_work(rt.sessionmaker) as session:
        parts = rt.parts
        ctx = Ctx(session, sender_id, rt.settings, rt.outbox, parts.storage, parts.sweeper)
        conversation = await conversations.create_direct(ctx, member_user_ids=[recipient_id])
    return conversation.id

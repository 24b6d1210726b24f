"""DELETE /conversations/{id} (issue 17): a direct chat is hidden from the caller's list until
a new message arrives (the other side keeps it); a group is deleted for everyone by its admin,
its messages erased and their attachments removed from storage."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from parley_common.db import utcnow
from parley_common.errors import Forbidden
from parley_common.events import ConversationDeleted
from parley_common.schemas import UserRef

from .. import publish
from ..deps import Ctx
from ..errors import ConversationNotFound
from ..models import Attachment, Conversation, Member, Message, Reaction
from ..users import get as get_user
from . import repository as repo


async def hide_or_delete(ctx: Ctx, *, conversation_id: int) -> None:
    conversation = await repo.get(ctx.session, conversation_id)
    member = await repo.active_member(ctx.session, conversation_id, ctx.user_id)
    if conversation is None or member is None:
        raise ConversationNotFound()
    if conversation.type == "direct":
        member.hidden_seq = conversation.last_seq
        return
    if member.role != "admin":
        raise Forbidden("Only admins can delete the group", code="not_admin")
    await _delete_group(ctx, conversation)


async def _delete_group(ctx: Ctx, conversation: Conversation) -> None:
    session, cid = ctx.session, conversation.id
    member_ids = await repo.active_member_ids(session, cid)
    me = await get_user(session, ctx.user_id)
    # Told first, on the conversation's key, while every member's gateway still listens to it.
    event = ConversationDeleted(
        conversation_id=cid,
        deleted_by=UserRef(id=ctx.user_id, username=me.username if me else ""),
        member_ids=list(member_ids),
    )
    await publish.to_conversation(session, ctx.outbox, cid, event)
    now = utcnow()
    messages = select(Message.id).where(Message.conversation_id == cid)
    removed = await session.execute(
        update(Attachment)
        .where(Attachment.message_id.in_(messages), Attachment.deleted_at.is_(None))
        .values(deleted_at=now)
    )
    if getattr(removed, "rowcount", 0):
        ctx.sweeper.wake_after_commit(session)  # the stored files go
    await session.execute(delete(Reaction).where(Reaction.message_id.in_(messages)))
    await session.execute(
        update(Message)
        .where(Message.conversation_id == cid)
        .values(deleted=True, content="", edited_at=now)
    )
    await session.execute(
        update(Member)
        .where(Member.conversation_id == cid, Member.left_at.is_(None))
        .values(left_at=now, left_seq=conversation.last_seq)
    )

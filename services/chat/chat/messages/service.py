"""Sending, editing, deleting, reacting to and reading messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import utcnow
from parley_common.events import (
    MessageDeleted,
    MessageEdited,
    ReactionUpdated,
)
from parley_common.frame_base import MAX_ATTACHMENTS
from parley_common.outbox import Outbox
from parley_common.schemas import MessageRead

from .. import publish
from ..attachments import repository as attachment_repo
from ..conversations import repository as conv_repo
from ..deps import Ctx
from ..errors import (
    BadRequest,
    ConversationAccessDenied,
    Forbidden,
    MessageNotFound,
    MessagingBlocked,
    ValidationFailed,
)
from ..friends import repository as friend_repo
from ..models import Message
from . import repository as repo
from . import views
from .sending import SendBatcher, SendRequest, mentions_in
from .writes import Draft, write_txn


def check_content(ctx: Ctx, content: str | None) -> str:
    """1..max characters after trimming; the content itself is stored as given."""
    return checked_content(content, ctx.settings.max_message_length)


def checked_content(content: str | None, max_length: int, *, allow_empty: bool = False) -> str:
    """`allow_empty`: the message carries attachments, so no text is needed."""
    if allow_empty and not (content or "").strip():
        return content or ""
    if content is None or not content.strip():
        raise ValidationFailed("content", "Message content must not be empty", content)
    if len(content.strip()) > max_length:
        raise ValidationFailed(
            "content", f"Message content must be at most {max_length} characters", None
        )
    return content


def check_attachment_ids(attachment_ids: Sequence[int]) -> None:
    if len(attachment_ids) > MAX_ATTACHMENTS:
        raise BadRequest(
            f"A message carries at most {MAX_ATTACHMENTS} attachments", code="too_many_attachments"
        )
    if len(set(attachment_ids)) != len(attachment_ids):
        raise BadRequest("attachment_ids must not repeat an id", code="bad_request")


@dataclass(slots=True)
class Access:
    """The caller's view of a conversation: their membership and the current members."""

    conversation_type: str
    member_ids: list[int]
    usernames: dict[str, int]  # casefolded username -> id, current members
    my_username: str


async def require_member(session: AsyncSession, conversation_id: int, user_id: int) -> Access:
    """404 `Conversation not found or access denied` unless the user is a current member."""
    rows = await conv_repo.active_member_rows(session, conversation_id)
    mine = next((r for r in rows if r.user_id == user_id), None)
    if mine is None:
        raise ConversationAccessDenied()
    return Access(
        conversation_type=mine.type,
        member_ids=sorted(r.user_id for r in rows),
        usernames={r.username_key: r.user_id for r in rows},
        my_username=mine.username,
    )


async def check_not_blocked(session: AsyncSession, access: Access, user_id: int) -> None:
    """In a direct chat, a block either way stops messaging (403 `You cannot message this user`)."""
    if access.conversation_type != "direct":
        return
    others = [m for m in access.member_ids if m != user_id]
    if others and await friend_repo.blocked_among(session, user_id, others):
        raise MessagingBlocked()


async def send(
    batcher: SendBatcher,
    *,
    sender_id: int,
    max_length: int,
    conversation_id: int | None,
    content: str | None,
    client_msg_id: str | None,
    reply_to: int | None,
    attachment_ids: Sequence[int] = (),
) -> MessageRead:
    """A user's send (checked and written in a batch with the sends arriving meanwhile)."""
    if conversation_id is None:
        raise BadRequest("conversation_id is required")
    check_attachment_ids(attachment_ids)
    content = checked_content(content, max_length, allow_empty=bool(attachment_ids))
    return await batcher.send(
        SendRequest(
            sender_id=sender_id,
            conversation_id=conversation_id,
            content=content,
            client_msg_id=client_msg_id or None,
            reply_to=reply_to,
            attachment_ids=tuple(attachment_ids),
        )
    )


async def post_system(
    session: AsyncSession,
    outbox: Outbox,
    conversation_id: int,
    content: str,
    *,
    kind: str | None = None,
    metadata: dict[str, Any] | None = None,
    client_msg_id: str | None = None,
) -> MessageRead:
    """A `type: "system"` message (member added, renamed, a host's payment card, ...), sequenced
    like any other. A `client_msg_id` is unique among a conversation's system messages."""
    draft = Draft(
        conversation_id=conversation_id,
        sender_id=None,
        sender_username="system",
        content=content,
        type="system",
        member_ids=await conv_repo.active_member_ids(session, conversation_id),
        kind=kind,
        metadata=metadata,
        client_msg_id=client_msg_id,
    )
    (read,) = await write_txn(session, outbox, [draft])
    return read


async def _own_visible(ctx: Ctx, message_id: int) -> tuple[Message, Access]:
    message = await repo.get(ctx.session, message_id)
    if message is None:
        raise MessageNotFound()
    try:
        access = await require_member(ctx.session, message.conversation_id, ctx.user_id)
    except ConversationAccessDenied:
        raise MessageNotFound()
    return message, access


async def get_one(ctx: Ctx, *, message_id: int) -> MessageRead:
    message, _ = await _own_visible(ctx, message_id)
    return await views.to_read_one(ctx.session, message)


async def edit(ctx: Ctx, *, message_id: int, content: str | None) -> MessageRead:
    content = check_content(ctx, content)
    message, access = await _own_visible(ctx, message_id)
    if message.sender_id != ctx.user_id:
        raise Forbidden("You can only edit your own messages", code="not_sender")
    if message.deleted:
        raise BadRequest("Cannot edit a deleted message", code="message_deleted")
    await check_not_blocked(ctx.session, access, ctx.user_id)
    message.content = content
    message.mentions = mentions_in(content, access.usernames)
    message.edited_at = utcnow()
    await ctx.session.flush()
    read = await views.to_read_one(ctx.session, message)
    await publish.to_conversation(
        ctx.session, ctx.outbox, message.conversation_id, MessageEdited(message=read)
    )
    return read


async def delete(ctx: Ctx, *, message_id: int) -> None:
    message, _ = await _own_visible(ctx, message_id)
    if message.sender_id != ctx.user_id:
        raise Forbidden("You can only delete your own messages", code="not_sender")
    if message.deleted:
        return
    message.deleted, message.content, message.edited_at = True, "", utcnow()
    await ctx.session.flush()
    if await attachment_repo.remove_with_message(ctx.session, message.id):
        ctx.sweeper.wake_after_commit(ctx.session)
    event = MessageDeleted(
        conversation_id=message.conversation_id, message_id=message.id, seq=message.seq
    )
    await publish.to_conversation(ctx.session, ctx.outbox, message.conversation_id, event)


async def react(ctx: Ctx, *, message_id: int, emoji: str, add: bool) -> MessageRead:
    if not emoji or len(emoji) > 32:
        raise BadRequest("Invalid emoji", code="invalid_emoji")
    message, access = await _own_visible(ctx, message_id)
    if message.deleted:
        raise BadRequest("Cannot react to a deleted message", code="message_deleted")
    await check_not_blocked(ctx.session, access, ctx.user_id)
    if add:
        await repo.add_reaction(ctx.session, message.id, ctx.user_id, emoji)
    else:
        await repo.remove_reaction(ctx.session, message.id, ctx.user_id, emoji)
    read = await views.to_read_one(ctx.session, message)
    await publish.to_conversation(
        ctx.session, ctx.outbox, message.conversation_id, ReactionUpdated(message=read)
    )
    return read


async def page_by_offset(
    ctx: Ctx, *, conversation_id: int, skip: int, limit: int
) -> list[MessageRead]:
    await require_member(ctx.session, conversation_id, ctx.user_id)
    rows = await repo.page_by_offset(ctx.session, conversation_id, skip=skip, limit=limit)
    return await views.to_reads(ctx.session, rows)


async def page_by_seq(
    ctx: Ctx, *, conversation_id: int, before_seq: int | None, after_seq: int | None, limit: int
) -> list[MessageRead]:
    await require_member(ctx.session, conversation_id, ctx.user_id)
    rows = await repo.page_by_seq(
        ctx.session, conversation_id, before_seq=before_seq, after_seq=after_seq, limit=limit
    )
    return await views.to_reads(ctx.session, rows)


async def search(ctx: Ctx, *, q: str, conversation_id: int | None, limit: int) -> list[MessageRead]:
    if conversation_id is not None:
        await require_member(ctx.session, conversation_id, ctx.user_id)
    rows = await repo.search(
        ctx.session, ctx.user_id, q, conversation_id=conversation_id, limit=limit
    )
    return await views.to_reads(ctx.session, rows)


async def visible_after(
    session: AsyncSession, *, conversation_id: int, user_id: int, after_seq: int, limit: int
) -> list[MessageRead]:
    """For the gateway's resume: what the user may see after `after_seq` (up to their removal)."""
    member = await conv_repo.membership(session, conversation_id, user_id)
    if member is None:
        raise ConversationAccessDenied()
    rows = await repo.page_by_seq(
        session,
        conversation_id,
        before_seq=None,
        after_seq=after_seq,
        limit=limit,
        max_seq=member.left_seq if member.left_at is not None else None,
    )
    return await views.to_reads(session, rows)

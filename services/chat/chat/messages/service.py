"""Sending, editing, deleting, reacting to and reading messages."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import utcnow
from parley_common.events import (
    MessageCreated,
    MessageDeleted,
    MessageEdited,
    ReactionUpdated,
    conv_key,
    envelope,
)
from parley_common.outbox import Outbox
from parley_common.schemas import MessageRead

from .. import publish
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
from ..metrics import MESSAGES_SENT
from ..models import Message
from . import repository as repo
from . import views

MENTION = re.compile(r"@([\w.\-]+)")


def check_content(ctx: Ctx, content: str | None) -> str:
    """1..max characters after trimming; the content itself is stored as given."""
    if content is None or not content.strip():
        raise ValidationFailed("content", "Message content must not be empty", content)
    if len(content.strip()) > ctx.settings.max_message_length:
        raise ValidationFailed(
            "content",
            f"Message content must be at most {ctx.settings.max_message_length} characters",
            None,
        )
    return content


def mentions_in(content: str, usernames: dict[str, int]) -> list[int]:
    found = {usernames[m.casefold()] for m in MENTION.findall(content) if m.casefold() in usernames}
    return sorted(found)


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
    ctx: Ctx,
    *,
    conversation_id: int | None,
    content: str | None,
    client_msg_id: str | None,
    reply_to: int | None,
) -> MessageRead:
    if conversation_id is None:
        raise BadRequest("conversation_id is required")
    content = check_content(ctx, content)
    session = ctx.session
    if _postgresql(session):
        return await _send_pg(
            ctx,
            conversation_id=conversation_id,
            content=content,
            client_msg_id=client_msg_id,
            reply_to=reply_to,
        )
    access = await require_member(session, conversation_id, ctx.user_id)
    await check_not_blocked(session, access, ctx.user_id)
    if client_msg_id:
        existing = await repo.by_client_msg_id(session, conversation_id, ctx.user_id, client_msg_id)
        if existing is not None:
            return await views.to_read_one(session, existing)
    if reply_to is not None and not await repo.exists_in(session, conversation_id, reply_to):
        raise BadRequest("Reply target not found in this conversation", code="reply_not_found")
    mentions = mentions_in(content, access.usernames) if "@" in content else []
    values = {
        "conversation_id": conversation_id,
        "sender_id": ctx.user_id,
        "sender_username": access.my_username,
        "content": content,
        "type": "text",
        "client_msg_id": client_msg_id or None,
        "reply_to": reply_to,
        "mentions": mentions,
    }
    if client_msg_id:
        try:
            async with session.begin_nested():
                read = await _insert(session, values)
        except IntegrityError:
            # A concurrent retry with the same client_msg_id won; answer with its message.
            existing = await repo.by_client_msg_id(
                session, conversation_id, ctx.user_id, client_msg_id
            )
            if existing is None:
                raise
            return await views.to_read_one(session, existing)
    else:
        read = await _insert(session, values)
    await publish.to_conversation(
        session,
        ctx.outbox,
        conversation_id,
        MessageCreated(message=read, member_ids=access.member_ids),
    )
    MESSAGES_SENT.inc()
    return read


async def _insert(session: AsyncSession, values: dict[str, Any]) -> MessageRead:
    """Take the next seq and insert, in this transaction (Core statements: the hot path)."""
    seq = await conv_repo.next_seq(session, values["conversation_id"])
    row = {**values, "seq": seq, "created_at": utcnow(), "deleted": False}
    message_id = await session.scalar(
        insert(Message.__table__).values(row).returning(Message.__table__.c.id)
    )
    assert message_id is not None
    return MessageRead(id=message_id, **row)


def _postgresql(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


# Stand-ins for the id and seq in the event payload, replaced by the statement that assigns them.
_ID_MARK = -7_301_934_655_843
_SEQ_MARK = -7_301_934_655_844

# The send path on PostgreSQL is plain SQL through the session's connection (same transaction,
# prepared and cached per connection by asyncpg): building, cache-keying and compiling the
# SQLAlchemy statements cost more CPU per send than everything else in chat together.
_SEND_ACCESS_SQL = """
SELECT m.user_id, u.username, u.username_key, c.type,
       (SELECT x.id FROM messages x
         WHERE x.conversation_id = $1::bigint AND x.sender_id = $2::bigint
           AND x.client_msg_id = $3::varchar) AS existing_id
FROM conversation_members m
JOIN users u ON u.id = m.user_id
JOIN conversations c ON c.id = m.conversation_id
WHERE m.conversation_id = $1::bigint AND m.left_at IS NULL
"""

# Seq bump, message and its outbox row in ONE statement: the conversation row lock (taken by the
# bump, held until commit) is held for one round trip plus the commit, instead of five
# (savepoint, update, insert, release, outbox insert).
_SEND_INSERT_SQL = """
WITH next_seq AS (
    UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = $1::timestamptz
    WHERE id = $2::bigint
    RETURNING last_seq
), new_message AS (
    INSERT INTO messages (conversation_id, seq, sender_id, sender_username, content, type,
                          client_msg_id, reply_to, mentions, created_at, deleted)
    SELECT $2::bigint, next_seq.last_seq, $3::bigint, $4::varchar, $5::text, 'text',
           $6::varchar, $7::bigint, $8::json, $1::timestamptz, false
    FROM next_seq
    RETURNING id, seq
), new_outbox AS (
    INSERT INTO outbox (event_id, event_type, routing_key, payload, created_at, available_at,
                        attempts)
    SELECT $9::uuid, $10::varchar, $11::varchar,
           replace(replace($12::text, $13::text, '"id":' || new_message.id),
                   $14::text, '"seq":' || new_message.seq),
           $1::timestamptz, $1::timestamptz, 0
    FROM new_message
)
SELECT id, seq FROM new_message
"""


async def _send_pg(
    ctx: Ctx,
    *,
    conversation_id: int,
    content: str,
    client_msg_id: str | None,
    reply_to: int | None,
) -> MessageRead:
    """`send` on PostgreSQL: the same checks, answers and writes in two statements (plus commit)."""
    session = ctx.session
    conn = await session.connection()
    rows: list[Any] = list(
        await conn.exec_driver_sql(
            _SEND_ACCESS_SQL, (conversation_id, ctx.user_id, client_msg_id or None)
        )
    )
    mine = next((r for r in rows if r[0] == ctx.user_id), None)
    if mine is None:
        raise ConversationAccessDenied()
    access = Access(
        conversation_type=mine[3],
        member_ids=sorted(r[0] for r in rows),
        usernames={r[2]: r[0] for r in rows},
        my_username=mine[1],
    )
    await check_not_blocked(session, access, ctx.user_id)
    if client_msg_id and mine[4] is not None:
        existing = await repo.get(session, mine[4])
        assert existing is not None
        return await views.to_read_one(session, existing)
    if reply_to is not None and not await repo.exists_in(session, conversation_id, reply_to):
        raise BadRequest("Reply target not found in this conversation", code="reply_not_found")
    mentions = mentions_in(content, access.usernames) if "@" in content else []
    values: dict[str, Any] = {
        "conversation_id": conversation_id,
        "sender_id": ctx.user_id,
        "sender_username": access.my_username,
        "content": content,
        "type": "text",
        "client_msg_id": client_msg_id or None,
        "reply_to": reply_to,
        "mentions": mentions,
    }
    now = utcnow()
    template = MessageRead(id=_ID_MARK, seq=_SEQ_MARK, created_at=now, deleted=False, **values)
    env = envelope(
        MessageCreated(message=template, member_ids=access.member_ids),
        producer=publish.PRODUCER,
        event_id=uuid.uuid4(),
    )
    payload = env.model_dump_json()
    id_mark, seq_mark = f'"id":{_ID_MARK}', f'"seq":{_SEQ_MARK}'
    if payload.count(id_mark) != 1 or payload.count(seq_mark) != 1:  # pragma: no cover
        raise RuntimeError("cannot place id and seq in the message.created payload")
    params = (
        now,
        conversation_id,
        ctx.user_id,
        access.my_username,
        content,
        values["client_msg_id"],
        reply_to,
        json.dumps(mentions),
        env.id,
        env.type,
        conv_key(conversation_id, env.type),
        payload,
        id_mark,
        seq_mark,
    )
    try:
        created: Any = (await conn.exec_driver_sql(_SEND_INSERT_SQL, params)).one()
    except IntegrityError:
        if not client_msg_id:
            raise
        # A concurrent retry with the same client_msg_id won; answer with its message. Nothing
        # of ours is written before this statement, so rolling back undoes exactly what the
        # generic path's savepoint does (the seq bump).
        await session.rollback()
        existing = await repo.by_client_msg_id(session, conversation_id, ctx.user_id, client_msg_id)
        if existing is None:
            raise
        return await views.to_read_one(session, existing)
    ctx.outbox.wake_after_commit(session)
    MESSAGES_SENT.inc()
    return MessageRead(id=created[0], seq=created[1], created_at=now, deleted=False, **values)


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
    values: dict[str, Any] = {
        "conversation_id": conversation_id,
        "sender_id": None,
        "sender_username": "system",
        "content": content,
        "type": "system",
        "mentions": [],
        "kind": kind,
        "metadata": metadata,
        "client_msg_id": client_msg_id,
    }
    read = await _insert(session, values)
    member_ids = await conv_repo.active_member_ids(session, conversation_id)
    await publish.to_conversation(
        session, outbox, conversation_id, MessageCreated(message=read, member_ids=member_ids)
    )
    MESSAGES_SENT.inc()
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


async def edit(ctx: Ctx, *, message_id: int, content: str | None) -> MessageRead:
    content = check_content(ctx, content)
    message, access = await _own_visible(ctx, message_id)
    if message.sender_id != ctx.user_id:
        raise Forbidden("You can only edit your own messages", code="not_sender")
    if message.deleted:
        raise BadRequest("Cannot edit a deleted message", code="message_deleted")
    await check_not_blocked(ctx.session, access, ctx.user_id)
    message.content = content
    message.mentions = mentions_in(content, access.usernames) if "@" in content else []
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

"""The send path's statements: what a batch of sends reads (under the conversations' locks)
and how its messages and their events are written. PostgreSQL and SQLite side by side.

On PostgreSQL a batch is four round trips whatever its size: BEGIN, one statement that locks
the conversations and reads everything the checks need (plus the new message ids), one that
writes the messages, the conversations' last seq and the outbox rows, COMMIT. They are plain
SQL on the session's asyncpg connection (same transaction; asyncpg prepares each statement
once per connection): building and compiling SQLAlchemy statements cost more CPU than the
rest of a send. SQLite (the embedded mode) runs the same reads and writes as Core statements.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.events import Envelope
from parley_common.outbox import Outbox

from ..models import Block, Conversation, Member, Message, User

MESSAGES = Message.__table__
CONVERSATIONS = Conversation.__table__

#: (sender id, conversation id, client_msg_id, reply_to) of one send.
SendKey = tuple[int, int, str | None, int | None]


@dataclass(frozen=True, slots=True)
class LockedConversation:
    id: int
    type: str
    last_seq: int


@dataclass(slots=True)
class SendReads:
    """What the checks of a batch need, read with the conversations locked."""

    conversations: dict[int, LockedConversation] = field(default_factory=dict)
    #: conversation → current members (user id, username, casefolded username)
    rosters: dict[int, list[tuple[int, str, str]]] = field(default_factory=dict)
    #: (conversation, sender, client_msg_id) → the message a retried send created before
    sent_before: dict[tuple[int, int, str], int] = field(default_factory=dict)
    #: (sender, conversation) of sends into a direct chat with a block either way
    blocked: set[tuple[int, int]] = field(default_factory=set)
    #: message id → its conversation, for the sends' reply targets
    reply_conversations: dict[int, int] = field(default_factory=dict)
    #: new message ids, one per send, increasing
    ids: list[int] = field(default_factory=list)


def _postgresql(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


async def _execute(session: AsyncSession, sql: str, *params: Any) -> Any:
    """Plain SQL with asyncpg's $n parameters in the session's transaction (SQLAlchemy sends
    the BEGIN before the first statement and turns driver errors into its own)."""
    connection = await session.connection()
    return await connection.exec_driver_sql(sql, params)


# --- reading -----------------------------------------------------------------------------------

_READ_PG = """
WITH req AS (
    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::varchar[], $4::bigint[])
        AS r(sender_id, conversation_id, client_msg_id, reply_to)
), locked AS (
    SELECT id, type, last_seq FROM conversations
    WHERE id IN (SELECT conversation_id FROM req) ORDER BY id FOR UPDATE
)
SELECT
    (SELECT json_agg(json_build_array(id, type, last_seq)) FROM locked),
    (SELECT json_agg(json_build_array(m.conversation_id, m.user_id, u.username, u.username_key))
       FROM conversation_members m JOIN users u ON u.id = m.user_id
      WHERE m.conversation_id IN (SELECT conversation_id FROM req) AND m.left_at IS NULL),
    (SELECT json_agg(json_build_array(x.conversation_id, x.sender_id, x.client_msg_id, x.id))
       FROM messages x JOIN req ON x.conversation_id = req.conversation_id
        AND x.sender_id = req.sender_id AND x.client_msg_id = req.client_msg_id),
    (SELECT jsonb_agg(DISTINCT jsonb_build_array(req.sender_id, req.conversation_id))
       FROM req JOIN conversations c ON c.id = req.conversation_id AND c.type = 'direct'
       JOIN conversation_members m ON m.conversation_id = req.conversation_id
        AND m.left_at IS NULL AND m.user_id <> req.sender_id
       JOIN blocks b ON (b.blocker_id = req.sender_id AND b.blocked_id = m.user_id)
                     OR (b.blocker_id = m.user_id AND b.blocked_id = req.sender_id)),
    (SELECT json_agg(json_build_array(x.id, x.conversation_id)) FROM messages x
      WHERE x.id IN (SELECT reply_to FROM req)),
    (SELECT array_agg(nextval(pg_get_serial_sequence('messages', 'id')))
       FROM generate_series(1, $5::int))
"""


async def read_for_send(session: AsyncSession, sends: Sequence[SendKey]) -> SendReads:
    """Lock the sends' conversations (until commit: their last seq is ours to advance) and
    read what their checks need; reserve one message id per send."""
    if not sends:
        return SendReads()
    if not _postgresql(session):
        return await _read_for_send_sqlite(session, sends)
    row = (
        await _execute(
            session,
            _READ_PG,
            [s[0] for s in sends],
            [s[1] for s in sends],
            [s[2] for s in sends],
            [s[3] for s in sends],
            len(sends),
        )
    ).one()
    reads = SendReads(ids=sorted(row[5] or []))

    def rows(value: Any) -> list[Any]:
        # SQLAlchemy's asyncpg dialect installs JSON codecs: the aggregates arrive decoded.
        if isinstance(value, str | bytes):
            return list(orjson.loads(value))
        return list(value or [])

    for cid, type_, last_seq in rows(row[0]):
        reads.conversations[cid] = LockedConversation(cid, type_, last_seq)
        reads.rosters[cid] = []
    for cid, uid, username, key in rows(row[1]):
        reads.rosters[cid].append((uid, username, key))
    for cid, sender, cmid, message_id in rows(row[2]):
        reads.sent_before[(cid, sender, cmid)] = message_id
    reads.blocked = {(sender, cid) for sender, cid in rows(row[3])}
    reads.reply_conversations = {mid: cid for mid, cid in rows(row[4])}
    return reads


async def _read_for_send_sqlite(session: AsyncSession, sends: Sequence[SendKey]) -> SendReads:
    conversation_ids = {s[1] for s in sends}
    reads = SendReads(conversations=await lock_conversations(session, conversation_ids))
    reads.rosters = {cid: [] for cid in reads.conversations}
    rows = await session.execute(
        select(Member.conversation_id, Member.user_id, User.username, User.username_key)
        .join(User, User.id == Member.user_id)
        .where(Member.conversation_id.in_(list(reads.rosters)), Member.left_at.is_(None))
    )
    for cid, uid, username, key in rows:
        reads.rosters[cid].append((uid, username, key))
    keys = [(cid, sender, cmid) for sender, cid, cmid, _ in sends if cmid]
    if keys:
        found = await session.execute(
            select(
                Message.conversation_id, Message.sender_id, Message.client_msg_id, Message.id
            ).where(
                tuple_(Message.conversation_id, Message.sender_id, Message.client_msg_id).in_(keys)
            )
        )
        reads.sent_before = {(c, s, m): i for c, s, m, i in found}
    pairs = {
        (sender, uid, cid)
        for sender, cid, _, _ in sends
        if cid in reads.conversations and reads.conversations[cid].type == "direct"
        for uid, _, _ in reads.rosters[cid]
        if uid != sender
    }
    if pairs:
        both = [(a, b) for a, b, _ in pairs] + [(b, a) for a, b, _ in pairs]
        blocks = set(
            await session.execute(
                select(Block.blocker_id, Block.blocked_id).where(
                    tuple_(Block.blocker_id, Block.blocked_id).in_(both)
                )
            )
        )
        reads.blocked = {(a, cid) for a, b, cid in pairs if (a, b) in blocks or (b, a) in blocks}
    replies = {s[3] for s in sends if s[3] is not None}
    if replies:
        found = await session.execute(
            select(Message.id, Message.conversation_id).where(Message.id.in_(list(replies)))
        )
        reads.reply_conversations = {mid: cid for mid, cid in found}
    reads.ids = await reserve_message_ids(session, len(sends))
    return reads


async def lock_conversations(
    session: AsyncSession, conversation_ids: Collection[int]
) -> dict[int, LockedConversation]:
    """Lock the conversations' rows until commit and read them; missing ids are left out."""
    ids = sorted(set(conversation_ids))
    if not ids:
        return {}
    query = select(CONVERSATIONS.c.id, CONVERSATIONS.c.type, CONVERSATIONS.c.last_seq).where(
        CONVERSATIONS.c.id.in_(ids)
    )
    if _postgresql(session):
        # In id order: transactions that lock overlapping sets never wait in a circle.
        query = query.order_by(CONVERSATIONS.c.id).with_for_update()
    else:
        # SQLite has one writer at a time: the first write takes the database's write lock,
        # held until commit, so what is read after it is current.
        await session.execute(
            update(CONVERSATIONS)
            .where(CONVERSATIONS.c.id.in_(ids))
            .values(last_seq=CONVERSATIONS.c.last_seq)
        )
    rows = await session.execute(query)
    return {r.id: LockedConversation(r.id, r.type, r.last_seq) for r in rows}


async def reserve_message_ids(session: AsyncSession, n: int) -> list[int]:
    """`n` new message ids, increasing (the event payloads carry them before the insert)."""
    if n == 0:
        return []
    if _postgresql(session):
        result = await _execute(
            session,
            "SELECT array_agg(nextval(pg_get_serial_sequence('messages', 'id'))) "
            "FROM generate_series(1, $1::int)",
            n,
        )
        return sorted(result.scalar_one())
    # SQLite: the caller holds the write lock (lock_conversations); nobody inserts meanwhile.
    top = int(await session.scalar(select(func.coalesce(func.max(MESSAGES.c.id), 0))) or 0)
    return list(range(top + 1, top + 1 + n))


# --- writing -----------------------------------------------------------------------------------

_WRITE_PG = """
WITH conv AS (
    UPDATE conversations c SET last_seq = u.last_seq, last_activity_at = $1
    FROM unnest($2::bigint[], $3::bigint[]) AS u(id, last_seq) WHERE c.id = u.id
), msg AS (
    INSERT INTO messages (id, conversation_id, seq, sender_id, sender_username, content, type,
                          client_msg_id, reply_to, mentions, created_at, deleted, kind, metadata)
    SELECT id, conversation_id, seq, sender_id, sender_username, content, type, client_msg_id,
           reply_to, mentions, $1, false, kind, metadata
    FROM unnest($4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::varchar[],
                $9::text[], $10::varchar[], $11::varchar[], $12::bigint[], $13::json[],
                $14::varchar[], $15::json[])
        AS m(id, conversation_id, seq, sender_id, sender_username, content, type, client_msg_id,
             reply_to, mentions, kind, metadata)
)
INSERT INTO outbox (event_id, event_type, routing_key, payload, created_at, available_at, attempts)
SELECT event_id, event_type, routing_key, payload, $1, $1, 0
FROM unnest($16::uuid[], $17::varchar[], $18::varchar[], $19::text[])
    AS o(event_id, event_type, routing_key, payload)
"""


async def write_messages(
    session: AsyncSession,
    outbox: Outbox,
    rows: Sequence[dict[str, Any]],
    last_seqs: dict[int, int],
    events: Sequence[tuple[Envelope, str]],
    now: datetime,
) -> None:
    """Insert the messages (ids and seqs assigned), advance their conversations' last seq and
    write their events (one routing key each) to the outbox."""
    if not _postgresql(session):
        await session.execute(
            update(CONVERSATIONS)
            .where(CONVERSATIONS.c.id == bindparam("cid"))
            .values(last_seq=bindparam("seq"), last_activity_at=now),
            [{"cid": cid, "seq": seq} for cid, seq in last_seqs.items()],
        )
        await session.execute(insert(MESSAGES), list(rows))
        await outbox.add_many(session, [(env, [key]) for env, key in events])
        return
    await _execute(
        session,
        _WRITE_PG,
        now,
        list(last_seqs),
        list(last_seqs.values()),
        *(
            [r[column] for r in rows]
            for column in (
                "id",
                "conversation_id",
                "seq",
                "sender_id",
                "sender_username",
                "content",
                "type",
                "client_msg_id",
                "reply_to",
            )
        ),
        [orjson.dumps(r["mentions"]).decode() for r in rows],
        [r["kind"] for r in rows],
        [None if r["metadata"] is None else orjson.dumps(r["metadata"]).decode() for r in rows],
        [env.id if isinstance(env.id, uuid.UUID) else uuid.UUID(str(env.id)) for env, _ in events],
        [env.type for env, _ in events],
        [key for _, key in events],
        [env.model_dump_json() for env, _ in events],
    )
    outbox.wake_after_commit(session)

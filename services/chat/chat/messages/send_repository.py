"""The send path's statements: what a batch of sends reads (under the conversations' locks)
and how its messages and their events are written. PostgreSQL and SQLite side by side.

On PostgreSQL a batch is four round trips whatever its size: BEGIN, one statement that reads
everything the checks need (plus the new message ids), one that takes the conversations' row
locks, advances their last seq, gives each message its seq and writes the messages and their
outbox rows, then COMMIT. The locks are held for that one statement and the commit only: a
batch spans many conversations, and another batch touching any of them waits for it. They are
plain SQL (asyncpg prepares each statement once per connection): building and compiling SQLAlchemy statements cost more CPU than the rest of a
send. SQLite (the embedded mode, one writer at a time) runs the same reads and writes as Core
statements.

Event payloads are written before the seqs are known: each carries `SEQ_MARK` where the seq
goes, replaced in the statement that assigns it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import Table, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from parley_common.events import Envelope
from parley_common.outbox import Outbox

from ..models import Block, Conversation, Member, Message, User

MESSAGES = cast(Table, Message.__table__)
CONVERSATIONS = cast(Table, Conversation.__table__)

#: (sender id, conversation id, client_msg_id, reply_to) of one send.
SendKey = tuple[int, int, str | None, int | None]


#: Stands in for a message's seq in its event payload until the write assigns it.
SEQ_MARK = -7_301_934_655_844
SEQ_MARK_JSON = f'"seq":{SEQ_MARK}'


@dataclass(slots=True)
class SendReads:
    """What the checks of a batch need (no locks taken: the write takes them)."""

    #: conversation → its type, for the sends' conversations that exist
    conversations: dict[int, str] = field(default_factory=dict)
    #: conversation → current members (user id, username, casefolded username)
    rosters: dict[int, list[tuple[int, str, str]]] = field(default_factory=dict)
    #: (conversation, sender, client_msg_id) → the message a retried send created before
    #: (conversation, sender, client_msg_id) of earlier sends: the columns are nullable
    #: (system messages), the keys looked up never are.
    sent_before: dict[tuple[int, int | None, str | None], int] = field(default_factory=dict)
    #: (sender, conversation) of sends into a direct chat with a block either way
    blocked: set[tuple[int, int]] = field(default_factory=set)
    #: message id → its conversation, for the sends' reply targets
    reply_conversations: dict[int, int] = field(default_factory=dict)
    #: new message ids, one per send, increasing
    ids: list[int] = field(default_factory=list)


def _postgresql(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


async def _execute(conn: AsyncConnection, sql: str, *params: Any) -> Any:
    """Plain SQL with asyncpg's $n parameters (SQLAlchemy turns driver errors into its own)."""
    return await conn.exec_driver_sql(sql, params)


# --- reading -----------------------------------------------------------------------------------

# Every lookup is an index probe per key (LATERAL ... LIMIT 1, or OFFSET 0 where several rows
# match): with plain joins, the generic plan that asyncpg's prepared statement settles on,
# costed while the tables were small, hash-joined over full scans of messages (which grows with
# every send) for as long as no ANALYZE replanned it. With autovacuum off, sends slowed from
# 1,012 to 581/s within 50 s. The idempotency probe orders by its unique key: without
# statistics the planner otherwise took the (conversation_id, seq) index, which shares the
# prefix, and walked the conversation's messages.
_READ_PG = """
WITH req AS (
    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::varchar[], $4::bigint[])
        AS r(sender_id, conversation_id, client_msg_id, reply_to)
), cids AS (
    SELECT DISTINCT conversation_id AS id FROM req
), convs AS MATERIALIZED (
    SELECT c.id, c.type FROM cids CROSS JOIN LATERAL (
        SELECT id, type FROM conversations WHERE id = cids.id LIMIT 1) c
)
SELECT
    (SELECT json_agg(json_build_array(id, type)) FROM convs),
    (SELECT json_agg(json_build_array(convs.id, m.user_id, u.username, u.username_key))
       FROM convs CROSS JOIN LATERAL (
            SELECT user_id FROM conversation_members
             WHERE conversation_id = convs.id AND left_at IS NULL OFFSET 0) m
       CROSS JOIN LATERAL (
            SELECT username, username_key FROM users WHERE id = m.user_id LIMIT 1) u),
    (SELECT json_agg(json_build_array(req.conversation_id, req.sender_id, req.client_msg_id, x.id))
       FROM req CROSS JOIN LATERAL (
            SELECT id FROM messages WHERE conversation_id = req.conversation_id
               AND sender_id = req.sender_id AND client_msg_id = req.client_msg_id
             ORDER BY conversation_id, sender_id, client_msg_id LIMIT 1) x),
    (SELECT jsonb_agg(DISTINCT jsonb_build_array(req.sender_id, req.conversation_id))
       FROM req JOIN convs c ON c.id = req.conversation_id AND c.type = 'direct'
       JOIN conversation_members m ON m.conversation_id = req.conversation_id
        AND m.left_at IS NULL AND m.user_id <> req.sender_id
       JOIN blocks b ON (b.blocker_id = req.sender_id AND b.blocked_id = m.user_id)
                     OR (b.blocker_id = m.user_id AND b.blocked_id = req.sender_id)),
    (SELECT json_agg(json_build_array(x.id, x.conversation_id))
       FROM (SELECT DISTINCT reply_to FROM req WHERE reply_to IS NOT NULL) r CROSS JOIN LATERAL (
            SELECT id, conversation_id FROM messages WHERE id = r.reply_to LIMIT 1) x),
    (SELECT array_agg(nextval(pg_get_serial_sequence('messages', 'id')))
       FROM generate_series(1, $5::int))
"""


async def read_for_send(conn: AsyncConnection, sends: Sequence[SendKey]) -> SendReads:
    """Read what the sends' checks need; reserve one message id per send."""
    if not sends:
        return SendReads()
    if not _postgresql(conn):
        return await _read_for_send_sqlite(conn, sends)
    row = (
        await _execute(
            conn,
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

    for cid, type_ in rows(row[0]):
        reads.conversations[cid] = type_
        reads.rosters[cid] = []
    for cid, uid, username, key in rows(row[1]):
        reads.rosters[cid].append((uid, username, key))
    for cid, sender, cmid, message_id in rows(row[2]):
        reads.sent_before[(cid, sender, cmid)] = message_id
    reads.blocked = {(sender, cid) for sender, cid in rows(row[3])}
    reads.reply_conversations = {mid: cid for mid, cid in rows(row[4])}
    return reads


async def _read_for_send_sqlite(conn: AsyncConnection, sends: Sequence[SendKey]) -> SendReads:
    conversation_ids = list({s[1] for s in sends})
    found = await conn.execute(
        select(CONVERSATIONS.c.id, CONVERSATIONS.c.type).where(
            CONVERSATIONS.c.id.in_(conversation_ids)
        )
    )
    reads = SendReads(conversations={cid: type_ for cid, type_ in found})
    reads.rosters = {cid: [] for cid in reads.conversations}
    rows = await conn.execute(
        select(Member.conversation_id, Member.user_id, User.username, User.username_key)
        .join(User, User.id == Member.user_id)
        .where(Member.conversation_id.in_(list(reads.rosters)), Member.left_at.is_(None))
    )
    for cid, uid, username, key in rows:
        reads.rosters[cid].append((uid, username, key))
    keys = [(cid, sender, cmid) for sender, cid, cmid, _ in sends if cmid]
    if keys:
        sent = await conn.execute(
            select(
                Message.conversation_id, Message.sender_id, Message.client_msg_id, Message.id
            ).where(
                tuple_(Message.conversation_id, Message.sender_id, Message.client_msg_id).in_(keys)
            )
        )
        reads.sent_before = {(c, s, m): i for c, s, m, i in sent}
    pairs = {
        (sender, uid, cid)
        for sender, cid, _, _ in sends
        if reads.conversations.get(cid) == "direct"
        for uid, _, _ in reads.rosters[cid]
        if uid != sender
    }
    if pairs:
        both = [(a, b) for a, b, _ in pairs] + [(b, a) for a, b, _ in pairs]
        blocks = set(
            await conn.execute(
                select(Block.blocker_id, Block.blocked_id).where(
                    tuple_(Block.blocker_id, Block.blocked_id).in_(both)
                )
            )
        )
        reads.blocked = {(a, cid) for a, b, cid in pairs if (a, b) in blocks or (b, a) in blocks}
    replies = {s[3] for s in sends if s[3] is not None}
    if replies:
        found = await conn.execute(
            select(Message.id, Message.conversation_id).where(Message.id.in_(list(replies)))
        )
        reads.reply_conversations = {mid: cid for mid, cid in found}
    reads.ids = await reserve_message_ids(conn, len(sends))
    return reads


async def reserve_message_ids(conn: AsyncConnection, n: int) -> list[int]:
    """`n` new message ids, increasing (the event payloads carry them before the insert)."""
    if n == 0:
        return []
    if _postgresql(conn):
        result = await _execute(
            conn,
            "SELECT array_agg(nextval(pg_get_serial_sequence('messages', 'id'))) "
            "FROM generate_series(1, $1::int)",
            n,
        )
        return sorted(result.scalar_one())
    # SQLite has one writer at a time: take the database's write lock (held until commit)
    # with a write, then nobody else inserts meanwhile.
    await conn.execute(update(MESSAGES).where(MESSAGES.c.id == 0).values(deleted=False))
    top = int(await conn.scalar(select(func.coalesce(func.max(MESSAGES.c.id), 0))) or 0)
    return list(range(top + 1, top + 1 + n))


# --- writing -----------------------------------------------------------------------------------

_WRITE_PG = """
WITH req AS (
    SELECT * FROM unnest($2::bigint[], $3::bigint[], $4::int[], $5::bigint[], $6::varchar[],
                         $7::text[], $8::varchar[], $9::varchar[], $10::bigint[], $11::json[],
                         $12::varchar[], $13::json[], $14::uuid[], $15::varchar[], $16::varchar[],
                         $17::text[])
        AS r(id, conversation_id, ord, sender_id, sender_username, content, type, client_msg_id,
             reply_to, mentions, kind, metadata, event_id, event_type, routing_key, payload)
), counts AS (
    SELECT conversation_id, count(*) AS n FROM req GROUP BY conversation_id
), locked AS MATERIALIZED (
    -- In id order: batches that lock overlapping sets never wait on each other in a circle.
    SELECT id FROM conversations WHERE id IN (SELECT conversation_id FROM counts)
    ORDER BY id FOR UPDATE
), bumped AS (
    UPDATE conversations c SET last_seq = c.last_seq + counts.n, last_activity_at = $1
    FROM counts JOIN locked ON locked.id = counts.conversation_id
    WHERE c.id = counts.conversation_id
    RETURNING c.id, c.last_seq
), numbered AS (
    SELECT req.*, bumped.last_seq - counts.n + req.ord AS seq
    FROM req JOIN counts USING (conversation_id) JOIN bumped ON bumped.id = req.conversation_id
), msg AS (
    INSERT INTO messages (id, conversation_id, seq, sender_id, sender_username, content, type,
                          client_msg_id, reply_to, mentions, created_at, deleted, kind, metadata)
    SELECT id, conversation_id, seq, sender_id, sender_username, content, type, client_msg_id,
           reply_to, mentions, $1, false, kind, metadata
    FROM numbered
), box AS (
    INSERT INTO outbox (event_id, event_type, routing_key, payload, created_at, available_at,
                        attempts)
    SELECT event_id, event_type, routing_key, replace(payload, $18, '"seq":' || seq), $1, $1, 0
    FROM numbered
)
SELECT id, seq FROM numbered
"""


async def write_messages(
    conn: AsyncConnection,
    outbox: Outbox,
    rows: Sequence[dict[str, Any]],
    events: Sequence[tuple[Envelope, str]],
    now: datetime,
) -> list[int]:
    """Give each message (id assigned, no seq yet) the next seq of its conversation, in order,
    insert them and their events (payloads with SEQ_MARK; one routing key each); returns the
    seqs. Takes the conversations' row locks until commit."""
    if not rows:
        return []
    ords: list[int] = []
    per_conversation: dict[int, int] = {}
    for row in rows:
        per_conversation[row["conversation_id"]] = (
            per_conversation.get(row["conversation_id"], 0) + 1
        )
        ords.append(per_conversation[row["conversation_id"]])
    payloads = [env.model_dump_json() for env, _ in events]
    if not _postgresql(conn):
        seqs = await _write_messages_sqlite(conn, rows, ords, per_conversation, now)
        await outbox.add_serialized(
            conn,
            [
                (env, key, payload.replace(SEQ_MARK_JSON, f'"seq":{seq}', 1))
                for (env, key), payload, seq in zip(events, payloads, seqs, strict=True)
            ],
        )
        return seqs
    result = await _execute(
        conn,
        _WRITE_PG,
        now,
        [r["id"] for r in rows],
        [r["conversation_id"] for r in rows],
        ords,
        *(
            [r[column] for r in rows]
            for column in (
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
        [env.id for env, _ in events],
        [env.type for env, _ in events],
        [key for _, key in events],
        payloads,
        SEQ_MARK_JSON,
    )
    seq_of = {message_id: seq for message_id, seq in result}
    return [seq_of[r["id"]] for r in rows]


async def _write_messages_sqlite(
    conn: AsyncConnection,
    rows: Sequence[dict[str, Any]],
    ords: list[int],
    per_conversation: dict[int, int],
    now: datetime,
) -> list[int]:
    first: dict[int, int] = {}
    for cid, n in sorted(per_conversation.items()):
        last = await conn.scalar(
            update(CONVERSATIONS)
            .where(CONVERSATIONS.c.id == cid)
            .values(last_seq=CONVERSATIONS.c.last_seq + n, last_activity_at=now)
            .returning(CONVERSATIONS.c.last_seq)
        )
        first[cid] = int(last or 0) - n
    seqs = [first[r["conversation_id"]] + o for r, o in zip(rows, ords, strict=True)]
    await conn.execute(
        insert(MESSAGES),
        [
            {**r, "seq": seq, "created_at": now, "deleted": False}
            for r, seq in zip(rows, seqs, strict=True)
        ],
    )
    return seqs

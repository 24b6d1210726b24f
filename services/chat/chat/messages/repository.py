"""Queries for messages and reactions, and the statements of the send path.

The send path writes many messages in one transaction (messages/writes.py). Where PostgreSQL
and SQLite need different statements (taking the conversations' locks, reserving ids) both
are here side by side; everything else is one statement for both.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import utcnow

from ..models import Block, Conversation, Member, Message, Reaction, User

MESSAGES = Message.__table__
CONVERSATIONS = Conversation.__table__


def _postgresql(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


# --- the send path -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LockedConversation:
    id: int
    type: str
    last_seq: int


async def lock_conversations(
    session: AsyncSession, conversation_ids: Collection[int]
) -> dict[int, LockedConversation]:
    """Lock the conversations' rows until commit (their `last_seq` is then ours to advance)
    and read them; missing ids are left out."""
    ids = sorted(set(conversation_ids))
    if not ids:
        return {}
    query = select(CONVERSATIONS.c.id, CONVERSATIONS.c.type, CONVERSATIONS.c.last_seq).where(
        CONVERSATIONS.c.id.in_(ids)
    )
    if _postgresql(session):
        # In id order: two transactions that lock overlapping sets never wait on each other
        # in a circle (no deadlock).
        query = query.order_by(CONVERSATIONS.c.id).with_for_update()
    else:
        # SQLite has one writer at a time: the first write takes the database's write lock,
        # held until commit, so the read that follows is current.
        await session.execute(
            update(CONVERSATIONS)
            .where(CONVERSATIONS.c.id.in_(ids))
            .values(last_seq=CONVERSATIONS.c.last_seq)
        )
    rows = await session.execute(query)
    return {r.id: LockedConversation(r.id, r.type, r.last_seq) for r in rows}


async def reserve_message_ids(session: AsyncSession, n: int) -> list[int]:
    """`n` new message ids, increasing, before inserting (the event payloads carry them)."""
    if n == 0:
        return []
    if _postgresql(session):
        rows = await session.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence('messages', 'id')) "
                "FROM generate_series(1, :n)"
            ),
            {"n": n},
        )
        return sorted(int(r[0]) for r in rows)
    # SQLite: we hold the write lock (lock_conversations), so nobody else inserts meanwhile.
    top = await session.scalar(select(func.coalesce(func.max(MESSAGES.c.id), 0)))
    return list(range(int(top or 0) + 1, int(top or 0) + 1 + n))


async def save_messages(
    session: AsyncSession,
    rows: Sequence[dict[str, Any]],
    last_seqs: dict[int, int],
    now: datetime,
) -> None:
    """Insert the messages (ids and seqs assigned) and advance their conversations."""
    await session.execute(
        update(CONVERSATIONS)
        .where(CONVERSATIONS.c.id == bindparam("cid"))
        .values(last_seq=bindparam("seq"), last_activity_at=now),
        [{"cid": cid, "seq": seq} for cid, seq in last_seqs.items()],
    )
    await session.execute(insert(MESSAGES), list(rows))


async def active_members_of(
    session: AsyncSession, conversation_ids: Collection[int]
) -> dict[int, list[tuple[int, str, str]]]:
    """Current members of each conversation: (user id, username, casefolded username)."""
    out: dict[int, list[tuple[int, str, str]]] = {cid: [] for cid in conversation_ids}
    if not out:
        return out
    rows = await session.execute(
        select(Member.conversation_id, Member.user_id, User.username, User.username_key)
        .join(User, User.id == Member.user_id)
        .where(Member.conversation_id.in_(list(out)), Member.left_at.is_(None))
    )
    for cid, uid, username, key in rows:
        out[cid].append((uid, username, key))
    return out


async def by_client_msg_ids(
    session: AsyncSession, keys: Collection[tuple[int, int, str]]
) -> dict[tuple[int, int, str], Message]:
    """Messages already sent under (conversation id, sender id, client_msg_id)."""
    if not keys:
        return {}
    rows = await session.scalars(
        select(Message).where(
            tuple_(Message.conversation_id, Message.sender_id, Message.client_msg_id).in_(
                list(keys)
            )
        )
    )
    return {(m.conversation_id, m.sender_id or 0, m.client_msg_id or ""): m for m in rows}


async def conversations_of_messages(
    session: AsyncSession, message_ids: Collection[int]
) -> dict[int, int]:
    """message id → its conversation id, for the ids that exist."""
    if not message_ids:
        return {}
    rows = await session.execute(
        select(Message.id, Message.conversation_id).where(Message.id.in_(list(message_ids)))
    )
    return {mid: cid for mid, cid in rows}


async def blocked_pairs(
    session: AsyncSession, pairs: Collection[tuple[int, int]]
) -> set[tuple[int, int]]:
    """Which of the (a, b) pairs have a block between them, either way."""
    if not pairs:
        return set()
    both = list(pairs) + [(b, a) for a, b in pairs]
    rows = await session.execute(
        select(Block.blocker_id, Block.blocked_id).where(
            tuple_(Block.blocker_id, Block.blocked_id).in_(both)
        )
    )
    found = {(a, b) for a, b in rows}
    return {(a, b) for a, b in pairs if (a, b) in found or (b, a) in found}


# --- reading ---------------------------------------------------------------------------------


async def get(session: AsyncSession, message_id: int) -> Message | None:
    return await session.get(Message, message_id)


async def by_client_msg_id(
    session: AsyncSession, conversation_id: int, sender_id: int, client_msg_id: str
) -> Message | None:
    return await session.scalar(
        select(Message).where(
            Message.conversation_id == conversation_id,
            Message.sender_id == sender_id,
            Message.client_msg_id == client_msg_id,
        )
    )


async def exists_in(session: AsyncSession, conversation_id: int, message_id: int) -> bool:
    found = await session.scalar(
        select(Message.id).where(
            Message.id == message_id, Message.conversation_id == conversation_id
        )
    )
    return found is not None


async def page_by_offset(
    session: AsyncSession,
    conversation_id: int,
    *,
    skip: int,
    limit: int,
    max_seq: int | None = None,
) -> list[Message]:
    """The newest `limit` after skipping `skip`, oldest first."""
    query = select(Message).where(Message.conversation_id == conversation_id)
    if max_seq is not None:
        query = query.where(Message.seq <= max_seq)
    rows = list(await session.scalars(query.order_by(Message.seq.desc()).offset(skip).limit(limit)))
    return rows[::-1]


async def page_by_seq(
    session: AsyncSession,
    conversation_id: int,
    *,
    before_seq: int | None,
    after_seq: int | None,
    limit: int,
    max_seq: int | None = None,
) -> list[Message]:
    """Oldest first: the first `limit` after `after_seq`, else the last `limit` before `before_seq`."""
    query = select(Message).where(Message.conversation_id == conversation_id)
    if max_seq is not None:
        query = query.where(Message.seq <= max_seq)
    if before_seq is not None:
        query = query.where(Message.seq < before_seq)
    if after_seq is not None:
        query = query.where(Message.seq > after_seq)
        return list(await session.scalars(query.order_by(Message.seq).limit(limit)))
    rows = list(await session.scalars(query.order_by(Message.seq.desc()).limit(limit)))
    return rows[::-1]


async def search(
    session: AsyncSession, user_id: int, q: str, *, conversation_id: int | None, limit: int
) -> list[Message]:
    """Messages in the user's current conversations matching `q`, best match first."""
    visible = (
        select(Member.conversation_id)
        .where(Member.user_id == user_id, Member.left_at.is_(None))
        .scalar_subquery()
    )
    query = select(Message).where(
        Message.conversation_id.in_(visible), Message.deleted.is_(False), Message.type == "text"
    )
    if conversation_id is not None:
        query = query.where(Message.conversation_id == conversation_id)
    dialect = session.bind.dialect.name if session.bind else "postgresql"
    if dialect == "postgresql":
        # Matches the GIN expression index ix_messages_search (migration 0001).
        vector = func.to_tsvector(literal_column("'simple'"), Message.content)
        tsquery = func.plainto_tsquery(literal_column("'simple'"), q)
        query = query.where(vector.op("@@")(tsquery)).order_by(
            func.ts_rank(vector, tsquery).desc(), Message.id.desc()
        )
    else:
        # SQLite (embedded mode): substring match, newest first.
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Message.content.ilike(f"%{escaped}%", escape="\\")).order_by(
            Message.id.desc()
        )
    return list(await session.scalars(query.limit(limit)))


async def add_reaction(session: AsyncSession, message_id: int, user_id: int, emoji: str) -> None:
    dialect = session.bind.dialect.name if session.bind else "postgresql"
    insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert_(Reaction)
        .values(message_id=message_id, user_id=user_id, emoji=emoji, created_at=utcnow())
        .on_conflict_do_nothing()
    )


async def remove_reaction(session: AsyncSession, message_id: int, user_id: int, emoji: str) -> None:
    await session.execute(
        delete(Reaction).where(
            Reaction.message_id == message_id, Reaction.user_id == user_id, Reaction.emoji == emoji
        )
    )

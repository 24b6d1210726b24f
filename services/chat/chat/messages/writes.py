"""Writing messages: the one place a message gets its seq and id, is stored, and has its
`message.created` event written to the outbox, in the caller's transaction.

Used for every message: users' sends (batched, messages/sending.py) and system messages
(member added, renamed, a host's payment card, ...).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import utcnow
from parley_common.events import MessageCreated, conv_key, envelope
from parley_common.outbox import Outbox
from parley_common.schemas import MessageRead

from .. import publish
from ..metrics import MESSAGES_SENT
from . import send_repository as repo


@dataclass(slots=True)
class Draft:
    """A message that passed every check and is about to be written."""

    conversation_id: int
    sender_id: int | None
    sender_username: str
    content: str
    member_ids: list[int]
    type: str = "text"
    client_msg_id: str | None = None
    reply_to: int | None = None
    mentions: list[int] = field(default_factory=list)
    kind: str | None = None
    metadata: dict[str, Any] | None = None


async def write_txn(
    session: AsyncSession,
    outbox: Outbox,
    drafts: Sequence[Draft],
    reads: repo.SendReads | None = None,
) -> list[MessageRead]:
    """Give each draft the next seq of its conversation and a new id, store them and their
    events. `reads`: when the caller has locked the conversations and reserved ids already."""
    if not drafts:
        return []
    if reads is None:
        locked = await repo.lock_conversations(session, {d.conversation_id for d in drafts})
        ids = await repo.reserve_message_ids(session, len(drafts))
    else:
        locked, ids = reads.conversations, reads.ids[: len(drafts)]
    now = utcnow()
    last_seqs = {cid: c.last_seq for cid, c in locked.items()}
    messages: list[MessageRead] = []
    rows: list[dict[str, Any]] = []
    for draft, message_id in zip(drafts, ids, strict=True):
        seq = last_seqs[draft.conversation_id] = last_seqs[draft.conversation_id] + 1
        row = {
            "id": message_id,
            "conversation_id": draft.conversation_id,
            "seq": seq,
            "sender_id": draft.sender_id,
            "sender_username": draft.sender_username,
            "content": draft.content,
            "type": draft.type,
            "client_msg_id": draft.client_msg_id,
            "reply_to": draft.reply_to,
            "mentions": draft.mentions,
            "created_at": now,
            "deleted": False,
            "kind": draft.kind,
            "metadata": draft.metadata,
        }
        rows.append(row)
        messages.append(MessageRead.model_validate(row))
    written = {d.conversation_id for d in drafts}
    events = [
        (
            envelope(
                MessageCreated(message=read, member_ids=draft.member_ids),
                producer=publish.PRODUCER,
                event_id=uuid.uuid4(),
            ),
            conv_key(read.conversation_id, MessageCreated.EVENT_TYPE),
        )
        for draft, read in zip(drafts, messages, strict=True)
    ]
    await repo.write_messages(
        session,
        outbox,
        rows,
        {cid: seq for cid, seq in last_seqs.items() if cid in written},
        events,
        now,
    )
    MESSAGES_SENT.inc(len(messages))
    return messages

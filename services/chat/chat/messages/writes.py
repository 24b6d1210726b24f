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

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from parley_common.db import utcnow
from parley_common.events import MessageCreated, conv_key, envelope
from parley_common.outbox import Outbox
from parley_common.schemas import AttachmentRead, MessageRead

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
    attachments: list[AttachmentRead] = field(default_factory=list)


async def write_txn(
    session: AsyncSession,
    outbox: Outbox,
    drafts: Sequence[Draft],
    reads: repo.SendReads | None = None,
) -> list[MessageRead]:
    """`write` in the session's transaction (the relay wakes after its commit)."""
    messages = await write(await session.connection(), outbox, drafts, reads)
    if messages:
        outbox.wake_after_commit(session)
    return messages


async def write(
    conn: AsyncConnection,
    outbox: Outbox,
    drafts: Sequence[Draft],
    reads: repo.SendReads | None = None,
) -> list[MessageRead]:
    """Give each draft a new id and the next seq of its conversation (in order), store them and
    their events. `reads`: when the caller has reserved the ids already. On PostgreSQL one
    statement does it, so a connection without a transaction (autocommit) is enough."""
    if not drafts:
        return []
    if reads is None:
        ids = await repo.reserve_message_ids(conn, len(drafts))
    else:
        ids = reads.ids[: len(drafts)]
    now = utcnow()
    rows: list[dict[str, Any]] = []
    templates: list[MessageRead] = []
    events = []
    for draft, message_id in zip(drafts, ids, strict=True):
        row = {
            "id": message_id,
            "conversation_id": draft.conversation_id,
            "sender_id": draft.sender_id,
            "sender_username": draft.sender_username,
            "content": draft.content,
            "type": draft.type,
            "client_msg_id": draft.client_msg_id,
            "reply_to": draft.reply_to,
            "mentions": draft.mentions,
            "kind": draft.kind,
            "metadata": draft.metadata,
        }
        rows.append(row)
        # The seq is assigned by the write, under the conversation's lock: the event carries a
        # stand-in that the same statement replaces.
        template = MessageRead.model_validate(
            {
                **row,
                "seq": repo.SEQ_MARK,
                "created_at": now,
                "deleted": False,
                "attachments": draft.attachments,
            }
        )
        templates.append(template)
        env = envelope(
            MessageCreated(message=template, member_ids=draft.member_ids),
            producer=publish.PRODUCER,
            event_id=uuid.uuid4(),
        )
        events.append((env, conv_key(draft.conversation_id, MessageCreated.EVENT_TYPE)))
    seqs = await repo.write_messages(conn, outbox, rows, events, now)
    MESSAGES_SENT.inc(len(rows))
    return [t.model_copy(update={"seq": seq}) for t, seq in zip(templates, seqs, strict=True)]

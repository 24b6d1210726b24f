"""Users' sends, batched: every send waiting when a transaction starts goes into it.

A send over REST (`POST /messages`) or a WebSocket (the gateway's `POST /internal/messages`,
several sends per call) becomes a `SendRequest` handed to the process's `SendBatcher`. The
batcher runs up to `concurrency` transactions at once; requests that arrive while they run
wait and go together into the next one. So under load many messages share one transaction
(one set of locks, reads, inserts and one commit) and at rest a message goes alone, at once.

Each request still gets its own answer: its message, or the error it alone caused (not a
member, blocked, an unknown reply target). The checks and the writes of a batch happen in one
transaction with the conversations' rows locked (ARCHITECTURE.md, "One message, end to end").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from parley_common.batching import Batcher
from parley_common.errors import ServiceError
from parley_common.outbox import Outbox
from parley_common.schemas import AttachmentRead, MessageRead

from ..attachments import repository as attachment_repo
from ..attachments import views as attachment_views
from ..errors import AttachmentNotFound, BadRequest, ConversationAccessDenied, MessagingBlocked
from . import repository as message_repo
from . import send_repository as repo
from . import views
from .writes import Draft, write

log = structlog.get_logger(__name__)

MENTION = re.compile(r"@([\w.\-]+)")

SendResult = MessageRead | ServiceError


@dataclass(frozen=True, slots=True)
class SendRequest:
    """A checked-for-shape send (content length is the API's job) from `sender_id`."""

    sender_id: int
    conversation_id: int
    content: str
    client_msg_id: str | None = None
    reply_to: int | None = None
    attachment_ids: tuple[int, ...] = ()

    @property
    def key(self) -> tuple[int, int, str] | None:
        """What makes a retried send the same send."""
        if not self.client_msg_id:
            return None
        return (self.conversation_id, self.sender_id, self.client_msg_id)


def mentions_in(content: str, usernames: dict[str, int]) -> list[int]:
    """Members named as `@username` (casefolded usernames → ids)."""
    if "@" not in content:
        return []
    found = {usernames[m.casefold()] for m in MENTION.findall(content) if m.casefold() in usernames}
    return sorted(found)


async def send_on(
    conn: AsyncConnection, outbox: Outbox, requests: Sequence[SendRequest]
) -> list[SendResult]:
    """Check and write the requests; one result per request. On PostgreSQL the checks' reads
    and the write are one statement each, so `conn` needs no transaction (autocommit): each
    statement is atomic, and the write takes the conversations' locks for itself."""
    reads = await repo.read_for_send(
        conn, [(r.sender_id, r.conversation_id, r.client_msg_id, r.reply_to) for r in requests]
    )
    results: list[SendResult | None] = [None] * len(requests)
    earlier: dict[int, int] = {}  # request index → the message a retry already created
    first_of: dict[tuple[int, int, str], int] = {}  # a key's first request in this batch
    again: dict[int, int] = {}  # request index → index of the same send earlier in the batch
    drafts: list[Draft] = []
    drafted: list[int] = []
    uploads = await attachment_repo.for_send(conn, [a for r in requests for a in r.attachment_ids])
    claimed: set[int] = set()
    for i, r in enumerate(requests):
        roster = reads.rosters.get(r.conversation_id, [])
        me = next((m for m in roster if m[0] == r.sender_id), None)
        if me is None:
            results[i] = ConversationAccessDenied()
            continue
        if (r.sender_id, r.conversation_id) in reads.blocked:
            results[i] = MessagingBlocked()
            continue
        if r.key is not None:
            if r.key in reads.sent_before:
                earlier[i] = reads.sent_before[r.key]
                continue
            if r.key in first_of:
                again[i] = first_of[r.key]
                continue
            first_of[r.key] = i
        if (
            r.reply_to is not None
            and reads.reply_conversations.get(r.reply_to) != r.conversation_id
        ):
            results[i] = BadRequest(
                "Reply target not found in this conversation", code="reply_not_found"
            )
            continue
        attachments = _claim(r, uploads, claimed)
        if attachments is None:
            results[i] = AttachmentNotFound()
            continue
        drafts.append(
            Draft(
                conversation_id=r.conversation_id,
                sender_id=r.sender_id,
                sender_username=me[1],
                content=r.content,
                member_ids=sorted(uid for uid, _, _ in roster),
                client_msg_id=r.client_msg_id or None,
                reply_to=r.reply_to,
                mentions=mentions_in(r.content, {key: uid for uid, _, key in roster}),
                type=attachment_views.message_type(attachments),
                attachments=attachments,
            )
        )
        drafted.append(i)
    for i, message in zip(drafted, await write(conn, outbox, drafts, reads), strict=True):
        results[i] = message
        if message.attachments:
            await attachment_repo.attach(
                conn,
                message_id=message.id,
                conversation_id=message.conversation_id,
                ids=requests[i].attachment_ids,
            )
    if earlier:
        async with AsyncSession(bind=conn) as session:
            found = {m.id: m for m in await message_repo.by_ids(session, set(earlier.values()))}
            reads_before = await views.to_reads(session, [found[mid] for mid in earlier.values()])
        for i, read in zip(earlier, reads_before, strict=True):
            results[i] = read
    for i, first in again.items():
        results[i] = results[first]
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]


def _claim(
    request: SendRequest, uploads: dict[int, Any], claimed: set[int]
) -> list[AttachmentRead] | None:
    """The request's attachments, when each is the sender's own, unattached upload and no
    earlier send of the batch takes it; None otherwise (404: whose it is is not told)."""
    found = []
    for attachment_id in request.attachment_ids:
        row = uploads.get(attachment_id)
        if (
            row is None
            or row.uploader_id != request.sender_id
            or row.message_id is not None
            or row.deleted_at is not None
            or attachment_id in claimed
        ):
            return None
        found.append(row)
    claimed.update(request.attachment_ids)
    return [attachment_views.to_read(row) for row in found]


class SendBatcher:
    """Collects sends and writes them in batches (see the module's docstring)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        *,
        concurrency: int = 4,
        max_batch: int = 200,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._outbox = outbox
        self._batcher: Batcher[SendRequest, MessageRead] = Batcher(
            self._write, concurrency=concurrency, max_batch=max_batch, name="chat-send-batch"
        )

    async def send(self, request: SendRequest) -> MessageRead:
        """The stored message (a retried send: the first one); raises the request's error."""
        return await self._batcher.submit(request)

    async def send_many(self, requests: Sequence[SendRequest]) -> list[SendResult]:
        """One result per request, in order: its message or its error."""
        out: list[SendResult] = []
        for result in await self._batcher.submit_many(requests):
            if isinstance(result, BaseException) and not isinstance(result, ServiceError):
                raise result  # the database failed: the whole call fails (retryable)
            out.append(result)
        return out

    async def close(self) -> None:
        await self._batcher.close()

    async def _write(self, requests: list[SendRequest]) -> list[SendResult]:
        try:
            return await self._transaction(requests)
        except IntegrityError:
            # A retry of one of these sends committed in another transaction after our check
            # (its client_msg_id is taken now). Alone, each send finds its first message.
            if len(requests) == 1:
                return await self._transaction(requests)
            results: list[SendResult] = []
            for request in requests:
                try:
                    results += await self._write([request])
                except ServiceError as exc:
                    results.append(exc)
            return results

    async def _transaction(self, requests: list[SendRequest]) -> list[SendResult]:
        engine = self._sessionmaker.kw["bind"]
        # Claiming uploads is a read, then writes: those batches take a transaction.
        if engine.dialect.name == "postgresql" and not any(r.attachment_ids for r in requests):
            # Two statements, no BEGIN/COMMIT round trips (send_on says why that is enough).
            async with engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                results = await send_on(conn, self._outbox, requests)
            self._outbox.wakeup.set()
            return results
        async with self._sessionmaker() as session, session.begin():
            results = await send_on(await session.connection(), self._outbox, requests)
            self._outbox.wake_after_commit(session)
            return results

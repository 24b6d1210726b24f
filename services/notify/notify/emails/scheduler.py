"""Scheduling missed-message emails from events, and cancelling them when messages are read.

A missed message becomes an `email_items` row for its recipient; the user's single `pending`
`pending_emails` row says when the next email goes out. Items are linked to an email only when
it is sent, so every unread item since the last email is in the next one.

Lock order, everywhere: the user's pending email row first, then their items. The sender holds
that row's lock while it talks to SMTP, so a receipt that arrives meanwhile waits for it
instead of deadlocking with it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import insert_for, utcnow
from parley_common.events import MessageCreated
from parley_common.schemas import message_summary

from .. import blocks
from ..config import Settings
from ..models import EmailItem, PendingEmail, ReadCursor
from ..notifications import preferences


def next_digest_time(now: datetime, hour: int) -> datetime:
    due = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return due if due > now else due + timedelta(days=1)


async def lock_pending_txn(session: AsyncSession, user_id: int) -> PendingEmail | None:
    return await session.scalar(
        select(PendingEmail)
        .where(PendingEmail.user_id == user_id, PendingEmail.status == "pending")
        .with_for_update()
    )


async def last_read_seqs(session: AsyncSession, conversation_id: int) -> dict[int, int]:
    rows = await session.execute(
        select(ReadCursor.user_id, ReadCursor.last_read_seq).where(
            ReadCursor.conversation_id == conversation_id
        )
    )
    return {u: s for u, s in rows.all()}


def recipients(event: MessageCreated) -> list[int]:
    """Who may be emailed about this message: the members but its sender (none for system or
    deleted messages)."""
    message = event.message
    if message.type == "system" or message.deleted:
        return []
    return [u for u in dict.fromkeys(event.member_ids) if u != message.sender_id]


async def on_message_txn(
    session: AsyncSession, event: MessageCreated, *, offline: list[int], settings: Settings
) -> None:
    """Queue the message for each offline (`offline`: recipients without an open socket),
    unmuted recipient who wants email."""
    message = event.message
    if not offline:
        return
    # No email about a message from someone the recipient blocked.
    blocked_sender = await blocks.blockers_of(session, message.sender_id, offline)
    offline = [u for u in offline if u not in blocked_sender]
    if not offline:
        return
    prefs = await preferences.get_many(session, offline)
    cursors = await last_read_seqs(session, message.conversation_id)
    for user_id in offline:
        p = prefs[user_id]
        if not p.email_missed_messages or message.conversation_id in (
            p.muted_conversation_ids or []
        ):
            continue
        if cursors.get(user_id, 0) >= message.seq:
            continue
        inserted = await session.execute(
            insert_for(session)(EmailItem)
            .values(
                user_id=user_id,
                conversation_id=message.conversation_id,
                message_id=message.id,
                seq=message.seq,
                sender_username=message.sender_username,
                content=message_summary(message),
                created_at=message.created_at,
            )
            .on_conflict_do_nothing()
        )
        if getattr(inserted, "rowcount", 1):
            delay = preferences.delay_seconds(p, settings.email_delay_seconds)
            await schedule_txn(
                session, user_id, digest=p.digest == "daily", delay=delay, settings=settings
            )


async def schedule_txn(
    session: AsyncSession, user_id: int, *, digest: bool, delay: float, settings: Settings
) -> None:
    """Create the user's pending email unless one is already pending: a missed-message email
    goes out `delay` after the first message it is about, with everything that arrived
    meanwhile (never pushed back by later messages, so a busy conversation cannot hold it)."""
    now = utcnow()
    if await lock_pending_txn(session, user_id) is not None:
        return
    due = (
        next_digest_time(now, settings.digest_hour_utc)
        if digest
        else now + timedelta(seconds=delay)
    )
    # A concurrent transaction may create the row first: then ours is not needed, since items
    # join whichever email is sent next.
    await session.execute(
        insert_for(session)(PendingEmail)
        .values(
            user_id=user_id,
            kind="digest" if digest else "missed",
            status="pending",
            due_at=due,
            attempts=0,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["user_id"], index_where=text("status = 'pending'"))
    )


async def on_read_txn(
    session: AsyncSession, *, user_id: int, conversation_id: int, seq: int
) -> None:
    """Drop what the user has now read; cancel their pending email when nothing is left."""
    await lock_pending_txn(session, user_id)
    await session.execute(
        delete(EmailItem).where(
            EmailItem.user_id == user_id,
            EmailItem.conversation_id == conversation_id,
            EmailItem.seq <= seq,
            EmailItem.email_id.is_(None),
        )
    )
    await cancel_if_empty_txn(session, user_id)


async def drop_conversation_txn(
    session: AsyncSession, *, user_id: int, conversation_id: int
) -> None:
    """A user who left a conversation gets no email about it."""
    await lock_pending_txn(session, user_id)
    await session.execute(
        delete(EmailItem).where(
            EmailItem.user_id == user_id,
            EmailItem.conversation_id == conversation_id,
            EmailItem.email_id.is_(None),
        )
    )
    await cancel_if_empty_txn(session, user_id)


async def cancel_all_txn(session: AsyncSession, user_id: int) -> None:
    """Email turned off: nothing queued for this user goes out."""
    await lock_pending_txn(session, user_id)
    await session.execute(
        delete(EmailItem).where(EmailItem.user_id == user_id, EmailItem.email_id.is_(None))
    )
    await cancel_if_empty_txn(session, user_id)


async def cancel_if_empty_txn(session: AsyncSession, user_id: int) -> None:
    left = await session.scalar(
        select(func.count())
        .select_from(EmailItem)
        .where(EmailItem.user_id == user_id, EmailItem.email_id.is_(None))
    )
    if not left:
        await session.execute(
            update(PendingEmail)
            .where(PendingEmail.user_id == user_id, PendingEmail.status == "pending")
            .values(status="cancelled")
        )

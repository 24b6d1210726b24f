"""Emails about single notifications (mention, friend request, host types...), for the types the
user wants by email (notifications/channels.py).

Queued in the transaction that creates the notification, so the email exists exactly when the
notification does. The sender (sender.py) sends it `notification_email_delay_seconds` after
that, unless the user read the notification in-app meanwhile or turned the type's email off.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import utcnow

from ..models import Notification, NotificationEmail, Preferences
from ..notifications import channels

# Missed messages have their own batched email (scheduler.py), never one per message.
NOT_EMAILED_ONE_BY_ONE = frozenset({"missed_messages"})


async def queue_txn(
    session: AsyncSession,
    *,
    prefs: Preferences,
    type_: str,
    title: str,
    body: str,
    link: str | None,
    notification: Notification | None,
) -> None:
    """Queue the email when the user's choices for this type include email."""
    if type_ in NOT_EMAILED_ONE_BY_ONE or not channels.wants(prefs, type_, "email"):
        return
    session.add(
        NotificationEmail(
            user_id=prefs.user_id,
            notification_id=notification.id if notification is not None else None,
            type=type_,
            title=title[:300],
            body=body,
            link=link,
            status="pending",
            due_at=utcnow(),
            attempts=0,
        )
    )


async def claim_due(
    session: AsyncSession, now: datetime, *, delay_seconds: float
) -> NotificationEmail | None:
    """The most overdue email, locked (SKIP LOCKED: each replica takes a different one)."""
    return await session.scalar(
        select(NotificationEmail)
        .where(
            NotificationEmail.status == "pending",
            NotificationEmail.due_at <= now - timedelta(seconds=delay_seconds),
        )
        .order_by(NotificationEmail.due_at, NotificationEmail.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


async def still_wanted(session: AsyncSession, email: NotificationEmail, prefs: Preferences) -> bool:
    """False when the user has since read (or deleted) the in-app notification, or turned
    this type's email off."""
    if not channels.wants(prefs, email.type, "email"):
        return False
    if email.notification_id is None:
        return True
    notification = await session.get(Notification, email.notification_id)
    return notification is not None and not notification.is_read


async def cancel_type_txn(session: AsyncSession, user_id: int, type_: str | None) -> None:
    """Unsubscribed from one type (or from every email: None): what is queued is not sent."""
    query = update(NotificationEmail).where(
        NotificationEmail.user_id == user_id, NotificationEmail.status == "pending"
    )
    if type_ is not None:
        query = query.where(NotificationEmail.type == type_)
    await session.execute(query.values(status="cancelled"))

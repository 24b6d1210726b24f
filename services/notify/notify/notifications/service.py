"""Creating notifications (stored and pushed live through the outbox) and the user's actions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import utcnow
from parley_common.events import NotificationCreated, envelope, user_key
from parley_common.outbox import Outbox
from parley_common.schemas import NotificationRead

from ..errors import NotificationNotFound
from ..metrics import NOTIFICATIONS_CREATED
from ..models import Notification
from . import repository

TYPES = (
    "mention",
    "friend_request",
    "friend_accepted",
    "added_to_group",
    "missed_messages",
    "integration",
)


async def create_txn(
    session: AsyncSession,
    outbox: Outbox,
    *,
    user_id: int,
    type_: str,
    title: str,
    body: str = "",
    link: str | None = None,
    data: dict[str, Any] | None = None,
    conversation_id: int | None = None,
    seq: int | None = None,
) -> Notification:
    """Store a notification and, in the same transaction, its `user.<id>.notification.created`."""
    assert type_ in TYPES, type_
    notification = Notification(
        user_id=user_id,
        type=type_,
        title=title[:300],
        body=body,
        link=link,
        is_read=False,
        created_at=utcnow(),
        data=data or {},
        conversation_id=conversation_id,
        seq=seq,
    )
    session.add(notification)
    await session.flush()
    event = NotificationCreated(
        user_id=user_id, notification=NotificationRead.model_validate(notification)
    )
    env = envelope(event, producer="notify")
    await outbox.add(session, env, [user_key(user_id, env.type)])
    NOTIFICATIONS_CREATED.labels(type_).inc()
    return notification


async def list_notifications(
    session: AsyncSession, user_id: int, *, unread_only: bool, limit: int, before: int | None
) -> Sequence[Notification]:
    return await repository.list_for_user(
        session, user_id, unread_only=unread_only, limit=limit, before=before
    )


async def mark_read(session: AsyncSession, user_id: int, notification_id: int) -> None:
    notification = await repository.get_owned(session, user_id, notification_id)
    if notification is None:
        raise NotificationNotFound()
    notification.is_read = True


async def delete(session: AsyncSession, user_id: int, notification_id: int) -> None:
    if not await repository.delete_owned(session, user_id, notification_id):
        raise NotificationNotFound()

"""Creating notifications (stored and pushed live through the outbox) and the user's actions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import utcnow
from parley_common.events import NotificationCreated, NotificationRequested, envelope, user_key
from parley_common.outbox import Outbox
from parley_common.schemas import NotificationRead

from ..emails import notification_emails
from ..errors import NotificationNotFound
from ..metrics import NOTIFICATIONS_CREATED
from ..models import Notification, Preferences
from ..push import requests as push_requests
from . import channels, preferences, repository

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
    dedupe_key: str | None = None,
    prefs: Preferences | None = None,
) -> Notification | None:
    """Store a notification and, in the same transaction, its `user.<id>.notification.created`
    and its email, each as the user's choices for this type say (None: no in-app copy)."""
    assert type_ in TYPES or channels.is_host_type(type_), type_
    if prefs is None:
        prefs = await preferences.get(session, user_id)
    notification = None
    if channels.wants(prefs, type_, "in_app"):
        notification = await _store_txn(
            session,
            outbox,
            user_id=user_id,
            type_=type_,
            title=title,
            body=body,
            link=link,
            data=data,
            conversation_id=conversation_id,
            seq=seq,
            dedupe_key=dedupe_key,
        )
    await notification_emails.queue_txn(
        session,
        prefs=prefs,
        type_=type_,
        title=title,
        body=body,
        link=link,
        notification=notification,
    )
    await push_requests.notification_txn(
        session,
        outbox,
        prefs=prefs,
        type_=type_,
        title=title,
        body=body,
        link=link,
        conversation_id=conversation_id,
    )
    return notification


async def _store_txn(
    session: AsyncSession,
    outbox: Outbox,
    *,
    user_id: int,
    type_: str,
    title: str,
    body: str,
    link: str | None,
    data: dict[str, Any] | None,
    conversation_id: int | None,
    seq: int | None,
    dedupe_key: str | None,
) -> Notification:
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
        dedupe_key=dedupe_key,
    )
    session.add(notification)
    await session.flush()
    event = NotificationCreated(
        user_id=user_id, notification=NotificationRead.model_validate(notification)
    )
    env = envelope(event, producer="notify")
    await outbox.add(session, env, [user_key(user_id, env.type)])
    # Host types are open-ended: one metric label for all of them.
    NOTIFICATIONS_CREATED.labels("host" if channels.is_host_type(type_) else type_).inc()
    return notification


async def list_notifications(
    session: AsyncSession,
    user_id: int,
    *,
    unread_only: bool,
    limit: int,
    before: int | None,
    type_prefix: str | None = None,
) -> Sequence[Notification]:
    return await repository.list_for_user(
        session,
        user_id,
        unread_only=unread_only,
        limit=limit,
        before=before,
        type_prefix=type_prefix,
    )


async def mark_read(session: AsyncSession, user_id: int, notification_id: int) -> None:
    notification = await repository.get_owned(session, user_id, notification_id)
    if notification is None:
        raise NotificationNotFound()
    notification.is_read = True


async def delete(session: AsyncSession, user_id: int, notification_id: int) -> None:
    if not await repository.delete_owned(session, user_id, notification_id):
        raise NotificationNotFound()


async def create_host_txn(
    session: AsyncSession, outbox: Outbox, event: NotificationRequested
) -> int:
    """A host notification for each of its users that notify knows, once per idempotency key;
    returns how many were created."""
    dedupe_key = f"{event.source}:{event.idempotency_key}" if event.idempotency_key else None
    users = set(await repository.known_users(session, event.user_ids))
    if dedupe_key is not None:
        users -= set(await repository.users_with_dedupe_key(session, users, dedupe_key))
    prefs = await preferences.get_many(session, users)  # one query for all recipients
    created = 0
    for user_id in sorted(users):
        notification = await create_txn(
            session,
            outbox,
            user_id=user_id,
            type_=event.type,
            title=event.title,
            body=event.body,
            link=event.link,
            data=event.data,
            dedupe_key=dedupe_key,
            prefs=prefs[user_id],
        )
        created += notification is not None
    return created

"""What notify does when an account is deleted (`user.deleted`, issue 17): everything it holds
about the user goes (presence, preferences, notifications, pending emails and their items,
devices, read cursors, the friendship, block and membership projections), the users projection
keeps a tombstone ("Deleted user", no address, so nothing is ever sent to it), and the user's
name in other users' notifications and waiting emails becomes "Deleted user".

Idempotent: a redelivered event finds the tombstone and changes nothing; a late user.* event of
the same user does not overwrite it (projections.upsert_user_txn)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import insert_for
from parley_common.events import Envelope, UserDeleted
from parley_common.outbox import Outbox
from parley_common.schemas import DELETED_USERNAME

from .models import (
    Block,
    Device,
    EmailItem,
    Friendship,
    Membership,
    Notification,
    NotificationEmail,
    PendingEmail,
    Preferences,
    ReadCursor,
    User,
)
from .presence.store import PresenceStore


async def on_user_deleted_txn(
    session: AsyncSession, outbox: Outbox, presence: PresenceStore, env: Envelope
) -> None:
    e = env.parse(UserDeleted)
    uid = e.user_id
    user = await session.get(User, uid, with_for_update=True)
    if user is not None and user.deleted_at is not None:
        return
    old_name = user.username if user is not None else None
    if user is not None:  # published events naming the user go now, not at retention
        await outbox.forget_published(session, [user.username, user.email])
    values = {"username": DELETED_USERNAME, "email": "", "email_verified": False}
    stmt = insert_for(session)(User).values(id=uid, deleted_at=e.deleted_at, **values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["id"], set_={**values, "deleted_at": e.deleted_at}
        )
    )
    for table, column in (
        (EmailItem, EmailItem.user_id),
        (PendingEmail, PendingEmail.user_id),
        (NotificationEmail, NotificationEmail.user_id),
        (Notification, Notification.user_id),
        (Preferences, Preferences.user_id),
        (Device, Device.user_id),
        (ReadCursor, ReadCursor.user_id),
        (Membership, Membership.user_id),
    ):
        await session.execute(delete(table).where(column == uid))
    await session.execute(
        delete(Friendship).where(or_(Friendship.user_low == uid, Friendship.user_high == uid))
    )
    await session.execute(
        delete(Block).where(or_(Block.blocker_id == uid, Block.blocked_id == uid))
    )
    if old_name:
        await _rename_in_others_txn(session, old_name)
    await presence.forget(uid)


def _renamer(old: str) -> re.Pattern[str]:
    # The name as a whole word (a name is letters, digits and `_ . -`), not inside another.
    return re.compile(rf"(?<![\w.\-]){re.escape(old)}(?![\w.\-])")


def _renamed(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(DELETED_USERNAME, value)
    if isinstance(value, dict):
        return {k: _renamed(v, pattern) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, pattern) for v in value]
    return value


async def _rename_in_others_txn(session: AsyncSession, old: str) -> None:
    pattern, like = _renamer(old), f"%{old}%"
    await session.execute(
        update(EmailItem)
        .where(EmailItem.sender_username == old)
        .values(sender_username=DELETED_USERNAME)
    )
    for n in await session.scalars(
        select(Notification).where(or_(Notification.title.like(like), Notification.body.like(like)))
    ):
        n.title, n.body = _renamed(n.title, pattern), _renamed(n.body, pattern)
        n.data = _renamed(n.data, pattern)
    for m in await session.scalars(
        select(NotificationEmail).where(
            or_(NotificationEmail.title.like(like), NotificationEmail.body.like(like))
        )
    ):
        m.title, m.body = _renamed(m.title, pattern), _renamed(m.body, pattern)

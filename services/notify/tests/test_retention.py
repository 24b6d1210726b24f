"""Retention in notify: sent emails and their items after 30 days, read notifications after 90,
consumed event ids after 7; what is pending or unread stays (docs/operations.md)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from notify.models import (
    PROCESSED_EVENTS,
    EmailItem,
    Notification,
    NotificationEmail,
    PendingEmail,
)
from notify.runtime import notify_runtime
from parley_common.db import utcnow

from .conftest import Notify

BOB = 2


async def counts(notify: Notify) -> dict[str, int]:
    tables = {
        "email_items": EmailItem.__table__,
        "pending_emails": PendingEmail.__table__,
        "notification_emails": NotificationEmail.__table__,
        "notifications": Notification.__table__,
        "processed_events": PROCESSED_EVENTS,
    }
    return {
        name: (await notify.db(select(func.count()).select_from(table)))[0][0]
        for name, table in tables.items()
    }


async def test_sent_and_read_rows_go_pending_and_unread_stay(notify: Notify) -> None:
    await notify.wait_processed(await notify.register(BOB, "bob"))
    now = utcnow()
    async with notify_runtime(notify.app.state).sessionmaker() as session, session.begin():
        sent = PendingEmail(user_id=BOB, kind="missed", status="sent", due_at=now, sent_at=now)
        # Due tomorrow: the service's own sender loop would otherwise send it meanwhile.
        later = now + timedelta(days=1)
        pending = PendingEmail(user_id=BOB, kind="missed", status="pending", due_at=later)
        session.add_all([sent, pending])
        await session.flush()
        for seq, email_id in ((1, sent.id), (2, sent.id), (3, None)):
            session.add(
                EmailItem(
                    user_id=BOB,
                    conversation_id=7,
                    message_id=seq,
                    seq=seq,
                    sender_username="ana",
                    content="hi",
                    created_at=now,
                    email_id=email_id,
                )
            )
        for status in ("sent", "cancelled", "pending"):
            session.add(
                NotificationEmail(
                    user_id=BOB,
                    type="task.assigned",
                    title="t",
                    status=status,
                    due_at=later if status == "pending" else now,
                )
            )
        for is_read in (True, False):
            session.add(Notification(user_id=BOB, type="mention", title="m", is_read=is_read))
    assert await counts(notify) == {
        "email_items": 3,
        "pending_emails": 2,
        "notification_emails": 3,
        "notifications": 2,
        "processed_events": 1,
    }
    retention = notify_runtime(notify.app.state).retention
    assert retention is not None

    retention.clock = lambda: utcnow() + timedelta(days=40)
    await retention.run_once()
    assert await counts(notify) == {
        "email_items": 1,  # not sent yet
        "pending_emails": 1,
        "notification_emails": 1,
        "notifications": 2,  # read ones are kept 90 days
        "processed_events": 0,
    }
    retention.clock = lambda: utcnow() + timedelta(days=100)
    await retention.run_once()
    rows = await notify.db(select(Notification.is_read))
    assert [r for (r,) in rows] == [False]

"""What notify deletes beyond its outbox and inbox (parley_common.retention): emails that went
out (or never will) and their items after `email_retention_days`, and read notifications after
`read_notification_retention_days`. Unread notifications stay: the user has not seen them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import exists, select

from parley_common.retention import Purge

from .config import Settings
from .models import Base, EmailItem, Notification, NotificationEmail, PendingEmail


def purges(settings: Settings) -> list[Purge]:
    tables = Base.metadata.tables
    items = tables[EmailItem.__tablename__]
    emails = tables[PendingEmail.__tablename__]
    notification_emails = tables[NotificationEmail.__tablename__]
    notifications = tables[Notification.__tablename__]
    kept = timedelta(days=settings.email_retention_days)
    read_kept = timedelta(days=settings.read_notification_retention_days)
    unreferenced = ~exists(select(items.c.id).where(items.c.email_id == emails.c.id))
    return [
        # Items first: an email goes only once no item refers to it.
        Purge(items, lambda now: items.c.email_id.is_not(None) & (items.c.created_at < now - kept)),
        Purge(
            emails,
            lambda now: (
                (emails.c.status != "pending") & (emails.c.created_at < now - kept) & unreferenced
            ),
        ),
        Purge(
            notification_emails,
            lambda now: (
                (notification_emails.c.status != "pending")
                & (notification_emails.c.created_at < now - kept)
            ),
        ),
        Purge(
            notifications,
            lambda now: (
                notifications.c.is_read.is_(True) & (notifications.c.created_at < now - read_kept)
            ),
        ),
    ]

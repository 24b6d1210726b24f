"""The email sender loop: claims due emails, renders them and hands them to SMTP.

Each email is claimed with `SELECT ... FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite ignores the
clause and runs one process), sent while the row stays locked, and marked `sent` in that same
transaction after the SMTP server accepted it. So several replicas never send one email twice,
and a restart loses nothing. Crash windows:

- before or during the SMTP conversation: the transaction rolls back, the row is still
  `pending`, and the next sender (this process after a restart, or another replica) sends it.
- after the SMTP server accepted the email but before the commit (milliseconds): the row is
  still `pending` and the email is sent again. We accept that duplicate rather than ever
  losing an email (marking `sending` first would lose it instead). The Message-ID is stable per
  pending email, so the copy carries the same id.
- a sender whose database connection dies releases its lock with the connection.

SMTP failures retry with exponential backoff (`email_retry_base_seconds`, doubling, at most
`email_retry_max_seconds`), up to `email_max_attempts`, then the email is marked `failed`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import urlencode

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parley_common.db import utcnow
from parley_common.email_transport import EmailTransport
from parley_common.loops import Loop

from .. import projections
from ..config import Settings
from ..metrics import EMAILS_FAILED, EMAILS_PENDING, EMAILS_SENT
from ..models import EmailItem, NotificationEmail, PendingEmail, ReadCursor, User
from ..notifications import preferences
from . import notification_emails, render, unsubscribe

log = structlog.get_logger(__name__)


class EmailSender:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        transport: EmailTransport,
        settings: Settings,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._transport = transport
        self._settings = settings
        self._loop = Loop("email-sender", self.send_due, settings.email_tick_seconds)
        # What "due" is measured against; tests move it past the digest hour.
        self.clock: Callable[[], datetime] = utcnow

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop(timeout=self._settings.smtp_timeout_seconds)

    async def send_due(self) -> None:
        while await self.send_one() or await self.send_one_notification():
            pass
        await self._update_gauge()

    async def _update_gauge(self) -> None:
        async with self._sessionmaker() as session:
            count = 0
            for table in (PendingEmail, NotificationEmail):
                count += (
                    await session.scalar(
                        select(func.count()).select_from(table).where(table.status == "pending")
                    )
                    or 0
                )
        EMAILS_PENDING.set(count)

    async def send_one(self) -> bool:
        """Send the most overdue email, if any; False when nothing is due."""
        now = self.clock()
        async with self._sessionmaker() as session, session.begin():
            email = await session.scalar(
                select(PendingEmail)
                .where(PendingEmail.status == "pending", PendingEmail.due_at <= now)
                .order_by(PendingEmail.due_at, PendingEmail.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if email is None:
                return False
            await self._send_txn(session, email)
        return True

    async def send_one_notification(self) -> bool:
        """Send the most overdue notification email, if any; False when nothing is due."""
        async with self._sessionmaker() as session, session.begin():
            email = await notification_emails.claim_due(
                session, self.clock(), delay_seconds=self._settings.notification_email_delay_seconds
            )
            if email is None:
                return False
            await self._send_notification_txn(session, email)
        return True

    async def _send_notification_txn(self, session: AsyncSession, email: NotificationEmail) -> None:
        prefs = await preferences.get(session, email.user_id)
        if not await notification_emails.still_wanted(session, email, prefs):
            email.status = "cancelled"
            return
        user = await self._recipient(session, email)
        if user is None:
            return
        settings = self._settings
        message = render.notification_message(
            email_id=email.id,
            type_=email.type,
            title=email.title,
            body=email.body,
            link=email.link,
            sender=settings.email_from,
            to=user.email,
            username=user.username,
            web_url=settings.web_url,
            unsubscribe_url=self._unsubscribe_url(user.id, email.type),
        )
        await self._deliver(email, message)
        if email.status == "sent":
            log.info("email.sent", email_id=email.id, user_id=user.id, type=email.type)

    async def _recipient(
        self, session: AsyncSession, email: PendingEmail | NotificationEmail
    ) -> User | None:
        """Who the email goes to; None (and the email failed or cancelled) when nobody can."""
        user = await projections.get_user(session, email.user_id)
        if user is None:
            self._failed(email, "recipient unknown (no user.registered seen yet)")
            return None
        if user.email_verified is False:
            email.status = "cancelled"  # only confirmed addresses get Parley's emails
            return None
        return user

    def _unsubscribe_url(self, user_id: int, type_: str | None = None) -> str:
        settings = self._settings
        token = unsubscribe.make_token(settings.unsubscribe_secret, user_id, type_)
        query = urlencode({"token": token} | ({"type": type_} if type_ else {}))
        return f"{settings.web_url.rstrip('/')}/notifications/unsubscribe?{query}"

    async def _deliver(
        self, email: PendingEmail | NotificationEmail, message: EmailMessage
    ) -> None:
        """Hand the email to SMTP: `sent`, or a retry later (`_failed`)."""
        try:
            await self._transport.send(message)
        except Exception as exc:
            self._failed(email, f"{type(exc).__name__}: {exc}")
            return
        email.status, email.sent_at, email.attempts = "sent", utcnow(), email.attempts + 1
        EMAILS_SENT.inc()

    async def _send_txn(self, session: AsyncSession, email: PendingEmail) -> None:
        items = await self._unread_items(session, email.user_id)
        prefs = await preferences.get(session, email.user_id)
        if not items or not prefs.email_missed_messages:
            email.status = "cancelled"
            return
        user = await self._recipient(session, email)
        if user is None:
            return
        settings = self._settings
        names = await projections.conversation_names(session, {i.conversation_id for i in items})
        message = render.build_message(
            kind=email.kind,
            email_id=email.id,
            sender=settings.email_from,
            to=user.email,
            username=user.username,
            sections=render.group_by_conversation(items, names=names, web_url=settings.web_url),
            web_url=settings.web_url,
            unsubscribe_url=self._unsubscribe_url(user.id),
        )
        await self._deliver(email, message)
        if email.status != "sent":
            return
        await session.execute(
            update(EmailItem)
            .where(EmailItem.id.in_([i.id for i in items]))
            .values(email_id=email.id)
        )
        log.info("email.sent", email_id=email.id, user_id=user.id, messages=len(items))

    async def _unread_items(self, session: AsyncSession, user_id: int) -> list[EmailItem]:
        rows = await session.execute(
            select(EmailItem, ReadCursor.last_read_seq)
            .outerjoin(
                ReadCursor,
                (ReadCursor.user_id == EmailItem.user_id)
                & (ReadCursor.conversation_id == EmailItem.conversation_id),
            )
            .where(EmailItem.user_id == user_id, EmailItem.email_id.is_(None))
            .order_by(EmailItem.conversation_id, EmailItem.seq)
        )
        return [item for item, read_seq in rows.all() if item.seq > (read_seq or 0)]

    def _failed(self, email: PendingEmail | NotificationEmail, error: str) -> None:
        settings = self._settings
        email.attempts += 1
        email.last_error = error[:2000]
        EMAILS_FAILED.inc()
        if email.attempts >= settings.email_max_attempts:
            email.status = "failed"
            log.error("email.given_up", email_id=email.id, attempts=email.attempts, error=error)
            return
        backoff = min(
            settings.email_retry_max_seconds,
            settings.email_retry_base_seconds * 2 ** (email.attempts - 1),
        )
        email.due_at = utcnow() + timedelta(seconds=backoff)
        log.warning(
            "email.retry",
            email_id=email.id,
            attempts=email.attempts,
            in_seconds=backoff,
            error=error,
        )

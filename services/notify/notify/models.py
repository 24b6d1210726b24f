"""Notify's tables: projections fed by events, notifications, preferences and pending emails."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from parley_common.consumer import processed_events_table
from parley_common.db import TYPE_ANNOTATION_MAP, new_metadata, utcnow
from parley_common.outbox import outbox_table


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


BigId = BigInteger().with_variant(Integer(), "sqlite")

OUTBOX = outbox_table(Base.metadata)
PROCESSED_EVENTS = processed_events_table(Base.metadata)


class User(Base):
    """Projection of auth's users (names and addresses for notifications and emails)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    username: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(320))
    # Only confirmed addresses get emails (auth's verification link); NULL: as before, yes.
    email_verified: Mapped[bool | None] = mapped_column(Boolean)
    #: Set by user.deleted: the row is a tombstone ("Deleted user", no address) that later
    #: user.* events of the same user do not overwrite.
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class Friendship(Base):
    """Projection of chat's friendships, one row per pair (user_low < user_high)."""

    __tablename__ = "friendships"
    user_low: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_high: Mapped[int] = mapped_column(BigId, primary_key=True, index=True)


class Block(Base):
    """Projection of chat's blocks (block.created / block.removed): the blocker gets no
    mention, notification or email caused by the blocked user."""

    __tablename__ = "blocks"
    blocker_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    blocked_id: Mapped[int] = mapped_column(BigId, primary_key=True)


class Conversation(Base):
    """Projection of chat's conversations (names for emails)."""

    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    name: Mapped[str | None] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16), default="group")


class Membership(Base):
    """Projection of chat's conversation members."""

    __tablename__ = "memberships"
    conversation_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, primary_key=True, index=True)


class ReadCursor(Base):
    """The highest seq each user has read in each conversation (from receipt.updated)."""

    __tablename__ = "read_cursors"
    user_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    last_read_seq: Mapped[int] = mapped_column(BigId, default=0)


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_id_id", "user_id", "id"),
        Index("ux_notifications_user_id_dedupe_key", "user_id", "dedupe_key", unique=True),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigId)
    type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(500))
    is_read: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Set for notifications about a message, so reading the conversation up to `seq` clears them.
    conversation_id: Mapped[int | None] = mapped_column(BigId)
    seq: Mapped[int | None] = mapped_column(BigId)
    # A host notification's idempotency key (with its key's name): one notification per user.
    dedupe_key: Mapped[str | None] = mapped_column(String(200))


class Preferences(Base):
    __tablename__ = "preferences"
    user_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    email_missed_messages: Mapped[bool] = mapped_column(Boolean, default=True)
    # NULL: the service default (setting `email_delay_seconds`).
    email_delay_seconds: Mapped[float | None] = mapped_column(Float)
    digest: Mapped[str] = mapped_column(String(16), default="off")
    muted_conversation_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    # Per notification type, the channels the user turned on or off: {"task.assigned":
    # {"email": false}, "host": {...}}; NULL or a missing entry: the defaults (channels.py).
    channels: Mapped[dict[str, dict[str, bool]] | None] = mapped_column(JSON)
    # Push shows message text (false: "New message" only). NULL: the default, true.
    push_previews: Mapped[bool | None] = mapped_column(Boolean)


class PendingEmail(Base):
    """One email to send to one user; at most one `pending` row per user (partial unique index)."""

    __tablename__ = "pending_emails"
    __table_args__ = (
        Index(
            "uq_pending_emails_user_pending",
            "user_id",
            unique=True,
            postgresql_where="status = 'pending'",
            sqlite_where="status = 'pending'",
        ),
        Index("ix_pending_emails_status_due_at", "status", "due_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(16), default="missed")  # missed | digest
    status: Mapped[str] = mapped_column(
        String(16), default="pending"
    )  # pending|sent|cancelled|failed
    due_at: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()


class EmailItem(Base):
    """A message an offline user missed, waiting for the next email (`email_id` once sent)."""

    __tablename__ = "email_items"
    __table_args__ = (
        Index("uq_email_items_user_id_message_id", "user_id", "message_id", unique=True),
        Index("ix_email_items_user_id_email_id", "user_id", "email_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigId)
    conversation_id: Mapped[int] = mapped_column(BigId)
    message_id: Mapped[int] = mapped_column(BigId)
    seq: Mapped[int] = mapped_column(BigId)
    sender_username: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
    email_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("pending_emails.id"))


class NotificationEmail(Base):
    """A notification the user wants by email (per-type channel choice), waiting to be sent.

    It keeps its own copy of what the email says, so a type the user wants by email but not
    in-app (no `notifications` row) is still sent; `notification_id` links the in-app copy,
    whose being read before `due_at` cancels the email.
    """

    __tablename__ = "notification_emails"
    __table_args__ = (Index("ix_notification_emails_status_due_at", "status", "due_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigId)
    notification_id: Mapped[int | None] = mapped_column(BigId, unique=True)
    type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # as PendingEmail
    due_at: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()


class Device(Base):
    """A phone or browser that gets push notifications: registered by a user in one login
    session (logging out removes it), and removed when its push service says it is gone."""

    __tablename__ = "devices"
    __table_args__ = (
        Index("uq_devices_platform_token", "platform", "token", unique=True),
        Index("ix_devices_user_id", "user_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigId)
    sid: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(16))  # webpush | fcm | apns
    # The FCM or APNs token, or the Web Push endpoint URL.
    token: Mapped[str] = mapped_column(String(1000))
    # Web Push only: the subscription's p256dh and auth keys.
    keys: Mapped[dict[str, str] | None] = mapped_column(JSON)
    app_version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

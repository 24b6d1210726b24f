"""Chat's tables: the users projection, friendships, blocks, conversations, members, messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from parley_common.consumer import processed_events_table
from parley_common.db import TYPE_ANNOTATION_MAP, new_metadata, utcnow
from parley_common.outbox import outbox_table


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


OUTBOX = outbox_table(Base.metadata)
PROCESSED_EVENTS = processed_events_table(Base.metadata)

# BIGINT keys on PostgreSQL; SQLite only autoincrements INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer, "sqlite")


class User(Base):
    """Projection of auth's users, fed by user.registered / user.updated."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    username: Mapped[str] = mapped_column(String(64))
    username_key: Mapped[str] = mapped_column(String(64), index=True)  # casefolded, for lookups
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    avatar_url: Mapped[str | None] = mapped_column(String(300))
    #: Set by user.deleted: the row is a tombstone ("Deleted user", no address) that later
    #: user.* events of the same user do not overwrite.
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class FriendRequest(Base):
    __tablename__ = "friend_requests"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    requester_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"), index=True)
    receiver_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    responded_at: Mapped[datetime | None]


class Friendship(Base):
    """One row per friend pair, smaller id first."""

    __tablename__ = "friendships"
    user_low: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"), primary_key=True)
    user_high: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Block(Base):
    __tablename__ = "blocks"
    blocker_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"), primary_key=True)
    blocked_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(200))
    private_pair_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    allow_member_add: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_member_rename: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set for conversations bound to a host product's object (integrations/); null otherwise.
    context_type: Mapped[str | None] = mapped_column(String(64))
    context_id: Mapped[str | None] = mapped_column(String(128))
    context_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: A group's avatar (`avatars/conversations/<id>/<random>`), set by its admins.
    avatar_key: Mapped[str | None] = mapped_column(String(255))

    @property
    def avatar_url(self) -> str | None:
        if self.avatar_key is None:
            return None
        return f"/conversations/{self.id}/avatar?v={self.avatar_key.rsplit('/', 1)[-1]}"

    @property
    def settings(self) -> dict[str, Any]:
        return {
            "allow_member_add": self.allow_member_add,
            "allow_member_rename": self.allow_member_rename,
        }


class Member(Base):
    """A user's membership; kept after leaving (left_at, left_seq) so history stays bounded."""

    __tablename__ = "conversation_members"
    __table_args__ = (UniqueConstraint("conversation_id", "user_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(BigId, ForeignKey("conversations.id"))
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(16), default="member")
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    left_at: Mapped[datetime | None]
    left_seq: Mapped[int | None] = mapped_column(BigInteger)
    last_read_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    read_at: Mapped[datetime | None]
    last_delivered_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    delivered_at: Mapped[datetime | None]
    # A direct chat the user hid (DELETE /conversations/{id}): out of their list until a
    # message after this seq arrives.
    hidden_seq: Mapped[int | None] = mapped_column(BigInteger)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        UniqueConstraint("conversation_id", "sender_id", "client_msg_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(BigId, ForeignKey("conversations.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    sender_id: Mapped[int | None] = mapped_column(BigId)
    sender_username: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(16), default="text")
    client_msg_id: Mapped[str | None] = mapped_column(String(128))
    reply_to: Mapped[int | None] = mapped_column(BigId)
    mentions: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None]
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    kind: Mapped[str | None] = mapped_column(String(64))
    extra: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)


class Reaction(Base):
    __tablename__ = "reactions"
    message_id: Mapped[int] = mapped_column(BigId, ForeignKey("messages.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    emoji: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Attachment(Base):
    """An uploaded file: its uploader's alone until a message carries it (message_id set, in
    the send's transaction), then its conversation's members'. `deleted_at`: its message was
    deleted or it expired unattached; the sweeper removes the stored objects, then the row."""

    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uploader_id: Mapped[int] = mapped_column(BigId, index=True)
    message_id: Mapped[int | None] = mapped_column(BigId, index=True)
    conversation_id: Mapped[int | None] = mapped_column(BigId)
    position: Mapped[int] = mapped_column(Integer, default=0)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(255))
    thumbnail_key: Mapped[str | None] = mapped_column(String(255))
    thumbnail_type: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(index=True)


class IntegrationKey(Base):
    """An API key of the host application's backend; only its SHA-256 is stored."""

    __tablename__ = "integration_keys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))  # shown by `list`, to tell keys apart
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


Index("ix_friend_requests_pair", FriendRequest.requester_id, FriendRequest.receiver_id)
# One conversation per host object; NULLs (ordinary chats) never collide.
Index("uq_conversations_context", Conversation.context_type, Conversation.context_id, unique=True)
# A system message posted with an idempotency key (kept in client_msg_id) is posted once.
Index(
    "uq_messages_system_client_msg_id",
    Message.conversation_id,
    Message.client_msg_id,
    unique=True,
    postgresql_where=Message.sender_id.is_(None),
    sqlite_where=Message.sender_id.is_(None),
)

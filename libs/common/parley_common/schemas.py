"""REST models shared across services (the shapes of PROTOCOL.md section 1)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import annotated_types
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: The integers every JSON parser reads exactly (RFC 7493, I-JSON; JavaScript's safe
#: integers). REST bounds ids, cursors and offsets to these rather than to int64: beyond 2**53 a
#: double cannot tell neighbours apart, so a client (or an OpenAPI tool) comparing a value with
#: a documented int64 maximum may round it either side of it. No id Parley assigns comes near.
JSON_INT_MIN, JSON_INT_MAX = -(2**53 - 1), 2**53 - 1


#: Every integer a request carries (ids, cursors, offsets): a larger one is refused with 422 by
#: the schema instead of overflowing a BIGINT (or SQLite's INTEGER) into a 5xx.
def _not_a_bool(value: Any) -> Any:
    """`true` is not the id 1: pydantic's lax ints take booleans, PROTOCOL.md's do not."""
    if isinstance(value, bool):
        raise ValueError("Input should be a valid integer, not a boolean")
    return value


# The bounds before the validator: pydantic's JSON schema keeps them only in this order.
Int64 = Annotated[
    int,
    annotated_types.Interval(ge=JSON_INT_MIN, le=JSON_INT_MAX),
    BeforeValidator(_not_a_bool),
]
#: A cursor or offset: `Field(ge=0)` beside Int64 would be overridden by its lower bound.
Seq64 = Annotated[
    int, annotated_types.Interval(ge=0, le=JSON_INT_MAX), BeforeValidator(_not_a_bool)
]


def in_int64(value: int) -> bool:
    return INT64_MIN <= value <= INT64_MAX


#: The name a deleted account shows under, wherever it appears to others (issue 17).
DELETED_USERNAME = "Deleted user"


def deleted_user_key(user_id: int) -> str:
    """A deleted account's unique keys (username, address): `#` is in no username and no
    address, so no one can log in as or register one, and each stays unique."""
    return f"#deleted:{user_id}"


class Model(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class UserRef(Model):
    id: int
    username: str


class MemberUser(UserRef):
    #: The avatar's path in the public API (GET with a token); null without one.
    avatar_url: str | None = None


class UserPublic(Model):
    """`email` is shown only to the user and their friends; null for anyone else (the field
    stays, for old clients)."""

    id: int
    username: str
    email: str | None
    #: The avatar's path in the public API (GET with a token); null without one (clients show
    #: initials).
    avatar_url: str | None = None


class UserRead(UserPublic):
    created_at: datetime


class FriendRead(UserPublic):
    is_online: bool = False


class FriendRequestRead(Model):
    id: int
    requester: UserPublic
    created_at: datetime
    status: Literal["pending", "accepted", "rejected"] = "pending"


class MemberRef(Model):
    user: MemberUser
    role: Literal["admin", "member"]


class LastMessage(Model):
    id: int
    seq: int
    content: str
    sender_id: int | None
    created_at: datetime
    #: image / file: it carries attachments (its content may be empty without being deleted).
    type: str = "text"
    deleted: bool = False


class ContextRead(Model):
    type: str
    id: str
    metadata: dict[str, Any] = Field(default_factory=dict)


class ConversationRead(Model):
    id: int
    name: str | None
    type: Literal["direct", "group"]
    private_pair_key: str | None
    member_ids: list[int]
    members: list[MemberRef]
    last_message: LastMessage | None
    unread_count: int = 0
    last_seq: int = 0
    created_at: datetime
    settings: dict[str, Any] = Field(default_factory=dict)
    context: ContextRead | None = None
    #: A group's avatar (GET with a token); null without one.
    avatar_url: str | None = None


class ConversationSummary(Model):
    id: int
    name: str | None
    type: Literal["direct", "group"]


class AttachmentRead(Model):
    """An uploaded file; `width`, `height` and `thumbnail_url` only for images. The URLs are
    paths of the public API (GET them with the user's token)."""

    id: int
    filename: str
    content_type: str
    size: int
    width: int | None = None
    height: int | None = None
    url: str
    thumbnail_url: str | None = None


class MessageRead(Model):
    id: int
    conversation_id: int
    seq: int
    sender_id: int | None
    sender_username: str
    content: str
    # image: every attachment is an image; file: at least one is not (PROTOCOL.md).
    type: Literal["text", "system", "image", "file"] = "text"
    client_msg_id: str | None = None
    reply_to: int | None = None
    mentions: list[int] = Field(default_factory=list)
    attachments: list[AttachmentRead] = Field(default_factory=list)
    reactions: dict[str, list[int]] = Field(default_factory=dict)
    created_at: datetime
    edited_at: datetime | None = None
    deleted: bool = False
    kind: str | None = None
    metadata: dict[str, Any] | None = None


def message_summary(message: MessageRead) -> str:
    """What a notification or an email shows of a message: its text, or for a message with
    attachments and no text "sent a photo" / "sent 3 photos" / "sent a file" / "sent 2 files"."""
    if message.content.strip() or not message.attachments:
        return message.content
    n = len(message.attachments)
    noun = "photo" if message.type == "image" else "file"
    return f"sent a {noun}" if n == 1 else f"sent {n} {noun}s"


class NotificationRead(Model):
    id: int
    type: str
    title: str
    body: str
    link: str | None = None
    is_read: bool = False
    created_at: datetime
    data: dict[str, Any] = Field(default_factory=dict)


class StatusOk(Model):
    status: Literal["ok"] = "ok"


class PresenceState(Model):
    online: bool
    last_seen: datetime | None = None

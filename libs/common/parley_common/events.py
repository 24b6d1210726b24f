"""The event envelope, every event's data model, and the routing keys that say whom it is for.

Routing (ARCHITECTURE.md, Events): `conv.<conversation_id>.<type>` for a conversation's events,
`user.<user_id>.<type>` for one user's, `svc.<type>` for events only services care about.
"""

from __future__ import annotations

import builtins
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, Field

from .schemas import (
    ConversationRead,
    FriendRequestRead,
    MessageRead,
    NotificationRead,
    UserPublic,
    UserRef,
)

EXCHANGE = "parley.events"

T = TypeVar("T", bound=BaseModel)


class Envelope(BaseModel):
    """What travels on the bus: JSON of this model."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    producer: str
    data: dict[str, Any]

    def parse(self, model: builtins.type[T]) -> T:
        return model.model_validate(self.data)


def envelope(event: EventData, *, producer: str, event_id: uuid.UUID | None = None) -> Envelope:
    return Envelope(
        id=event_id or uuid.uuid4(),
        type=event.EVENT_TYPE,
        producer=producer,
        data=event.model_dump(mode="json"),
    )


def conv_key(conversation_id: int, event_type: str) -> str:
    return f"conv.{conversation_id}.{event_type}"


def user_key(user_id: int, event_type: str) -> str:
    return f"user.{user_id}.{event_type}"


def svc_key(event_type: str) -> str:
    return f"svc.{event_type}"


def gateways_key(event_type: str) -> str:
    """Events for every gateway replica (each binds `gw.#`)."""
    return f"gw.{event_type}"


class EventData(BaseModel):
    """Base of every event's `data`; subclasses name their type: `class X(EventData, event_type=...)`."""

    EVENT_TYPE: ClassVar[str] = ""

    def __init_subclass__(cls, *, event_type: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if event_type:
            cls.EVENT_TYPE = event_type


# --- auth -----------------------------------------------------------------------------------


class UserRegistered(EventData, event_type="user.registered"):
    user_id: int
    username: str
    email: str
    created_at: datetime
    # Whether the user confirmed the address (emails about messages go only to confirmed
    # ones). True when absent: an auth from before verification vouched for every address.
    email_verified: bool = True


class UserUpdated(EventData, event_type="user.updated"):
    user_id: int
    username: str
    email: str
    created_at: datetime
    email_verified: bool = True
    #: The avatar's path in the public API (GET with a token), null without one.
    avatar_url: str | None = None


class SessionRevoked(EventData, event_type="session.revoked"):
    """A login session ended (logout, refresh-token reuse, password change): gateways close its
    sockets and refuse its access tokens until `access_until`, when the last of them expires."""

    user_id: int
    sid: str
    access_until: datetime | None = None


class UserDeleted(EventData, event_type="user.deleted"):
    """An account was deleted (routed `svc.user.deleted`): every service removes what it holds
    about the user and shows them to others as "Deleted user". Handlers are idempotent and
    tolerate the user's older events arriving after this one."""

    user_id: int
    deleted_at: datetime


class ExportRequested(EventData, event_type="export.requested"):
    """A user asked for their data (routed `svc.export.requested`): each contributing service
    stores its part of the archive under `exports/<export_id>/<service>.json` in the shared
    object storage and answers with export.contributed."""

    export_id: int
    user_id: int


class ExportContributed(EventData, event_type="export.contributed"):
    """A service's part of an export is stored (routed `svc.export.contributed`): auth emails
    the download link once every part is in."""

    export_id: int
    user_id: int
    service: str
    storage_key: str


# --- chat: friends ---------------------------------------------------------------------------


class FriendRequested(EventData, event_type="friend.requested"):
    request: FriendRequestRead
    receiver_id: int


class FriendAccepted(EventData, event_type="friend.accepted"):
    request_id: int
    requester_id: int
    accepter: UserPublic
    requester: UserPublic


class FriendRemoved(EventData, event_type="friend.removed"):
    user_id: int
    friend_id: int


class BlockCreated(EventData, event_type="block.created"):
    """`blocker_id` blocked `blocked_id`; routed `svc.block.created` (notify stops delivering
    the blocked user's mentions and notifications to the blocker)."""

    blocker_id: int
    blocked_id: int


class BlockRemoved(EventData, event_type="block.removed"):
    blocker_id: int
    blocked_id: int


# --- chat: conversations and members ---------------------------------------------------------


class ConversationCreated(EventData, event_type="conversation.created"):
    conversation: ConversationRead
    created_by: int | None


class ConversationUpdated(EventData, event_type="conversation.updated"):
    conversation_id: int
    name: str | None
    type: Literal["direct", "group"]
    updated_by: int | None
    avatar_url: str | None = None


class ConversationDeleted(EventData, event_type="conversation.deleted"):
    """A group deleted for everyone by its admin (routed to the conversation, before its
    memberships end): gateways tell the members and drop it, notify forgets it."""

    conversation_id: int
    deleted_by: UserRef
    member_ids: list[int]


class MemberAdded(EventData, event_type="member.added"):
    conversation_id: int
    new_user: UserRef
    added_by: UserRef | None
    member_ids: list[int]


class MemberRemoved(EventData, event_type="member.removed"):
    conversation_id: int
    user: UserRef
    removed_by: UserRef | None
    reason: Literal["kicked", "left", "context"]
    member_ids: list[int]


# --- chat: messages and receipts -------------------------------------------------------------


class MessageCreated(EventData, event_type="message.created"):
    message: MessageRead
    member_ids: list[int]


class MessageEdited(EventData, event_type="message.edited"):
    message: MessageRead


class MessageDeleted(EventData, event_type="message.deleted"):
    conversation_id: int
    message_id: int
    seq: int


class ReactionUpdated(EventData, event_type="reaction.updated"):
    message: MessageRead


class ReceiptUpdated(EventData, event_type="receipt.updated"):
    conversation_id: int
    user_id: int
    kind: Literal["read", "delivered"]
    seq: int
    at: datetime


# --- gateway ---------------------------------------------------------------------------------


class Typing(EventData, event_type="typing"):
    conversation_id: int
    user_id: int
    username: str
    is_typing: bool


class ViewersChanged(EventData, event_type="viewers"):
    """Who views (has joined) a conversation, on any gateway replica; transient, routed
    `conv.<id>.viewers`. `version` grows with every change, so a replica drops an older set
    that arrives late."""

    conversation_id: int
    user_ids: list[int]
    version: int


class PresenceConnected(EventData, event_type="presence.connected"):
    gateway_id: str
    connection_id: str
    user_id: int


class PresenceDisconnected(EventData, event_type="presence.disconnected"):
    gateway_id: str
    connection_id: str
    user_id: int


class PresenceHeartbeat(EventData, event_type="presence.heartbeat"):
    gateway_id: str


# --- notify ----------------------------------------------------------------------------------


class PresenceChanged(EventData, event_type="presence.changed"):
    user_id: int
    online: bool
    last_seen: datetime | None


class PresenceChanges(EventData, event_type="presence.changes"):
    """The presence transitions notify saw in one batch, for every gateway replica (routed
    `gw.presence.changes`): each writes `user_online`/`user_offline` to the connected friends
    of each user. One event for many users: a morning's connect burst costs a few events,
    not one per friend of every user."""

    changes: list[PresenceChanged]


class NotificationRequested(EventData, event_type="notification.requested"):
    """A host product's notification for some of its users (`POST /integrations/notifications`,
    routed `svc.notification.requested`): notify stores one per user, once per
    `idempotency_key`, and delivers it on the channels each user chose for `type`."""

    user_ids: list[int]
    type: str
    title: str
    body: str = ""
    link: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = None
    source: str = ""  # the integration key's name


class NotificationCreated(EventData, event_type="notification.created"):
    user_id: int
    notification: NotificationRead


class PushRequested(EventData, event_type="push.requested"):
    """Notify to itself (routed `svc.push.requested`, its own queue `notify.push`): push this
    to the user's devices unless they have an open socket by then. Sending waits on push
    providers, so it never holds up notify's inbox."""

    user_id: int
    title: str
    body: str = ""
    collapse_key: str | None = None  # one visible push per conversation (or per type)
    link: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


EVENT_TYPES: dict[str, type[EventData]] = {
    cls.EVENT_TYPE: cls
    for cls in (
        UserRegistered,
        UserUpdated,
        SessionRevoked,
        UserDeleted,
        ExportRequested,
        ExportContributed,
        FriendRequested,
        FriendAccepted,
        FriendRemoved,
        BlockCreated,
        BlockRemoved,
        ConversationCreated,
        ConversationUpdated,
        ConversationDeleted,
        MemberAdded,
        MemberRemoved,
        MessageCreated,
        MessageEdited,
        MessageDeleted,
        NotificationRequested,
        ReactionUpdated,
        ReceiptUpdated,
        Typing,
        ViewersChanged,
        PresenceConnected,
        PresenceDisconnected,
        PresenceHeartbeat,
        PresenceChanged,
        PresenceChanges,
        NotificationCreated,
        PushRequested,
    )
}

"""Server → client WebSocket frames (PROTOCOL.md section 2); re-exported by
parley_common.frames, the protocol's one import."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    model_serializer,
)

from .frame_base import Frame
from .schemas import (
    ConversationRead,
    FriendRequestRead,
    MessageRead,
    NotificationRead,
    UserPublic,
    UserRef,
)

# --- server → client ---------------------------------------------------------------------------


class PongFrame(Frame):
    """The answer to `ping`."""

    type: Literal["pong"] = "pong"


class ConnectedFrame(Frame):
    """Sent once on accept, after the friends' `user_online`/`user_offline` frames."""

    type: Literal["connected"] = "connected"
    message: str = "WebSocket connected successfully"
    user_id: int
    session_id: str
    heartbeat_interval: float


class JoinedConversationFrame(Frame):
    """The answer to `join_conversation`."""

    type: Literal["joined_conversation"] = "joined_conversation"
    conversation_id: int


class LeftConversationFrame(Frame):
    """The answer to `leave_conversation`."""

    type: Literal["left_conversation"] = "left_conversation"
    conversation_id: int


class AckFrame(Frame):
    """The stored message, answering a `send_message` with the same `client_msg_id`."""

    type: Literal["ack"] = "ack"
    client_msg_id: str | None
    message: MessageRead


class ErrorFrame(Frame):
    """A refused frame; the connection stays open. Codes: bad_request, forbidden, not_found,
    rate_limited (with retry_after), unavailable (with retry_after), unauthorized.
    Optional fields are left out when empty."""

    type: Literal["error"] = "error"
    code: str
    detail: Any
    client_msg_id: str | None = None
    conversation_id: int | None = None
    retry_after: float | None = None

    @model_serializer(mode="wrap")
    def _omit_empty(self, handler: SerializerFunctionWrapHandler, _: SerializationInfo) -> Any:
        data = handler(self)
        return {k: v for k, v in data.items() if v is not None or k == "detail"}


class NewMessageFrame(Frame):
    """A new message, to every open socket of every member (the sender's included)."""

    type: Literal["new_message"] = "new_message"
    message: MessageRead


class MessageEditedFrame(Frame):
    """A message was edited."""

    type: Literal["message_edited"] = "message_edited"
    message: MessageRead


class MessageDeletedFrame(Frame):
    """A message was deleted (its row and seq stay, content emptied)."""

    type: Literal["message_deleted"] = "message_deleted"
    conversation_id: int
    message_id: int


class ReactionUpdatedFrame(Frame):
    """A message's reactions changed; carries the whole message."""

    type: Literal["reaction_updated"] = "reaction_updated"
    message: MessageRead


class ReadReceiptFrame(Frame):
    """A member's read cursor moved."""

    type: Literal["read_receipt"] = "read_receipt"
    conversation_id: int
    user_id: int
    seq: int
    read_at: datetime


class DeliveryReceiptFrame(Frame):
    """A member's delivered cursor moved."""

    type: Literal["delivery_receipt"] = "delivery_receipt"
    conversation_id: int
    user_id: int
    seq: int


class ViewersFrame(Frame):
    """The users who joined (are viewing) the conversation, whenever that set changes."""

    type: Literal["viewers"] = "viewers"
    conversation_id: int
    user_ids: list[int]


class TypingFrame(Frame):
    """A member started or stopped typing (`is_typing` false also after 5 s without refresh)."""

    type: Literal["typing"] = "typing"
    conversation_id: int
    user_id: int
    username: str
    is_typing: bool


class UserOnlineFrame(Frame):
    """A friend came online (first socket opened)."""

    type: Literal["user_online"] = "user_online"
    user_id: int


class UserOfflineFrame(Frame):
    """A friend went offline (last socket closed)."""

    type: Literal["user_offline"] = "user_offline"
    user_id: int
    last_seen: datetime | None = None


class ConversationCreatedFrame(Frame):
    """A conversation the user is a member of was created."""

    type: Literal["conversation_created"] = "conversation_created"
    conversation: ConversationRead


class ConversationSummaryOut(BaseModel):
    """The renamed conversation in `conversation_updated`."""

    id: int
    name: str | None
    type: Literal["direct", "group"]
    avatar_url: str | None = None


class ConversationUpdatedFrame(Frame):
    """A conversation was renamed, or its avatar changed."""

    type: Literal["conversation_updated"] = "conversation_updated"
    conversation: ConversationSummaryOut


class MemberAddedFrame(Frame):
    """A member was added; to the members and to the new member."""

    type: Literal["member_added"] = "member_added"
    conversation_id: int
    new_user: UserRef
    added_by: UserRef | None


class MemberKickedFrame(Frame):
    """A member was removed; to the remaining members."""

    type: Literal["member_kicked"] = "member_kicked"
    conversation_id: int
    kicked_user: UserRef
    kicked_by: UserRef | None


class ConversationDeletedFrame(Frame):
    """A group's admin deleted it for everyone; to its members (drop it from the list)."""

    type: Literal["conversation_deleted"] = "conversation_deleted"
    conversation_id: int
    deleted_by: UserRef


class KickedFromConversationFrame(Frame):
    """To the removed member."""

    type: Literal["kicked_from_conversation"] = "kicked_from_conversation"
    conversation_id: int
    message: str


class FriendRequestFrame(Frame):
    """An incoming friend request, to its receiver."""

    type: Literal["friend_request"] = "friend_request"
    request: FriendRequestRead


class FriendAcceptedFrame(Frame):
    """To the requester: `user` accepted the request."""

    type: Literal["friend_accepted"] = "friend_accepted"
    user: UserPublic


class NotificationFrame(Frame):
    """A new in-app notification."""

    type: Literal["notification"] = "notification"
    notification: NotificationRead


class TokenExpiringFrame(Frame):
    """Sent ~60 s before the connection's token expires; answer with an `auth` frame."""

    type: Literal["token_expiring"] = "token_expiring"
    expires_at: datetime


class ResumedFrame(Frame):
    """Ends a `resume` replay."""

    type: Literal["resumed"] = "resumed"


class ResyncRequiredFrame(Frame):
    """The gap in this conversation is too large to replay: refetch it over REST."""

    type: Literal["resync_required"] = "resync_required"
    conversation_id: int


class ResumeRequiredFrame(Frame):
    """Extension: the server may have missed live events (its broker connection was restored);
    send `resume` with your cursors. Old clients ignore it and resume at the next seq gap."""

    type: Literal["resume_required"] = "resume_required"
    reason: str = "broker_reconnected"


ServerFrame = Annotated[
    PongFrame
    | ConnectedFrame
    | JoinedConversationFrame
    | LeftConversationFrame
    | AckFrame
    | ErrorFrame
    | NewMessageFrame
    | MessageEditedFrame
    | MessageDeletedFrame
    | ReactionUpdatedFrame
    | ReadReceiptFrame
    | DeliveryReceiptFrame
    | ViewersFrame
    | TypingFrame
    | UserOnlineFrame
    | UserOfflineFrame
    | ConversationCreatedFrame
    | ConversationUpdatedFrame
    | MemberAddedFrame
    | MemberKickedFrame
    | KickedFromConversationFrame
    | ConversationDeletedFrame
    | FriendRequestFrame
    | FriendAcceptedFrame
    | NotificationFrame
    | TokenExpiringFrame
    | ResumedFrame
    | ResyncRequiredFrame
    | ResumeRequiredFrame,
    Field(discriminator="type"),
]
SERVER_FRAME_ADAPTER: TypeAdapter[ServerFrame] = TypeAdapter(ServerFrame)


def parse_server_frame(data: Any) -> ServerFrame:
    """Validates a decoded server frame (for clients and tests)."""
    return SERVER_FRAME_ADAPTER.validate_python(data)

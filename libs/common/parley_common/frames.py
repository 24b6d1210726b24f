"""WebSocket frames (PROTOCOL.md section 2): every client→server and server→client frame.

These models are the single source of the WebSocket protocol: the gateway parses client frames
with `parse_client_frame` and builds every server frame from the models below, and the AsyncAPI
document is generated from them. Frames are JSON text objects discriminated by `type`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    StrictInt,
    TypeAdapter,
    model_serializer,
)

from .schemas import (
    ConversationRead,
    FriendRequestRead,
    MessageRead,
    NotificationRead,
    UserPublic,
    UserRef,
)

#: Frames over this size close the socket with 1009.
MAX_FRAME_BYTES = 64 * 1024
#: The longest message content a `send_message` frame may carry (chat trims and checks again).
MAX_CONTENT_CHARS = 4000
#: The most conversations one `resume` frame may name.
MAX_RESUME_CURSORS = 1000

Id = Annotated[StrictInt, Field(ge=1, le=2**63 - 1)]
Seq = Annotated[StrictInt, Field(ge=0, le=2**63 - 1)]


class Frame(BaseModel):
    """Base of every frame; `type` discriminates."""

    model_config = ConfigDict(extra="ignore")


# --- client → server ---------------------------------------------------------------------------


class PingFrame(Frame):
    """Keep-alive; the server answers `pong`. Clients send one at least every 30 s."""

    type: Literal["ping"]


class AuthFrame(Frame):
    """Authenticates a `/ws` connection opened without a token (first frame, within 5 s), or
    replaces the connection's token before it expires; the new token must be the same user's."""

    type: Literal["auth"]
    token: str = Field(min_length=1, max_length=8192)


class JoinConversationFrame(Frame):
    """Marks the conversation as viewed by this socket: viewers and typing scope."""

    type: Literal["join_conversation"]
    conversation_id: Id


class LeaveConversationFrame(Frame):
    """Stops viewing a conversation joined before."""

    type: Literal["leave_conversation"]
    conversation_id: Id


class SendMessageFrame(Frame):
    """Sends a message; answered with `ack` or an `error` carrying the same `client_msg_id`.
    Resending with the same `client_msg_id` never duplicates the message."""

    type: Literal["send_message"]
    conversation_id: Id
    content: str = Field(min_length=1, max_length=MAX_CONTENT_CHARS)
    client_msg_id: str | None = Field(default=None, min_length=1, max_length=64)
    reply_to: Id | None = None


class TypingClientFrame(Frame):
    """The user started or stopped typing; other members get `typing` (expires after 5 s)."""

    type: Literal["typing"]
    conversation_id: Id
    is_typing: bool = True


class MarkReadFrame(Frame):
    """Moves the caller's read cursor (monotonic); members get `read_receipt`."""

    type: Literal["mark_read"]
    conversation_id: Id
    seq: Seq


class MarkDeliveredFrame(Frame):
    """Moves the caller's delivered cursor (monotonic); members get `delivery_receipt`."""

    type: Literal["mark_delivered"]
    conversation_id: Id
    seq: Seq


class ResumeFrame(Frame):
    """Replays every message after each cursor (`{"<conversation_id>": last_seq}`) as
    `new_message` frames in seq order, then `resumed`; `resync_required` when a gap is too
    large to replay."""

    type: Literal["resume"]
    cursors: dict[Annotated[int, Field(ge=1, le=2**63 - 1)], Seq] = Field(
        default_factory=dict, max_length=MAX_RESUME_CURSORS
    )


ClientFrame = Annotated[
    PingFrame
    | AuthFrame
    | JoinConversationFrame
    | LeaveConversationFrame
    | SendMessageFrame
    | TypingClientFrame
    | MarkReadFrame
    | MarkDeliveredFrame
    | ResumeFrame,
    Field(discriminator="type"),
]
CLIENT_FRAME_ADAPTER: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)
CLIENT_FRAME_TYPES = frozenset(
    {
        "ping",
        "auth",
        "join_conversation",
        "leave_conversation",
        "send_message",
        "typing",
        "mark_read",
        "mark_delivered",
        "resume",
    }
)


def parse_client_frame(data: Any) -> ClientFrame:
    """Validates a decoded JSON object as a client frame (raises pydantic.ValidationError)."""
    return CLIENT_FRAME_ADAPTER.validate_python(data)


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


class ConversationUpdatedFrame(Frame):
    """A conversation was renamed (or its type-level fields changed)."""

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


# WebSocket close codes (PROTOCOL.md, Errors and limits).
CLOSE_NORMAL = 1000
CLOSE_TOO_BIG = 1009
CLOSE_RESTART = 1012
CLOSE_AUTH = 4001
CLOSE_TOO_SLOW = 4008

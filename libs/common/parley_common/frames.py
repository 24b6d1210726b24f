"""WebSocket frames (PROTOCOL.md section 2): every client→server and server→client frame.

These models are the single source of the WebSocket protocol: the gateway parses client frames
with `parse_client_frame` and builds every server frame from the models below, and the AsyncAPI
document is generated from them. Frames are JSON text objects discriminated by `type`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    TypeAdapter,
    model_validator,
)

from .frame_base import (
    CLOSE_AUTH,
    CLOSE_NORMAL,
    CLOSE_RESTART,
    CLOSE_TOO_BIG,
    CLOSE_TOO_SLOW,
    MAX_ATTACHMENTS,
    MAX_CONTENT_CHARS,
    MAX_FRAME_BYTES,
    MAX_RESUME_CURSORS,
    Frame,
    Id,
    Seq,
)
from .server_frames import (
    SERVER_FRAME_ADAPTER,
    AckFrame,
    ConnectedFrame,
    ConversationCreatedFrame,
    ConversationDeletedFrame,
    ConversationSummaryOut,
    ConversationUpdatedFrame,
    DeliveryReceiptFrame,
    ErrorFrame,
    FriendAcceptedFrame,
    FriendRequestFrame,
    JoinedConversationFrame,
    KickedFromConversationFrame,
    LeftConversationFrame,
    MemberAddedFrame,
    MemberKickedFrame,
    MessageDeletedFrame,
    MessageEditedFrame,
    NewMessageFrame,
    NotificationFrame,
    PongFrame,
    ReactionUpdatedFrame,
    ReadReceiptFrame,
    ResumedFrame,
    ResumeRequiredFrame,
    ResyncRequiredFrame,
    ServerFrame,
    TokenExpiringFrame,
    TypingFrame,
    UserOfflineFrame,
    UserOnlineFrame,
    ViewersFrame,
    parse_server_frame,
)

__all__ = [
    "CLIENT_FRAME_ADAPTER",
    "CLIENT_FRAME_TYPES",
    "CLOSE_AUTH",
    "CLOSE_NORMAL",
    "CLOSE_RESTART",
    "CLOSE_TOO_BIG",
    "CLOSE_TOO_SLOW",
    "MAX_ATTACHMENTS",
    "MAX_CONTENT_CHARS",
    "MAX_FRAME_BYTES",
    "MAX_RESUME_CURSORS",
    "SERVER_FRAME_ADAPTER",
    "AckFrame",
    "AuthFrame",
    "ClientFrame",
    "ConnectedFrame",
    "ConversationCreatedFrame",
    "ConversationDeletedFrame",
    "ConversationSummaryOut",
    "ConversationUpdatedFrame",
    "DeliveryReceiptFrame",
    "ErrorFrame",
    "Frame",
    "FriendAcceptedFrame",
    "FriendRequestFrame",
    "Id",
    "JoinConversationFrame",
    "JoinedConversationFrame",
    "KickedFromConversationFrame",
    "LeaveConversationFrame",
    "LeftConversationFrame",
    "MarkDeliveredFrame",
    "MarkReadFrame",
    "MemberAddedFrame",
    "MemberKickedFrame",
    "MessageDeletedFrame",
    "MessageEditedFrame",
    "NewMessageFrame",
    "NotificationFrame",
    "PingFrame",
    "PongFrame",
    "ReactionUpdatedFrame",
    "ReadReceiptFrame",
    "ResumeFrame",
    "ResumeRequiredFrame",
    "ResumedFrame",
    "ResyncRequiredFrame",
    "SendMessageFrame",
    "Seq",
    "ServerFrame",
    "TokenExpiringFrame",
    "TypingClientFrame",
    "TypingFrame",
    "UserOfflineFrame",
    "UserOnlineFrame",
    "ViewersFrame",
    "parse_client_frame",
    "parse_server_frame",
]


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
    # Or `recipient_id`: the direct conversation with that user, opened on first use.
    conversation_id: Id | None = None
    recipient_id: Id | None = None
    # May be empty when the message carries attachments (uploaded with POST /attachments).
    content: str = Field(default="", max_length=MAX_CONTENT_CHARS)
    client_msg_id: str | None = Field(default=None, min_length=1, max_length=64)
    reply_to: Id | None = None
    attachment_ids: list[Id] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)

    @model_validator(mode="after")
    def _content_or_attachments(self) -> SendMessageFrame:
        if (self.conversation_id is None) == (self.recipient_id is None):
            raise ValueError("give conversation_id or recipient_id (one of them)")
        if not self.content and not self.attachment_ids:
            raise ValueError("content must not be empty without attachment_ids")
        if len(set(self.attachment_ids)) != len(self.attachment_ids):
            raise ValueError("attachment_ids must not repeat an id")
        return self


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

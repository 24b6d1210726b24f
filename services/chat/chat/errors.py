"""Chat's errors: PROTOCOL.md's detail texts with stable codes."""

from __future__ import annotations

from typing import Any

from parley_common.errors import BadRequest, Forbidden, NotFound, ServiceError


class ConversationAccessDenied(NotFound):
    code, detail = "conversation_not_found", "Conversation not found or access denied"


class ConversationNotFound(NotFound):
    code, detail = "conversation_not_found", "Conversation not found"


class UserNotFound(NotFound):
    code, detail = "user_not_found", "User not found"


class MessageNotFound(NotFound):
    code, detail = "message_not_found", "Message not found"


class AttachmentNotFound(NotFound):
    code, detail = "attachment_not_found", "Attachment not found"


class MessagingBlocked(Forbidden):
    code, detail = "blocked", "You cannot message this user"


class NotAdmin(Forbidden):
    code = "not_admin"


__all__ = [
    "AttachmentNotFound",
    "BadRequest",
    "ConversationAccessDenied",
    "ConversationNotFound",
    "Forbidden",
    "MessageNotFound",
    "MessagingBlocked",
    "NotAdmin",
    "NotFound",
    "UserNotFound",
    "ValidationFailed",
]


class ValidationFailed(ServiceError):
    """A 422 in FastAPI's list shape, for checks that depend on settings (e.g. content length)."""

    status_code, code = 422, "validation_error"

    def __init__(self, field: str, msg: str, value: Any = None) -> None:
        super().__init__()
        self.detail = [  # type: ignore[assignment]
            {"type": "value_error", "loc": ["body", field], "msg": msg, "input": value}
        ]

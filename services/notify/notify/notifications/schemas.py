"""Request and response models of the notification routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, StrictBool, StrictFloat

from parley_common.schemas import Int64


class UnreadCount(BaseModel):
    count: int


class PreferencesRead(BaseModel):
    email_missed_messages: bool = True
    email_delay_minutes: float = 5.0
    digest: Literal["off", "daily"] = "off"
    muted_conversation_ids: list[Int64] = Field(default_factory=list)


class PreferencesUpdate(BaseModel):
    """Fields left out keep their value. Strict types: the document says boolean and number,
    and `"yes"` or `false` for the others is a client's mistake to report, not to guess at."""

    email_missed_messages: StrictBool | None = None
    email_delay_minutes: StrictFloat | None = Field(default=None, ge=0, le=7 * 24 * 60)
    digest: Literal["off", "daily"] | None = None
    muted_conversation_ids: list[Int64] | None = Field(default=None, max_length=10_000)


class UnsubscribeResult(BaseModel):
    status: str = "ok"
    message: str = "You have been unsubscribed from email notifications"

"""Request and response models of the notification routes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictFloat

from parley_common.schemas import Int64

from .channels import choosable


def _choosable(type_: str) -> str:
    if not choosable(type_):
        raise ValueError("not a notification type: one of chat's types, 'host' or a dotted name")
    return type_


ChannelType = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_choosable)]


class UnreadCount(BaseModel):
    count: int
    by_type: dict[str, int] = Field(
        default_factory=dict,
        description="Unread notifications per type (types with none left out).",
    )


class ChannelChoice(BaseModel):
    in_app: bool
    email: bool
    push: bool


class ChannelChange(BaseModel):
    """Channels left out keep their value; null returns a channel to its default."""

    model_config = ConfigDict(extra="forbid")

    in_app: bool | None = None
    email: bool | None = None
    push: bool | None = None


class PreferencesRead(BaseModel):
    email_missed_messages: bool = True
    email_delay_minutes: float = 5.0
    digest: Literal["off", "daily"] = "off"
    muted_conversation_ids: list[Int64] = Field(default_factory=list)
    channels: dict[str, ChannelChoice] = Field(
        default_factory=dict,
        description="Per notification type, the channels on: chat's own types, `host` (the "
        "default for every host-defined type) and each host type the user chose for.",
    )


class PreferencesUpdate(BaseModel):
    """Fields left out keep their value. Strict types: the document says boolean and number,
    and `"yes"` or `false` for the others is a client's mistake to report, not to guess at."""

    email_missed_messages: StrictBool | None = None
    email_delay_minutes: StrictFloat | None = Field(default=None, ge=0, le=7 * 24 * 60)
    digest: Literal["off", "daily"] | None = None
    muted_conversation_ids: list[Int64] | None = Field(default=None, max_length=10_000)
    channels: dict[ChannelType, ChannelChange] | None = Field(default=None, max_length=100)


class UnsubscribeResult(BaseModel):
    status: str = "ok"
    message: str = "You have been unsubscribed from email notifications"

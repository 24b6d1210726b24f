"""Request and response models of the notification routes."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat

from parley_common.schemas import Int64

from .channels import BUILT_IN

# Chat's own types, `host` (the default of every host type), or a host's dotted name; as a
# pattern, so the API document says exactly what is accepted.
CHANNEL_TYPE_PATTERN = (
    r"^(" + "|".join(re.escape(t) for t in BUILT_IN) + r"|[a-z0-9_]+(\.[a-z0-9_]+)+)$"
)
ChannelType = Annotated[str, Field(min_length=1, max_length=64, pattern=CHANNEL_TYPE_PATTERN)]


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

    in_app: StrictBool | None = None
    email: StrictBool | None = None
    push: StrictBool | None = None


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
    push_previews: bool = Field(
        default=True, description='Pushes show message text (false: "New message" only).'
    )


def _only_pattern_keys(schema: dict[str, Any]) -> None:
    # pydantic documents the key pattern as patternProperties, which alone lets other keys
    # through; validation refuses them, so the document must say so too.
    for option in schema["properties"]["channels"]["anyOf"]:
        if option.get("type") == "object":
            option["additionalProperties"] = False


class PreferencesUpdate(BaseModel):
    """Fields left out keep their value. Strict types: the document says boolean and number,
    and `"yes"` or `false` for the others is a client's mistake to report, not to guess at."""

    model_config = ConfigDict(json_schema_extra=_only_pattern_keys)

    email_missed_messages: StrictBool | None = None
    email_delay_minutes: StrictFloat | None = Field(default=None, ge=0, le=7 * 24 * 60)
    digest: Literal["off", "daily"] | None = None
    muted_conversation_ids: list[Int64] | None = Field(default=None, max_length=10_000)
    channels: dict[ChannelType, ChannelChange] | None = Field(default=None, max_length=100)
    push_previews: StrictBool | None = None


class UnsubscribeResult(BaseModel):
    status: str = "ok"
    message: str = "You have been unsubscribed from email notifications"

"""Chat's settings (PARLEY_* environment variables)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from parley_common.files import DEFAULT_ALLOWED_TYPES, DEFAULT_MAX_IMAGE_PIXELS
from parley_common.settings import BaseServiceSettings
from parley_common.storage import StorageSettings


class Settings(BaseServiceSettings, StorageSettings):
    service_name: str = "chat"
    database_url: str = "sqlite+aiosqlite:///var/chat.db"
    allow_stranger_dms: bool = Field(
        default=False, description="Let users open direct chats with people who are not friends."
    )
    max_message_length: int = Field(default=4000, description="Longest message, after trimming.")
    presence_timeout_seconds: float = Field(
        default=1.0, description="How long GET /friends waits for notify's presence answer."
    )
    allowed_upload_types: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ALLOWED_TYPES),
        description="Media types an upload may have (decided by its bytes); others get 415.",
    )
    max_image_pixels: int = Field(
        default=DEFAULT_MAX_IMAGE_PIXELS,
        description="Largest image (width × height) decoded; a larger one gets 422 (a bomb).",
    )
    unattached_upload_seconds: float = Field(
        default=24 * 3600.0, description="Uploads never attached to a message are removed after."
    )
    attachment_sweep_seconds: float = Field(
        default=60.0,
        description="How often removed and expired uploads are deleted from storage (also "
        "right after a message with attachments is deleted).",
    )
    deleted_user_messages: Literal["keep", "erase"] = Field(
        default="keep",
        description="A deleted account's messages: `keep` their content (shown as from "
        '"Deleted user"), or `erase` it with their reactions and attachments.',
    )

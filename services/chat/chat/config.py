"""Chat's settings (PARLEY_* environment variables)."""

from __future__ import annotations

from pydantic import Field

from parley_common.settings import BaseServiceSettings


class Settings(BaseServiceSettings):
    service_name: str = "chat"
    database_url: str = "sqlite+aiosqlite:///var/chat.db"
    allow_stranger_dms: bool = Field(
        default=False, description="Let users open direct chats with people who are not friends."
    )
    max_message_length: int = Field(default=4000, description="Longest message, after trimming.")
    presence_timeout_seconds: float = Field(
        default=1.0, description="How long GET /friends waits for notify's presence answer."
    )

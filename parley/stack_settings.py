"""Settings of the composition root's commands (`make services`, `make migrate`): the backends
of a local stack, read from `PARLEY_*` like every service's settings."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARLEY_", env_file=".env", extra="ignore")

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    redis_url: str = "redis://127.0.0.1:6379/0"
    #: Unset: emails are written as files under the data directory's mail/.
    smtp_url: str | None = None
    #: Unset: uploads are files under the data directory's uploads/ (s3://BUCKET with the
    #: PARLEY_STORAGE_* settings for an S3-compatible store).
    storage_url: str | None = None
    internal_token: str = Field(default="dev-internal-token", repr=False)
    #: `make migrate SERVICE`: one service's database (the per-service URLs otherwise).
    database_url: str | None = None
    auth_database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/parley_auth"
    chat_database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/parley_chat"
    notify_database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/parley_notify"

    def database_url_for(self, service: str) -> str:
        url: str = getattr(self, f"{service}_database_url")
        return url

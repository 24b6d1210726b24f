"""Settings shared by every service: backends chosen by URL, secrets checked outside development."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that ship in examples and compose files; a deployment must replace them.
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "dev-internal-token", "secret"})

Environment = Literal["development", "test", "production"]


class BaseServiceSettings(BaseSettings):
    """Settings every Parley service reads from `PARLEY_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="PARLEY_", env_file=".env", extra="ignore")

    environment: Environment = "development"
    service_name: str = "parley"
    database_url: str = "sqlite+aiosqlite:///var/parley.db"
    amqp_url: str = "memory://"
    redis_url: str = "memory://"
    smtp_url: str = "file://var/mail"
    bus_exchange: str = "parley.events"
    bus_queue_prefix: str = Field(
        default="",
        description="Prefix for every queue name (isolates test runs on a shared broker).",
    )
    bus_queue_type: Literal["quorum", "classic"] = Field(
        default="quorum",
        description="RabbitMQ queue type for durable service queues; quorum in production.",
    )
    internal_token: str = "dev-internal-token"
    jwt_issuer: str = "parley"
    jwt_audience: str = "parley"
    jwks_url: str = Field(default="", description="Defaults to {auth_url}/.well-known/jwks.json.")
    auth_url: str = "http://127.0.0.1:8001"
    chat_url: str = "http://127.0.0.1:8002"
    notify_url: str = "http://127.0.0.1:8003"
    auto_migrate: bool = Field(
        default=True,
        description="Apply this service's migrations at startup (make migrate does it otherwise).",
    )
    cors_origins: list[str] = Field(
        default_factory=lambda: [r"http://127\.0\.0\.1(:\d+)?", r"http://localhost(:\d+)?"],
        description="Allowed browser origins, as regular expressions matched against the whole origin.",
    )
    log_level: str = "INFO"
    log_json: bool = True
    db_pool_size: int = 10
    outbox_poll_seconds: float = 1.0

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> BaseServiceSettings:
        if self.environment == "production" and self.internal_token in PLACEHOLDER_SECRETS:
            raise ValueError("PARLEY_INTERNAL_TOKEN must be set to a real secret in production")
        return self

    @model_validator(mode="after")
    def _default_jwks_url(self) -> BaseServiceSettings:
        if not self.jwks_url:
            self.jwks_url = self.auth_url.rstrip("/") + "/.well-known/jwks.json"
        return self

    @property
    def is_embedded_database(self) -> bool:
        return self.database_url.startswith("sqlite")

"""Settings shared by every service: backends chosen by URL, secrets checked outside development."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Every secret value that ships in this repository (settings defaults, compose, the k8s dev
# overlay and templates, tests): production refuses them whatever their length
# (tests/deploy checks that every value the deployment files hold is refused).
SHIPPED_SECRETS = frozenset(
    {
        "",
        "change-me",
        "changeme",
        "secret",
        "dev-internal-token",
        "dev-unsubscribe-secret",
        "dev-key-encryption-key",
        "test-internal-token",
        "test-unsubscribe-secret",
    }
)
PLACEHOLDER_SECRETS = SHIPPED_SECRETS  # the older name
MIN_SECRET_BYTES = 32


def secret_field(default: str, description: str) -> Any:
    """A setting holding a secret: checked in production (`_refuse_weak_secrets`) and kept out
    of the settings' repr, so a validation error or a log line never shows it."""
    return Field(
        default=default, description=description, repr=False, json_schema_extra={"secret": True}
    )


Environment = Literal["development", "test", "production"]


class BaseServiceSettings(BaseSettings):
    """Settings every Parley service reads from `PARLEY_*` environment variables."""

    # hide_input_in_errors: a refused setting's error must not print the other settings'
    # values (secrets and URLs with passwords among them).
    model_config = SettingsConfigDict(
        env_prefix="PARLEY_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    environment: Environment = Field(
        default="development", description="`production` refuses placeholder secrets."
    )
    service_name: str = Field(default="parley", description="Name in logs and metrics.")
    database_url: str = Field(
        default="sqlite+aiosqlite:///var/parley.db",
        description="The service's own database: postgresql+asyncpg://... or sqlite+aiosqlite:///...",
    )
    amqp_url: str = Field(
        default="memory://", description="RabbitMQ (amqp://user:pass@host:5672/) or memory://."
    )
    redis_url: str = Field(
        default="memory://", description="Redis (redis://host:6379/0) or memory://."
    )
    smtp_url: str = Field(
        default="file://var/mail", description="smtp://host:port, or file://DIR for .eml files."
    )
    bus_exchange: str = Field(default="parley.events", description="The topic exchange.")
    bus_queue_prefix: str = Field(
        default="",
        description="Prefix for every queue name (isolates test runs on a shared broker).",
    )
    bus_queue_type: Literal["quorum", "classic"] = Field(
        default="quorum",
        description="RabbitMQ queue type for durable service queues; quorum in production.",
    )
    internal_token: str = secret_field(
        "dev-internal-token", "Shared secret of /internal/ calls (X-Parley-Service-Token)."
    )
    jwt_issuer: str = Field(default="parley", description="`iss` of access tokens.")
    jwt_audience: str = Field(default="parley", description="`aud` of access tokens.")
    jwks_url: str = Field(default="", description="Defaults to {auth_url}/.well-known/jwks.json.")
    jwks_max_age_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How often token checks refetch auth's JWKS although they know every kid, "
        "so that a retired signing key stops being accepted (a new kid is fetched at once).",
    )
    auth_url: str = Field(default="http://127.0.0.1:8001", description="Where auth answers.")
    chat_url: str = Field(default="http://127.0.0.1:8002", description="Where chat answers.")
    notify_url: str = Field(default="http://127.0.0.1:8003", description="Where notify answers.")
    auto_migrate: bool = Field(
        default=True,
        description="Apply this service's migrations at startup (make migrate does it otherwise).",
    )
    cors_origins: list[str] = Field(
        default_factory=lambda: [r"http://127\.0\.0\.1(:\d+)?", r"http://localhost(:\d+)?"],
        description="Allowed browser origins, as regular expressions matched against the whole origin.",
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING, ERROR.")
    log_json: bool = Field(default=True, description="JSON log lines (false: readable lines).")
    db_pool_size: int = Field(default=10, description="Database connections per process.")
    metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Internal port of /metrics, /readyz and /healthz (Prometheus, probes); 0: "
        "none (auth, chat, notify then serve them on their own port, the gateway nowhere).",
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="Address of the metrics port (0.0.0.0 in containers)."
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body; a larger one gets 413 before it is read whole.",
    )
    max_upload_bytes: int = Field(
        default=25 * 1024 * 1024,
        ge=1024,
        description="Largest uploaded file (attachments, avatars); a larger one gets 413 before "
        "it is read whole.",
    )
    outbox_poll_seconds: float = Field(
        default=1.0, description="Outbox relay fallback poll (it is also woken after each commit)."
    )
    gc_freeze: bool = Field(
        default=True,
        description="Once started, move the objects alive then (modules, schemas, the app) out "
        "of the cyclic garbage collector's reach (gc.freeze): unfrozen, each full collection "
        "walked them all, 70 ms pauses in a gateway (bench/README.md).",
    )
    dead_letter_check_seconds: float = Field(
        default=30.0, gt=0, description="How often parley_dead_letters is read from the broker."
    )
    retention_interval_seconds: float = Field(
        default=3600.0, gt=0, description="How often old rows are deleted (docs/operations.md)."
    )
    retention_batch_size: int = Field(
        default=1000, ge=1, description="Rows deleted per statement (short locks, small WAL)."
    )
    retention_pause_factor: float = Field(
        default=9.0,
        ge=0,
        description="Between two full batches the cleanup pauses this many times as long as the "
        "batch took, so it takes at most 1/(1+factor) of the database time it could (0: no "
        "pause; bench/README.md, Retention).",
    )
    outbox_retention_days: float = Field(
        default=7.0, ge=0, description="Published outbox rows are kept this long."
    )
    inbox_retention_days: float = Field(
        default=7.0,
        ge=0,
        description="Consumed event ids are kept this long: longer than the broker keeps "
        "a message it may redeliver.",
    )

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> BaseServiceSettings:
        """In production every secret setting (subclasses' too) is at least 32 bytes and none
        of the values shipped in this repository; the error names the setting, never the value."""
        if self.environment != "production":
            return self
        for name, field in type(self).model_fields.items():
            extra = field.json_schema_extra
            if not (isinstance(extra, dict) and extra.get("secret")):
                continue
            value = str(getattr(self, name))
            variable = f"PARLEY_{name.upper()}"
            if value in SHIPPED_SECRETS:
                raise ValueError(
                    f"{variable} is a value shipped in the Parley repository: set a secret of "
                    "your own in production (make secrets generates them for compose)"
                )
            if len(value.encode()) < MIN_SECRET_BYTES:
                raise ValueError(
                    f"{variable} is shorter than {MIN_SECRET_BYTES} bytes: set a longer secret "
                    "in production (e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')"
                )
        return self

    @model_validator(mode="after")
    def _default_jwks_url(self) -> BaseServiceSettings:
        if not self.jwks_url:
            self.jwks_url = self.auth_url.rstrip("/") + "/.well-known/jwks.json"
        return self

    @property
    def is_embedded_database(self) -> bool:
        return self.database_url.startswith("sqlite")

"""Notify's settings (PARLEY_* environment variables)."""

from __future__ import annotations

from pydantic import Field

from parley_common.settings import BaseServiceSettings, secret_field


class Settings(BaseServiceSettings):
    service_name: str = "notify"
    database_url: str = "sqlite+aiosqlite:///var/notify.db"
    web_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Public URL of the web client, for email links (`make run` and `make "
        "services` set it to the URL they serve, or to PARLEY_PUBLIC_URL, unless it is set).",
    )
    email_from: str = Field(
        default="Parley <no-reply@parley.local>", description="Sender of emails."
    )
    unsubscribe_secret: str = secret_field(
        "change-me", "HMAC key of the one-click unsubscribe links in emails."
    )
    email_delay_seconds: float = Field(
        default=300.0,
        description="Default wait before a missed-message email (users override it in minutes).",
    )
    notification_email_delay_seconds: float = Field(
        default=60.0,
        ge=0,
        description="Wait before a notification's email (per-type choice) goes out; read "
        "in-app meanwhile, it is not sent.",
    )
    email_tick_seconds: float = Field(
        default=2.0, description="How often the sender looks for due emails."
    )
    email_max_attempts: int = Field(
        default=8, description="SMTP attempts before an email is given up."
    )
    email_retry_base_seconds: float = Field(
        default=5.0, description="First retry delay after an SMTP failure (doubles each time)."
    )
    email_retry_max_seconds: float = Field(default=600.0, description="Longest retry delay.")
    smtp_timeout_seconds: float = Field(
        default=20.0, description="Timeout of one SMTP conversation."
    )
    digest_hour_utc: int = Field(
        default=8, ge=0, le=23, description="Hour the daily digest is sent."
    )
    presence_gateway_ttl_seconds: float = Field(
        default=45.0,
        description="A gateway silent this long has all its connections treated as closed.",
    )
    presence_reap_seconds: float = Field(
        default=5.0, description="How often gateways that stopped heartbeating are looked for."
    )
    presence_key_prefix: str = Field(
        default="parley:presence:", description="Prefix of every presence key in the store."
    )
    presence_tombstone_seconds: float = Field(
        default=3600.0,
        description="How long a closed connection id is remembered (a late `connected` is ignored).",
    )

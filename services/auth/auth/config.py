"""Settings of the auth service (`PARLEY_*` environment variables)."""

from __future__ import annotations

from pydantic import Field

from parley_common.files import DEFAULT_MAX_IMAGE_PIXELS
from parley_common.settings import BaseServiceSettings, secret_field
from parley_common.storage import StorageSettings


class Settings(BaseServiceSettings, StorageSettings):
    service_name: str = "auth"
    database_url: str = "sqlite+aiosqlite:///var/auth.db"

    # argon2id cost; tests lower these (e.g. time_cost=1, memory_cost=1024). Hashes made with
    # other parameters are rehashed on the next successful login.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost: int = Field(default=65536, ge=8, description="KiB")
    argon2_parallelism: int = Field(default=4, ge=1)

    access_token_minutes: int = Field(
        default=60, ge=1, description="Access-token lifetime (ARCHITECTURE.md: 60, not 15)."
    )
    refresh_token_days: int = Field(default=30, ge=1)

    login_max_failures_per_user: int = Field(default=10, ge=1)
    login_max_failures_per_address: int = Field(default=10, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)

    user_search_limit: int = Field(default=20, ge=1, le=100)
    revoked_session_retention_days: float = Field(
        default=30.0,
        ge=0,
        description="Ended login sessions (and their refresh tokens) are deleted after this.",
    )
    key_encryption_key: str = secret_field(
        "dev-key-encryption-key",
        "Encrypts the signing keys' private halves in the database (any long random string; "
        "`make secrets` makes one).",
    )
    previous_key_encryption_keys: list[str] = Field(
        default=[],
        repr=False,
        description="Earlier key_encryption_key values, still accepted for reading while "
        "`parley keys rotate` re-encrypts with the current one.",
    )
    key_reload_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often auth looks for a newer signing key and retires superseded ones.",
    )
    signing_key_rotation_days: float = Field(
        default=0.0,
        ge=0,
        description="Rotate the signing key when the newest is this old (0: only by "
        "`parley keys rotate`).",
    )
    web_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Public URL of the web client, for the links in auth's emails (`make run` "
        "and `make services` set it, as for notify).",
    )
    email_from: str = Field(
        default="Parley <no-reply@parley.local>", description="Sender of auth's emails."
    )
    password_reset_minutes: int = Field(
        default=30, ge=1, description="How long a password reset link works."
    )
    verification_days: int = Field(
        default=7, ge=1, description="How long an address verification link works."
    )
    account_emails_per_hour: int = Field(
        default=5,
        ge=1,
        description="Reset and verification emails per account and per client address an hour.",
    )
    require_verified_email: bool = Field(
        default=False,
        description="Refuse to log in until the address is verified (403 email_not_verified).",
    )
    avatar_px: int = Field(
        default=256, ge=32, le=1024, description="Side of the square avatars are re-encoded to."
    )
    max_image_pixels: int = Field(
        default=DEFAULT_MAX_IMAGE_PIXELS,
        description="Largest image (width × height) decoded; a larger one gets 422 (a bomb).",
    )
    deleted_username_grace_days: int = Field(
        default=30,
        ge=0,
        description="A deleted account's username and address stay unavailable this long.",
    )
    export_link_hours: int = Field(
        default=24, ge=1, description="How long a data export's download link works."
    )
    export_parts: list[str] = Field(
        default=["chat"],
        description="The services whose parts a data export waits for (each answers "
        "export.requested with export.contributed).",
    )

"""Settings of the auth service (`PARLEY_*` environment variables)."""

from __future__ import annotations

from pydantic import Field

from parley_common.files import DEFAULT_MAX_IMAGE_PIXELS
from parley_common.settings import BaseServiceSettings
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
    avatar_px: int = Field(
        default=256, ge=32, le=1024, description="Side of the square avatars are re-encoded to."
    )
    max_image_pixels: int = Field(
        default=DEFAULT_MAX_IMAGE_PIXELS,
        description="Largest image (width × height) decoded; a larger one gets 422 (a bomb).",
    )

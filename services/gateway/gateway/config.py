"""Gateway settings (`PARLEY_*` environment variables)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode

from parley_common.settings import BaseServiceSettings

from .addresses import parse_networks

# services/gateway/gateway/config.py → the repository root is three folders up.
REPO_ROOT = Path(__file__).resolve().parents[3]


class Settings(BaseServiceSettings):
    """Settings of the public edge: WebSocket limits, delivery, REST routing."""

    service_name: str = "gateway"
    gateway_id: str = Field(default="", description="This replica's id; random when empty.")
    web_root: Path = Field(
        default=REPO_ROOT / "clients" / "web", description="Static files of the web client."
    )
    public_url: str = Field(
        default="",
        description="The URL clients use (https://chat.example.com): https turns HSTS on, and "
        "its host is the WebSocket origin in the CSP; empty: each request's Host.",
    )
    web_connect_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Other API origins the web client may be set to use (index.html's "
        "parley-api-base), comma-separated; the CSP allows no others.",
    )
    heartbeat_interval: float = Field(default=30.0, description="Seconds between client pings.")
    ws_auth_timeout: float = Field(
        default=5.0, description="Seconds to send the first `auth` frame."
    )
    ws_max_frame_bytes: int = 64 * 1024
    ws_send_queue_size: int = Field(
        default=256, description="Frames queued per socket before it is closed with 4008."
    )
    ws_send_rate: float = Field(
        default=10.0, description="send_message frames per second per user."
    )
    ws_send_burst: int = 20
    rest_rate: float = Field(default=50.0, description="REST requests per second per address.")
    rest_burst: int = 100
    resume_max_messages: int = Field(
        default=1000, description="Larger gaps get resync_required instead of a replay."
    )
    resume_page_size: int = 100
    token_expiring_seconds: float = Field(
        default=60.0, description="token_expiring is sent this long before the token expires."
    )
    typing_timeout: float = Field(
        default=5.0, description="A typing state expires without refresh."
    )
    presence_heartbeat_seconds: float = 15.0
    dedupe_cache_size: int = Field(default=20_000, description="Event ids remembered for dedup.")
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Proxies whose X-Forwarded-For names the client (comma-separated addresses "
        "or CIDR ranges); empty: the client is the TCP peer.",
    )
    session_denylist_seconds: float = Field(
        default=3660.0,
        description="How long a revoked session's access tokens are refused when the event does "
        "not say (the access-token lifetime, plus a minute).",
    )
    upstream_timeout: float = Field(default=10.0, description="Seconds for a call to a service.")
    upstream_pool_size: int = Field(
        default=16,
        description="Pooled connections per service, for the REST proxy (httpcore's per-request "
        "cost grows with it) and for the live path's internal calls.",
    )

    @field_validator("trusted_proxies", "web_connect_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        parse_networks(value)  # raises ValueError for anything that is not an address or range
        return value

    @model_validator(mode="after")
    def _default_gateway_id(self) -> Settings:
        if not self.gateway_id:
            self.gateway_id = f"gw-{uuid.uuid4().hex[:12]}"
        return self

    @property
    def idle_timeout(self) -> float:
        """A socket silent this long is closed: twice the heartbeat, never under 60 s."""
        return max(60.0, 2 * self.heartbeat_interval)

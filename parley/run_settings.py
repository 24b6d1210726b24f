"""Where `make run` and `make services` listen and keep their files: `PARLEY_HOST`,
`PARLEY_PORT`, `PARLEY_DATA_DIR` (or `.env`), overridden by `--host`, `--port`, `--data-dir`;
and how they log and which URL their emails link to.

In `make services` the port is the gateway's and the base of the others: auth, chat and notify
take the next three, gateway replica i (from 0) listens on port + 10·i, and each process's
internal /metrics port is 1000 above its own.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

WILDCARD_HOSTS = ("0.0.0.0", "::", "")  # nosec B104 - names, not a bind


class RunSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARLEY_", env_file=".env", extra="ignore")

    host: str = Field(
        default="127.0.0.1",
        description="Address `make run` and `make services` listen on (0.0.0.0: every "
        "interface); also `--host`.",
    )
    port: int = Field(
        default=8000,
        ge=1,
        le=64000,
        description="Port of the gateway (`--port`); in `make services` auth, chat and notify "
        "take the next three, replica i port + 10·i, /metrics 1000 above each.",
    )
    data_dir: Path = Field(
        default=Path("var"),
        description="`make run`'s SQLite files and emails (mail/); `make services`' logs "
        "(log/) and emails; also `--data-dir`.",
    )

    gateways: int = Field(
        default=1,
        ge=1,
        le=9,
        description="Gateway replicas `make services` starts; also `--gateways`, or "
        "`GATEWAYS=2 make services`.",
    )
    log_level: str = Field(
        default="warning",
        description="uvicorn's log level in `make run` (the services log at their own level).",
    )
    log_json: bool = Field(
        default=False,
        description="JSON log lines in `make run` (default: readable lines in one terminal).",
    )
    web_url: str | None = Field(
        default=None, description="Where email links point; default: PUBLIC_URL, else `url`."
    )
    public_url: str | None = Field(
        default=None, description="The URL the deployment is reached at, when it is not `url`."
    )

    @property
    def url(self) -> str:
        """The URL this machine's browser opens (a wildcard host is reached on loopback)."""
        host = "127.0.0.1" if self.host in WILDCARD_HOSTS else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def email_link_url(self) -> str:
        """Where email links point: web_url, else the public URL, else the URL served."""
        return (self.web_url or self.public_url or self.url).rstrip("/")

    def service_ports(self, gateways: int = 1) -> dict[str, int]:
        ports = {
            "gateway": self.port,
            "auth": self.port + 1,
            "chat": self.port + 2,
            "notify": self.port + 3,
        }
        ports.update({f"gateway-{i + 1}": self.port + 10 * i for i in range(1, gateways)})
        return ports


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--host, --port and --data-dir; their defaults come from RunSettings."""
    parser.add_argument("--host", help="default: PARLEY_HOST or 127.0.0.1")
    parser.add_argument("--port", type=int, help="default: PARLEY_PORT or 8000")
    parser.add_argument("--data-dir", type=Path, help="default: PARLEY_DATA_DIR or var")


def from_arguments(args: argparse.Namespace) -> RunSettings:
    given = {k: v for k in ("host", "port", "data_dir") if (v := getattr(args, k)) is not None}
    return RunSettings(**given)

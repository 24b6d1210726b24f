"""The gateway: public REST routing, the WebSocket edge, the web client, /health."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from parley_common.http import Transports
from parley_common.runtime import Service, create_service_app

from . import runtime
from .config import Settings
from .edge import install_edge
from .upstreams import DirectHandlers


def create_app(
    settings: Settings | None = None,
    *,
    transports: Transports | None = None,
    direct: DirectHandlers | None = None,
) -> FastAPI:
    """`direct`: other services' internal routes callable in this process (the embedded
    mode), by service name."""
    service: Service[Settings, runtime.Gateway] = Service(
        name="gateway",
        title="Parley gateway",
        routers=[],
        build=partial(runtime.build, direct=direct),
        store=True,
        store_in_readiness=False,
        bus_name=lambda s: f"gateway-{s.gateway_id}",
        # The gateway's port is public: /readyz and /metrics only on the metrics port.
        public=True,
        configure=install_edge,
        own_docs=False,
    )
    return create_service_app(service, settings or Settings(), transports=transports)

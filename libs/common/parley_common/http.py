"""HTTP clients between services: pooled, with the service token, and swappable for an
in-process ASGI transport in the embedded mode (one process, no sockets between services)."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from .internal import SERVICE_TOKEN_HEADER

Transports = Mapping[str, httpx.AsyncBaseTransport]


def service_client(
    name: str,
    base_url: str,
    *,
    internal_token: str,
    transports: Transports | None = None,
    timeout: float = 10.0,
) -> httpx.AsyncClient:
    """A client for service `name`; uses `transports[name]` when the composition root gave one."""
    transport = (transports or {}).get(name)
    if transport is None:
        transport = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100), retries=1
        )
    return httpx.AsyncClient(
        base_url=base_url,
        transport=transport,
        timeout=timeout,
        headers={SERVICE_TOKEN_HEADER: internal_token},
    )

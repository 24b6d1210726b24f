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
    limits: httpx.Limits | None = None,
) -> httpx.AsyncClient:
    """A client for service `name`; uses `transports[name]` when the composition root gave one.

    `limits` bounds the connection pool (default 200 connections, 100 kept alive). httpcore
    scans every pooled connection on each request (and counts idle ones per connection), so a
    caller with many concurrent short calls to one service is faster with a small pool."""
    transport = (transports or {}).get(name)
    if transport is None:
        transport = httpx.AsyncHTTPTransport(
            limits=limits or httpx.Limits(max_connections=200, max_keepalive_connections=100),
            retries=1,
        )
    return httpx.AsyncClient(
        base_url=base_url,
        transport=transport,
        timeout=timeout,
        headers={SERVICE_TOKEN_HEADER: internal_token},
    )

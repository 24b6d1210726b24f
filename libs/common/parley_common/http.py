"""HTTP clients between services: pooled, with the service token, and swappable for an
in-process ASGI transport in the embedded mode (one process, no sockets between services)."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from .internal import SERVICE_TOKEN_HEADER

Transports = Mapping[str, httpx.AsyncBaseTransport]

#: Seconds an idle pooled connection may be reused. Under uvicorn's keep-alive timeout (5 s by
#: default): at httpx's own default, also 5 s, a request could go out on a connection the server
#: was closing at that moment, and come back as a RemoteProtocolError (a 502 at the gateway; a
#: fresh-clone CI run hit one while 500 users were set up).
KEEPALIVE_EXPIRY = 2.0


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
    caller with many concurrent short calls to one service is faster with a small pool. Idle
    connections are dropped after KEEPALIVE_EXPIRY whatever `limits` says."""
    transport = (transports or {}).get(name)
    if transport is None:
        limits = limits or httpx.Limits(max_connections=200, max_keepalive_connections=100)
        transport = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(
                max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_keepalive_connections,
                keepalive_expiry=KEEPALIVE_EXPIRY,
            ),
            retries=1,
        )
    return httpx.AsyncClient(
        base_url=base_url,
        transport=transport,
        timeout=timeout,
        headers={SERVICE_TOKEN_HEADER: internal_token},
    )

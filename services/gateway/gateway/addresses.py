"""The client's address: the TCP peer, unless the peer is a trusted proxy (ARCHITECTURE.md,
Security rules).

Rate limits and login throttling count per address, so a forged address would let a client
dodge its limits or lock out someone else's. `X-Forwarded-For` is read only when the peer is in
`PARLEY_TRUSTED_PROXIES` (empty by default), and then from the right: each trusted proxy appends
the address it saw, so the rightmost address that is not a trusted proxy is the first one no
client could have written. uvicorn must not rewrite the peer itself (`--no-proxy-headers`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import HTTPConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR ranges (`10.0.0.0/8`, `172.28.0.10`, `::1`)."""
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


class ClientAddresses:
    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self.trusted = parse_networks(trusted_proxies)

    def is_trusted(self, address: str) -> bool:
        ip = _ip(address)
        return ip is not None and any(ip in network for network in self.trusted)

    def of(self, connection: HTTPConnection) -> str:
        peer = connection.client.host if connection.client else "unknown"
        if not self.trusted or not self.is_trusted(peer):
            return peer
        hops = [
            h.strip() for v in connection.headers.getlist("x-forwarded-for") for h in v.split(",")
        ]
        for hop in reversed(hops):
            if _ip(hop) is None:
                break  # garbage a client wrote: what lies left of it is theirs too
            if not self.is_trusted(hop):
                return hop
        return peer

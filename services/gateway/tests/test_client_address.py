"""The client address is the TCP peer unless the peer is a trusted proxy (issue 12, finding 2):
a throttled address stays throttled whatever X-Forwarded-For says."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request

from gateway.addresses import ClientAddresses
from parley.stack import Process, free_port


def request(peer: str, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", f.encode()) for f in forwarded]
    return Request({"type": "http", "headers": headers, "client": (peer, 5000)})


class TestClientAddresses:
    def test_untrusted_peer_is_the_client_whatever_the_header_says(self) -> None:
        assert ClientAddresses([]).of(request("9.9.9.9", "5.6.7.8")) == "9.9.9.9"
        assert ClientAddresses(["10.0.0.0/8"]).of(request("9.9.9.9", "5.6.7.8")) == "9.9.9.9"
        # Not even loopback is trusted by default (uvicorn's own default trusts 127.0.0.1).
        assert ClientAddresses([]).of(request("127.0.0.1", "5.6.7.8")) == "127.0.0.1"

    def test_trusted_proxy_names_the_client_rightmost_untrusted_first(self) -> None:
        addresses = ClientAddresses(["10.0.0.0/8", "172.28.0.10"])
        assert addresses.of(request("172.28.0.10", "5.6.7.8")) == "5.6.7.8"
        # A client's own header is to the left of what the proxies appended.
        assert addresses.of(request("10.1.1.1", "1.1.1.1, 5.6.7.8, 10.2.2.2")) == "5.6.7.8"
        assert addresses.of(request("10.1.1.1", "1.1.1.1", "5.6.7.8")) == "5.6.7.8"

    def test_garbage_or_only_proxies_fall_back_to_the_peer(self) -> None:
        addresses = ClientAddresses(["10.0.0.0/8"])
        assert addresses.of(request("10.1.1.1", "not-an-ip")) == "10.1.1.1"
        assert addresses.of(request("10.1.1.1", "10.3.3.3")) == "10.1.1.1"
        assert addresses.of(request("10.1.1.1")) == "10.1.1.1"

    def test_a_bad_range_is_refused_by_the_settings(self) -> None:
        from gateway.config import Settings

        with pytest.raises(ValueError):
            Settings(trusted_proxies="10.0.0.0/99")
        assert Settings(trusted_proxies="10.0.0.0/8, ::1").trusted_proxies == ["10.0.0.0/8", "::1"]


@pytest.fixture
def throttled_gateway() -> Iterator[Process]:
    """A gateway process started exactly as `make services` starts one (parley.stack), two
    REST requests per address, no refill to speak of, every upstream down."""
    port = free_port()
    env = {
        "PARLEY_ENVIRONMENT": "development",
        "PARLEY_AMQP_URL": "memory://",
        "PARLEY_REDIS_URL": "memory://",
        "PARLEY_AUTH_URL": "http://127.0.0.1:9",
        "PARLEY_CHAT_URL": "http://127.0.0.1:9",
        "PARLEY_NOTIFY_URL": "http://127.0.0.1:9",
        "PARLEY_REST_BURST": "2",
        "PARLEY_REST_RATE": "0.001",
    }
    process = Process("gateway-xff", port, env)
    process.start(Path(tempfile.mkdtemp(prefix="parley-xff-")))
    try:
        process.wait_ready(60)
        yield process
    finally:
        process.stop()


async def test_a_throttled_address_stays_throttled_whatever_x_forwarded_for_says(
    throttled_gateway: Process,
) -> None:
    async with httpx.AsyncClient(base_url=throttled_gateway.url, trust_env=False) as http:
        for _ in range(2):
            assert (await http.get("/friends")).status_code == 503  # chat is down
        assert (await http.get("/friends")).status_code == 429
        for forged in ("5.6.7.8", "5.6.7.9, 127.0.0.1", "127.0.0.2"):
            r = await http.get("/friends", headers={"X-Forwarded-For": forged})
            assert r.status_code == 429, forged
        r = await http.post(
            "/auth/login",
            json={"username": "x", "password": "y"},
            headers={
                "X-Forwarded-For": "5.6.7.8",
                "X-Real-IP": "5.6.7.8",
                "Forwarded": "for=5.6.7.8",
            },
        )
        assert r.status_code == 429

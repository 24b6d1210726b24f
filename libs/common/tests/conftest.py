from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

import pytest

from parley_common.bus import Bus, create_bus
from parley_common.testing.plugin import BusConfig
from parley_common.testing.proxy import TcpProxy
from parley_common.testing.waiting import wait_for


@pytest.fixture(params=["memory", "rabbitmq"])
def bus_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def make_bus(bus_kind: str, amqp: BusConfig) -> AsyncIterator[Callable[..., Bus]]:
    """Buses of the parametrized kind sharing one broker (a memory URL or an exchange)."""
    buses: list[Bus] = []
    memory_url = f"memory://{amqp.exchange}"

    async def factory(url: str | None = None) -> Bus:
        if bus_kind == "memory":
            bus = create_bus(memory_url, queue_prefix=amqp.queue_prefix, queue_type=amqp.queue_type)
        else:
            # The production queue type: delivery limits and dead-lettering are quorum's.
            bus = create_bus(
                url or amqp.url,
                exchange=amqp.exchange,
                queue_prefix=amqp.queue_prefix,
                queue_type="quorum",
            )
        await bus.start()
        buses.append(bus)
        if bus_kind != "memory":
            # The shared broker sometimes takes tens of seconds to accept a connection.
            await wait_for(lambda: bus.connected, timeout=90, message="broker connection")
        return bus

    yield factory  # type: ignore[misc]
    for bus in buses:
        await bus.close()


@pytest.fixture
async def rabbit_proxy(amqp: BusConfig) -> AsyncIterator[tuple[TcpProxy, str]]:
    """A cuttable TCP proxy in front of the real RabbitMQ, and the AMQP URL through it."""
    parts = urlsplit(amqp.url)
    proxy = await TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672).start()
    netloc = f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}"
    yield proxy, parts._replace(netloc=netloc).geturl()
    await proxy.close()

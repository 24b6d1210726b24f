from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, cast
from urllib.parse import urlsplit

import pytest

from parley_common.bus import Bus, create_bus
from parley_common.bus.rabbit import RabbitBus
from parley_common.testing.plugin import BusConfig
from parley_common.testing.proxy import TcpProxy
from parley_common.testing.waiting import wait_for


class MakeBus(Protocol):
    """The `make_bus` fixture: a started bus, on the given AMQP URL for RabbitMQ."""

    async def __call__(self, url: str | None = None) -> Bus: ...


@pytest.fixture(params=["memory", "rabbitmq"])
def bus_kind(request: pytest.FixtureRequest) -> str:
    # pytest types `param` as Any; the params above are strings.
    return cast(str, request.param)


@pytest.fixture
async def make_bus(bus_kind: str, amqp: BusConfig) -> AsyncIterator[MakeBus]:
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
        if isinstance(bus, RabbitBus):
            # The shared broker sometimes takes tens of seconds to accept a connection.
            rabbit = bus
            await wait_for(lambda: rabbit.connected, timeout=90, message="broker connection")
        return bus

    yield factory
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

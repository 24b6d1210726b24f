"""RabbitMQ subscriptions under a connection burst (what a gateway replica does when many
sockets open and close at once): bindings change concurrently, callers get cancelled, and
the broker may close the channel. The subscription must keep consuming, and say so when it
had to be re-created (`on_reconnect`)."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import aiormq
import pytest

from parley_common.bus import Delivery, create_bus
from parley_common.bus.rabbit import RabbitBus
from parley_common.testing.plugin import BusConfig
from parley_common.testing.waiting import wait_for


@pytest.fixture
async def rabbit(amqp: BusConfig) -> AsyncIterator[Callable[[], Awaitable[RabbitBus]]]:
    buses: list[RabbitBus] = []

    async def factory() -> RabbitBus:
        bus = create_bus(
            amqp.url,
            exchange=amqp.exchange,
            queue_prefix=amqp.queue_prefix,
            queue_type=amqp.queue_type,
        )
        assert isinstance(bus, RabbitBus)
        await bus.start()
        buses.append(bus)
        await wait_for(lambda: bus.connected, timeout=90, message="broker connection")
        return bus

    yield factory
    for bus in buses:
        await bus.close()


async def test_a_connection_burst_with_cancelled_callers_keeps_the_consumer(
    rabbit: Callable[[], Awaitable[RabbitBus]],
) -> None:
    """400 'sockets', 50 in flight: bind user+conv patterns, publish a transient presence
    event, a third of them are cancelled mid-setup (client went away), half unbind. Before
    the fix a cancelled `Queue.Bind` RPC made aiormq close the channel: the consumer was gone
    and nothing was delivered any more."""
    gateway, producer = await rabbit(), await rabbit()
    got: set[str] = set()

    async def handle(d: Delivery) -> None:
        got.add(d.routing_key)

    sub = await gateway.subscribe(f"gateway.{uuid.uuid4().hex}", [], handle, exclusive=True)
    gate = asyncio.Semaphore(50)
    rng = random.Random(7)

    async def socket(i: int) -> None:
        async with gate:
            await sub.bind(f"user.{i}.#")
            await sub.bind(f"conv.{i % 37}.#")
            await gateway.publish("svc.presence.connected", b"{}", persistent=False)
            if i % 2:
                await sub.unbind(f"user.{i}.#")

    tasks = [asyncio.create_task(socket(i)) for i in range(400)]
    for i, task in enumerate(tasks):
        if i % 3 == 0:
            for _ in range(rng.randint(0, 3)):
                await asyncio.sleep(0)
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    # Whatever the callers saw, the subscription applies the wanted state and keeps consuming.
    await sub.bind("user.final.#")
    expected = {"user.final.x"} | {
        f"conv.{c}.x" for c in range(37) if f"conv.{c}.#" in sub.bindings
    }
    for key in sorted(expected):
        await producer.publish(key, b"{}")
    await wait_for(lambda: expected <= got, timeout=15, message="deliveries after the burst")
    # Unbound patterns no longer deliver.
    unbound = [i for i in range(1, 400, 2) if f"user.{i}.#" not in sub.bindings][:20]
    for i in unbound:
        await producer.publish(f"user.{i}.x", b"{}")
    await producer.publish("user.final.y", b"{}")
    await wait_for(lambda: "user.final.y" in got, timeout=15, message="the marker")
    assert not {f"user.{i}.x" for i in unbound} & got
    assert sub.alive and sub.recoveries == 0


async def test_cancelling_a_bind_never_cancels_the_rpc(
    rabbit: Callable[[], Awaitable[RabbitBus]],
) -> None:
    gateway, producer = await rabbit(), await rabbit()
    got: list[str] = []

    async def handle(d: Delivery) -> None:
        got.append(d.routing_key)

    sub = await gateway.subscribe(
        f"gateway.{uuid.uuid4().hex}", ["user.a.#"], handle, exclusive=True
    )
    for i in range(20):
        task = asyncio.create_task(sub.bind(f"user.c{i}.#"))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    await sub.bind("user.z.#")  # returns once every change before it is applied
    await producer.publish("user.a.x", b"{}")
    await producer.publish("user.c19.x", b"{}")
    await wait_for(lambda: {"user.a.x", "user.c19.x"} <= set(got), timeout=15, message="delivery")
    assert sub.recoveries == 0


async def test_a_channel_closed_by_the_broker_is_restored_and_reported(
    rabbit: Callable[[], Awaitable[RabbitBus]],
) -> None:
    """The broker closes the subscription's channel (here: a passive declare of a missing
    queue, 404). The subscription re-declares, re-binds, consumes again and runs the
    on_reconnect callbacks, so a gateway can tell its clients to resume."""
    gateway, producer = await rabbit(), await rabbit()
    got: list[str] = []
    reported = asyncio.Event()

    async def handle(d: Delivery) -> None:
        got.append(d.routing_key)

    async def on_reconnect() -> None:
        reported.set()

    gateway.on_reconnect.append(on_reconnect)
    sub = await gateway.subscribe(
        f"gateway.{uuid.uuid4().hex}", ["user.a.#"], handle, exclusive=True
    )
    await sub.bind("user.b.#")
    channel = sub._channel
    assert channel is not None  # open: the bus was connected before subscribing
    underlay = await channel.get_underlay_channel()
    with pytest.raises(aiormq.exceptions.ChannelNotFoundEntity):
        await underlay.queue_declare(f"missing-{uuid.uuid4().hex}", passive=True)
    await asyncio.wait_for(reported.wait(), 30)
    assert sub.recoveries == 1 and sub.alive
    await producer.publish("user.a.x", b"{}")
    await producer.publish("user.b.x", b"{}")
    await wait_for(lambda: {"user.a.x", "user.b.x"} <= set(got), timeout=15, message="delivery")

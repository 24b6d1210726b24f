"""An event written with a state change reaches a consumer exactly once as processed: also when
the relay publishes twice, and when the broker is unreachable for a while."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, MutableMapping
from dataclasses import dataclass
from typing import Any

import pytest
import structlog
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from structlog.testing import capture_logs

import parley_common.outbox as outbox_module
from parley_common.bus import Bus, create_bus
from parley_common.bus import rabbit as rabbit_module
from parley_common.bus import subscription as subscription_module
from parley_common.consumer import EventConsumer, processed_events_table
from parley_common.db import create_engine, make_sessionmaker
from parley_common.events import Envelope, UserRegistered, envelope, svc_key
from parley_common.outbox import Outbox, OutboxRelay, outbox_table
from parley_common.testing.plugin import BusConfig
from parley_common.testing.proxy import TcpProxy
from parley_common.testing.waiting import wait_for

metadata = MetaData()
items = Table(
    "items", metadata, Column("id", Integer, primary_key=True), Column("name", String(50))
)
outbox_t = outbox_table(metadata)
processed_t = processed_events_table(metadata)


@dataclass
class World:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    outbox: Outbox
    processed: list[Envelope]


@pytest.fixture
async def world(pg_url: str) -> AsyncIterator[World]:
    engine = create_engine(pg_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield World(engine, make_sessionmaker(engine), Outbox(outbox_t), [])
    await engine.dispose()


async def register(world: World, user_id: int) -> Envelope:
    """A state change and its event, committed together."""
    env = envelope(
        UserRegistered(
            user_id=user_id,
            username=f"u{user_id}",
            email=f"u{user_id}@x.io",
            created_at="2026-01-01T00:00:00Z",
        ),
        producer="test",
    )
    async with world.sessions() as session, session.begin():
        await session.execute(insert(items).values(id=user_id, name=f"u{user_id}"))
        await world.outbox.add(session, env, [svc_key(env.type)])
    return env


async def start_consumer(
    world: World, bus: Bus, queue: str = "outbox-test.events"
) -> EventConsumer:
    async def on_registered(session: AsyncSession, env: Envelope) -> None:
        world.processed.append(env)

    consumer = EventConsumer(
        service="test",
        bus=bus,
        sessionmaker=world.sessions,
        processed_table=processed_t,
        queue=queue,
        bindings=["svc.user.*"],
        handlers={"user.registered": on_registered},
    )
    await consumer.start()
    return consumer


async def pending(world: World) -> int:
    async with world.sessions() as session:
        return int(
            (
                await session.execute(
                    select(func.count()).select_from(outbox_t).where(outbox_t.c.sent_at.is_(None))
                )
            ).scalar_one()
        )


class TestOutboxOnRabbitMQ:
    async def test_event_reaches_the_consumer_once(self, world: World, amqp: BusConfig) -> None:
        bus = create_bus(
            amqp.url,
            exchange=amqp.exchange,
            queue_prefix=amqp.queue_prefix,
            queue_type=amqp.queue_type,
        )
        await bus.start()
        consumer = await start_consumer(world, bus)
        relay = OutboxRelay(
            outbox=world.outbox,
            sessionmaker=world.sessions,
            bus=bus,
            service="test",
            poll_seconds=0.2,
        )
        relay.start()
        try:
            env = await register(world, 1)
            await wait_for(lambda: world.processed, message="event processed")
            await wait_for(lambda: _zero(pending(world)), message="outbox drained")
            assert [e.id for e in world.processed] == [env.id]
        finally:
            await relay.stop()
            await consumer.stop()
            await bus.close()

    async def test_a_second_publish_is_processed_once(self, world: World, amqp: BusConfig) -> None:
        bus = create_bus(
            amqp.url,
            exchange=amqp.exchange,
            queue_prefix=amqp.queue_prefix,
            queue_type=amqp.queue_type,
        )
        await bus.start()
        consumer = await start_consumer(world, bus)
        relay = OutboxRelay(
            outbox=world.outbox, sessionmaker=world.sessions, bus=bus, service="test"
        )
        try:
            env = await register(world, 2)
            assert await relay.relay_once() == 1
            # The relay crashed after publishing but before its commit: the row is due again.
            async with world.sessions() as session, session.begin():
                await session.execute(update(outbox_t).values(sent_at=None))
            assert await relay.relay_once() == 1
            await register(world, 3)  # a later event proves the duplicate was consumed first
            assert await relay.relay_once() == 1
            await wait_for(lambda: len(world.processed) == 2, message="two distinct events")
            async with world.sessions() as session:
                seen = (
                    await session.execute(select(func.count()).select_from(processed_t))
                ).scalar_one()
            assert seen == 2
            assert world.processed[0].id == env.id
        finally:
            await consumer.stop()
            await bus.close()

    async def test_events_wait_for_an_unreachable_broker(
        self,
        world: World,
        amqp: BusConfig,
        rabbit_proxy: tuple[TcpProxy, str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        proxy, url = rabbit_proxy
        relay_bus = create_bus(
            url, exchange=amqp.exchange, queue_prefix=amqp.queue_prefix, queue_type=amqp.queue_type
        )
        consumer_bus = create_bus(
            amqp.url,
            exchange=amqp.exchange,
            queue_prefix=amqp.queue_prefix,
            queue_type=amqp.queue_type,
        )
        await relay_bus.start()
        await consumer_bus.start()
        consumer = await start_consumer(world, consumer_bus)
        relay = OutboxRelay(
            outbox=world.outbox,
            sessionmaker=world.sessions,
            bus=relay_bus,
            service="test",
            poll_seconds=0.2,
            max_backoff_seconds=0.5,
        )
        relay.start()
        try:
            with capture_logs() as logs:
                # Loggers already used by earlier tests are cached with the configuration of
                # that time; fresh ones log into this capture.
                for module in (outbox_module, rabbit_module, subscription_module):
                    monkeypatch.setattr(module, "log", structlog.get_logger(module.__name__))
                await proxy.cut()
                await wait_for(lambda: _not(relay_bus.ping()), message="relay's bus sees the cut")
                sent = [await register(world, i) for i in range(10, 15)]  # commits still succeed
                # Nothing can go out while the broker is unreachable.
                await wait_for(lambda: _attempted(world), message="a failed publish attempt")
                assert await pending(world) == 5 and world.processed == []

                await proxy.restore()
                await wait_for(
                    lambda: len(world.processed) == 5, timeout=30, message="events after return"
                )
                assert sorted(str(e.id) for e in world.processed) == sorted(str(e.id) for e in sent)
                # The operator reads one warning for the outage from the bus and one from the
                # relay (not one per attempt or row), and one line each when it is over.
                await wait_for(
                    lambda: "outbox.publishing_again" in logged(logs, "info"),
                    message="the relay says events flow again",
                )
                warnings = logged(logs, "warning") + logged(logs, "error")
                assert sorted(warnings) == ["bus.connection_lost", "outbox.publish_failed"], (
                    warnings
                )
                assert logged(logs, "info").count("bus.reconnected") == 1
        finally:
            await relay.stop()
            await consumer.stop()
            await relay_bus.close()
            await consumer_bus.close()


class TestOutboxInMemory:
    async def test_relay_wakes_right_after_commit(self, world: World) -> None:
        bus = create_bus("memory://outbox-wake")
        consumer = await start_consumer(world, bus, queue="wake.events")
        # A long poll interval: only the after-commit wake-up can deliver in time.
        relay = OutboxRelay(
            outbox=world.outbox,
            sessionmaker=world.sessions,
            bus=bus,
            service="test",
            poll_seconds=60,
        )
        relay.start()
        try:
            await wait_for(lambda: _zero(pending(world)), message="relay idle")
            await register(world, 20)
            await wait_for(lambda: world.processed, timeout=5, message="woken relay")
        finally:
            await relay.stop()
            await consumer.stop()
            await bus.close()


async def _zero(awaitable: Awaitable[int]) -> bool:
    return await awaitable == 0


async def _not(awaitable: Awaitable[bool]) -> bool:
    return not await awaitable


async def _attempted(world: World) -> bool:
    async with world.sessions() as session:
        return bool((await session.execute(select(func.max(outbox_t.c.attempts)))).scalar_one())


def logged(logs: list[MutableMapping[str, Any]], level: str) -> list[str]:
    """The events logged at exactly `level` (structlog's capture)."""
    return [entry["event"] for entry in logs if entry["log_level"] == level]

"""The in-memory and RabbitMQ buses pass the same routing and ack tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable

import pytest

from parley_common.bus import Delivery, Handler, MemoryBus, create_bus, topic_matches
from parley_common.bus.rabbit import BusUnavailable, RabbitBus
from parley_common.testing.plugin import BusConfig
from parley_common.testing.proxy import TcpProxy
from parley_common.testing.waiting import wait_for

from .conftest import MakeBus


class TestTopicMatching:
    @pytest.mark.parametrize(
        ("pattern", "key", "expected"),
        [
            ("conv.1.#", "conv.1.message.created", True),
            ("conv.1.#", "conv.1", True),
            ("conv.1.#", "conv.12.message.created", False),
            ("conv.*.message.created", "conv.7.message.created", True),
            ("conv.*.message.created", "conv.7.message.edited", False),
            ("svc.*", "svc.user.registered", False),
            ("svc.#", "svc.user.registered", True),
            ("#", "anything.at.all", True),
            ("user.*.friend.*", "user.3.friend.requested", True),
            ("a.#.z", "a.z", True),
            ("a.#.z", "a.b.c.z", True),
            ("a.#.z", "a.b.c", False),
        ],
    )
    def test_patterns(self, pattern: str, key: str, expected: bool) -> None:
        assert topic_matches(pattern, key) is expected


class TestRouting:
    async def test_each_queue_gets_what_its_bindings_match(self, make_bus: MakeBus) -> None:
        consumer, producer = await make_bus(), await make_bus()
        got: dict[str, list[str]] = {"a": [], "b": []}

        def collector(name: str) -> Handler:
            async def handle(d: Delivery) -> None:
                got[name].append(d.routing_key)

            return handle

        await consumer.subscribe("routing.a", ["conv.1.#"], collector("a"))
        await consumer.subscribe(
            "routing.b", ["conv.*.message.created", "user.9.#"], collector("b")
        )
        for key in [
            "conv.1.message.created",
            "conv.2.message.created",
            "conv.1.typing",
            "user.9.presence.changed",
            "user.8.presence.changed",
        ]:
            await producer.publish(key, b"{}", message_id=uuid.uuid4().hex)

        await wait_for(
            lambda: len(got["a"]) == 2 and len(got["b"]) == 3, message="routed deliveries"
        )
        assert sorted(got["a"]) == ["conv.1.message.created", "conv.1.typing"]
        assert sorted(got["b"]) == [
            "conv.1.message.created",
            "conv.2.message.created",
            "user.9.presence.changed",
        ]

    async def test_bindings_change_while_consuming(self, make_bus: MakeBus) -> None:
        bus = await make_bus()
        got: list[str] = []

        async def handle(d: Delivery) -> None:
            got.append(d.body.decode())

        sub = await bus.subscribe(f"gateway.{uuid.uuid4().hex}", [], handle, exclusive=True)
        await sub.bind("user.1.#")
        await bus.publish("user.1.x", b"one")
        await wait_for(lambda: got == ["one"], message="first delivery")
        await sub.unbind("user.1.#")
        await sub.bind("user.2.#")
        await bus.publish("user.1.x", b"dropped")
        await bus.publish("user.2.x", b"two")
        await wait_for(lambda: "two" in got, message="delivery after rebind")
        assert got == ["one", "two"]

    async def test_replicas_naming_one_queue_share_its_work(self, make_bus: MakeBus) -> None:
        first, second, producer = await make_bus(), await make_bus(), await make_bus()
        got: list[str] = []

        async def handle(d: Delivery) -> None:
            got.append(d.body.decode())

        await first.subscribe("shared.work", ["job.#"], handle)
        await second.subscribe("shared.work", ["job.#"], handle)
        for i in range(20):
            await producer.publish("job.run", str(i).encode())
        await wait_for(lambda: len(got) == 20, message="20 jobs")
        assert sorted(got, key=int) == [str(i) for i in range(20)]


class TestAcks:
    async def test_failed_handler_gets_the_message_again(self, make_bus: MakeBus) -> None:
        bus = await make_bus()
        attempts: list[int] = []

        async def flaky(d: Delivery) -> None:
            attempts.append(d.attempt)
            if len(attempts) < 3:
                raise RuntimeError("transient")

        await bus.subscribe("acks.flaky", ["flaky.#"], flaky, max_attempts=5)
        await bus.publish("flaky.one", b"x")
        await wait_for(lambda: len(attempts) == 3, message="three attempts")
        assert attempts == [1, 2, 3]

    async def test_poison_message_goes_to_the_dead_letter_queue(self, make_bus: MakeBus) -> None:
        bus = await make_bus()
        attempts: list[int] = []
        dead: list[bytes] = []

        async def always_fails(d: Delivery) -> None:
            attempts.append(d.attempt)
            raise RuntimeError("poison")

        async def on_dead(d: Delivery) -> None:
            dead.append(d.body)

        await bus.subscribe("acks.poison", ["poison.#"], always_fails, max_attempts=3)
        await bus.publish("poison.one", b"bad")
        await wait_for(lambda: bus.dead_letter_count("acks.poison"), message="dead", timeout=20)
        (letter,) = await bus.dead_letters("acks.poison", limit=10)
        assert (letter.body, letter.routing_key) == (b"bad", "poison.one")
        assert len(attempts) == 3
        if not isinstance(bus, MemoryBus):
            # On RabbitMQ the dead-letter queue is a queue like any other: it can be consumed.
            sub = await bus.subscribe("acks.poison.dlq", [], on_dead)
            await wait_for(lambda: dead, message="dead letter", timeout=20)
            await sub.cancel()
            assert dead == [b"bad"]

    async def test_dead_letters_peeked_replayed_and_dropped(self, make_bus: MakeBus) -> None:
        bus = await make_bus()
        fixed = False
        handled: list[bytes] = []

        async def fails_until_fixed(d: Delivery) -> None:
            if not fixed:
                raise RuntimeError("bug")
            handled.append(d.body)

        await bus.subscribe("acks.dlq_ops", ["ops.#"], fails_until_fixed, max_attempts=2)
        for body in (b"one", b"two", b"three"):
            await bus.publish("ops.x", body)

        async def dead_count() -> bool:
            return await bus.dead_letter_count("acks.dlq_ops") == 3

        await wait_for(dead_count, message="three dead letters", timeout=30)
        peeked = await bus.dead_letters("acks.dlq_ops", limit=2)
        assert [d.body for d in peeked] == [b"one", b"two"]
        assert await bus.dead_letter_count("acks.dlq_ops") == 3  # peeking leaves them
        fixed = True
        # (RabbitMQ may requeue peeked messages behind the others: no order from here on.)
        replayed = {
            d.body for d in await bus.dead_letters("acks.dlq_ops", limit=2, action="replay")
        }
        assert len(replayed) == 2 and replayed <= {b"one", b"two", b"three"}
        await wait_for(lambda: len(handled) == 2, message="the replayed two handled")
        assert set(handled) == replayed
        dropped = await bus.dead_letters("acks.dlq_ops", limit=10, action="drop")
        assert {d.body for d in dropped} == {b"one", b"two", b"three"} - replayed
        assert await bus.dead_letter_count("acks.dlq_ops") == 0
        assert await bus.dead_letters("acks.dlq_ops", limit=10) == []
        assert await bus.dead_letter_count("never.used") == 0


class TestClassicQueues:
    """The test suite runs services on classic queues; they redeliver once, then dead-letter."""

    async def test_second_failure_dead_letters(self, amqp: BusConfig) -> None:
        bus = create_bus(
            amqp.url, exchange=amqp.exchange, queue_prefix=amqp.queue_prefix, queue_type="classic"
        )
        assert isinstance(bus, RabbitBus)
        await bus.start()
        attempts: list[int] = []
        dead: list[bytes] = []

        async def always_fails(d: Delivery) -> None:
            attempts.append(d.attempt)
            raise RuntimeError("poison")

        async def on_dead(d: Delivery) -> None:
            dead.append(d.body)

        try:
            await wait_for(lambda: bus.connected, timeout=90, message="broker connection")
            await bus.subscribe("classic.poison", ["cpoison.#"], always_fails, max_attempts=5)
            await bus.subscribe("classic.poison.dlq", [], on_dead)
            await bus.publish("cpoison.one", b"bad")
            await wait_for(lambda: dead, timeout=20, message="dead letter")
            assert dead == [b"bad"]
            assert attempts == [1, 2]
        finally:
            await bus.close()


class TestRabbitReconnect:
    """Only RabbitMQ has a connection to lose."""

    async def test_consumers_and_bindings_survive_a_lost_connection(
        self, amqp: BusConfig, rabbit_proxy: tuple[TcpProxy, str]
    ) -> None:
        proxy, url = rabbit_proxy
        consumer = create_bus(
            url, exchange=amqp.exchange, queue_prefix=amqp.queue_prefix, queue_type=amqp.queue_type
        )
        producer = create_bus(
            amqp.url,
            exchange=amqp.exchange,
            queue_prefix=amqp.queue_prefix,
            queue_type=amqp.queue_type,
        )
        await consumer.start()
        await producer.start()
        got: list[str] = []
        reconnected = asyncio.Event()

        async def handle(d: Delivery) -> None:
            got.append(d.body.decode())

        async def on_reconnect() -> None:
            reconnected.set()

        consumer.on_reconnect.append(on_reconnect)
        try:
            sub = await consumer.subscribe(
                f"gateway.{uuid.uuid4().hex}", [], handle, exclusive=True
            )
            await sub.bind("user.5.#")
            await producer.publish("user.5.a", b"before")
            await wait_for(lambda: got == ["before"], message="delivery before the cut")

            await proxy.cut()
            await proxy.restore()
            await asyncio.wait_for(reconnected.wait(), 30)
            await producer.publish("user.5.a", b"after")
            await wait_for(lambda: "after" in got, message="delivery after reconnect", timeout=15)
            assert got == ["before", "after"]
        finally:
            await consumer.close()
            await producer.close()

    async def test_publish_fails_fast_while_the_broker_is_unreachable(
        self, amqp: BusConfig, rabbit_proxy: tuple[TcpProxy, str]
    ) -> None:
        proxy, url = rabbit_proxy
        bus = create_bus(
            url, exchange=amqp.exchange, queue_prefix=amqp.queue_prefix, queue_type=amqp.queue_type
        )
        await bus.start()
        try:
            await proxy.cut()
            await wait_for(lambda: _not(bus.ping()), message="bus notices the cut", timeout=15)
            with pytest.raises(BusUnavailable):
                await bus.publish("user.1.x", b"lost?")
        finally:
            await bus.close()


async def _not(awaitable: Awaitable[bool]) -> bool:
    return not await awaitable


class TestBatches:
    async def test_waiting_deliveries_arrive_together_in_order(self, make_bus: MakeBus) -> None:
        consumer, producer = await make_bus(), await make_bus()
        batches: list[list[str]] = []
        gate = asyncio.Event()

        async def handle(batch: list[Delivery]) -> None:
            await gate.wait()  # the first batch holds the consumer while the rest queue up
            batches.append([d.body.decode() for d in batch])

        await consumer.subscribe_batches("batches.order", ["b.#"], handle, max_batch=50)
        for i in range(60):
            await producer.publish("b.x", str(i).encode())
        await asyncio.sleep(0.2)  # let the broker push what it can before the gate opens
        gate.set()
        await wait_for(lambda: sum(map(len, batches)) == 60, message="60 deliveries")
        assert [int(b) for batch in batches for b in batch] == list(range(60))
        assert max(map(len, batches)) > 1
        assert all(len(batch) <= 50 for batch in batches)

    async def test_a_poison_delivery_fails_alone(self, make_bus: MakeBus) -> None:
        bus = await make_bus()
        handled: list[str] = []
        attempts: list[int] = []

        async def handle(batch: list[Delivery]) -> None:
            for d in batch:
                if d.body == b"poison":
                    attempts.append(d.attempt)
                    raise RuntimeError("poison")
            handled.extend(d.body.decode() for d in batch)

        await bus.subscribe_batches("batches.poison", ["p.#"], handle, max_attempts=3)
        for body in (b"a", b"poison", b"b", b"c"):
            await bus.publish("p.x", body)
        await wait_for(lambda: {"a", "b", "c"} <= set(handled), message="the good ones")
        await wait_for(lambda: len(attempts) >= 3, message="poison retried", timeout=20)
        await wait_for(lambda: bus.dead_letter_count("batches.poison"), message="dead", timeout=20)
        assert sorted(handled) == ["a", "b", "c"]  # each good one handled once

    async def test_bulk_bindings_route_once_applied(self, make_bus: MakeBus) -> None:
        bus = await make_bus()
        got: set[str] = set()

        async def handle(batch: list[Delivery]) -> None:
            got.update(d.routing_key for d in batch)

        sub = await bus.subscribe_batches(
            f"gateway.{uuid.uuid4().hex}", [], handle, exclusive=True, auto_ack=True
        )
        await sub.update_bindings(add=[f"user.{i}.#" for i in range(100)])
        for i in range(100):
            await bus.publish(f"user.{i}.x", b"{}")
        await wait_for(lambda: len(got) == 100, message="a delivery per binding")
        await sub.update_bindings(remove=[f"user.{i}.#" for i in range(50)])
        await sub.update_bindings(add=["user.marker.#"])
        await sub.unbind("user.none.#")  # waits until nothing is left to apply
        for i in range(50):
            await bus.publish(f"user.{i}.y", b"{}")
        await bus.publish("user.marker.y", b"{}")
        await wait_for(lambda: "user.marker.y" in got, message="the marker")
        assert not {f"user.{i}.y" for i in range(50)} & got


class TestTopicIndex:
    def test_many_patterns_match_like_one(self) -> None:
        from parley_common.bus.topics import TopicIndex

        index: TopicIndex[str] = TopicIndex()
        patterns = ["conv.1.#", "conv.*.message.created", "user.9.#", "a.#.z", "#", "svc.*"]
        for p in patterns:
            index.add(p, p)
        for key in ["conv.1.typing", "conv.2.message.created", "a.b.z", "svc.x", "user.9"]:
            assert index.match(key) == {p for p in patterns if topic_matches(p, key)}
        index.remove("#", "#")
        index.remove("conv.1.#", "conv.1.#")
        assert index.match("conv.1.typing") == set()
        assert index.match("conv.1.message.created") == {"conv.*.message.created"}

"""The in-process bus: the same topic routing and ack semantics as RabbitMQ, in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

import structlog

from .base import Bus, Delivery, Handler, Subscription, topic_matches

log = structlog.get_logger(__name__)

# Buses named by the same URL share one broker, as services on one RabbitMQ do.
_BROKERS: dict[str, _Broker] = {}


class _Queue:
    def __init__(self, name: str, *, exclusive: bool, max_attempts: int) -> None:
        self.name = name
        self.exclusive = exclusive
        self.max_attempts = max_attempts
        self.bindings: set[str] = set()
        self.items: asyncio.Queue[Delivery] = asyncio.Queue()
        self.dead: list[Delivery] = []
        self.consumers = 0

    def accepts(self, routing_key: str) -> bool:
        return any(topic_matches(p, routing_key) for p in self.bindings)


class _Broker:
    def __init__(self) -> None:
        self.queues: dict[str, _Queue] = {}

    def route(self, delivery: Delivery) -> None:
        for queue in self.queues.values():
            if queue.accepts(delivery.routing_key):
                queue.items.put_nowait(delivery)


def broker_for(url: str) -> _Broker:
    return _BROKERS.setdefault(url, _Broker())


def reset_brokers() -> None:
    _BROKERS.clear()


class _MemorySubscription(Subscription):
    def __init__(self, broker: _Broker, queue: _Queue, handler: Handler, prefetch: int) -> None:
        self._broker = broker
        self._queue = queue
        self._handler = handler
        self._slots = asyncio.Semaphore(prefetch)
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner = asyncio.create_task(self._run(), name=f"bus-consumer:{queue.name}")

    async def bind(self, pattern: str) -> None:
        self._queue.bindings.add(pattern)

    async def unbind(self, pattern: str) -> None:
        self._queue.bindings.discard(pattern)

    async def cancel(self) -> None:
        self._runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._runner
        for task in list(self._tasks):
            task.cancel()
        self._queue.consumers -= 1
        if self._queue.exclusive:
            self._broker.queues.pop(self._queue.name, None)

    async def _run(self) -> None:
        while True:
            delivery = await self._queue.items.get()
            await self._slots.acquire()
            task = asyncio.create_task(self._handle(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _handle(self, delivery: Delivery) -> None:
        try:
            await self._handler(delivery)
        except Exception:
            log.warning(
                "bus.handler_failed",
                queue=self._queue.name,
                key=delivery.routing_key,
                attempt=delivery.attempt,
                exc_info=True,
            )
            retry = Delivery(
                delivery.routing_key,
                delivery.body,
                delivery.message_id,
                delivery.attempt + 1,
                delivery.headers,
            )
            if retry.attempt > self._queue.max_attempts:
                self._queue.dead.append(delivery)
            else:
                self._queue.items.put_nowait(retry)
        finally:
            self._slots.release()


class MemoryBus(Bus):
    def __init__(self, url: str = "memory://", *, queue_prefix: str = "") -> None:
        super().__init__()
        self._queue_prefix = queue_prefix
        self._broker = broker_for(url)
        self._subscriptions: list[_MemorySubscription] = []

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for sub in self._subscriptions:
            await sub.cancel()
        self._subscriptions.clear()

    async def publish(
        self,
        routing_key: str,
        body: bytes,
        *,
        message_id: str | None = None,
        persistent: bool = True,
    ) -> None:
        self._broker.route(Delivery(routing_key, body, message_id))

    async def subscribe(
        self,
        queue: str,
        bindings: Iterable[str],
        handler: Handler,
        *,
        exclusive: bool = False,
        prefetch: int = 32,
        max_attempts: int = 5,
    ) -> Subscription:
        queue = self._queue_prefix + queue
        q = self._broker.queues.get(queue)
        if q is None:
            q = self._broker.queues[queue] = _Queue(
                queue, exclusive=exclusive, max_attempts=max_attempts
            )
        elif exclusive or q.exclusive:
            raise RuntimeError(f"queue {queue!r} is exclusive to another consumer")
        q.bindings.update(bindings)
        q.consumers += 1
        sub = _MemorySubscription(self._broker, q, handler, prefetch)
        self._subscriptions.append(sub)
        return sub

    def dead_letters(self, queue: str) -> list[Delivery]:
        queue = self._queue_prefix + queue
        q = self._broker.queues.get(queue)
        return list(q.dead) if q else []

    async def ping(self) -> bool:
        return True

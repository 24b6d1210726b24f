"""The in-process bus: the same topic routing and ack semantics as RabbitMQ, in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

import structlog

from .base import (
    BatchHandler,
    BatchOptions,
    Bus,
    DeadLetterAction,
    Delivery,
    Handler,
    Subscription,
)
from .topics import TopicIndex

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


class _Broker:
    """Queues and their bindings; routing looks a key up in a topic index (a trie), so the
    cost of a publish does not grow with the number of bindings (a gateway has thousands)."""

    def __init__(self) -> None:
        self.queues: dict[str, _Queue] = {}
        self.index: TopicIndex[_Queue] = TopicIndex()

    def bind(self, queue: _Queue, pattern: str) -> None:
        if pattern not in queue.bindings:
            queue.bindings.add(pattern)
            self.index.add(pattern, queue)

    def unbind(self, queue: _Queue, pattern: str) -> None:
        if pattern in queue.bindings:
            queue.bindings.discard(pattern)
            self.index.remove(pattern, queue)

    def drop(self, queue: _Queue) -> None:
        for pattern in list(queue.bindings):
            self.unbind(queue, pattern)
        self.queues.pop(queue.name, None)

    def route(self, delivery: Delivery) -> None:
        for queue in self.index.match(delivery.routing_key):
            queue.items.put_nowait(delivery)


def broker_for(url: str) -> _Broker:
    return _BROKERS.setdefault(url, _Broker())


def reset_brokers() -> None:
    _BROKERS.clear()


class _MemorySubscription(Subscription):
    """Consumes a queue: one delivery at a time per handler slot (`prefetch` slots), or whole
    batches in order with a batch handler."""

    def __init__(
        self,
        broker: _Broker,
        queue: _Queue,
        *,
        handler: Handler | None = None,
        batch_handler: BatchHandler | None = None,
        prefetch: int = 32,
        max_batch: int = 100,
        linger: float = 0.0,
    ) -> None:
        self._broker = broker
        self._queue = queue
        self._handler = handler
        self._batch_handler = batch_handler
        self._max_batch = max_batch
        self._linger = linger
        self._slots = asyncio.Semaphore(prefetch)
        self._tasks: set[asyncio.Task[None]] = set()
        run = self._run_batches() if batch_handler else self._run()
        self._runner: asyncio.Task[None] = asyncio.create_task(
            run, name=f"bus-consumer:{queue.name}"
        )

    async def update_bindings(
        self, *, add: Iterable[str] = (), remove: Iterable[str] = (), wait: bool = True
    ) -> None:
        for pattern in remove:
            self._broker.unbind(self._queue, pattern)
        for pattern in add:
            self._broker.bind(self._queue, pattern)

    async def cancel(self) -> None:
        self._runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._runner
        for task in list(self._tasks):
            task.cancel()
        self._queue.consumers -= 1
        if self._queue.exclusive:
            self._broker.drop(self._queue)

    async def _run(self) -> None:
        while True:
            delivery = await self._queue.items.get()
            await self._slots.acquire()
            task = asyncio.create_task(self._handle(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _handle(self, delivery: Delivery) -> None:
        assert self._handler is not None
        try:
            await self._handler(delivery)
        except Exception:
            self._failed(delivery)
        finally:
            self._slots.release()

    async def _run_batches(self) -> None:
        assert self._batch_handler is not None
        items = self._queue.items
        while True:
            batch = [await items.get()]
            if self._linger:
                await asyncio.sleep(self._linger)
            while len(batch) < self._max_batch and not items.empty():
                batch.append(items.get_nowait())
            try:
                await self._batch_handler(batch)
            except Exception:
                # Alone, each delivery succeeds or fails on its own (the contract in base.py).
                for delivery in batch:
                    try:
                        await self._batch_handler([delivery])
                    except Exception:
                        self._failed(delivery)

    def _failed(self, delivery: Delivery) -> None:
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

    def _queue(
        self, name: str, bindings: Iterable[str], *, exclusive: bool, max_attempts: int
    ) -> _Queue:
        name = self._queue_prefix + name
        q = self._broker.queues.get(name)
        if q is None:
            q = self._broker.queues[name] = _Queue(
                name, exclusive=exclusive, max_attempts=max_attempts
            )
        elif exclusive or q.exclusive:
            raise RuntimeError(f"queue {name!r} is exclusive to another consumer")
        for pattern in bindings:
            self._broker.bind(q, pattern)
        q.consumers += 1
        return q

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
        q = self._queue(queue, bindings, exclusive=exclusive, max_attempts=max_attempts)
        sub = _MemorySubscription(self._broker, q, handler=handler, prefetch=prefetch)
        self._subscriptions.append(sub)
        return sub

    async def _subscribe_batches(
        self, queue: str, bindings: Iterable[str], handler: BatchHandler, options: BatchOptions
    ) -> Subscription:
        # `auto_ack` changes nothing in-process: a failed delivery of an exclusive queue is
        # retried at most `max_attempts` times, as with RabbitMQ's acks.
        q = self._queue(
            queue, bindings, exclusive=options.exclusive, max_attempts=options.max_attempts
        )
        sub = _MemorySubscription(
            self._broker,
            q,
            batch_handler=handler,
            max_batch=options.max_batch,
            linger=options.linger,
        )
        self._subscriptions.append(sub)
        return sub

    async def dead_letter_count(self, queue: str) -> int:
        q = self._broker.queues.get(self._queue_prefix + queue)
        return len(q.dead) if q else 0

    async def dead_letters(
        self, queue: str, *, limit: int, action: DeadLetterAction = "peek"
    ) -> list[Delivery]:
        q = self._broker.queues.get(self._queue_prefix + queue)
        if q is None:
            return []
        taken = q.dead[:limit]
        if action != "peek":
            del q.dead[:limit]
        if action == "replay":
            for delivery in taken:
                q.items.put_nowait(
                    Delivery(delivery.routing_key, delivery.body, delivery.message_id)
                )
        return taken

    async def ping(self) -> bool:
        return True

"""The RabbitMQ bus (aio-pika): one durable topic exchange, publisher confirms, persistent
messages, quorum queues with a delivery limit and a dead-letter queue, exclusive queues for
gateway replicas. aio-pika's robust connection re-declares queues, bindings and consumers
after a reconnect; `on_reconnect` callbacks run after that.

A service starts even when the broker is down: the first connection is retried in the
background, subscriptions wait for it, and `publish` raises `BusUnavailable` meanwhile
(the outbox keeps the events until the broker is back).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import (
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustQueue,
)

from .base import Bus, Delivery, Handler, Subscription

log = structlog.get_logger(__name__)

DEAD_LETTER_EXCHANGE_SUFFIX = ".dlx"


class BusUnavailable(ConnectionError):
    """The broker cannot be reached right now."""


class _RabbitSubscription(Subscription):
    def __init__(
        self,
        bus: RabbitBus,
        queue: str,
        bindings: Iterable[str],
        handler: Handler,
        *,
        exclusive: bool,
        prefetch: int,
        max_attempts: int,
        expires_ms: int | None,
    ) -> None:
        self._expires_ms = expires_ms
        self._bus = bus
        self.queue_name = queue
        self.bindings: set[str] = set(bindings)
        self._handler = handler
        self._exclusive = exclusive
        self._prefetch = prefetch
        self._max_attempts = max_attempts
        self._channel: AbstractRobustChannel | None = None
        self._queue: AbstractRobustQueue | None = None
        self._tag: str | None = None
        self._lock = asyncio.Lock()

    async def open(self, connection: AbstractRobustConnection) -> None:
        async with self._lock:
            channel: AbstractRobustChannel = await connection.channel()
            await channel.set_qos(prefetch_count=self._prefetch)
            exchange = await self._bus.declare_exchange(channel)
            if self._exclusive:
                queue = await channel.declare_queue(
                    self.queue_name, exclusive=True, auto_delete=True
                )
            elif self.queue_name.endswith(".dlq"):
                # Reading a dead-letter queue (an operator's or a test's look at the poison).
                queue = await channel.declare_queue(
                    self.queue_name,
                    durable=True,
                    arguments={
                        "x-queue-type": "quorum",
                        **({"x-expires": self._expires_ms} if self._expires_ms else {}),
                    },
                )
            else:
                dlx_name = self._bus.exchange_name + DEAD_LETTER_EXCHANGE_SUFFIX
                dlx = await channel.declare_exchange(
                    dlx_name, aio_pika.ExchangeType.DIRECT, durable=True
                )
                dlq = await channel.declare_queue(
                    self.queue_name + ".dlq",
                    durable=True,
                    arguments={
                        "x-queue-type": "quorum",
                        **({"x-expires": self._expires_ms} if self._expires_ms else {}),
                    },
                )
                await dlq.bind(dlx, routing_key=self.queue_name)
                queue = await channel.declare_queue(
                    self.queue_name,
                    durable=True,
                    arguments={
                        "x-queue-type": "quorum",
                        "x-delivery-limit": max(0, self._max_attempts - 1),
                        "x-dead-letter-exchange": dlx_name,
                        "x-dead-letter-routing-key": self.queue_name,
                        **({"x-expires": self._expires_ms} if self._expires_ms else {}),
                    },
                )
            for pattern in self.bindings:
                await queue.bind(exchange, routing_key=pattern)
            self._tag = await queue.consume(self._on_message)
            self._channel, self._queue = channel, queue

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        headers: dict[str, object] = dict(message.headers or {})
        previous = headers.get("x-delivery-count", 0)
        attempt = (int(previous) if isinstance(previous, int) else 0) + 1
        delivery = Delivery(
            routing_key=message.routing_key or "",
            body=message.body,
            message_id=message.message_id,
            attempt=attempt,
            headers=headers,
        )
        try:
            await self._handler(delivery)
        except Exception:
            log.warning(
                "bus.handler_failed",
                queue=self.queue_name,
                key=delivery.routing_key,
                attempt=attempt,
                exc_info=True,
            )
            # Quorum queues count redeliveries and dead-letter past x-delivery-limit. An exclusive
            # (classic) queue has no such limit, so there the message is dropped after the
            # last attempt rather than looping forever.
            requeue = self._exclusive is False or attempt < self._max_attempts
            with contextlib.suppress(Exception):
                await message.nack(requeue=requeue)
            return
        with contextlib.suppress(Exception):
            await message.ack()

    async def bind(self, pattern: str) -> None:
        if pattern in self.bindings:
            return
        self.bindings.add(pattern)
        if self._queue is not None:
            await self._queue.bind(self._bus.exchange_name, routing_key=pattern)

    async def unbind(self, pattern: str) -> None:
        if pattern not in self.bindings:
            return
        self.bindings.discard(pattern)
        if self._queue is not None:
            await self._queue.unbind(self._bus.exchange_name, routing_key=pattern)

    async def cancel(self) -> None:
        self._bus.forget(self)
        if self._queue is not None and self._tag is not None:
            with contextlib.suppress(Exception):
                await self._queue.cancel(self._tag)
        if self._channel is not None:
            with contextlib.suppress(Exception):
                await self._channel.close()
        self._queue = self._channel = None


class RabbitBus(Bus):
    def __init__(
        self,
        url: str,
        *,
        exchange: str = "parley.events",
        queue_prefix: str = "",
        connection_name: str = "parley",
        publish_timeout: float = 5.0,
        connect_wait: float = 5.0,
        queue_expires_ms: int | None = None,
    ) -> None:
        super().__init__()
        self._queue_expires_ms = queue_expires_ms
        self._url = url
        self.exchange_name = exchange
        self._queue_prefix = queue_prefix
        self._connection_name = connection_name
        self._publish_timeout = publish_timeout
        self._connect_wait = connect_wait
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractRobustChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._subscriptions: list[_RabbitSubscription] = []
        self._connected = asyncio.Event()
        self._connector: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._connector = asyncio.create_task(self._connect_forever(), name="bus-connect")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._connected.wait()), self._connect_wait)
        if not self._connected.is_set():
            log.warning("bus.not_connected_yet", url=_safe(self._url))

    async def _connect_forever(self) -> None:
        delay = 0.5
        while True:
            try:
                connection = await aio_pika.connect_robust(
                    self._url,
                    client_properties={"connection_name": self._connection_name},
                    reconnect_interval=1,
                )
                break
            except Exception as exc:
                log.warning("bus.connect_failed", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        connection.reconnect_callbacks.add(self._after_reconnect)
        channel: AbstractRobustChannel = await connection.channel(publisher_confirms=True)
        self._exchange = await self.declare_exchange(channel)
        self._connection, self._publish_channel = connection, channel
        for sub in list(self._subscriptions):
            await sub.open(connection)
        self._connected.set()
        log.info("bus.connected", exchange=self.exchange_name)

    async def _after_reconnect(self, *_: Any) -> None:
        log.info("bus.reconnected", exchange=self.exchange_name)
        for callback in list(self.on_reconnect):
            try:
                await callback()
            except Exception:
                log.warning("bus.reconnect_callback_failed", exc_info=True)

    async def declare_exchange(self, channel: AbstractRobustChannel) -> AbstractExchange:
        return await channel.declare_exchange(
            self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )

    async def close(self) -> None:
        if self._connector is not None:
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._connector
        for sub in list(self._subscriptions):
            await sub.cancel()
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
        self._connection = None
        self._connected.clear()

    async def publish(
        self,
        routing_key: str,
        body: bytes,
        *,
        message_id: str | None = None,
        persistent: bool = True,
    ) -> None:
        exchange = self._exchange
        connection = self._connection
        if exchange is None or connection is None or connection.is_closed or not _ready(connection):
            raise BusUnavailable("broker not connected")
        message = aio_pika.Message(
            body,
            message_id=message_id,
            content_type="application/json",
            delivery_mode=(
                aio_pika.DeliveryMode.PERSISTENT
                if persistent
                else aio_pika.DeliveryMode.NOT_PERSISTENT
            ),
        )
        try:
            await asyncio.wait_for(
                exchange.publish(message, routing_key=routing_key), self._publish_timeout
            )
        except (TimeoutError, aio_pika.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
            raise BusUnavailable(f"publish failed: {exc!r}") from exc

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
        sub = _RabbitSubscription(
            self,
            self._queue_prefix + queue,
            bindings,
            handler,
            exclusive=exclusive,
            prefetch=prefetch,
            max_attempts=max_attempts,
            expires_ms=self._queue_expires_ms,
        )
        self._subscriptions.append(sub)
        if self._connection is not None:
            await sub.open(self._connection)
        return sub

    def forget(self, sub: _RabbitSubscription) -> None:
        with contextlib.suppress(ValueError):
            self._subscriptions.remove(sub)

    async def ping(self) -> bool:
        connection = self._connection
        return connection is not None and not connection.is_closed and _ready(connection)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()


def _ready(connection: AbstractRobustConnection) -> bool:
    # A robust connection object stays open while it reconnects; its transport tells the truth.
    return getattr(connection, "transport", None) is not None and not getattr(
        connection, "reconnecting", False
    )


def _safe(url: str) -> str:
    return url.split("@")[-1]

"""The RabbitMQ bus (aio-pika): one durable topic exchange, publisher confirms for persistent
messages (transient ones go out on a channel without confirms), quorum queues with a delivery
limit and a dead-letter queue, exclusive queues for gateway replicas. aio-pika's robust
connection reconnects; each subscription re-declares its queue, bindings and consumer itself
when its channel is lost (see `_RabbitSubscription`), and `on_reconnect` callbacks run after
that.

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
    AbstractRobustChannel,
    AbstractRobustConnection,
)

from . import dead_letters
from .base import BatchHandler, BatchOptions, Bus, DeadLetterAction, Delivery, Handler, Subscription
from .subscription import RabbitSubscription

log = structlog.get_logger(__name__)


class BusUnavailable(ConnectionError):
    """The broker cannot be reached right now."""


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
        queue_type: str = "quorum",
    ) -> None:
        super().__init__()
        if queue_type not in ("quorum", "classic"):
            raise ValueError(f"queue_type must be quorum or classic, not {queue_type!r}")
        self.queue_type = queue_type
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
        # Transient messages (presence, typing) go out on a channel without publisher
        # confirms: nobody waits for the broker, and a slow broker cannot pile them up.
        self._transient_exchange: AbstractExchange | None = None
        self._subscriptions: list[RabbitSubscription] = []
        self._connected = asyncio.Event()
        self._connector: asyncio.Task[None] | None = None
        # True from the connection's loss until aio-pika has reconnected: what depends on the
        # broker logs one line for the outage, not one per attempt.
        self.broker_lost = False
        self._closing = False

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
        connection.close_callbacks.add(self._connection_lost)
        channel: AbstractRobustChannel = await connection.channel(publisher_confirms=True)
        self._exchange = await self.declare_exchange(channel)
        transient: AbstractRobustChannel = await connection.channel(publisher_confirms=False)
        self._transient_exchange = await self.declare_exchange(transient)
        self._connection, self._publish_channel = connection, channel
        for sub in list(self._subscriptions):
            await sub.open(connection)
        self._connected.set()
        log.info("bus.connected", exchange=self.exchange_name)

    def _connection_lost(self, _sender: Any, exc: BaseException | None = None) -> None:
        if self.broker_lost or self._closing:
            return
        self.broker_lost = True
        log.warning(
            "bus.connection_lost",
            exchange=self.exchange_name,
            error=repr(exc) if exc is not None else None,
        )

    async def _after_reconnect(self, *_: Any) -> None:
        # Subscriptions notice the lost channel themselves, restore it and then run the
        # `on_reconnect` callbacks (only then are the bindings back).
        self.broker_lost = False
        log.info("bus.reconnected", exchange=self.exchange_name)

    async def run_reconnect_callbacks(self) -> None:
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
        self._closing = True
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
        exchange = self._exchange if persistent else self._transient_exchange
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
            # Cancelling a publish is safe in aiormq (unlike an RPC): an unsent frame is rolled
            # back, a sent one only stops waiting for its confirm.
            await asyncio.wait_for(
                # Not mandatory: an event nobody is bound to is fine (no gateway holds the user).
                exchange.publish(message, routing_key=routing_key, mandatory=False),
                self._publish_timeout,
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
    ) -> RabbitSubscription:
        sub = RabbitSubscription(
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

    async def _subscribe_batches(
        self, queue: str, bindings: Iterable[str], handler: BatchHandler, options: BatchOptions
    ) -> Subscription:
        sub = RabbitSubscription(
            self,
            self._queue_prefix + queue,
            bindings,
            None,
            exclusive=options.exclusive,
            # Twice a batch in flight: the next batch arrives while this one is handled.
            prefetch=2 * options.max_batch,
            max_attempts=options.max_attempts,
            expires_ms=self._queue_expires_ms,
            batch_handler=handler,
            max_batch=options.max_batch,
            auto_ack=options.auto_ack,
            linger=options.linger,
        )
        self._subscriptions.append(sub)
        if self._connection is not None:
            await sub.open(self._connection)
        return sub

    def forget(self, sub: RabbitSubscription) -> None:
        with contextlib.suppress(ValueError):
            self._subscriptions.remove(sub)

    async def dead_letter_count(self, queue: str) -> int:
        if self._connection is None:
            raise BusUnavailable("not connected")
        return await dead_letters.count(self._connection, self._queue_prefix + queue + ".dlq")

    async def dead_letters(
        self, queue: str, *, limit: int, action: DeadLetterAction = "peek"
    ) -> list[Delivery]:
        if self._connection is None:
            raise BusUnavailable("not connected")
        name = self._queue_prefix + queue
        return await dead_letters.handle(
            self._connection, name + ".dlq", name, limit=limit, action=action
        )

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

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
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)

from .base import BatchHandler, Bus, Delivery, Handler, Subscription

log = structlog.get_logger(__name__)

DEAD_LETTER_EXCHANGE_SUFFIX = ".dlx"


class BusUnavailable(ConnectionError):
    """The broker cannot be reached right now."""


class _RabbitSubscription(Subscription):
    """One consumed queue on a channel of its own, kept alive by a supervisor task.

    Why not aio-pika's robust queue: aiormq closes a channel whenever one of its RPCs is
    cancelled mid-flight (`Closing channel ... because RPC call ... cancelled`), e.g. a
    `Queue.Bind` awaited by a task that gets cancelled, or by `asyncio.wait_for`. The robust
    channel then re-declares in the background, and when that restore is itself cancelled or
    fails it gives up: the consumer is gone for good while the process looks healthy (a
    gateway replica then delivers nothing). So here:

    - every RPC of the subscription runs in ONE supervisor task that nobody else cancels;
      `bind`/`unbind` record the wanted state and wait (shielded) until the supervisor has
      applied it, so a cancelled caller never cancels an RPC;
    - bursts are coalesced: pending changes are applied as one batch (a bind and an unbind of
      the same pattern cancel out; binds go out as no-wait frames closed by one synchronous
      bind, whose BindOk means the broker has applied all of them, in channel order); binds
      go first: AMQP has no no-wait unbind, so unbinds are one round trip each and a new
      socket must not wait behind the unbinds of a thousand closing ones;
    - when the channel or its consumer is lost (broker closed it, connection lost), the
      supervisor opens a new channel, re-declares, re-binds everything and consumes again,
      then runs the bus's `on_reconnect` callbacks (the gateway tells its clients to resume).
    """

    def __init__(
        self,
        bus: RabbitBus,
        queue: str,
        bindings: Iterable[str],
        handler: Handler | None,
        *,
        exclusive: bool,
        prefetch: int,
        max_attempts: int,
        expires_ms: int | None,
        batch_handler: BatchHandler | None = None,
        max_batch: int = 100,
        auto_ack: bool = False,
        linger: float = 0.0,
    ) -> None:
        self._expires_ms = expires_ms
        self._bus = bus
        self.queue_name = queue
        self.bindings: set[str] = set(bindings)
        self._applied: set[str] = set()
        self._handler = handler
        self._batch_handler = batch_handler
        self._max_batch = max_batch
        self._auto_ack = auto_ack
        self._linger = linger
        # Batch mode: deliveries wait here (queue order) for the one task that handles them.
        self._pending: list[AbstractIncomingMessage] = []
        self._drainer: asyncio.Task[None] | None = None
        self._exclusive = exclusive
        self._prefetch = prefetch
        self._max_attempts = max_attempts
        self._channel: aio_pika.Channel | None = None
        self._queue: AbstractQueue | None = None
        self._tag: str | None = None
        # Callers waiting until their binds are applied, and until nothing is left to apply.
        self._waiters: list[asyncio.Future[None]] = []
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._wakeup = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._stopped = False
        #: How many times the channel was re-established after a loss (tests, metrics).
        self.recoveries = 0

    @property
    def alive(self) -> bool:
        channel = self._channel
        return channel is not None and not channel.is_closed and self._tag is not None

    async def open(self, connection: AbstractRobustConnection) -> None:
        """First open: errors (e.g. a queue declared with other arguments) reach the caller."""
        await self._establish(connection)
        self._supervisor = asyncio.create_task(
            self._supervise(connection), name=f"bus-sub:{self.queue_name}"
        )

    async def _establish(self, connection: AbstractRobustConnection) -> None:
        # A plain (not robust) channel: the supervisor, not aio-pika, restores it.
        channel = aio_pika.Channel(connection, publisher_confirms=False)
        await channel
        try:
            await channel.set_qos(prefetch_count=self._prefetch)
            exchange = await channel.declare_exchange(
                self._bus.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
            )
            queue = await self._declare(channel)
            wanted = set(self.bindings)
            await self._bind_many(channel, queue, exchange.name, wanted)
            on_message = self._on_batch_message if self._batch_handler else self._on_message
            self._tag = await queue.consume(on_message, no_ack=self._auto_ack)
        except BaseException:
            with contextlib.suppress(Exception):
                await channel.close()
            raise
        self._channel, self._queue, self._applied = channel, queue, wanted

    async def _declare(self, channel: aio_pika.Channel) -> AbstractQueue:
        expires = {"x-expires": self._expires_ms} if self._expires_ms else {}
        queue_type = {"x-queue-type": self._bus.queue_type}
        if self._exclusive:
            return await channel.declare_queue(self.queue_name, exclusive=True, auto_delete=True)
        if self.queue_name.endswith(".dlq"):
            # Reading a dead-letter queue (an operator's or a test's look at the poison).
            return await channel.declare_queue(
                self.queue_name, durable=True, arguments={**queue_type, **expires}
            )
        dlx_name = self._bus.exchange_name + DEAD_LETTER_EXCHANGE_SUFFIX
        dlx = await channel.declare_exchange(dlx_name, aio_pika.ExchangeType.DIRECT, durable=True)
        dlq = await channel.declare_queue(
            self.queue_name + ".dlq", durable=True, arguments={**queue_type, **expires}
        )
        await dlq.bind(dlx, routing_key=self.queue_name)
        # Only quorum queues count deliveries; a classic queue dead-letters on the second failure
        # (see _on_message).
        limit = (
            {"x-delivery-limit": max(0, self._max_attempts - 1)}
            if self._bus.queue_type == "quorum"
            else {}
        )
        return await channel.declare_queue(
            self.queue_name,
            durable=True,
            arguments={
                **queue_type,
                **limit,
                "x-dead-letter-exchange": dlx_name,
                "x-dead-letter-routing-key": self.queue_name,
                **expires,
            },
        )

    async def _bind_many(
        self, channel: aio_pika.Channel, queue: AbstractQueue, exchange: str, patterns: set[str]
    ) -> None:
        """All but the last as no-wait frames, the last synchronous: the broker handles a
        channel's methods in order, so its BindOk confirms every bind before it."""
        if not patterns:
            return
        underlay = await channel.get_underlay_channel()
        *rest, last = sorted(patterns)
        for pattern in rest:
            await underlay.queue_bind(queue.name, exchange, routing_key=pattern, nowait=True)
        await underlay.queue_bind(queue.name, exchange, routing_key=last)

    async def _supervise(self, connection: AbstractRobustConnection) -> None:
        delay = 0.2
        while not self._stopped:
            channel = self._channel
            if channel is not None and not channel.is_closed:
                try:
                    await self._serve(channel)
                except Exception:
                    log.warning("bus.subscription_rpc_failed", queue=self.queue_name, exc_info=True)
                if self._stopped:
                    return
                # With the whole connection gone the bus has said so once (bus.connection_lost);
                # a channel lost on its own is worth a warning.
                (log.info if self._bus.broker_lost else log.warning)(
                    "bus.subscription_lost", queue=self.queue_name
                )
                self._release_all()
                with contextlib.suppress(Exception):
                    await channel.close()
                self._channel = self._queue = None
                self._tag = None
            try:
                await connection.ready()
                await self._establish(connection)
            except Exception as exc:
                (log.debug if self._bus.broker_lost else log.warning)(
                    "bus.subscription_restore_failed",
                    queue=self.queue_name,
                    error=repr(exc),
                    retry_in=delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.2
            self.recoveries += 1
            log.info("bus.subscription_restored", queue=self.queue_name)
            self._release_all()
            await self._bus.run_reconnect_callbacks()

    async def _serve(self, channel: aio_pika.Channel) -> None:
        """Apply binding changes until the channel (or its consumer) is lost."""
        underlay = await channel.get_underlay_channel()
        underlay.on_consumer_cancel_callbacks.add(lambda _frame: self._wakeup.set())
        lost = asyncio.ensure_future(underlay.closing)
        try:
            while not self._stopped:
                if self._tag is not None and self._tag not in underlay.consumers:  # type: ignore[attr-defined]
                    return  # the broker cancelled our consumer (e.g. the queue was deleted)
                self._wakeup.clear()
                if self.bindings == self._applied:
                    self._release_all()
                    wake = asyncio.ensure_future(self._wakeup.wait())
                    try:
                        await asyncio.wait({wake, lost}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        wake.cancel()
                    if lost.done():
                        return
                    continue
                waiters, self._waiters = self._waiters, []
                wanted = set(self.bindings)
                queue = self._queue
                assert queue is not None
                to_bind = wanted - self._applied
                if to_bind:
                    await self._bind_many(channel, queue, self._bus.exchange_name, to_bind)
                    self._applied |= to_bind
                    _release(waiters)
                    continue
                _release(waiters)  # nothing of theirs is left to bind
                # One unbind per turn: binds asked for meanwhile go before the next one. The
                # pattern leaves `_applied` first, so a caller binding it again waits for the
                # bind that follows this unbind on the channel.
                pattern = min(self._applied - wanted)
                self._applied.discard(pattern)
                await queue.unbind(self._bus.exchange_name, routing_key=pattern)
        finally:
            lost.cancel()

    def _release_waiters(self) -> None:
        # The wanted state is recorded; a restore applies all of it.
        waiters, self._waiters = self._waiters, []
        _release(waiters)

    def _release_all(self) -> None:
        self._release_waiters()
        idle, self._idle_waiters = self._idle_waiters, []
        _release(idle)

    @staticmethod
    def _delivery(message: AbstractIncomingMessage) -> Delivery:
        headers: dict[str, object] = dict(message.headers) if message.headers else {}
        previous = headers.get("x-delivery-count")
        # Quorum queues count deliveries; classic ones only say whether it was delivered before.
        attempt = previous + 1 if isinstance(previous, int) else 2 if message.redelivered else 1
        return Delivery(
            routing_key=message.routing_key or "",
            body=message.body,
            message_id=message.message_id,
            attempt=attempt,
            headers=headers,
        )

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        delivery = self._delivery(message)
        assert self._handler is not None
        try:
            await self._handler(delivery)
        except Exception:
            await self._failed(message, delivery)
            return
        if not self._auto_ack:
            with contextlib.suppress(Exception):
                await message.ack()

    async def _failed(self, message: AbstractIncomingMessage, delivery: Delivery) -> None:
        log.warning(
            "bus.handler_failed",
            queue=self.queue_name,
            key=delivery.routing_key,
            attempt=delivery.attempt,
            exc_info=True,
        )
        if self._auto_ack:
            return  # the broker has forgotten it already
        # Quorum queues count redeliveries and dead-letter past x-delivery-limit. An exclusive
        # (classic) queue has no such limit, so there the message is dropped after the
        # last attempt rather than looping forever.
        classic = self._exclusive or self._bus.queue_type == "classic"
        attempt = delivery.attempt
        requeue = attempt < (min(2, self._max_attempts) if classic else self._max_attempts + 1)
        with contextlib.suppress(Exception):
            await message.nack(requeue=requeue)

    async def _on_batch_message(self, message: AbstractIncomingMessage) -> None:
        # aiormq calls this in a task per delivery, in queue order: collect, and let one task
        # hand the batch over, so deliveries that arrive together are handled together.
        self._pending.append(message)
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain(), name=f"bus-batch:{self.queue_name}")

    async def _drain(self) -> None:
        assert self._batch_handler is not None
        while self._pending:
            # Let every delivery already read from the socket join this batch.
            await asyncio.sleep(0)
            if self._linger and len(self._pending) < self._max_batch:
                await asyncio.sleep(self._linger)
            messages = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            deliveries = [self._delivery(m) for m in messages]
            try:
                await self._batch_handler(deliveries)
            except Exception:
                for message, delivery in zip(messages, deliveries, strict=True):
                    try:
                        await self._batch_handler([delivery])
                    except Exception:
                        await self._failed(message, delivery)
                    else:
                        if not self._auto_ack:
                            with contextlib.suppress(Exception):
                                await message.ack()
                continue
            if not self._auto_ack:
                # Deliveries are settled in order on this channel: one ack covers the batch.
                with contextlib.suppress(Exception):
                    await messages[-1].ack(multiple=True)

    async def update_bindings(
        self, *, add: Iterable[str] = (), remove: Iterable[str] = (), wait: bool = True
    ) -> None:
        added = list(add)
        removed = [p for p in remove if p in self.bindings]
        self.bindings.difference_update(removed)
        self.bindings.update(added)
        missing = any(p not in self._applied for p in added)
        if not missing and self._applied <= self.bindings:
            return  # everything wanted is applied, nothing to take away
        if self._supervisor is None or self._supervisor.done():
            return  # not connected yet: the first open binds everything
        self._wakeup.set()
        if not wait or (added and not missing):
            return
        # Binds are what a caller must wait for (events are routed here only afterwards); an
        # unbind is waited for only when the caller asked for nothing else.
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._waiters if missing else self._idle_waiters).append(waiter)
        # Cancelling this wait never cancels an RPC (the supervisor's task makes them).
        await asyncio.shield(waiter)

    async def cancel(self) -> None:
        self._bus.forget(self)
        self._stopped = True
        self._wakeup.set()
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(BaseException):
                await self._supervisor
        self._release_all()
        channel = self._channel
        if channel is not None:
            if self._queue is not None and self._tag is not None and not channel.is_closed:
                with contextlib.suppress(Exception):
                    await self._queue.cancel(self._tag)
            with contextlib.suppress(Exception):
                await channel.close()
        self._queue = self._channel = None
        self._tag = None
        if self._drainer is not None:
            self._drainer.cancel()
            with contextlib.suppress(BaseException):
                await self._drainer
        self._pending.clear()


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
        self._subscriptions: list[_RabbitSubscription] = []
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

    async def subscribe_batches(
        self,
        queue: str,
        bindings: Iterable[str],
        handler: BatchHandler,
        *,
        exclusive: bool = False,
        max_batch: int = 100,
        max_attempts: int = 5,
        auto_ack: bool = False,
        linger: float = 0.0,
    ) -> Subscription:
        sub = _RabbitSubscription(
            self,
            self._queue_prefix + queue,
            bindings,
            None,
            exclusive=exclusive,
            # Twice a batch in flight: the next batch arrives while this one is handled.
            prefetch=2 * max_batch,
            max_attempts=max_attempts,
            expires_ms=self._queue_expires_ms,
            batch_handler=handler,
            max_batch=max_batch,
            auto_ack=auto_ack,
            linger=linger,
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


def _release(waiters: list[asyncio.Future[None]]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)


def _ready(connection: AbstractRobustConnection) -> bool:
    # A robust connection object stays open while it reconnects; its transport tells the truth.
    return getattr(connection, "transport", None) is not None and not getattr(
        connection, "reconnecting", False
    )


def _safe(url: str) -> str:
    return url.split("@")[-1]

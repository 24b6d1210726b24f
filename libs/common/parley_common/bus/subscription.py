"""One consumed queue of the RabbitMQ bus, kept alive by a supervisor task (the class
docstring says why not aio-pika's robust queue)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

import aio_pika
import structlog
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from .base import BatchHandler, Delivery, Handler, Subscription

if TYPE_CHECKING:
    from .rabbit import RabbitBus

log = structlog.get_logger(__name__)

#: Seconds between two unbinds when nothing else waits (at most 200 unbinds a second).
UNBIND_SPACING = 0.005

DEAD_LETTER_EXCHANGE_SUFFIX = ".dlx"


class RabbitSubscription(Subscription):
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
                if self.bindings - self._applied or self._wakeup.is_set():
                    continue
                # Unbinds are paced: the bindings of thousands of sockets that closed together
                # come due together (ws/registry.py's linger), and unbinding them back to back
                # kept the broker and this process busy for seconds, which every new socket's
                # connect then waited behind (one-at-a-time connect p99 in `make bench`). A
                # bind asked for meanwhile ends the pause.
                wake = asyncio.ensure_future(self._wakeup.wait())
                try:
                    await asyncio.wait({wake, lost}, timeout=UNBIND_SPACING)
                finally:
                    wake.cancel()
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


def _release(waiters: list[asyncio.Future[None]]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)

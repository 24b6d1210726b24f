"""The bus interface: one durable topic exchange, queues bound by routing-key patterns.

Two implementations share these semantics: RabbitMQ through aio-pika (`amqp://...`) and an
in-process one (`memory://`) for the embedded mode and unit tests.

Delivery contract (both implementations):
- `publish` returns only once the broker has taken the message (publisher confirm).
- A handler that returns acks its message; one that raises has it redelivered, and after
  `max_attempts` failed attempts the message goes to the dead-letter queue `<queue>.dlq`.
- A batch handler (`subscribe_batches`) gets every delivery that is waiting, up to
  `max_batch`, in queue order, and they are acked together when it returns. When it raises,
  each delivery of the batch is handed to it again alone, so one poison message costs its
  own retries and dead-lettering and never holds back the others.
- Topic patterns: `*` matches exactly one dot-separated word, `#` zero or more.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class Delivery:
    routing_key: str
    body: bytes
    message_id: str | None
    attempt: int = 1
    headers: dict[str, object] = field(default_factory=dict)


Handler = Callable[[Delivery], Awaitable[None]]
#: What to do with dead letters: look (they stay), put back on their queue, or delete.
DeadLetterAction = Literal["peek", "replay", "drop"]
BatchHandler = Callable[[list[Delivery]], Awaitable[None]]


class Subscription(abc.ABC):
    """A running consumer of one queue; bindings can change while it runs."""

    async def bind(self, pattern: str) -> None:
        await self.update_bindings(add=[pattern])

    async def unbind(self, pattern: str) -> None:
        await self.update_bindings(remove=[pattern])

    @abc.abstractmethod
    async def update_bindings(
        self, *, add: Iterable[str] = (), remove: Iterable[str] = (), wait: bool = True
    ) -> None:
        """Add and remove bindings in one go. With `wait`, returns once the broker has applied
        every binding wanted so far (events published afterwards are routed to this queue);
        concurrent callers share the broker round trips."""

    @abc.abstractmethod
    async def cancel(self) -> None: ...


@dataclass(frozen=True, slots=True)
class BatchOptions:
    """How a batch subscription consumes (`Bus.subscribe_batches` says what each means)."""

    exclusive: bool = False
    max_batch: int = 100
    max_attempts: int = 5
    auto_ack: bool = False
    linger: float = 0.0


class Bus(abc.ABC):
    #: Called after a lost broker connection has been restored and consumers re-bound.
    on_reconnect: list[Callable[[], Awaitable[None]]]

    def __init__(self) -> None:
        self.on_reconnect = []

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def publish(
        self,
        routing_key: str,
        body: bytes,
        *,
        message_id: str | None = None,
        persistent: bool = True,
    ) -> None: ...

    @abc.abstractmethod
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
        """Consume `queue`. Durable queues (default) survive restarts and share work between
        replicas that name the same queue; `exclusive` queues belong to this process alone and
        vanish with it (a gateway replica's delivery queue)."""

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
        """Consume `queue` in batches (see the delivery contract above). `auto_ack` means the
        broker forgets a message once sent (no acks, no redelivery): for an exclusive queue that
        dies with its consumer anyway, such as a gateway replica's. `linger`: how long a batch
        waits for more deliveries after its first (fewer, larger batches where latency matters
        less than the cost per batch)."""
        options = BatchOptions(exclusive, max_batch, max_attempts, auto_ack, linger)
        return await self._subscribe_batches(queue, bindings, handler, options)

    @abc.abstractmethod
    async def _subscribe_batches(
        self, queue: str, bindings: Iterable[str], handler: BatchHandler, options: BatchOptions
    ) -> Subscription: ...

    @abc.abstractmethod
    async def ping(self) -> bool: ...

    @abc.abstractmethod
    async def dead_letter_count(self, queue: str) -> int:
        """Messages waiting in `queue`'s dead-letter queue (0 when it has none)."""

    @abc.abstractmethod
    async def dead_letters(
        self, queue: str, *, limit: int, action: DeadLetterAction = "peek"
    ) -> list[Delivery]:
        """Up to `limit` of `queue`'s dead letters, in queue order: left there (`peek`; RabbitMQ
        may requeue them behind the others), put back
        on `queue` alone, not on the exchange, so no other consumer sees them again (`replay`),
        or deleted (`drop`). `routing_key` is the key the message was first published with."""

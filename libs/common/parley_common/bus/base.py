"""The bus interface: one durable topic exchange, queues bound by routing-key patterns.

Two implementations share these semantics: RabbitMQ through aio-pika (`amqp://...`) and an
in-process one (`memory://`) for the embedded mode and unit tests.

Delivery contract (both implementations):
- `publish` returns only once the broker has taken the message (publisher confirm).
- A handler that returns acks its message; one that raises has it redelivered, and after
  `max_attempts` failed attempts the message goes to the dead-letter queue `<queue>.dlq`.
- Topic patterns: `*` matches exactly one dot-separated word, `#` zero or more.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Delivery:
    routing_key: str
    body: bytes
    message_id: str | None
    attempt: int = 1
    headers: dict[str, object] = field(default_factory=dict)


Handler = Callable[[Delivery], Awaitable[None]]


class Subscription(abc.ABC):
    """A running consumer of one queue; bindings can change while it runs."""

    @abc.abstractmethod
    async def bind(self, pattern: str) -> None: ...

    @abc.abstractmethod
    async def unbind(self, pattern: str) -> None: ...

    @abc.abstractmethod
    async def cancel(self) -> None: ...


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

    @abc.abstractmethod
    async def ping(self) -> bool: ...


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: `*` is one word, `#` is zero or more words."""
    return _match(pattern.split("."), routing_key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head == "*" or head == words[0]) and _match(rest, words[1:])

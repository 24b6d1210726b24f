"""The event bus: `create_bus(url)` picks RabbitMQ (`amqp://`) or the in-process bus (`memory://`)."""

from __future__ import annotations

from .base import BatchHandler, Bus, Delivery, Handler, Subscription
from .memory import MemoryBus
from .topics import topic_matches

__all__ = [
    "BatchHandler",
    "Bus",
    "Delivery",
    "Handler",
    "MemoryBus",
    "Subscription",
    "create_bus",
    "topic_matches",
]


def create_bus(
    url: str,
    *,
    exchange: str = "parley.events",
    queue_prefix: str = "",
    connection_name: str = "parley",
    queue_type: str = "quorum",
    publish_timeout: float = 5.0,
) -> Bus:
    """A bus for `url`; `exchange` and `queue_prefix` let test runs share one broker safely.

    `queue_type` is `quorum` (the default, for production) or `classic`; services pass their
    `bus_queue_type` setting (the test suite runs them on classic queues: see
    parley_common.testing.plugin). `publish_timeout` bounds a RabbitMQ publish's wait for the
    broker's confirm.
    """
    if url.startswith("memory://"):
        return MemoryBus(url, queue_prefix=queue_prefix)
    if url.startswith(("amqp://", "amqps://")):
        from .rabbit import RabbitBus

        # A namespaced (test-run) queue is dropped by the broker after a minute without
        # consumers: runs on a shared broker leave nothing behind, and idle quorum queues
        # (each a Raft group) do not pile up and slow the broker down.
        return RabbitBus(
            url,
            exchange=exchange,
            queue_prefix=queue_prefix,
            connection_name=connection_name,
            queue_expires_ms=60_000 if queue_prefix else None,
            queue_type=queue_type,
            publish_timeout=publish_timeout,
        )
    raise ValueError(f"unsupported bus URL: {url!r} (use amqp://... or memory://)")

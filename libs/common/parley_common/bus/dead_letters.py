"""Dead-letter queues on RabbitMQ: counted with a passive declare, read with basic.get.

`peek` takes the messages unacknowledged and then rejects them with requeue, so they stay
(though RabbitMQ may put them behind the others). `replay` publishes each one, with publisher
confirms, to its original queue through the default exchange (that queue alone, not every
queue bound to the key), then acknowledges it on the dead-letter queue: a crash in between
leaves a copy in both, never in neither.
"""

from __future__ import annotations

from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from .base import DeadLetterAction, Delivery


def original_routing_key(message: AbstractIncomingMessage) -> str:
    """The key the message was published with (dead-lettering replaces it by the queue's)."""
    deaths: Any = (message.headers or {}).get("x-death") or []
    if deaths and isinstance(deaths[0], dict):
        keys = deaths[0].get("routing-keys") or []
        if keys:
            return str(keys[0])
    return message.routing_key or ""


async def count(connection: AbstractRobustConnection, dlq: str) -> int:
    channel = await connection.channel()
    try:
        queue = await channel.declare_queue(dlq, passive=True)
        return int(queue.declaration_result.message_count or 0)
    except aio_pika.exceptions.ChannelClosed:  # no such queue: nothing ever died there
        return 0
    finally:
        if not channel.is_closed:
            await channel.close()


async def handle(
    connection: AbstractRobustConnection,
    dlq: str,
    original: str,
    *,
    limit: int,
    action: DeadLetterAction,
) -> list[Delivery]:
    channel = await connection.channel(publisher_confirms=True)
    try:
        try:
            queue = await channel.declare_queue(dlq, passive=True)
        except aio_pika.exceptions.ChannelClosed:
            return []
        taken: list[tuple[AbstractIncomingMessage, Delivery]] = []
        while len(taken) < limit:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            delivery = Delivery(
                original_routing_key(message),
                message.body,
                message.message_id,
                headers=dict(message.headers or {}),
            )
            taken.append((message, delivery))
            if action == "replay":
                await channel.default_exchange.publish(
                    aio_pika.Message(
                        message.body,
                        message_id=message.message_id,
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=original,
                )
            if action != "peek":
                await message.ack()
        for message, _ in taken if action == "peek" else ():
            await message.reject(requeue=True)
        return [delivery for _, delivery in taken]
    finally:
        if not channel.is_closed:
            await channel.close()

"""Removing a test's or a bench run's exchanges from the shared broker once it is done.

Queues go by themselves (exclusive ones with their connection, prefixed ones by `x-expires`),
exchanges do not: before this, every service test left its `parley.test.<run>` behind, and a
machine's broker had collected 1,889 of them.
"""

from __future__ import annotations

import contextlib

import aio_pika


async def delete_exchanges(amqp_url: str, exchange: str) -> None:
    """Deletes `exchange` and its dead-letter pair (parley_common.bus), best effort."""
    with contextlib.suppress(Exception):
        connection = await aio_pika.connect(amqp_url, timeout=5)
        async with connection:
            channel = await connection.channel()
            for name in (exchange, f"{exchange}.dlx", f"{exchange}.dead"):
                with contextlib.suppress(Exception):
                    await channel.exchange_delete(name)

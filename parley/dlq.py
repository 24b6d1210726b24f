"""`parley dlq list|show|replay|drop`: the dead-letter queues on RabbitMQ (`PARLEY_AMQP_URL`).

A message lands in `<queue>.dlq` when its consumer failed on it every time it was delivered
(a bug, or data it cannot handle). `show` prints them without taking them, `replay` puts them
back on their queue (after a fix: only that queue's consumer sees them again, and consumers
skip what they already handled), `drop` deletes them. `parley_dead_letters{queue}` counts them.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from chat import events as chat_events
from notify import events as notify_events
from notify.presence import service as presence
from notify.push import sender as push_sender
from parley_common.bus import Bus, Delivery, create_bus
from parley_common.bus.base import DeadLetterAction
from parley_common.settings import BaseServiceSettings

# Every durable queue the services consume (gateway replicas' queues are exclusive: none).
QUEUES = (chat_events.QUEUE, notify_events.QUEUE, push_sender.QUEUE, presence.QUEUE)
MODES: dict[str, DeadLetterAction] = {"show": "peek", "replay": "replay", "drop": "drop"}


def describe(delivery: Delivery, full: bool) -> str:
    text = delivery.body.decode(errors="replace")
    try:
        envelope = json.loads(text)
        summary = f"{envelope.get('type')} id={envelope.get('id')} at {envelope.get('occurred_at')}"
    except (ValueError, AttributeError):
        summary = f"{len(delivery.body)} bytes"
    line = f"{delivery.routing_key}\t{summary}"
    return f"{line}\n{text}" if full else line


async def run(bus: Bus, action: str, queue: str | None, limit: int, full: bool) -> str:
    await bus.start()
    try:
        if action == "list":
            counts = [(q, await bus.dead_letter_count(q)) for q in QUEUES]
            return "\n".join(f"{q}.dlq\t{n}" for q, n in counts)
        assert queue is not None
        taken = await bus.dead_letters(queue, limit=limit, action=MODES[action])
        lines = [describe(d, full and action == "show") for d in taken]
        verb = {"show": "dead letters", "replay": "replayed", "drop": "dropped"}[action]
        return "\n".join([*lines, f"{len(taken)} {verb} ({queue}.dlq)"])
    finally:
        await bus.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="parley dlq", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="each queue's dead letters, counted")
    for action, help_text in (
        ("show", "print dead letters (they stay)"),
        ("replay", "put dead letters back on their queue"),
        ("drop", "delete dead letters"),
    ):
        one = sub.add_parser(action, help=help_text)
        one.add_argument("queue", choices=QUEUES)
        one.add_argument("--limit", type=int, default=100, help="at most this many (100)")
        if action == "show":
            one.add_argument("--full", action="store_true", help="the whole message too")
    args = p.parse_args(argv)
    settings = BaseServiceSettings()
    amqp_url = (
        settings.amqp_url
        if settings.amqp_url != "memory://"
        else "amqp://guest:guest@127.0.0.1:5672/"
    )
    bus = create_bus(
        amqp_url,
        exchange=settings.bus_exchange,
        queue_prefix=settings.bus_queue_prefix,
        connection_name="parley-dlq",
        queue_type=settings.bus_queue_type,
    )
    text = asyncio.run(
        run(
            bus,
            args.action,
            getattr(args, "queue", None),
            getattr(args, "limit", 0),
            getattr(args, "full", False),
        )
    )
    print(text)


if __name__ == "__main__":
    main()

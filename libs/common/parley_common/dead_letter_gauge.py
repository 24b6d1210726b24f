"""`parley_dead_letters{queue}`: how many messages wait in each of a service's dead-letter
queues, read from the broker every `dead_letter_check_seconds` (an alert fires above 0;
`parley dlq` looks at them, replays or drops them)."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import Gauge

from .bus import Bus
from .loops import Loop

DEAD_LETTERS = Gauge(
    "parley_dead_letters", "Messages in a queue's dead-letter queue", ["service", "queue"]
)


class DeadLetterGauge:
    def __init__(self, *, service: str, bus: Bus, queues: Sequence[str], interval: float) -> None:
        self._service = service
        self._bus = bus
        self._queues = list(queues)
        self._loop = Loop(f"dead-letters:{service}", self.measure, interval)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def measure(self) -> None:
        if getattr(self._bus, "broker_lost", False):
            return  # nothing to read now; the gauge keeps its last value
        for queue in self._queues:
            count = await self._bus.dead_letter_count(queue)
            DEAD_LETTERS.labels(self._service, queue).set(count)

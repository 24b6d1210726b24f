"""`parley dlq` on the real RabbitMQ: a poison message is listed, shown, replayed to its queue
once the consumer is fixed, or dropped; and parley_dead_letters counts it."""

from __future__ import annotations

import asyncio

import pytest

from parley.dlq import main
from parley_common.bus import Bus, Delivery, create_bus
from parley_common.dead_letter_gauge import DEAD_LETTERS, DeadLetterGauge
from parley_common.testing.plugin import BusConfig
from parley_common.testing.waiting import wait_for


@pytest.fixture
def dlq(amqp: BusConfig, monkeypatch: pytest.MonkeyPatch) -> BusConfig:
    """`parley dlq` pointed at this test's exchange and queues."""
    monkeypatch.setenv("PARLEY_AMQP_URL", amqp.url)
    monkeypatch.setenv("PARLEY_BUS_EXCHANGE", amqp.exchange)
    monkeypatch.setenv("PARLEY_BUS_QUEUE_PREFIX", amqp.queue_prefix)
    return amqp


async def dlq_says(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    """`parley dlq ARGS` (its own event loop, so in a thread of its own)."""
    await asyncio.to_thread(main, list(args))
    return [line for line in capsys.readouterr().out.splitlines() if "bus." not in line]


async def test_a_poison_message_is_listed_shown_replayed_and_dropped(
    dlq: BusConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    bus: Bus = create_bus(
        dlq.url, exchange=dlq.exchange, queue_prefix=dlq.queue_prefix, queue_type=dlq.queue_type
    )
    await bus.start()
    fixed = False
    handled: list[bytes] = []

    async def push_consumer(d: Delivery) -> None:
        if not fixed:
            raise RuntimeError("a bug")
        handled.append(d.body)

    try:
        await bus.subscribe("notify.push", ["svc.push.requested"], push_consumer, max_attempts=2)
        for n in (1, 2):
            body = f'{{"type": "push.requested", "id": "e{n}", "occurred_at": "now"}}'
            await bus.publish("svc.push.requested", body.encode())

        async def two_dead() -> bool:
            return await bus.dead_letter_count("notify.push") == 2

        await wait_for(two_dead, message="two dead letters", timeout=30)
        gauge = DeadLetterGauge(service="notify", bus=bus, queues=["notify.push"], interval=60)
        await gauge.measure()
        assert DEAD_LETTERS.labels("notify", "notify.push")._value.get() == 2

        assert "notify.push.dlq\t2" in (await dlq_says(capsys, "list"))
        shown = await dlq_says(capsys, "show", "notify.push")
        assert shown[-1] == "2 dead letters (notify.push.dlq)"
        assert all(line.startswith("svc.push.requested\tpush.requested id=e") for line in shown[:2])
        assert "notify.push.dlq\t2" in (await dlq_says(capsys, "list"))  # show took nothing

        fixed = True
        replayed = await dlq_says(capsys, "replay", "notify.push", "--limit", "1")
        assert replayed[-1] == "1 replayed (notify.push.dlq)"
        await wait_for(lambda: len(handled) == 1, message="the replayed message handled")
        assert (await dlq_says(capsys, "drop", "notify.push"))[-1] == "1 dropped (notify.push.dlq)"
        assert "notify.push.dlq\t0" in (await dlq_says(capsys, "list"))
        await gauge.measure()
        assert DEAD_LETTERS.labels("notify", "notify.push")._value.get() == 0
    finally:
        await bus.close()

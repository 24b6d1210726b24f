"""Transient events: published straight on the bus (no outbox, no publisher confirm), for
state that the next event or a reconnect repairs (typing, viewers, presence)."""

from __future__ import annotations

import structlog

from .bus import Bus
from .events import EventData, envelope

log = structlog.get_logger(__name__)


async def publish_transient(bus: Bus, event: EventData, routing_key: str, *, producer: str) -> bool:
    """Publish `event` under `routing_key`; False (logged) when the broker cannot take it."""
    env = envelope(event, producer=producer)
    try:
        await bus.publish(
            routing_key, env.model_dump_json().encode(), message_id=str(env.id), persistent=False
        )
    except Exception as exc:
        log.warning("transient.publish_failed", type=env.type, key=routing_key, error=str(exc))
        return False
    return True

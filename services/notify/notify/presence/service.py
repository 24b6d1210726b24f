"""Presence transitions: the gateways' transient events in, `presence.changed` to friends out.

Presence events skip the database inbox: they are high-volume and transient, and every store
operation is idempotent per connection id (a replayed `connected` or `disconnected` changes
nothing and reports no transition), so a redelivery is harmless.

`presence.changed` is published straight on the bus, not through the outbox: it is transient
state, not a fact to keep. When the broker is down the change is logged and dropped; clients
learn the current state anyway when they (re)connect (the gateway asks `GET /internal/presence`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parley_common.bus import Bus, Delivery, Subscription
from parley_common.db import utcnow
from parley_common.events import (
    Envelope,
    PresenceChanged,
    PresenceConnected,
    PresenceDisconnected,
    PresenceHeartbeat,
    envelope,
    user_key,
)
from parley_common.metrics import EVENTS_CONSUMED

from .. import projections
from ..loops import Loop
from ..metrics import USERS_ONLINE
from .store import PresenceStore

log = structlog.get_logger(__name__)

QUEUE = "notify.presence"
BINDINGS = ["svc.presence.*"]


class PresenceService:
    def __init__(
        self,
        *,
        store: PresenceStore,
        bus: Bus,
        sessionmaker: async_sessionmaker[AsyncSession],
        reap_seconds: float,
    ) -> None:
        self.store = store
        self._bus = bus
        self._sessionmaker = sessionmaker
        self._subscription: Subscription | None = None
        self._reaper = Loop("presence-reaper", self.reap_once, reap_seconds)

    async def start(self) -> None:
        self._subscription = await self._bus.subscribe(QUEUE, BINDINGS, self.handle, prefetch=64)
        self._reaper.start()

    async def stop(self) -> None:
        await self._reaper.stop()
        if self._subscription:
            await self._subscription.cancel()

    async def handle(self, delivery: Delivery) -> None:
        env = Envelope.model_validate_json(delivery.body)
        if env.type == PresenceConnected.EVENT_TYPE:
            c = env.parse(PresenceConnected)
            if await self.store.connect(
                gateway_id=c.gateway_id, connection_id=c.connection_id, user_id=c.user_id
            ):
                await self.publish_change(c.user_id, online=True, last_seen=None)
        elif env.type == PresenceDisconnected.EVENT_TYPE:
            d = env.parse(PresenceDisconnected)
            at = env.occurred_at
            if await self.store.disconnect(
                gateway_id=d.gateway_id, connection_id=d.connection_id, user_id=d.user_id, at=at
            ):
                await self.publish_change(d.user_id, online=False, last_seen=at)
        elif env.type == PresenceHeartbeat.EVENT_TYPE:
            await self.store.heartbeat(env.parse(PresenceHeartbeat).gateway_id)
        else:
            EVENTS_CONSUMED.labels("notify", env.type, "ignored").inc()
            return
        EVENTS_CONSUMED.labels("notify", env.type, "processed").inc()

    async def publish_change(
        self, user_id: int, *, online: bool, last_seen: datetime | None
    ) -> None:
        """One event id, one routing key per friend: `user.<friend_id>.presence.changed`."""
        USERS_ONLINE.set(await self.store.online_count())
        async with self._sessionmaker() as session:
            friends = await projections.friend_ids(session, user_id)
        if not friends:
            return
        env = envelope(
            PresenceChanged(user_id=user_id, online=online, last_seen=last_seen),
            producer="notify",
            event_id=uuid.uuid4(),
        )
        body = env.model_dump_json().encode()
        for friend_id in friends:
            try:
                await self._bus.publish(
                    user_key(friend_id, env.type), body, message_id=str(env.id), persistent=False
                )
            except Exception as exc:
                log.warning("presence.publish_failed", user_id=user_id, error=str(exc))
                return

    async def reap_once(self) -> None:
        now = utcnow()
        for user_id in await self.store.reap(now):
            await self.publish_change(user_id, online=False, last_seen=now)
        USERS_ONLINE.set(await self.store.online_count())

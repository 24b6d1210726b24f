"""Presence transitions: the gateways' transient events in, `presence.changes` out.

Presence events skip the database inbox: they are high-volume and transient, and every store
operation is idempotent per connection id (a replayed `connected` or `disconnected` changes
nothing and reports no transition), so a redelivery is harmless.

They are handled in batches: a morning's connect burst is thousands of `presence.connected`
events, and each batch costs one round trip to the store and, when users went online or
offline, ONE `presence.changes` event listing them all, routed `gw.presence.changes` to every
gateway replica. Each replica tells the connected friends of each user (it keeps its users'
friends), so notify needs no friend lookup here and a gateway gets one event per batch
instead of one per friend of every user.

`presence.changes` is published straight on the bus, not through the outbox: it is transient
state, not a fact to keep. When the broker is down the change is logged and dropped; clients
learn the current state anyway when they (re)connect (the gateway asks notify's presence).
"""

from __future__ import annotations

from datetime import datetime

import structlog

from parley_common.bus import Bus, Delivery, Subscription
from parley_common.db import utcnow
from parley_common.events import (
    Envelope,
    PresenceChanged,
    PresenceChanges,
    PresenceConnected,
    PresenceDisconnected,
    PresenceHeartbeat,
    gateways_key,
)
from parley_common.loops import Loop
from parley_common.metrics import EVENTS_CONSUMED
from parley_common.transient import publish_transient

from ..metrics import USERS_ONLINE
from .store import PresenceStore, Transition

log = structlog.get_logger(__name__)

QUEUE = "notify.presence"
BINDINGS = ["svc.presence.*"]


class PresenceService:
    def __init__(self, *, store: PresenceStore, bus: Bus, reap_seconds: float) -> None:
        self.store = store
        self._bus = bus
        self._subscription: Subscription | None = None
        self._reaper = Loop("presence-reaper", self.reap_once, reap_seconds)

    async def start(self) -> None:
        self._subscription = await self._bus.subscribe_batches(
            QUEUE, BINDINGS, self.handle_batch, max_batch=500
        )
        self._reaper.start()

    async def stop(self) -> None:
        await self._reaper.stop()
        if self._subscription:
            await self._subscription.cancel()

    async def handle(self, delivery: Delivery) -> None:
        await self.handle_batch([delivery])

    async def handle_batch(self, deliveries: list[Delivery]) -> None:
        transitions: list[Transition] = []
        heartbeats: set[str] = set()
        for delivery in deliveries:
            env = Envelope.model_validate_json(delivery.body)
            if env.type == PresenceConnected.EVENT_TYPE:
                c = env.parse(PresenceConnected)
                transitions.append(Transition(c.gateway_id, c.connection_id, c.user_id, None))
            elif env.type == PresenceDisconnected.EVENT_TYPE:
                d = env.parse(PresenceDisconnected)
                transitions.append(
                    Transition(d.gateway_id, d.connection_id, d.user_id, env.occurred_at)
                )
            elif env.type == PresenceHeartbeat.EVENT_TYPE:
                heartbeats.add(env.parse(PresenceHeartbeat).gateway_id)
            else:
                EVENTS_CONSUMED.labels("notify", env.type, "ignored").inc()
                continue
            EVENTS_CONSUMED.labels("notify", env.type, "processed").inc()
        for gateway_id in heartbeats:
            await self.store.heartbeat(gateway_id)
        applied = await self.store.apply(transitions)
        await self.publish_changes(
            [
                PresenceChanged(user_id=t.user_id, online=t.at is None, last_seen=t.at)
                for t in applied.changed
            ],
            online=applied.online,
        )

    async def publish_change(
        self, user_id: int, *, online: bool, last_seen: datetime | None
    ) -> None:
        await self.publish_changes(
            [PresenceChanged(user_id=user_id, online=online, last_seen=last_seen)]
        )

    async def publish_changes(
        self, changes: list[PresenceChanged], *, online: int | None = None
    ) -> None:
        """One `presence.changes` for every gateway replica (`online`: the users online now,
        when the caller knows)."""
        if not changes:
            return
        USERS_ONLINE.set(await self.store.online_count() if online is None else online)
        event = PresenceChanges(changes=changes)
        await publish_transient(self._bus, event, gateways_key(event.EVENT_TYPE), producer="notify")

    async def reap_once(self) -> None:
        now = utcnow()
        gone = await self.store.reap(now)
        await self.publish_changes(
            [PresenceChanged(user_id=u, online=False, last_seen=now) for u in gone]
        )
        USERS_ONLINE.set(await self.store.online_count())

"""What this replica tells notify about its sockets: presence.connected / disconnected, and a
heartbeat every few seconds (transient; a lost event is repaired by the next heartbeat or a
reconnect)."""

from __future__ import annotations

import asyncio
import contextlib

from parley_common.bus import Bus
from parley_common.events import (
    EventData,
    PresenceConnected,
    PresenceDisconnected,
    PresenceHeartbeat,
    svc_key,
)
from parley_common.transient import publish_transient


class PresencePublisher:
    def __init__(self, bus: Bus, gateway_id: str, heartbeat_seconds: float) -> None:
        self._bus = bus
        self._gateway_id = gateway_id
        self._heartbeat_seconds = heartbeat_seconds
        self._task: asyncio.Task[None] | None = None

    async def connected(self, connection_id: str, user_id: int) -> None:
        await self._publish(
            PresenceConnected(
                gateway_id=self._gateway_id, connection_id=connection_id, user_id=user_id
            )
        )

    async def disconnected(self, connection_id: str, user_id: int) -> None:
        await self._publish(
            PresenceDisconnected(
                gateway_id=self._gateway_id, connection_id=connection_id, user_id=user_id
            )
        )

    def start(self) -> None:
        self._task = asyncio.create_task(self._heartbeat_loop(), name="presence-heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _heartbeat_loop(self) -> None:
        while True:
            await self._publish(PresenceHeartbeat(gateway_id=self._gateway_id))
            await asyncio.sleep(self._heartbeat_seconds)

    async def _publish(self, data: EventData) -> None:
        await publish_transient(self._bus, data, svc_key(data.EVENT_TYPE), producer="gateway")

"""Presence: what this replica tells notify (connected/disconnected/heartbeat, transient on
the bus), and the friends' states a new socket gets before `connected`."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import structlog

from parley_common import frames as fr
from parley_common.bus import Bus
from parley_common.events import (
    EventData,
    PresenceConnected,
    PresenceDisconnected,
    PresenceHeartbeat,
    envelope,
    svc_key,
)

from ..upstreams import Upstreams

log = structlog.get_logger(__name__)


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
        # Transient: a lost presence event is repaired by the next heartbeat / reconnect.
        env = envelope(data, producer="gateway")
        try:
            await self._bus.publish(
                svc_key(env.type),
                env.model_dump_json().encode(),
                message_id=str(env.id),
                persistent=False,
            )
        except Exception:
            log.warning("presence.publish_failed", type=env.type, exc_info=True)


async def friend_states(
    upstreams: Upstreams, user_id: int, known_friend_ids: list[int] | None = None
) -> tuple[list[int] | None, list[fr.Frame]]:
    """The user's friend ids (None when chat cannot tell) and one user_online/user_offline
    frame per friend.

    `known_friend_ids` (the hub's set, kept current by friend events while the user has a
    socket here) saves the call to chat. When chat or notify cannot answer, the frames are
    skipped (the socket still opens)."""
    if known_friend_ids is not None:
        friend_ids = known_friend_ids
    else:
        try:
            response = await upstreams.chat.get(f"/internal/users/{user_id}/friends")
            response.raise_for_status()
            friend_ids = [int(i) for i in response.json()["friend_ids"]]
        except (httpx.HTTPError, KeyError, ValueError, TypeError):
            log.warning("presence.friends_unavailable", user_id=user_id)
            return None, []
    if not friend_ids:
        return friend_ids, []
    try:
        response = await upstreams.notify.get(
            "/internal/presence", params={"user_ids": ",".join(map(str, friend_ids))}
        )
        response.raise_for_status()
        states = response.json()
        frames: list[fr.Frame] = []
        for friend_id in friend_ids:
            state = states.get(str(friend_id)) or {"online": False, "last_seen": None}
            if state.get("online"):
                frames.append(fr.UserOnlineFrame(user_id=friend_id))
            else:
                frames.append(
                    fr.UserOfflineFrame(user_id=friend_id, last_seen=state.get("last_seen"))
                )
    except (httpx.HTTPError, AttributeError, ValueError, TypeError):
        log.warning("presence.states_unavailable", user_id=user_id)
        return friend_ids, []
    return friend_ids, frames


async def conversation_ids(upstreams: Upstreams, user_id: int) -> list[int] | None:
    """The user's conversation ids from chat; None when chat cannot answer."""
    try:
        response = await upstreams.chat.get(f"/internal/users/{user_id}/conversations")
        response.raise_for_status()
        return [int(i) for i in response.json()["conversation_ids"]]
    except (httpx.HTTPError, KeyError, ValueError, TypeError):
        log.warning("hub.conversations_unavailable", user_id=user_id)
        return None

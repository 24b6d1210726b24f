"""Who views (has joined) a conversation, across replicas, and the `viewers` frames.

Who views what lives in the store, one sorted set per conversation, `gw:viewers:<id>`, members
`<user>:<gateway>:<connection>` scored by their expiry: a replica refreshes its entries every
ttl/3, so those of a replica that died expire. Every change is published (transient
`conv.<id>.viewers`, with a growing version) and each replica sends the set to its sockets
that joined. Without a store (unit tests) the set is this replica's own.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog

from parley_common import events as ev
from parley_common import frames as fr
from parley_common.transient import publish_transient

from .connection import Connection
from .registry import Registry

log = structlog.get_logger(__name__)


class Viewers:
    def __init__(
        self, *, registry: Registry, bus: Any, gateway_id: str, store: Any, ttl: float = 45.0
    ) -> None:
        self._registry = registry
        self._bus = bus
        self._gateway_id = gateway_id
        self._store = store
        self._ttl = ttl
        #: conversation → user → how many of the user's sockets here joined it
        self.here: dict[int, dict[int, int]] = {}
        self._versions: dict[int, int] = {}
        self._ops: asyncio.Queue[tuple[int, str, bool]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if self._store is not None:
            self._tasks = [
                asyncio.create_task(self._worker(), name="viewers"),
                asyncio.create_task(self._refresh(), name="viewers-refresh"),
            ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def join(self, conn: Connection, conversation_id: int) -> None:
        if conn.joined is None:
            conn.joined = set()
        if conversation_id in conn.joined:
            return
        conn.joined.add(conversation_id)
        counts = self.here.setdefault(conversation_id, {})
        counts[conn.user_id] = counts.get(conn.user_id, 0) + 1
        self._changed(conn, conversation_id, joined=True)

    def leave(self, conn: Connection, conversation_id: int) -> None:
        if not conn.joined or conversation_id not in conn.joined:
            return
        conn.joined.discard(conversation_id)
        counts = self.here.get(conversation_id, {})
        left = counts.get(conn.user_id, 0) - 1
        if left > 0:
            counts[conn.user_id] = left
        else:
            counts.pop(conn.user_id, None)
            if not counts:
                self.here.pop(conversation_id, None)
        self._changed(conn, conversation_id, joined=False)

    def leave_all(self, conn: Connection) -> None:
        for conversation_id in list(conn.joined or ()):
            self.leave(conn, conversation_id)

    def leave_everywhere(self, user_id: int, conversation_id: int) -> None:
        """The user is no longer a member: every socket of theirs stops viewing it."""
        for conn in self._registry.of_user(user_id):
            self.leave(conn, conversation_id)

    def on_event(self, data: ev.ViewersChanged) -> None:
        cid = data.conversation_id
        if data.version < self._versions.get(cid, 0):
            return  # an older set that arrived late
        self._versions[cid] = data.version
        self._send(cid, data.user_ids)

    def _changed(self, conn: Connection, conversation_id: int, *, joined: bool) -> None:
        if self._store is None:
            self._send(conversation_id, sorted(self.here.get(conversation_id, {})))
            return
        member = f"{conn.user_id}:{self._gateway_id}:{conn.id}"
        self._ops.put_nowait((conversation_id, member, joined))

    def _send(self, conversation_id: int, user_ids: list[int]) -> None:
        frame = fr.ViewersFrame(conversation_id=conversation_id, user_ids=user_ids)
        for user_id in self.here.get(conversation_id, {}):
            for conn in self._registry.of_user(user_id):
                if conn.joined and conversation_id in conn.joined:
                    conn.send(frame)

    @staticmethod
    def _key(conversation_id: int) -> str:
        return f"gw:viewers:{conversation_id}"

    async def _worker(self) -> None:
        """Applies join/leave changes in order and publishes the new set of each."""
        while True:
            conversation_id, member, joined = await self._ops.get()
            try:
                await self._apply(conversation_id, member, joined)
            except Exception:
                log.warning("viewers.failed", conversation_id=conversation_id, exc_info=True)

    async def _apply(self, conversation_id: int, member: str, joined: bool) -> None:
        key = self._key(conversation_id)
        now = time.time()
        async with self._store.pipeline(transaction=True) as pipe:
            if joined:
                pipe.zadd(key, {member: now + self._ttl})
            else:
                pipe.zrem(key, member)
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zrange(key, 0, -1)
            pipe.incr(key + ":v")
            pipe.expire(key, int(self._ttl * 2))
            pipe.expire(key + ":v", 86400)
            results = await pipe.execute()
        members, version = results[2], int(results[3])
        user_ids = sorted({int(m.split(":", 1)[0]) for m in members})
        data = ev.ViewersChanged(
            conversation_id=conversation_id, user_ids=user_ids, version=version
        )
        key = ev.conv_key(conversation_id, data.EVENT_TYPE)
        if not await publish_transient(self._bus, data, key, producer="gateway"):
            self.on_event(data)  # no broker: at least this replica's sockets get the set

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self._ttl / 3)
            expires = time.time() + self._ttl
            try:
                async with self._store.pipeline(transaction=False) as pipe:
                    for conn in self._registry.connections():
                        for cid in conn.joined or ():
                            member = f"{conn.user_id}:{self._gateway_id}:{conn.id}"
                            pipe.zadd(self._key(cid), {member: expires}, xx=True)
                            pipe.expire(self._key(cid), int(self._ttl * 2))
                    await pipe.execute()
            except Exception:
                log.warning("viewers.refresh_failed", exc_info=True)

"""Presence state in the store (Redis, or fakeredis in the embedded mode), changed by Lua
scripts so that every transition is atomic and replayed events change nothing.

Keys (under the `presence_key_prefix` setting):
  u:<user_id>       hash connection_id -> gateway_id (online while it is not empty)
  g:<gateway_id>    hash connection_id -> user_id (what to close when the gateway goes silent)
  alive:<gateway_id> heartbeat key, expires after `presence_gateway_ttl_seconds`
  gateways          set of gateway ids with connections
  online            set of online user ids (the parley_users_online gauge)
  seen:<user_id>    ISO time the user last went offline
  closed:<conn_id>  tombstone: a `connected` that arrives after its `disconnected` is ignored

The reap script builds key names from the prefix, so it needs a single Redis node (not Cluster).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis.asyncio as redis

from parley_common.db import utcnow
from parley_common.schemas import PresenceState

_CONNECT = """
if redis.call('EXISTS', KEYS[6]) == 1 then return 0 end
redis.call('SET', KEYS[3], '1', 'PX', ARGV[4])
redis.call('SADD', KEYS[4], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local added = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if added == 1 and redis.call('HLEN', KEYS[1]) == 1 then
  redis.call('SADD', KEYS[5], ARGV[3])
  return 1
end
return 0
"""

_DISCONNECT = """
redis.call('SET', KEYS[5], '1', 'PX', ARGV[4])
redis.call('HDEL', KEYS[2], ARGV[1])
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
if removed == 1 and redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[2])
  redis.call('SET', KEYS[4], ARGV[3])
  return 1
end
return 0
"""

_REAP = """
local offline = {}
for _, gid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. 'alive:' .. gid) == 0 then
    local gkey = ARGV[1] .. 'g:' .. gid
    local conns = redis.call('HGETALL', gkey)
    for i = 1, #conns, 2 do
      local ukey = ARGV[1] .. 'u:' .. conns[i + 1]
      if redis.call('HDEL', ukey, conns[i]) == 1 and redis.call('HLEN', ukey) == 0 then
        redis.call('SREM', ARGV[1] .. 'online', conns[i + 1])
        redis.call('SET', ARGV[1] .. 'seen:' .. conns[i + 1], ARGV[2])
        table.insert(offline, conns[i + 1])
      end
    end
    redis.call('DEL', gkey)
    redis.call('SREM', KEYS[1], gid)
  end
end
return offline
"""


@dataclass(frozen=True, slots=True)
class Transition:
    """A socket opened (`at` is None) or closed at `at`."""

    gateway_id: str
    connection_id: str
    user_id: int
    at: datetime | None


@dataclass(frozen=True, slots=True)
class Applied:
    """What `PresenceStore.apply` did: the transitions that made their user go online or
    offline, and how many users are online after them (None: nothing was applied)."""

    changed: list[Transition]
    online: int | None


class PresenceStore:
    def __init__(
        self, store: redis.Redis, *, prefix: str, gateway_ttl: float, tombstone_ttl: float
    ) -> None:
        self._r = store
        self._p = prefix
        self._ttl_ms = max(1, int(gateway_ttl * 1000))
        self._tombstone_ms = max(1, int(tombstone_ttl * 1000))
        self._connect = store.register_script(_CONNECT)
        self._disconnect = store.register_script(_DISCONNECT)
        self._reap = store.register_script(_REAP)

    async def apply(self, transitions: list[Transition]) -> Applied:
        """Record sockets opened and closed, in order, and count the users online, in one round
        trip. The scripts go whole (EVAL): redis-py sends a SCRIPT EXISTS round trip before
        every pipeline of registered scripts, and each round trip's write was a sixth of
        notify's CPU per connect in py-spy."""
        if not transitions:
            return Applied([], None)
        async with self._r.pipeline(transaction=False) as pipe:
            for t in transitions:
                if t.at is None:
                    call, script = self._connect_call(t), _CONNECT
                else:
                    call, script = self._disconnect_call(t), _DISCONNECT
                pipe.eval(script, len(call["keys"]), *call["keys"], *call["args"])
            pipe.scard(f"{self._p}online")
            *results, online = await pipe.execute()
        changed = [t for t, flag in zip(transitions, results, strict=True) if flag]
        return Applied(changed, int(online))

    def _connect_call(self, t: Transition) -> dict[str, list[Any]]:
        p = self._p
        return {
            "keys": [
                f"{p}u:{t.user_id}",
                f"{p}g:{t.gateway_id}",
                f"{p}alive:{t.gateway_id}",
                f"{p}gateways",
                f"{p}online",
                f"{p}closed:{t.connection_id}",
            ],
            "args": [t.connection_id, t.gateway_id, str(t.user_id), self._ttl_ms],
        }

    def _disconnect_call(self, t: Transition) -> dict[str, list[Any]]:
        p = self._p
        assert t.at is not None
        return {
            "keys": [
                f"{p}u:{t.user_id}",
                f"{p}g:{t.gateway_id}",
                f"{p}online",
                f"{p}seen:{t.user_id}",
                f"{p}closed:{t.connection_id}",
            ],
            "args": [t.connection_id, str(t.user_id), t.at.isoformat(), self._tombstone_ms],
        }

    async def online_among(self, user_ids: Iterable[int]) -> set[int]:
        """Which of these users have an open socket, in one round trip."""
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return set()
        flags = await self._r.smismember(f"{self._p}online", [str(u) for u in ids])
        return {u for u, flag in zip(ids, flags, strict=True) if flag}

    async def connect(self, *, gateway_id: str, connection_id: str, user_id: int) -> bool:
        """Record a connection; True when it made the user go online."""
        t = Transition(gateway_id, connection_id, user_id, None)
        return bool(await self._connect(**self._connect_call(t)))  # type: ignore[arg-type]

    async def disconnect(
        self, *, gateway_id: str, connection_id: str, user_id: int, at: datetime
    ) -> bool:
        """Forget a connection; True when it was the user's last one (they went offline)."""
        t = Transition(gateway_id, connection_id, user_id, at)
        return bool(await self._disconnect(**self._disconnect_call(t)))  # type: ignore[arg-type]

    async def heartbeat(self, gateway_id: str) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.set(f"{self._p}alive:{gateway_id}", "1", px=self._ttl_ms)
            pipe.sadd(f"{self._p}gateways", gateway_id)
            await pipe.execute()

    async def reap(self, at: datetime | None = None) -> list[int]:
        """Close every connection of gateways whose heartbeat expired; the users that went offline."""
        at = at or utcnow()
        users = await self._reap(keys=[f"{self._p}gateways"], args=[self._p, at.isoformat()])
        return [int(u) for u in users]

    async def online_count(self) -> int:
        return int(await self._r.scard(f"{self._p}online"))

    async def states(self, user_ids: Iterable[int]) -> dict[int, PresenceState]:
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return {}
        async with self._r.pipeline(transaction=False) as pipe:
            for uid in ids:
                pipe.hlen(f"{self._p}u:{uid}")
                pipe.get(f"{self._p}seen:{uid}")
            results = await pipe.execute()
        states: dict[int, PresenceState] = {}
        for i, uid in enumerate(ids):
            online, seen = bool(results[2 * i]), results[2 * i + 1]
            last_seen = None if online or not seen else datetime.fromisoformat(seen)
            states[uid] = PresenceState(online=online, last_seen=last_seen)
        return states

    async def forget(self, user_id: int) -> None:
        """A deleted account: its presence goes (a socket that closes later finds nothing to
        change, so it sets no `seen:` time either)."""
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(f"{self._p}u:{user_id}", f"{self._p}seen:{user_id}")
            pipe.srem(f"{self._p}online", str(user_id))
            await pipe.execute()

    async def is_online(self, user_id: int) -> bool:
        return bool(await self._r.hlen(f"{self._p}u:{user_id}"))

"""The key-value store for presence, rate limits and throttling: Redis, or an in-process one.

`memory://` gives a fakeredis client (the real Redis command set, Lua included) on a server
shared by every client in the process, so the embedded mode runs the same code as production.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as redis

_FAKE_SERVERS: dict[str, Any] = {}


def create_store(url: str) -> redis.Redis:
    if url.startswith("memory://"):
        import fakeredis

        server = _FAKE_SERVERS.setdefault(url, fakeredis.FakeServer())
        client: redis.Redis = fakeredis.FakeAsyncRedis(server=server, decode_responses=True)
        return client
    return redis.Redis.from_url(url, decode_responses=True)


async def ping(store: redis.Redis) -> bool:
    try:
        return bool(await store.ping())
    except Exception:
        return False

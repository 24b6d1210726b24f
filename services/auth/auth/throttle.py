"""Failed-login throttling per username and per client address, in the shared store.

A sliding window kept as a sorted set of failure times: once `max_failures` fall inside the
window, further attempts get 429 until the oldest of them leaves it.
"""

from __future__ import annotations

import contextlib
import time
import uuid

import redis.asyncio as redis

from parley_common.errors import Unavailable

from .errors import LoginThrottled

PREFIX = "auth:login-failures"


class LoginThrottle:
    def __init__(
        self,
        store: redis.Redis,
        *,
        max_per_user: int,
        max_per_address: int,
        window_seconds: int,
    ) -> None:
        self._store = store
        self._limits = {"user": max_per_user, "addr": max_per_address}
        self._window = window_seconds

    def _keys(self, username_key: str, address: str) -> dict[str, str]:
        return {"user": f"{PREFIX}:user:{username_key}", "addr": f"{PREFIX}:addr:{address}"}

    async def check(self, username_key: str, address: str) -> None:
        """Raise LoginThrottled when either the name or the address is over its limit."""
        now = time.time()
        retry_after = 0.0
        try:
            for kind, key in self._keys(username_key, address).items():
                limit = self._limits[kind]
                async with self._store.pipeline(transaction=True) as pipe:
                    pipe.zremrangebyscore(key, "-inf", now - self._window)
                    pipe.zcard(key)
                    pipe.zrange(key, -limit, -limit, withscores=True)
                    _, count, nth_newest = await pipe.execute()
                if count >= limit and nth_newest:
                    # Allowed again once fewer than `limit` failures remain in the window.
                    retry_after = max(retry_after, nth_newest[0][1] + self._window - now)
        except redis.RedisError as exc:
            raise Unavailable("Login temporarily unavailable") from exc
        if retry_after > 0:
            raise LoginThrottled(retry_after=retry_after)

    async def record_failure(self, username_key: str, address: str) -> None:
        now = time.time()
        try:
            async with self._store.pipeline(transaction=True) as pipe:
                for key in self._keys(username_key, address).values():
                    pipe.zadd(key, {f"{now}:{uuid.uuid4().hex[:8]}": now})
                    pipe.expire(key, self._window)
                await pipe.execute()
        except redis.RedisError as exc:
            raise Unavailable("Login temporarily unavailable") from exc

    async def reset_user(self, username_key: str) -> None:
        # A stale counter only delays a later login; this one succeeded.
        with contextlib.suppress(redis.RedisError):
            await self._store.delete(f"{PREFIX}:user:{username_key}")

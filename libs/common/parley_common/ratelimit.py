"""Token-bucket rate limits kept in the store, atomic across replicas through one Lua script."""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis.asyncio as redis

# KEYS[1] bucket; ARGV: rate per second, burst, now (s), cost. Returns {allowed, retry_after_ms}.
_TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local retry_ms = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry_ms = math.ceil((cost - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, retry_ms}
"""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after: float


# The same bucket for each of KEYS in turn (a key may repeat: each time takes one token);
# ARGV: rate, burst, now. Returns {allowed, retry_ms, allowed, retry_ms, ...}.
_TOKEN_BUCKETS = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local out = {}
for i, key in ipairs(KEYS) do
  local state = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(state[1]) or burst
  local ts = tonumber(state[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
  if tokens >= 1 then
    tokens = tokens - 1
    out[2 * i - 1] = 1
    out[2 * i] = 0
  else
    out[2 * i - 1] = 0
    out[2 * i] = math.ceil((1 - tokens) / rate * 1000)
  end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(burst / rate * 1000) + 1000)
end
return out
"""


class TokenBucket:
    def __init__(self, store: redis.Redis, *, prefix: str, rate: float, burst: int) -> None:
        self._store = store
        self._prefix = prefix
        self.rate = rate
        self.burst = burst
        self._script = store.register_script(_TOKEN_BUCKET)
        self._many = store.register_script(_TOKEN_BUCKETS)

    async def take(self, key: str, cost: int = 1) -> Decision:
        allowed, retry_ms = await self._script(
            keys=[f"{self._prefix}:{key}"], args=[self.rate, self.burst, time.time(), cost]
        )
        return Decision(bool(allowed), int(retry_ms) / 1000)

    async def take_many(self, keys: list[str]) -> list[Decision]:
        """One token for each key (a key may repeat), in order, in one round trip."""
        if not keys:
            return []
        now = time.time()
        async with self._store.pipeline(transaction=False) as pipe:
            for key in keys:
                await self._script(
                    keys=[f"{self._prefix}:{key}"],
                    args=[self.rate, self.burst, now, 1],
                    client=pipe,
                )
            results = await pipe.execute()
        return [Decision(bool(allowed), int(retry_ms) / 1000) for allowed, retry_ms in results]

"""Token buckets in the store: one at a time, and many in one round trip (the gateway takes a
token per WebSocket send for a whole batch of sends)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from parley_common.ratelimit import TokenBucket
from parley_common.store import create_store


@pytest.fixture(params=["redis", "memory"])
async def store(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[redis.Redis]:
    client = create_store(redis_url if request.param == "redis" else "memory://ratelimit-test")
    yield client
    await client.aclose()


async def test_many_keys_in_one_call_share_each_bucket(store: redis.Redis) -> None:
    bucket = TokenBucket(store, prefix="t1", rate=0.001, burst=3)
    decisions = await bucket.take_many(["a", "a", "b", "a", "a", "b"])
    assert [d.allowed for d in decisions] == [True, True, True, True, False, True]
    refused = decisions[4]
    assert refused.retry_after > 0
    # The buckets are the same ones single takes use.
    assert not (await bucket.take("a")).allowed
    assert (await bucket.take("c")).allowed


async def test_no_keys_no_call(store: redis.Redis) -> None:
    bucket = TokenBucket(store, prefix="t2", rate=1, burst=1)
    assert await bucket.take_many([]) == []

"""The denylist of revoked sessions on real Redis: each replica answers from its copy in memory,
and a revocation another replica wrote (an event this one missed) is refused within a second;
with the store gone and the copy stale, tokens are refused rather than let in."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import redis.asyncio as redis

from gateway.sessions import SessionDenylist
from parley_common.testing.proxy import TcpProxy
from parley_common.testing.waiting import wait_for


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def replicas(store: redis.Redis) -> AsyncIterator[tuple[SessionDenylist, SessionDenylist]]:
    one = SessionDenylist(store, default_ttl_seconds=60, sync_interval=0.1)
    two = SessionDenylist(store, default_ttl_seconds=60, sync_interval=0.1)
    await one.start()
    await two.start()
    yield one, two
    await one.stop()
    await two.stop()


async def test_a_revocation_reaches_a_replica_that_missed_the_event(
    replicas: tuple[SessionDenylist, SessionDenylist],
) -> None:
    one, two = replicas
    assert not await two.is_revoked("sid-1")
    await one.revoke("sid-1")  # only `one` took the event
    assert await one.is_revoked("sid-1")
    started = time.monotonic()
    await wait_for(lambda: two.is_revoked("sid-1"), timeout=1.0, message="sid-1 refused by two")
    assert time.monotonic() - started < 1.0
    assert not await two.is_revoked("sid-2")


async def test_a_replica_started_later_refuses_earlier_revocations(store: redis.Redis) -> None:
    first = SessionDenylist(store, default_ttl_seconds=60)
    await first.revoke("before", until=datetime.now(UTC) + timedelta(minutes=5))
    later = SessionDenylist(store, default_ttl_seconds=60)
    await later.start()
    try:
        assert await later.is_revoked("before")
        assert not await later.is_revoked("other")
    finally:
        await later.stop()


async def test_an_entry_ends_with_the_sessions_last_access_token(store: redis.Redis) -> None:
    denylist = SessionDenylist(store, default_ttl_seconds=60, sync_interval=0.1)
    await denylist.start()
    try:
        await denylist.revoke("short", until=datetime.now(UTC) - timedelta(seconds=30))
        assert await denylist.is_revoked("short")  # at least a second, whatever `until` says
        assert 0 < await store.ttl("gw:revoked-sid:short") <= 1
        await wait_for(
            lambda: _not(denylist.is_revoked("short")), timeout=5, message="entry expired"
        )
    finally:
        await denylist.stop()


async def test_with_the_store_cut_the_stale_copy_stops_answering(redis_url: str) -> None:
    """The copy answers only while its polls succeed: once the store has been unreachable for
    a few of them, reads go to the store and fail (the verifier then refuses the token)."""
    url = urlsplit(redis_url)
    proxy = await TcpProxy(url.hostname or "127.0.0.1", url.port or 6379).start()
    client = redis.Redis.from_url(
        f"redis://127.0.0.1:{proxy.port}{url.path}", socket_timeout=0.5, socket_connect_timeout=0.5
    )
    denylist = SessionDenylist(client, default_ttl_seconds=60, sync_interval=0.1)
    await denylist.start()
    try:
        await denylist.revoke("known")
        assert not await denylist.is_revoked("other")
        await proxy.cut()

        async def read_fails() -> bool:
            try:
                await denylist.is_revoked("other")
            except redis.RedisError:
                return True
            return False

        await wait_for(read_fails, timeout=3, message="reads go to the unreachable store")
    finally:
        await denylist.stop()
        await client.aclose()
        await proxy.close()


async def _not(check: Awaitable[bool]) -> bool:
    return not await check

"""Helpers for tests and benchmarks that drive a running Parley through the client."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence

from .errors import ParleyError
from .rest import ParleyClient

PASSWORD = "correct-horse-battery"


def unique_name(prefix: str = "u") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


async def new_user(
    base_urls: str | Sequence[str], prefix: str = "u", *, password: str = PASSWORD
) -> ParleyClient:
    """Registers a fresh user, logs in, and returns a client holding its tokens and `user`."""
    client = ParleyClient(base_urls)
    name = unique_name(prefix)
    await client.register(name, f"{name}@example.com", password)
    await client.login(name, password)
    await client.me()
    return client


async def new_users(
    base_urls: str | Sequence[str], n: int, prefix: str = "u", *, concurrency: int = 20
) -> list[ParleyClient]:
    """`n` fresh users, registered concurrently (at most `concurrency` at a time)."""
    gate = asyncio.Semaphore(concurrency)

    async def one() -> ParleyClient:
        async with gate:
            return await new_user(base_urls, prefix)

    return list(await asyncio.gather(*(one() for _ in range(n))))


async def befriend(a: ParleyClient, b: ParleyClient, *, timeout: float = 15.0) -> None:
    """`a` asks, `b` accepts."""
    assert a.user is not None and b.user is not None
    # chat learns of new users from auth's user.registered event: for a moment after
    # registering, a user is unknown to it (404 "User not found"). Retry until it is known.
    deadline = time.monotonic() + timeout
    while True:
        try:
            await a.send_friend_request(b.user.username)
            break
        except ParleyError as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
    request = next(r for r in await b.friend_requests() if r.requester.id == a.user.id)
    await b.accept_friend_request(request.id)

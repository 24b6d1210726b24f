"""A revoked session's access token is refused on REST (401) and at the WebSocket handshake, on
every gateway replica, within 1 s of the revocation (issue 12, finding 1).

Two replicas of the process stack on real PostgreSQL, RabbitMQ and Redis: the session is ended
through one replica and its old access token is tried on both.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import websockets

from parley_client import ParleyClient
from parley_client.testing import PASSWORD

DEADLINE = 1.0  # seconds, from the revocation's answer to refusal everywhere


def ws(url: str) -> str:
    return url.replace("http", "ws", 1)


async def rest_status(url: str, token: str) -> int:
    async with httpx.AsyncClient(trust_env=False, timeout=5) as http:
        return (
            await http.get(f"{url}/users/me", headers={"Authorization": f"Bearer {token}"})
        ).status_code


async def create_group_status(url: str, token: str) -> int:
    async with httpx.AsyncClient(trust_env=False, timeout=5) as http:
        r = await http.post(
            f"{url}/conversations/groups",
            json={"name": "after revocation", "member_user_ids": []},
            headers={"Authorization": f"Bearer {token}"},
        )
        return r.status_code


async def handshake_refused(url: str, token: str) -> bool:
    try:
        async with websockets.connect(f"{ws(url)}/ws/{token}", open_timeout=5) as socket:
            await socket.close()
            return False
    except websockets.InvalidStatus as exc:
        return exc.response.status_code == 403


async def refused_everywhere(urls: list[str], token: str) -> None:
    """Every replica refuses `token` on REST and at the handshake, within DEADLINE."""
    started = time.monotonic()
    pending = {url for url in urls}
    while pending:
        for url in sorted(pending):
            if await rest_status(url, token) == 401:
                pending.discard(url)
        if pending and time.monotonic() - started > DEADLINE:
            raise AssertionError(f"still accepted after {DEADLINE}s by {sorted(pending)}")
    elapsed = time.monotonic() - started
    assert elapsed <= DEADLINE, elapsed
    for url in urls:
        assert await create_group_status(url, token) == 401
        assert await handshake_refused(url, token), url
        async with websockets.connect(f"{ws(url)}/ws", open_timeout=5) as socket:
            # The first-frame form of the handshake refuses it too (4001).
            await socket.send(json.dumps({"type": "auth", "token": token}))
            with contextlib.suppress(websockets.ConnectionClosed):
                await socket.recv()
            assert socket.close_code == 4001


async def second_login(client: ParleyClient, urls: list[str]) -> ParleyClient:
    assert client.user is not None
    other = ParleyClient(urls)
    await other.login(client.user.username, PASSWORD)
    return other


Revoke = Callable[[ParleyClient, list[str]], Awaitable[Any]]


async def logout(client: ParleyClient, urls: list[str]) -> None:
    await client.logout()


async def reuse_refresh_token(client: ParleyClient, urls: list[str]) -> None:
    spent = client.refresh_token
    await client.refresh()  # rotates: `spent` is now a used token
    with contextlib.suppress(Exception):
        await client.refresh(spent)  # reuse: the whole family is revoked


@pytest.mark.stack_only
class TestRevokedSessionsEndEverywhere:
    @pytest.mark.parametrize("revoke", [logout, reuse_refresh_token], ids=["logout", "reuse"])
    async def test_old_access_token_refused_on_both_replicas(
        self, stack: Any, revoke: Revoke
    ) -> None:
        gw1, gw2 = stack.gateway_urls
        client = await stack.user("rev", urls=[gw1])
        old_token = client.access_token
        assert old_token is not None
        assert await rest_status(gw2, old_token) == 200
        await revoke(client, [gw1])
        await refused_everywhere([gw1, gw2], old_token)

    async def test_password_change_ends_the_other_sessions_only(self, stack: Any) -> None:
        gw1, gw2 = stack.gateway_urls
        client = await stack.user("pw", urls=[gw1])
        other = await second_login(client, [gw2])
        try:
            stolen = other.access_token
            assert stolen is not None
            await client.change_password(PASSWORD, PASSWORD + "-new")
            await refused_everywhere([gw1, gw2], stolen)
            assert client.access_token is not None
            assert await rest_status(gw2, client.access_token) == 200
        finally:
            await other.aclose()


async def test_make_run_refuses_a_logged_out_token_too(embedded: Any) -> None:
    """The embedded mode (`make run`): the in-process bus feeds the in-process store."""
    client = await embedded.user("emb")
    token = client.access_token
    await client.logout()
    await refused_everywhere(embedded.gateway_urls, token)

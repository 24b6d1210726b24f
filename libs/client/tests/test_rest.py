"""REST plumbing of `ParleyClient`: errors, models, token refresh on 401, failover."""

from __future__ import annotations

import json

import httpx
import pytest

from parley_client import ParleyClient, ParleyError


class TestErrors:
    async def test_error_body_becomes_parley_error(self) -> None:
        transport = httpx.MockTransport(
            lambda r: httpx.Response(400, json={"detail": "Already friends", "code": "conflict"})
        )
        async with ParleyClient("http://x", access_token="t", transport=transport) as client:
            with pytest.raises(ParleyError) as info:
                await client.send_friend_request("bob")
        assert (info.value.status, info.value.detail, info.value.code) == (
            400,
            "Already friends",
            "conflict",
        )


class TestTokens:
    async def test_login_keeps_tokens_and_401_refreshes_once(self) -> None:
        seen: list[tuple[str, str | None]] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append((request.url.path, request.headers.get("authorization")))
            if request.url.path in ("/auth/login", "/auth/refresh"):
                n = len(seen)
                return httpx.Response(
                    200,
                    json={
                        "access_token": f"a{n}",
                        "token_type": "bearer",
                        "refresh_token": f"r{n}",
                    },
                )
            if request.headers["authorization"] == "Bearer a1":
                return httpx.Response(401, json={"detail": "Could not validate credentials"})
            return httpx.Response(
                200,
                json={
                    "id": 1,
                    "username": "u",
                    "email": "u@x.io",
                    "created_at": "2025-01-01T00:00:00Z",
                },
            )

        async with ParleyClient("http://x", transport=httpx.MockTransport(handler)) as client:
            await client.login("u", "pw")
            me = await client.me()
        assert me.id == 1
        assert [p for p, _ in seen] == ["/auth/login", "/users/me", "/auth/refresh", "/users/me"]
        assert seen[-1][1] == "Bearer a3"

    async def test_emoji_is_path_quoted(self) -> None:
        paths: list[str] = []

        def handler(request: httpx.Request) -> httpx.Response:
            paths.append(request.url.raw_path.decode())
            return httpx.Response(
                200,
                json={
                    "id": 1,
                    "conversation_id": 1,
                    "seq": 1,
                    "sender_id": 1,
                    "sender_username": "u",
                    "content": "x",
                    "created_at": "2025-01-01T00:00:00Z",
                    "reactions": {"👍": [1]},
                },
            )

        async with ParleyClient(
            "http://x", access_token="t", transport=httpx.MockTransport(handler)
        ) as c:
            message = await c.add_reaction(1, "👍")
        assert message.reactions == {"👍": [1]}
        assert paths == ["/messages/1/reactions/%F0%9F%91%8D"]


class TestFailover:
    async def test_connect_error_moves_to_next_url(self) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.host == "dead":
                raise httpx.ConnectError("refused")
            return httpx.Response(200, json={"status": "ok", "body": json.dumps(str(request.url))})

        async with ParleyClient(
            ["http://dead", "http://alive"], transport=httpx.MockTransport(handler)
        ) as c:
            assert (await c.health())["status"] == "ok"
            assert c.base_url == "http://alive"

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from .conftest import Env, close_code, connected, recv, recv_until


class TestConnectForms:
    async def test_path_token(self, env: Env) -> None:
        env.chat.friends[1] = {2, 3}
        ws = await env.connect(1)
        frames = [await recv(ws) for _ in range(3)]
        assert {(f["type"], f["user_id"]) for f in frames[:2]} == {
            ("user_online", 2),
            ("user_offline", 3),
        }
        assert frames[2]["type"] == "connected"
        assert frames[2]["message"] == "WebSocket connected successfully"
        assert frames[2]["user_id"] == 1 and frames[2]["session_id"]
        assert frames[2]["heartbeat_interval"] == 30

    async def test_query_token(self, env: Env) -> None:
        token = env.tokens.token(1)
        async with websockets.connect(f"{env.server.ws_url}?token={token}") as ws:
            assert (await connected(ws))["user_id"] == 1

    async def test_authorization_header(self, env: Env) -> None:
        token = env.tokens.token(4)
        async with websockets.connect(
            env.server.ws_url, additional_headers={"Authorization": f"Bearer {token}"}
        ) as ws:
            assert (await connected(ws))["user_id"] == 4

    async def test_first_frame_auth(self, env: Env) -> None:
        async with websockets.connect(env.server.ws_url) as ws:
            await ws.send(json.dumps({"type": "auth", "token": env.tokens.token(5)}))
            assert (await connected(ws))["user_id"] == 5

    async def test_first_frame_not_auth_closes_4001(self, env: Env) -> None:
        async with websockets.connect(env.server.ws_url) as ws:
            await ws.send(json.dumps({"type": "ping"}))
            with pytest.raises(ConnectionClosed) as closed:
                await recv(ws)
            assert close_code(closed.value) == 4001

    @pytest.mark.parametrize("kind", ["garbage", "alg_none", "expired", "foreign_key"])
    async def test_bad_token_refused_403(self, env: Env, kind: str) -> None:
        import jwt

        token = {
            "garbage": "not-a-token",
            "alg_none": jwt.encode({"sub": "1", "sid": "s"}, key="", algorithm="none"),
            "expired": env.tokens.token(1, ttl=-10),
            "foreign_key": __import__("parley_common.testing.tokens", fromlist=["TokenFactory"])
            .TokenFactory()
            .token(1),
        }[kind]
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(f"{env.server.ws_url}/{token}")
        assert refused.value.response.status_code == 403

    async def test_foreign_origin_refused(self, env: Env) -> None:
        token = env.tokens.token(1)
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(
                f"{env.server.ws_url}/{token}", origin=Origin("https://evil.example")
            )
        assert refused.value.response.status_code == 403
        async with websockets.connect(
            f"{env.server.ws_url}/{token}", origin=Origin("http://localhost:3000")
        ) as ws:
            assert (await connected(ws))["type"] == "connected"


class TestFrames:
    async def test_ping(self, env: Env) -> None:
        ws = await env.connect(1)
        await connected(ws)
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}

    @pytest.mark.parametrize(
        "raw",
        [
            "{not json",
            json.dumps({"type": "dance"}),
            json.dumps([1, 2]),
            json.dumps({"type": "send_message", "conversation_id": "x", "content": "hi"}),
            json.dumps({"type": "send_message", "conversation_id": 1, "content": "x" * 4001}),
            json.dumps({"type": "mark_read", "conversation_id": 1}),
        ],
    )
    async def test_bad_frames_get_error_and_connection_stays(self, env: Env, raw: str) -> None:
        ws = await env.connect(1)
        await connected(ws)
        await ws.send(raw)
        error = await recv(ws)
        assert error["type"] == "error" and error["code"] == "bad_request"
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}

    async def test_oversized_frame_closes_1009(self, env: Env) -> None:
        ws = await env.connect(1)
        await connected(ws)
        await ws.send(json.dumps({"type": "ping", "pad": "x" * (65 * 1024)}))
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
        assert close_code(closed.value) == 1009


class TestHealth:
    async def test_health_counts_sockets(self, env: Env) -> None:
        ws = await env.connect(1)
        await connected(ws)
        async with httpx.AsyncClient(base_url=env.server.http_url) as client:
            body = (await client.get("/health")).json()
        assert body == {"status": "ok", "message": "parley running", "websocket_connections": 1}


async def test_token_expiring_then_4001() -> None:
    from .conftest import gateway_env

    async with gateway_env(token_expiring_seconds=2) as env:
        ws = await env.connect(1, claims={"ttl": 3})
        await connected(ws)
        warning = await recv_until(ws, "token_expiring", timeout=5)
        assert warning["expires_at"]
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws, timeout=5)
        assert close_code(closed.value) == 4001


async def test_shutdown_closes_1012() -> None:
    from .conftest import gateway_env

    async with gateway_env() as env:
        ws = await env.connect(1)
        await connected(ws)
        env.server.server.should_exit = True
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws, timeout=10)
        assert close_code(closed.value) == 1012
    await asyncio.sleep(0)
